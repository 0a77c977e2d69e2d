// The Transformer's layers: PyTorch's parameter names and shapes, the decoder layer's incremental
// path (self-attention cache plus cross-attention keys projected once) against the full causal
// computation, padding invariance, the positional encodings, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/nn/transformer.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

nn::TransformerLayerOptions opts(bool norm_first = false) {
  return {.d_model = 8, .num_heads = 2, .ffn_dim = 12, .dropout = 0.1, .norm_first = norm_first};
}

std::vector<std::string> names_of(const nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& [n, p] : m.named_parameters()) names.push_back(n + p.shape().str());
  return names;
}

TEST(TransformerLayers, ParameterNamesAndShapesArePyTorchs) {
  Rng rng(1);
  nn::TransformerEncoderLayer enc(opts(), rng);
  EXPECT_EQ(names_of(enc), (std::vector<std::string>{
                               "self_attn.in_proj_weight[24, 8]", "self_attn.in_proj_bias[24]",
                               "self_attn.out_proj.weight[8, 8]", "self_attn.out_proj.bias[8]", "linear1.weight[12, 8]",
                               "linear1.bias[12]", "linear2.weight[8, 12]", "linear2.bias[8]", "norm1.weight[8]",
                               "norm1.bias[8]", "norm2.weight[8]", "norm2.bias[8]"}));
  nn::TransformerDecoderLayer dec(opts(), rng);
  const std::vector<std::string> d = names_of(dec);
  ASSERT_EQ(d.size(), 18u);
  EXPECT_EQ(d[4], "multihead_attn.in_proj_weight[24, 8]");
  EXPECT_EQ(d[16], "norm3.weight[8]");
}

// Decoding one position at a time with the self-attention cache and the cross-attention keys
// projected once gives the rows of the full causal computation.
TEST(TransformerLayers, DecoderLayerIncrementalEqualsFullCausal) {
  for (bool norm_first : {false, true}) {
    SCOPED_TRACE(norm_first ? "pre-norm" : "post-norm");
    Rng rng(2);
    nn::TransformerDecoderLayer layer(opts(norm_first), rng);
    layer.eval();
    NoGrad no_grad;
    const Tensor x = Tensor::randn(Shape{2, 5, 8}, rng);
    const Tensor memory = Tensor::randn(Shape{2, 4, 8}, rng);
    const attention::Mask causal{.causal = true}, mem{.key_lengths = {4, 2}};
    const nn::DecoderLayerOutput full = layer.forward(x, memory, causal, mem, {.need_weights = true});
    nn::KVCache self;
    const nn::KVCache kv = layer.memory_kv(memory);
    for (int64_t t = 0; t < 5; ++t) {
      const nn::DecoderLayerOutput o = layer.forward(slice(x, 1, t, t + 1), Tensor(), causal, mem,
                                                     {.need_weights = true, .self_cache = &self, .memory_kv = &kv});
      EXPECT_TRUE(test::all_close(o.output, slice(full.output, 1, t, t + 1), 1e-5, 1e-5)) << "step " << t;
      EXPECT_TRUE(test::all_close(o.cross_weights, slice(full.cross_weights, 1, t, t + 1), 1e-6, 1e-5));
    }
    EXPECT_EQ(self.length(), 5);
    // The memory's padding gets no weight.
    for (int64_t s = 2; s < 4; ++s) EXPECT_EQ(full.cross_weights.at({1, 0, s}), 0.0);
  }
}

