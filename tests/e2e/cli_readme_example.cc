// The README's usage example, compiled and run as written, so the README cannot drift from the API.
#include <gtest/gtest.h>

#include "attend/attention/scaled_dot.h"
#include "attend/nn/multihead_attention.h"
#include "attend/ops/ops.h"

namespace {

TEST(ReadmeExample, MultiheadAttentionWithMasksTrains) {
  using namespace attend;
  Rng rng(1);
  Tensor x = Tensor::randn({2, 10, 64}, rng);  // [B, T, C]
  nn::MultiheadAttention mha({.embed_dim = 64, .num_heads = 8, .num_kv_heads = 2}, rng);
  auto r = mha.forward(x, x, x, attention::Mask{.key_lengths = {10, 7}, .causal = true}, {.need_weights = true});
  EXPECT_EQ(r.output.shape(), (Shape{2, 10, 64}));
  EXPECT_EQ(r.weights.shape(), (Shape{2, 10, 10}));
  sum(r.output).backward();
  for (const auto& [name, p] : mha.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_EQ(p.grad().shape(), p.shape()) << name;
  }
  // Second sequence: keys 7..9 are padding, so no query row of it puts weight there.
  for (int64_t i = 0; i < 10; ++i)
    for (int64_t j = 7; j < 10; ++j) EXPECT_EQ(r.weights.at({1, i, j}), 0.0);
}

}  // namespace
