// Golden tests (oracle 3): attend's nn::TransformerEncoderLayer and TransformerDecoderLayer
// against torch.nn's (PyTorch 1.13, batch_first=True, dropout 0), files made by
// scripts/golden/make_transformer_golden.py: post-norm and pre-norm, ReLU and GELU, source key
// padding (encoder self-attention, decoder cross-attention) and the causal decoder
// self-attention. Parameters are copied in by their state_dict names, which must match PyTorch's
// one to one and in order. Compared in f64: the output and the gradients of sum(out * proj)
// w.r.t. the inputs and every parameter.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "attend/nn/transformer.h"
#include "attend/ops/ops.h"
#include "support/check.h"
#include "support/golden.h"

namespace attend {
namespace {

using test::Golden;

nn::TransformerLayerOptions options_of(const Golden& g) {
  return {.d_model = g.config_int("d_model"),
          .num_heads = g.config_int("num_heads"),
          .ffn_dim = g.config_int("ffn_dim"),
          .dropout = 0.0,
          .activation = g.config_bool("gelu") ? nn::Activation::gelu : nn::Activation::relu,
          .norm_first = g.config_bool("norm_first"),
          .dtype = DType::f64};
}

template <typename Layer>
void load(Layer& layer, const Golden& g) {
  std::vector<std::string> names;
  for (const auto& [n, p] : layer.named_parameters()) names.push_back(n);
  EXPECT_EQ(names, g.config_strings("param_names"));
  std::map<std::string, Tensor> state;
  for (const std::string& name : g.config_strings("param_names")) state[name] = g.tensor("param." + name);
  layer.load_state_dict(state, /*strict=*/true);
  layer.train();  // dropout is 0: train mode only mirrors the generator
}

template <typename Layer>
void check_gradients(Layer& layer, const Golden& g, const std::vector<std::pair<std::string, Tensor>>& inputs) {
  constexpr double tol = 1e-10;
  for (const auto& [name, x] : inputs) EXPECT_TRUE(test::all_close(x.grad(), g.tensor("grad." + name), tol, tol)) << name;
  for (const auto& [name, p] : layer.named_parameters())
    EXPECT_TRUE(test::all_close(p.grad(), g.tensor("grad." + name), tol, tol)) << name;
}

void check_encoder(const std::string& name) {
  SCOPED_TRACE(name);
  const Golden g = Golden::load(name);
  Rng rng(1);
  nn::TransformerEncoderLayer layer(options_of(g), rng);
  load(layer, g);
  const Tensor x = g.tensor("x").set_requires_grad(true);
  const Tensor out = layer.forward(x, {.key_lengths = g.ints("src_lengths").data});
  EXPECT_TRUE(test::all_close(out, g.tensor("out"), 1e-10, 1e-10));
  sum(mul(out, g.tensor("proj"))).backward();
  check_gradients(layer, g, {{"x", x}});
}

void check_decoder(const std::string& name) {
  SCOPED_TRACE(name);
  const Golden g = Golden::load(name);
  Rng rng(1);
  nn::TransformerDecoderLayer layer(options_of(g), rng);
  load(layer, g);
  const Tensor x = g.tensor("x").set_requires_grad(true);
  const Tensor memory = g.tensor("memory").set_requires_grad(true);
  const Tensor out =
      layer.forward(x, memory, {.causal = true}, {.key_lengths = g.ints("src_lengths").data}).output;
  EXPECT_TRUE(test::all_close(out, g.tensor("out"), 1e-10, 1e-10));
  sum(mul(out, g.tensor("proj"))).backward();
  check_gradients(layer, g, {{"x", x}, {"memory", memory}});
}

TEST(GoldenTransformer, EncoderLayerPostNormRelu) { check_encoder("transformer_encoder_post_relu"); }
TEST(GoldenTransformer, EncoderLayerPreNormGelu) { check_encoder("transformer_encoder_pre_gelu"); }
TEST(GoldenTransformer, DecoderLayerPreNormGelu) { check_decoder("transformer_decoder_pre_gelu"); }
TEST(GoldenTransformer, DecoderLayerPostNormRelu) { check_decoder("transformer_decoder_post_relu"); }

}  // namespace
}  // namespace attend
