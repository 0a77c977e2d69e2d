// Caption scores (app/captioning.h): article mentions of one- and two-word class names, exact
// match against any phrasing, multi-reference BLEU, and attention on target from the arg max
// region's cell.
#include <gtest/gtest.h>

#include <sstream>

#include "attend/app/captioning.h"
#include "attend/data/scenes.h"
#include "support/check.h"

namespace attend::app {
namespace {

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

TEST(AppCaptioning, ArticleMentionsFindOneAndTwoWordNames) {
  const auto& names = data::fashion_class_names();
  const auto m = article_mentions(words("two articles : an ankle boot at the top and a bag below it"), names);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].step, 4);
  EXPECT_EQ(names[static_cast<size_t>(m[0].label)], "ankle boot");
  EXPECT_EQ(m[1].step, 11);
  EXPECT_EQ(names[static_cast<size_t>(m[1].label)], "bag");
  EXPECT_TRUE(article_mentions(words("a at the top"), names).empty());
}

// Two scenes on a 6 x 6 region grid: scene 0 a bag in cell 2 (top right), scene 1 a coat in cell 4
// (centre) then a sandal in cell 6 (bottom left).
TEST(AppCaptioning, ScoresExactBleuAndAttentionOnTarget) {
  data::SceneSplit split;
  split.captions = {{"a bag at the top right", "a bag at the top right"},
                    {"a coat at the centre and a sandal at the bottom left", "a coat at the centre and a sandal below it"}};
  split.objects = {{{.label = 8, .cell = 2}}, {{.label = 4, .cell = 4}, {.label = 5, .cell = 6}}};
  const auto& names = data::fashion_class_names();
  // attention [T, 36] with all weight on `region` at every step.
  const auto caption = [](const std::string& text, const std::vector<int64_t>& region_per_step) {
    Caption c;
    c.words = words(text);
    c.text = text;
    std::vector<float> w(region_per_step.size() * 36, 0.0f);
    for (size_t t = 0; t < region_per_step.size(); ++t) w[t * 36 + static_cast<size_t>(region_per_step[t])] = 1.0f;
    c.hypothesis.attention = Tensor::from_vector(w, Shape{static_cast<int64_t>(region_per_step.size()), 36});
    return c;
  };
  // Scene 0 right (region 5: row 0, column 5 -> cell 2); scene 1 says "below it" (a phrasing, so
  // exact) and looks at region 14 (row 2, column 2: cell 4) for the coat, region 30 (row 5,
  // column 0: cell 6) for the sandal.
  std::vector<int64_t> steps1(11, 0);
  steps1[1] = 14;
  steps1[7] = 30;
  const std::vector<Caption> good{caption("a bag at the top right", {0, 5, 0, 0, 0, 0, 0}),
                                  caption("a coat at the centre and a sandal below it", steps1)};
  CaptionReport r = score_captions(good, split, names);
  EXPECT_EQ(r.scenes, 2);
  EXPECT_EQ(r.articles, 3);
  EXPECT_DOUBLE_EQ(r.exact, 100.0);
  EXPECT_NEAR(r.bleu, 100.0, 1e-9);
  EXPECT_DOUBLE_EQ(r.on_target, 100.0);
  EXPECT_DOUBLE_EQ(r.class_accuracy, 100.0);
  // The bag looked at the top left (cell 0): one of three mentions off target; a wrong word.
  const std::vector<Caption> off{caption("a bag at the top left", {0, 0, 0, 0, 0, 0, 0}), good[1]};
  r = score_captions(off, split, names);
  EXPECT_DOUBLE_EQ(r.exact, 50.0);
  EXPECT_NEAR(r.on_target, 200.0 / 3.0, 1e-9);
  EXPECT_LT(r.bleu, 100.0);
  // A third article the scene does not have is a miss; a wrong class counts against class accuracy.
  const std::vector<Caption> extra{caption("a coat at the top right and a bag", {0, 5, 0, 0, 0, 0, 0, 0, 5}), good[1]};
  r = score_captions(extra, split, names);
  EXPECT_EQ(r.articles, 4);
  EXPECT_DOUBLE_EQ(r.on_target, 75.0);
  EXPECT_DOUBLE_EQ(r.class_accuracy, 50.0);
  test::expect_error([&] { score_captions(std::vector<Caption>(3, good[0]), split, names); }, "[captions]",
                     {"3 captions for 2 scenes"});
}

}  // namespace
}  // namespace attend::app
