// Pictures as model input (data/images.h): batches and their augmentation, PNG reading, scene
// directories, and the region-to-cell map that attention on target is scored with.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "attend/data/images.h"
#include "attend/viz/render.h"
#include "support/check.h"
#include "support/temp_dir.h"

namespace attend::data {
namespace {

using test::expect_error;

// n images of rows x cols whose pixel (y, x) of image i is (i * 31 + y * cols + x) % 251.
std::shared_ptr<ImageSet> numbered(int64_t n, int64_t rows, int64_t cols) {
  auto s = std::make_shared<ImageSet>();
  s->count = n, s->rows = rows, s->cols = cols;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t p = 0; p < rows * cols; ++p) s->pixels.push_back(static_cast<uint8_t>((i * 31 + p) % 251));
    s->labels.push_back(i % 3);
  }
  return s;
}

TEST(DataImages, BatchesCarryPixelsLabelsAndPaddedCaptions) {
  auto set = numbered(5, 3, 4);
  std::vector<ImageExample> ex{{.image = 4, .label = 1, .target = {7, 8, 9}}, {.image = 2, .label = 0, .target = {5}}};
  ImageBatches b(set, ex, {.batch = 2, .shuffle = false, .pad_id = 0});
  const Batch batch = b.make_batch({0, 1});
  ASSERT_EQ(batch.source.features.shape(), Shape({2, 12, 1}));
  EXPECT_EQ(batch.source.lengths, (std::vector<int64_t>{12, 12}));
  for (int64_t p = 0; p < 12; ++p) {
    EXPECT_FLOAT_EQ(batch.source.features.data<float>()[p], static_cast<float>((4 * 31 + p) % 251) / 255.0f);
    EXPECT_FLOAT_EQ(batch.source.features.data<float>()[12 + p], static_cast<float>((2 * 31 + p) % 251) / 255.0f);
  }
  EXPECT_EQ(batch.labels, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(batch.target.data, (std::vector<int64_t>{7, 8, 9, 5, 0, 0}));
  EXPECT_EQ(batch.target_lengths, (std::vector<int64_t>{3, 1}));
}

TEST(DataImages, EpochPlansShuffleEveryExampleOnceAndRepeat) {
  auto set = numbered(10, 2, 2);
  std::vector<ImageExample> ex;
  for (int64_t i = 0; i < 10; ++i) ex.push_back({.image = i, .label = 0});
  const ImageBatches b(set, ex, {.batch = 4, .shuffle = true, .seed = 5});
  const auto p0 = b.plan(0), p1 = b.plan(1);
  ASSERT_EQ(p0.size(), 3u);
  EXPECT_EQ(p0[2].size(), 2u);
  std::set<int64_t> seen;
  for (const auto& batch : p0) seen.insert(batch.begin(), batch.end());
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_NE(p0, p1);
  EXPECT_EQ(p0, ImageBatches(set, ex, {.batch = 4, .shuffle = true, .seed = 5}).plan(0));
}

// Augmentation moves pixels without changing them (a shift brings in zeros, a flip mirrors), is
// the same picture for the same (seed, epoch, example), and differs between epochs.
TEST(DataImages, AugmentationShiftsAndFlipsReproducibly) {
  auto set = numbered(4, 6, 6);
  std::vector<ImageExample> ex;
  for (int64_t i = 0; i < 4; ++i) ex.push_back({.image = i, .label = 0});
  const auto epoch_pixels = [&](int64_t epoch) {
    ImageBatches b(set, ex, {.batch = 4, .shuffle = false, .seed = 2, .shift = 2, .flip = true});
    b.seek({epoch, 0});
    const Batch x = b.next();
    return std::vector<float>(x.source.features.data<float>(), x.source.features.data<float>() + 4 * 36);
  };
  const std::vector<float> e0 = epoch_pixels(0), e1 = epoch_pixels(1);
  EXPECT_EQ(e0, epoch_pixels(0));
  EXPECT_NE(e0, e1);
  const std::vector<float> plain = [&] {
    const Batch x = ImageBatches(set, ex, {.batch = 4, .shuffle = false}).make_batch({0, 1, 2, 3});
    return std::vector<float>(x.source.features.data<float>(), x.source.features.data<float>() + 4 * 36);
  }();
  // Every augmented picture is some shift (|dx|, |dy| <= 2) of the plain one, mirrored or not.
  for (int64_t i = 0; i < 4; ++i) {
    bool found = false;
    for (int flip = 0; flip < 2 && !found; ++flip)
      for (int dy = -2; dy <= 2 && !found; ++dy)
        for (int dx = -2; dx <= 2 && !found; ++dx) {
          bool same = true;
          for (int y = 0; y < 6 && same; ++y)
            for (int x = 0; x < 6 && same; ++x) {
              const int sy = y - dy, sx0 = x - dx, sx = flip ? 5 - sx0 : sx0;
              const float want = sy >= 0 && sy < 6 && sx0 >= 0 && sx0 < 6 ? plain[static_cast<size_t>(i * 36 + sy * 6 + sx)] : 0.0f;
              same = e1[static_cast<size_t>(i * 36 + y * 6 + x)] == want;
            }
          found = same;
        }
    EXPECT_TRUE(found) << "image " << i;
  }
}

TEST(DataImages, BadExamplesAreErrors) {
  auto set = numbered(2, 2, 2);
  expect_error([&] { ImageBatches(set, {}, {}); }, "[ImageBatches]", {"no examples"});
  expect_error([&] { ImageBatches(set, {{.image = 2}}, {}); }, "[ImageBatches]", {"example 0", "image 2", "set of 2"});
  expect_error([&] { ImageBatches(set, {{.image = 0}}, {.batch = 0}); }, "[ImageBatches]", {"batch 0"});
}

class DataImagesFiles : public test::TempDirTest {};

TEST_F(DataImagesFiles, PngReadsBackAsGrayAndBadFilesNameThemselves) {
  viz::Image im{.width = 3, .height = 2, .rgb = {0, 0, 0, 255, 255, 255, 10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40}};
  viz::write_png(im, path("a.png"));
  const GrayImage g = read_png_gray(path("a.png"));
  EXPECT_EQ(g.rows, 2);
  EXPECT_EQ(g.cols, 3);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{0, 255, 10, 20, 30, 40}));
  std::ofstream(path("b.png")) << "not a picture";
  expect_error([&] { read_png_gray(path("b.png")); }, "[png]", {"b.png"});
  expect_error([&] { read_png_gray(path("none.png")); }, "[png]", {"none.png", "no such file"});
  // A PNG cut in its pixel data.
  const std::string full = viz::encode_png(viz::Image{.width = 40, .height = 40, .rgb = std::vector<uint8_t>(4800, 7)}, "x");
  std::ofstream(path("cut.png"), std::ios::binary).write(full.data(), static_cast<std::streamsize>(full.size() - 20));
  expect_error([&] { read_png_gray(path("cut.png")); }, "[png]", {"cut.png"});
}

