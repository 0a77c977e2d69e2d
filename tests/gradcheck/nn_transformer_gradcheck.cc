// Finite-difference gradient checks (oracle 2) of the Transformer's layers in float64, w.r.t. the
// inputs and every parameter at once: an encoder layer with source padding (post-norm and
// pre-norm, ReLU and GELU), a decoder layer with its causal self-attention and the memory's
// padding masked out of the cross-attention, and LayerNorm.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attend/nn/transformer.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

nn::TransformerLayerOptions small(bool norm_first, nn::Activation act) {
  return {.d_model = 4,
          .num_heads = 2,
          .ffn_dim = 6,
          .dropout = 0.0,
          .activation = act,
          .norm_first = norm_first,
          .dtype = DType::f64};
}

// Inputs then every parameter (random, so biases and norms are non-trivial); f writes the
// perturbed parameter leaves into the module before computing.
template <typename M>
std::vector<Tensor> with_parameters(M& m, std::vector<Tensor> inputs, std::vector<std::string>& names, Rng& rng) {
  for (const auto& [n, p] : m.named_parameters()) {
    names.push_back(n);
    inputs.push_back(add(mul(test::randn64(p.shape(), rng), 0.5), n.find("norm") != std::string::npos &&
                                                                           n.find("weight") != std::string::npos
                                                                       ? 1.0
                                                                       : 0.0));
  }
  return inputs;
}

void check_encoder(bool norm_first, nn::Activation act) {
  Rng rng(41);
  nn::TransformerEncoderLayer layer(small(norm_first, act), rng);
  layer.eval();
  std::vector<std::string> names;
  const std::vector<Tensor> inputs = with_parameters(layer, {test::randn64({2, 3, 4}, rng)}, names, rng);
  const attention::Mask mask{.key_lengths = {3, 2}};
  auto f = [&](const std::vector<Tensor>& xs) {
    for (size_t i = 0; i < names.size(); ++i) layer.parameter(names[i]) = xs[1 + i];
    return layer.forward(xs[0], mask);
  };
  EXPECT_TRUE(test::gradcheck(f, inputs));
}

TEST(GradCheckTransformer, EncoderLayerPostNormReluWithPadding) { check_encoder(false, nn::Activation::relu); }
TEST(GradCheckTransformer, EncoderLayerPreNormGeluWithPadding) { check_encoder(true, nn::Activation::gelu); }

void check_decoder(bool norm_first) {
  Rng rng(42);
  nn::TransformerDecoderLayer layer(small(norm_first, nn::Activation::gelu), rng);
  layer.eval();
  std::vector<std::string> names;
  const std::vector<Tensor> inputs =
      with_parameters(layer, {test::randn64({2, 3, 4}, rng), test::randn64({2, 4, 4}, rng)}, names, rng);
  const attention::Mask self_mask{.causal = true};
  const attention::Mask memory_mask{.key_lengths = {4, 2}};
  auto f = [&](const std::vector<Tensor>& xs) {
    for (size_t i = 0; i < names.size(); ++i) layer.parameter(names[i]) = xs[2 + i];
    return layer.forward(xs[0], xs[1], self_mask, memory_mask).output;
  };
  EXPECT_TRUE(test::gradcheck(f, inputs));
}

TEST(GradCheckTransformer, DecoderLayerPostNormCausalWithMemoryPadding) { check_decoder(false); }
TEST(GradCheckTransformer, DecoderLayerPreNormCausalWithMemoryPadding) { check_decoder(true); }

TEST(GradCheckTransformer, LayerNorm) {
  Rng rng(43);
  nn::LayerNorm norm(5, 1e-5, DType::f64);
  auto f = [&](const std::vector<Tensor>& xs) {
    norm.weight = xs[1];
    norm.bias = xs[2];
    return norm.forward(xs[0]);
  };
  EXPECT_TRUE(test::gradcheck(f, {test::randn64({2, 3, 5}, rng), test::randn64({5}, rng), test::randn64({5}, rng)}));
}

}  // namespace
}  // namespace attend
