// app::score_classes: accuracy, macro-F1 (scikit-learn's, over the classes that occur) and the
// accuracy per class, as `attend eval` prints them for image and text classifiers.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attend/app/evaluation.h"
#include "support/check.h"

namespace attend::test {
namespace {

TEST(AppClassification, AccuracyMacroF1AndPerClass) {
  // gold 0 0 1 2, predicted 0 1 1 1: class 0 P 1 R 1/2 F 2/3; class 1 P 1/3 R 1 F 1/2; class 2 F 0.
  const app::ClassificationReport r = app::score_classes("glosses", {"a", "b", "c", "unused"}, {0, 0, 1, 2}, {0, 1, 1, 1});
  EXPECT_EQ(r.examples, 4);
  EXPECT_DOUBLE_EQ(r.accuracy, 50.0);
  EXPECT_NEAR(r.macro_f1, 100.0 * (2.0 / 3.0 + 0.5 + 0.0) / 3.0, 1e-9);
  EXPECT_EQ(r.seen, (std::vector<int64_t>{2, 1, 1, 0}));
  EXPECT_EQ(r.right, (std::vector<int64_t>{1, 1, 0, 0}));
  const std::string text = r.text("test.tsv");
  EXPECT_NE(text.find("glosses         4 (test.tsv)"), std::string::npos) << text;
  EXPECT_NE(text.find("accuracy        50.00%"), std::string::npos) << text;
  EXPECT_NE(text.find("macro-F1        38.89%"), std::string::npos) << text;
  EXPECT_NE(text.find("  a                      50.00% of 2"), std::string::npos) << text;
  const auto j = nlohmann::json::parse(r.json("m.ckpt"));
  EXPECT_EQ(j["glosses"], 4);
  EXPECT_DOUBLE_EQ(j["per_class"]["b"].get<double>(), 100.0);
  expect_error([] { app::score_classes("x", {"a"}, {0, 3}, {0, 0}); }, "[eval]", {"label 3", "1 classes"});
  expect_error([] { app::score_classes("x", {"a"}, {0}, {}); }, "[eval]", {"1 labels and 0 predictions"});
}

}  // namespace
}  // namespace attend::test
