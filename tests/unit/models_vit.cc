// Attention rollout (models/vit.h) against a float64 reference written here with loops: the
// residual added as 0.5 A + 0.5 I, rows renormalized, the product over layers, first layer on the
// right.
#include <gtest/gtest.h>

#include "attend/models/registry.h"
#include "attend/models/vit.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend::models {
namespace {

TEST(ModelsVit, RolloutIsTheProductOfHalfResidualHeadMeans) {
  Rng rng(3);
  const int64_t B = 2, H = 3, T = 4, L = 3;
  std::vector<AttentionMap> maps;
  for (int64_t l = 0; l < L; ++l)
    maps.push_back({.kind = AttentionKind::encoder_self, .layer = l,
                    .weights = softmax(Tensor::randn(Shape{B, H, T, T}, rng), 3)});
  const Tensor got = attention_rollout(maps);
  ASSERT_EQ(got.shape(), Shape({B, T, T}));
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> r(static_cast<size_t>(T * T), 0.0);
    for (int64_t i = 0; i < T; ++i) r[static_cast<size_t>(i * T + i)] = 1.0;
    for (int64_t l = 0; l < L; ++l) {
      std::vector<double> a(static_cast<size_t>(T * T));
      for (int64_t i = 0; i < T; ++i) {
        double row = 0;
        for (int64_t j = 0; j < T; ++j) {
          double m = 0;
          for (int64_t h = 0; h < H; ++h) m += maps[static_cast<size_t>(l)].weights.at({b, h, i, j});
          a[static_cast<size_t>(i * T + j)] = 0.5 * m / H + (i == j ? 0.5 : 0.0);
          row += a[static_cast<size_t>(i * T + j)];
        }
        for (int64_t j = 0; j < T; ++j) a[static_cast<size_t>(i * T + j)] /= row;
      }
      std::vector<double> next(static_cast<size_t>(T * T), 0.0);
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j)
          for (int64_t k = 0; k < T; ++k)
            next[static_cast<size_t>(i * T + j)] += a[static_cast<size_t>(i * T + k)] * r[static_cast<size_t>(k * T + j)];
      r = next;
    }
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j < T; ++j) EXPECT_NEAR(got.at({b, i, j}), r[static_cast<size_t>(i * T + j)], 1e-6);
  }
  test::expect_error([] { attention_rollout({}); }, "[attention_rollout]", {"no attention maps"});
  maps[1].weights = softmax(Tensor::randn(Shape{B, H, T + 1, T + 1}, rng), 3);
  test::expect_error([&] { attention_rollout(maps); }, "[attention_rollout]", {"layer 1"});
}

// A picture model reads pictures of its size: a token source or another size is an error naming
// the shapes.
TEST(ModelsVit, BadSourcesAreErrorsNamingTheShapes) {
  Rng rng(1);
  auto m = make_model_as<Classifier>(
      *make_config("vit", {{"num_classes", "3"}, {"image_size", "8"}, {"patch", "4"}, {"d_model", "8"}, {"num_heads", "2"},
                           {"ffn_dim", "8"}, {"num_layers", "1"}}),
      rng);
  test::expect_error([&] { m->classify(Source::of_tokens(Index({1, 2}, Shape{1, 2}), {2})); }, "[vit]",
                     {"reads images", "not token ids"});
  test::expect_error(
      [&] { m->classify(Source::of_features(Tensor::zeros(Shape{1, 49, 1}), {49})); }, "[vit]",
      {"[B, 64 (8x8 pixels), 1]", "[1, 49, 1]"});
  test::expect_error([&] { make_config("vit", {{"num_classes", "3"}, {"image_size", "10"}, {"patch", "4"}}); },
                     "[vit config]", {"patch", "does not divide image_size 10"});
}

}  // namespace
}  // namespace attend::models
