// The captioned scenes of data/scenes.h: the caption grammar (every phrasing, a/an, relations),
// the layout rules (distinct cells in reading order, each article inside its cell, its pixels the
// source image's), the image ranges of a split, reproducibility, and bad options.
#include <set>
#include <string>
#include <vector>

#include "attend/data/scenes.h"
#include "support/check.h"

namespace attend::data {
namespace {

using test::expect_error;

// n 28 x 28 images, image i filled with i + 1 (never 0, the background), label i % 10.
ImageSet synthetic(int64_t n) {
  ImageSet s{.count = n, .rows = 28, .cols = 28, .pixels = {}, .labels = {}};
  for (int64_t i = 0; i < n; ++i) {
    s.pixels.insert(s.pixels.end(), 28 * 28, static_cast<uint8_t>(i + 1));
    s.labels.push_back(i % 10);
  }
  return s;
}

TEST(DataScenes, CaptionsOfEveryPhrasing) {
  const std::vector<SceneObject> objs{{.label = 7, .cell = 0}, {.label = 8, .cell = 3}, {.label = 9, .cell = 4},
                                      {.label = 0, .cell = 8}};
  const auto c = scene_captions(objs);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0], "a sneaker at the top left , a bag at the left , an ankle boot at the centre and a t-shirt at the "
                  "bottom right");
  EXPECT_EQ(c[1], "a sneaker at the top left , a bag below it , an ankle boot to its right and a t-shirt at the bottom right");
  EXPECT_EQ(c[2], "four articles : " + c[0]);
  const auto one = scene_captions({{.label = 1, .cell = 4}});
  EXPECT_EQ(one[0], "a trouser at the centre");
  EXPECT_EQ(one[1], one[0]);
  EXPECT_EQ(one[2], "one article : a trouser at the centre");
  EXPECT_EQ(scene_captions({{.label = 2, .cell = 5}, {.label = 3, .cell = 2}})[1], "a pullover at the right and a dress above it");
  EXPECT_EQ(scene_captions({{.label = 4, .cell = 1}, {.label = 5, .cell = 0}})[1], "a coat at the top and a sandal to its left");
  expect_error([] { scene_captions({}); }, "[scenes]", {"0 articles"});
}

TEST(DataScenes, LayoutsAreValidReproducibleAndUseOnlyTheirImages) {
  const ImageSet set = synthetic(40);
  const SceneOptions o{.count = 300, .first_image = 10, .images = 20, .seed = 5};
  const auto a = make_scenes(set, o), b = make_scenes(set, o);
  ASSERT_EQ(a.size(), 300u);
  std::set<size_t> counts;
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("scene " + std::to_string(i));
    const CaptionedScene& s = a[i];
    EXPECT_EQ(s.pixels, b[i].pixels);
    EXPECT_EQ(s.captions, b[i].captions);
    ASSERT_EQ(s.size, 96);
    ASSERT_GE(s.objects.size(), 1u);
    ASSERT_LE(s.objects.size(), 4u);
    counts.insert(s.objects.size());
    int64_t covered = 0;
    for (size_t k = 0; k < s.objects.size(); ++k) {
      const SceneObject& ob = s.objects[k];
      if (k > 0) {
        EXPECT_LT(s.objects[k - 1].cell, ob.cell) << "distinct cells in reading order";
      }
      EXPECT_GE(ob.image, 10);
      EXPECT_LT(ob.image, 30);
      EXPECT_EQ(ob.label, set.labels[static_cast<size_t>(ob.image)]);
      const int64_t cx = ob.cell % 3 * 32, cy = ob.cell / 3 * 32;
      EXPECT_TRUE(ob.x >= cx && ob.x + 28 <= cx + 32 && ob.y >= cy && ob.y + 28 <= cy + 32) << "inside its cell";
      for (int64_t r = 0; r < 28; ++r)
        for (int64_t col = 0; col < 28; ++col)
          ASSERT_EQ(s.pixels[static_cast<size_t>((ob.y + r) * 96 + ob.x + col)], ob.image + 1);
      covered += 28 * 28;
    }
    int64_t nonzero = 0;
    for (uint8_t p : s.pixels) nonzero += p != 0;
    EXPECT_EQ(nonzero, covered) << "background elsewhere";
    EXPECT_EQ(s.captions, scene_captions(s.objects));
  }
  EXPECT_EQ(counts.size(), 4u) << "1 to 4 articles all occur";
  const auto other = make_scenes(set, SceneOptions{.count = 300, .first_image = 10, .images = 20, .seed = 6});
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i].captions == other[i].captions;
  EXPECT_LT(same, 30) << "another seed, other scenes";
}

TEST(DataScenes, BadOptionsAreNamed) {
  const ImageSet set = synthetic(5);
  expect_error([&] { make_scenes(set, {.grid = 4}); }, "[scenes]", {"grid 4", "3 x 3"});
  expect_error([&] { make_scenes(set, {.cell = 20}); }, "[scenes]", {"cell 20", "28x28"});
  expect_error([&] { make_scenes(set, {.max_objects = 5}); }, "[scenes]", {"1 to 5", "1 to 4"});
  expect_error([&] { make_scenes(set, {.first_image = 3, .images = 4}); }, "[scenes]", {"[3, 7)", "5"});
}

}  // namespace
}  // namespace attend::data