TEST_F(DataImagesFiles, SceneSplitReadsPicturesCaptionsAndLayout) {
  std::filesystem::create_directories(path("s/test"));
  for (int i = 0; i < 2; ++i)
    viz::write_png(viz::Image{.width = 4, .height = 4, .rgb = std::vector<uint8_t>(48, static_cast<uint8_t>(i * 9))},
                   path("s/test/00000" + std::to_string(i) + ".png"));
  std::ofstream(path("s/test.captions.tsv")) << "test/000000.png\t0\ta bag at the top\n"
                                                "test/000000.png\t1\ta bag at the top\n"
                                                "test/000001.png\t0\ta coat at the centre\n";
  std::ofstream(path("s/test.layout.tsv")) << "test/000000.png\t0\t8\t1\t40\t2\t17\ntest/000001.png\t0\t4\t4\t33\t35\t3\n";
  const SceneSplit s = read_scene_split(path("s"), "test");
  ASSERT_EQ(s.images->count, 2);
  EXPECT_EQ(s.images->pixels[16], 9);
  EXPECT_EQ(s.captions[0].size(), 2u);
  EXPECT_EQ(s.captions[1][0], "a coat at the centre");
  ASSERT_EQ(s.objects[0].size(), 1u);
  EXPECT_EQ(s.objects[0][0].label, 8);
  EXPECT_EQ(s.objects[0][0].cell, 1);
  EXPECT_EQ(s.objects[1][0].x, 33);
  std::ofstream(path("s/test.layout.tsv")) << "test/000009.png\t0\t8\t1\t40\t2\t17\n";
  expect_error([&] { read_scene_split(path("s"), "test"); }, "[scenes]", {"test.layout.tsv:1", "000009.png"});
  std::ofstream(path("s/test.layout.tsv")) << "test/000000.png\t0\t8\n";
  expect_error([&] { read_scene_split(path("s"), "test"); }, "[scenes]", {"test.layout.tsv:1", "7 fields"});
  std::ofstream(path("s/test.captions.tsv")) << "test/000000.png no tabs\n";
  expect_error([&] { read_scene_split(path("s"), "test"); }, "[scenes]", {"test.captions.tsv:1"});
}

TEST(DataImages, RegionCellIsTheCellOfTheRegionCentre) {
  // 6 x 6 regions over 3 x 3 cells: 2 x 2 regions per cell.
  EXPECT_EQ(region_cell(0, 6), 0);
  EXPECT_EQ(region_cell(1, 6), 0);
  EXPECT_EQ(region_cell(2, 6), 1);
  EXPECT_EQ(region_cell(5, 6), 2);
  EXPECT_EQ(region_cell(6 * 2 + 2, 6), 4);
  EXPECT_EQ(region_cell(35, 6), 8);
  // 12 x 12: 4 per cell side; 7 x 7 (cells of 7 / 3 regions): centres decide.
  EXPECT_EQ(region_cell(12 * 4 + 4, 12), 4);
  EXPECT_EQ(region_cell(1, 7), 0);  // centre 1.5 / 7 < 1 / 3
  EXPECT_EQ(region_cell(2, 7), 1);  // centre 2.5 / 7 > 1 / 3
  EXPECT_EQ(region_cell(4, 7), 1);  // centre 4.5 / 7 < 2 / 3
  EXPECT_EQ(region_cell(5, 7), 2);
}

}  // namespace
}  // namespace attend::data