// A decoder layer without cross-attention is the encoder layer's two sublayers (the same names, the
// same parameters drawn in the same order) with a causal mask, and it decodes with a cache.
TEST(TransformerLayers, DecoderLayerWithoutCrossAttentionIsACausalEncoderLayer) {
  for (bool norm_first : {false, true}) {
    SCOPED_TRACE(norm_first ? "pre-norm" : "post-norm");
    nn::TransformerLayerOptions o = opts(norm_first);
    Rng a(3), b(3);
    nn::TransformerEncoderLayer enc(o, a);
    o.cross_attention = false;
    nn::TransformerDecoderLayer dec(o, b);
    EXPECT_FALSE(dec.has_cross_attention());
    EXPECT_EQ(names_of(dec), names_of(enc));
    enc.eval();
    dec.eval();
    NoGrad no_grad;
    Rng rng(4);
    const Tensor x = Tensor::randn(Shape{2, 5, 8}, rng);
    const attention::Mask causal{.causal = true};
    const Tensor want = enc.forward(x, causal);
    EXPECT_TRUE(test::all_close(dec.forward(x, Tensor(), causal, {}).output, want, 0.0));
    nn::KVCache cache;
    for (int64_t t = 0; t < 5; ++t) {
      const Tensor o1 = dec.forward(slice(x, 1, t, t + 1), Tensor(), causal, {}, {.self_cache = &cache}).output;
      EXPECT_TRUE(test::all_close(o1, slice(want, 1, t, t + 1), 1e-5, 1e-5)) << "step " << t;
    }
    test::expect_error([&] { dec.forward(x, x, causal, {}); }, {"[TransformerDecoderLayer]", "no cross-attention"});
    test::expect_error([&] { dec.memory_kv(x); }, {"[TransformerDecoderLayer]", "no cross-attention"});
  }
}

// Grouped cross-attention: rows g r .. g r + g - 1 reading memory row r equal each reading its own
// copy of that row, for the output, the averaged and the per-head weights.
TEST(TransformerLayers, GroupedMemoryEqualsOneCopyPerRow) {
  Rng rng(5);
  nn::TransformerDecoderLayer layer(opts(true), rng);
  layer.eval();
  NoGrad no_grad;
  const int64_t g = 3;
  const Tensor memory = Tensor::randn(Shape{2, 4, 8}, rng);  // two sources
  const Tensor repeated = index_select(memory, 0, Index({0, 0, 0, 1, 1, 1}));
  const attention::Mask mem{.key_lengths = {4, 2}}, mem_rows{.key_lengths = {4, 4, 4, 2, 2, 2}};
  const attention::Mask causal{.causal = true};
  const Tensor x = Tensor::randn(Shape{6, 2, 8}, rng);
  for (const bool heads : {false, true}) {
    const nn::DecoderLayerOutput a = layer.forward(x, repeated, causal, mem_rows,
                                                   {.need_weights = !heads, .need_head_weights = heads});
    const nn::KVCache kv = layer.memory_kv(memory);
    const nn::DecoderLayerOutput b = layer.forward(
        x, Tensor(), causal, mem, {.need_weights = !heads, .need_head_weights = heads, .memory_kv = &kv, .memory_groups = g});
    EXPECT_TRUE(test::all_close(b.output, a.output, 1e-5, 1e-5));
    ASSERT_EQ(b.cross_weights.shape(), a.cross_weights.shape());
    EXPECT_TRUE(test::all_close(b.cross_weights, a.cross_weights, 1e-6, 1e-5));
  }
  test::expect_error([&] { layer.forward(slice(x, 0, 0, 5), memory, causal, mem, {.memory_groups = g}); },
                     {"[TransformerDecoderLayer]", "memory_groups 3", "[5, 2, 8]"});
}

TEST(TransformerLayers, EncoderLayerIgnoresPaddedKeys) {
  Rng rng(3);
  nn::TransformerEncoderLayer layer(opts(true), rng);
  layer.eval();
  const Tensor x = Tensor::randn(Shape{1, 5, 8}, rng);
  const Tensor y = layer.forward(x, {.key_lengths = {3}});
  const Tensor z = layer.forward(slice(x, 1, 0, 3), {.key_lengths = {3}});
  EXPECT_TRUE(test::all_close(slice(y, 1, 0, 3), z, 1e-5, 1e-5));
}

TEST(TransformerLayers, DropoutOnlyInTraining) {
  Rng rng(4);
  nn::TransformerEncoderLayer layer(opts(), rng);
  const Tensor x = Tensor::randn(Shape{2, 3, 8}, rng);
  layer.eval();
  EXPECT_TRUE(test::all_close(layer.forward(x), layer.forward(x), 0.0));
  layer.train();
  EXPECT_GT(test::max_abs_diff(layer.forward(x), layer.forward(x)), 1e-4);
}

TEST(TransformerLayers, LayerNormNormalizesTheLastDim) {
  nn::LayerNorm norm(4);
  const Tensor y = norm.forward(Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 2, 2, 2, 2}, Shape{2, 4}));
  const double sd = std::sqrt(1.25 + 1e-5);
  EXPECT_NEAR(y.at({0, 0}), -1.5 / sd, 1e-6);
  EXPECT_NEAR(y.at({0, 3}), 1.5 / sd, 1e-6);
  EXPECT_EQ(y.at({1, 2}), 0.0);
}

TEST(TransformerLayers, SinusoidalPositionsFollowThePaper) {
  const Tensor pe = nn::sinusoidal_positions(3, 2, 6, DType::f64);  // positions 3, 4
  ASSERT_EQ(pe.shape(), Shape({2, 6}));
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t i = 0; i < 3; ++i) {
      const double angle = static_cast<double>(3 + t) / std::pow(10000.0, 2.0 * i / 6.0);
      EXPECT_DOUBLE_EQ(pe.at({t, 2 * i}), std::sin(angle));
      EXPECT_DOUBLE_EQ(pe.at({t, 2 * i + 1}), std::cos(angle));
    }
}

TEST(BadInputTransformer, ShapesOptionsAndPositionsNameTheProblem) {
  Rng rng(5);
  test::expect_error([&] { nn::TransformerEncoderLayer({.d_model = 6, .num_heads = 4, .ffn_dim = 8}, rng); },
                     "[TransformerEncoderLayer]", {"d_model 6", "num_heads 4"});
  test::expect_error([&] { nn::TransformerDecoderLayer({.d_model = 8, .num_heads = 2, .ffn_dim = 8, .dropout = 1.0}, rng); },
                     "[TransformerDecoderLayer]", {"dropout 1"});
  nn::TransformerDecoderLayer dec(opts(), rng);
  test::expect_error([&] { dec.forward(Tensor::zeros(Shape{2, 3, 8}), Tensor::zeros(Shape{3, 4, 8}), {}, {}); },
                     "[TransformerDecoderLayer]", {"memory [3, 4, 8]", "[2, 3, 8]"});
  test::expect_error([&] { dec.forward(Tensor::zeros(Shape{2, 3, 7}), Tensor::zeros(Shape{2, 4, 8}), {}, {}); },
                     "[TransformerDecoderLayer]", {"[2, 3, 7]"});
  nn::KVCache bad = dec.memory_kv(Tensor::zeros(Shape{3, 4, 8}));
  test::expect_error([&] { dec.multihead_attn->forward_kv(Tensor::zeros(Shape{2, 1, 8}), bad); },
                     "[MultiheadAttention]", {"forward_kv", "[3, 2, 4, 4]"});
  nn::LayerNorm norm(4);
  test::expect_error([&] { norm.forward(Tensor::zeros(Shape{2, 5})); }, "[LayerNorm]", {"[2, 5]", "4"});
  nn::PositionalEncoding pos(nn::PositionKind::learned, 10, 8, rng);
  EXPECT_EQ(pos.forward(7, 3, DType::f32, "x", "source").shape(), Shape({3, 8}));
  test::expect_error([&] { pos.forward(0, 11, DType::f32, "transformer", "source"); }, "[transformer]",
                     {"source", "length 11", "max_positions 10"});
}

}  // namespace
}  // namespace attend
