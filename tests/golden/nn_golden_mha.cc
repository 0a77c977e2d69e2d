// Golden tests (oracle 3): attend's nn::MultiheadAttention against torch.nn.MultiheadAttention
// (PyTorch 1.13, batch_first=True), files made by scripts/golden/make_golden.py. Parameters are
// copied in by their state_dict names, which must match PyTorch's one to one. Compared: the
// output, the attention weights, and the gradients of sum(out * proj) w.r.t. the inputs and every
// parameter. f64 runs check to ~1e-10 (the same math in the same precision), f32 runs to ~1e-5.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "attend/nn/multihead_attention.h"
#include "attend/ops/ops.h"
#include "support/check.h"
#include "support/golden.h"

namespace attend {
namespace {

using test::all_close;
using test::Golden;

// PyTorch's boolean masks say True = IGNORE; attend's Mask says true = MAY attend. The golden files
// keep PyTorch's convention, so the conversion is explicit here: attend = 1 - torch.
Tensor attend_mask_from_torch(const Index& torch_mask, DType dtype) {
  std::vector<double> allowed;
  for (int64_t m : torch_mask.data) allowed.push_back(m != 0 ? 0.0 : 1.0);
  return Tensor::from_vector(allowed, torch_mask.shape, dtype);
}

std::unique_ptr<nn::MultiheadAttention> module_from_golden(const Golden& g, DType dtype) {
  Rng rng(7);
  auto mha = std::make_unique<nn::MultiheadAttention>(nn::MultiheadAttentionOptions{.embed_dim = g.config_int("embed_dim"),
                                                                                   .num_heads = g.config_int("num_heads"),
                                                                                   .kdim = g.config_int("kdim"),
                                                                                   .vdim = g.config_int("vdim"),
                                                                                   .bias = g.config_bool("bias"),
                                                                                   .dtype = dtype},
                                                      rng);
  std::map<std::string, Tensor> state;
  for (const std::string& name : g.config_strings("param_names")) state[name] = g.tensor("param." + name);
  mha->load_state_dict(state, /*strict=*/true);
  return mha;
}

// The mask of a golden case in attend's convention; `causal_flag` replaces a causal attn_mask by
// Mask::causal (the same rule, reached through attend's own causal path).
attention::Mask mask_from_golden(const Golden& g, DType dtype, bool causal_flag = false) {
  attention::Mask mask;
  if (g.has_ints("key_padding_mask")) mask.key_padding = attend_mask_from_torch(g.ints("key_padding_mask"), dtype);
  if (causal_flag) {
    mask.causal = true;
  } else if (g.has_ints("attn_mask")) {
    mask.attn_mask = attend_mask_from_torch(g.ints("attn_mask"), dtype);  // [Tq, Tk]
    mask.attn_mask_kind = attention::MaskKind::boolean;
  } else if (g.has_tensor("attn_mask")) {
    mask.attn_mask = g.tensor("attn_mask", dtype);  // [Tq, Tk], added to the scaled scores
    mask.attn_mask_kind = attention::MaskKind::additive;
  }
  return mask;
}

struct Tolerance {
  double atol, rtol;
};
Tolerance tolerance(DType dtype) { return dtype == DType::f64 ? Tolerance{1e-10, 1e-10} : Tolerance{2e-5, 1e-5}; }

void check_case(const std::string& name, DType dtype, bool causal_flag = false) {
  SCOPED_TRACE(name + (dtype == DType::f64 ? " f64" : " f32"));
  const Golden g = Golden::load(name);
  auto mha = module_from_golden(g, dtype);

  // The state_dict names match PyTorch's one to one, in PyTorch's order.
  std::vector<std::string> names;
  for (const auto& [n, p] : mha->named_parameters()) names.push_back(n);
  EXPECT_EQ(names, g.config_strings("param_names"));

  const bool self_attention = g.config_bool("self_attention");
  Tensor query = g.tensor("query", dtype).set_requires_grad(true);
  Tensor key = self_attention ? query : g.tensor("key", dtype).set_requires_grad(true);
  Tensor value = self_attention ? query : g.tensor("value", dtype).set_requires_grad(true);
  const bool average = g.config_bool("average_attn_weights");
  const nn::MhaOutput r = mha->forward(query, key, value, mask_from_golden(g, dtype, causal_flag),
                                       {.need_weights = true, .average_attn_weights = average});

  const Tolerance tol = tolerance(dtype);
  EXPECT_TRUE(all_close(r.output, g.tensor("out"), tol.atol, tol.rtol)) << "output";
  EXPECT_TRUE(all_close(r.weights, g.tensor("weights"), tol.atol, tol.rtol)) << "weights";

  sum(mul(r.output, g.tensor("proj", dtype))).backward();
  EXPECT_TRUE(all_close(query.grad(), g.tensor("grad.query"), tol.atol, tol.rtol)) << "grad.query";
  if (!self_attention) {
    EXPECT_TRUE(all_close(key.grad(), g.tensor("grad.key"), tol.atol, tol.rtol)) << "grad.key";
    EXPECT_TRUE(all_close(value.grad(), g.tensor("grad.value"), tol.atol, tol.rtol)) << "grad.value";
  }
  for (const auto& [n, p] : mha->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << n;
    EXPECT_TRUE(all_close(p.grad(), g.tensor("grad." + n), tol.atol, tol.rtol)) << "grad." << n;
  }
}

TEST(GoldenMultiheadAttention, SelfAttentionF64) { check_case("mha_self", DType::f64); }
TEST(GoldenMultiheadAttention, SelfAttentionF32) { check_case("mha_self", DType::f32); }
TEST(GoldenMultiheadAttention, CrossAttentionTqNeTkF64) { check_case("mha_cross", DType::f64); }
TEST(GoldenMultiheadAttention, CrossAttentionTqNeTkF32) { check_case("mha_cross", DType::f32); }
TEST(GoldenMultiheadAttention, KdimVdimSeparateProjectionsF64) { check_case("mha_kdim_vdim", DType::f64); }
TEST(GoldenMultiheadAttention, KdimVdimSeparateProjectionsF32) { check_case("mha_kdim_vdim", DType::f32); }
TEST(GoldenMultiheadAttention, KeyPaddingMaskF64) { check_case("mha_key_padding", DType::f64); }
TEST(GoldenMultiheadAttention, KeyPaddingMaskF32) { check_case("mha_key_padding", DType::f32); }
TEST(GoldenMultiheadAttention, BoolAttnMaskF64) { check_case("mha_bool_attn_mask", DType::f64); }
TEST(GoldenMultiheadAttention, BoolAttnMaskF32) { check_case("mha_bool_attn_mask", DType::f32); }
TEST(GoldenMultiheadAttention, FloatAttnMaskF64) { check_case("mha_float_attn_mask", DType::f64); }
TEST(GoldenMultiheadAttention, FloatAttnMaskF32) { check_case("mha_float_attn_mask", DType::f32); }
// PyTorch's causal attn_mask = triu(ones, 1), given to attend once as that boolean mask and once
// as Mask::causal: both must reproduce PyTorch.
TEST(GoldenMultiheadAttention, CausalAsTriuMaskF64) { check_case("mha_causal", DType::f64); }
TEST(GoldenMultiheadAttention, CausalAsCausalFlagF64) { check_case("mha_causal", DType::f64, /*causal_flag=*/true); }
TEST(GoldenMultiheadAttention, CausalAsCausalFlagF32) { check_case("mha_causal", DType::f32, /*causal_flag=*/true); }
TEST(GoldenMultiheadAttention, PerHeadWeightsF64) { check_case("mha_per_head_weights", DType::f64); }
TEST(GoldenMultiheadAttention, PerHeadWeightsF32) { check_case("mha_per_head_weights", DType::f32); }
TEST(GoldenMultiheadAttention, NoBiasF64) { check_case("mha_no_bias", DType::f64); }
TEST(GoldenMultiheadAttention, NoBiasF32) { check_case("mha_no_bias", DType::f32); }
TEST(GoldenMultiheadAttention, FourHeadsF64) { check_case("mha_four_heads", DType::f64); }
TEST(GoldenMultiheadAttention, FourHeadsF32) { check_case("mha_four_heads", DType::f32); }

// A query row whose keys are all masked (row 1 of mha_fully_masked_row). PyTorch 1.13 computes
// softmax over a row of -inf and returns NaN for that row's output (and NaN gradients for every
// parameter it touches). attend's rule (docs/semantics.md, DESIGN.md section 3) is different on
// purpose: such a row gets zero weights and a zero context, so the output row is out_proj.bias,
// and all gradients stay finite (one padded sentence must not poison a whole training batch). The
// other rows must still equal PyTorch.
TEST(GoldenMultiheadAttention, FullyMaskedRowIsZeroWhereTorchGivesNaN) {
  const Golden g = Golden::load("mha_fully_masked_row");
  const Tensor torch_out = g.tensor("out");         // [B, Tq, C]
  const Tensor torch_weights = g.tensor("weights");  // [B, Tq, Tk]
  const int64_t B = torch_out.size(0), Tq = torch_out.size(1), C = torch_out.size(2), Tk = torch_weights.size(2);
  const int64_t masked_row = 1;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) ASSERT_TRUE(std::isnan(torch_out.at({b, masked_row, c}))) << "PyTorch gave a number";

  auto mha = module_from_golden(g, DType::f64);
  Tensor query = g.tensor("query").set_requires_grad(true);
  Tensor key = g.tensor("key").set_requires_grad(true);
  Tensor value = g.tensor("value").set_requires_grad(true);
  const nn::MhaOutput r = mha->forward(query, key, value, mask_from_golden(g, DType::f64), {.need_weights = true});

  const Tensor bias = mha->out_proj.bias;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < Tq; ++t) {
      for (int64_t c = 0; c < C; ++c) {
        // zero context: the masked output row is exactly the output projection's bias
        const double expected = t == masked_row ? bias.at({c}) : torch_out.at({b, t, c});
        EXPECT_NEAR(r.output.at({b, t, c}), expected, 1e-10) << b << "," << t << "," << c;
      }
      for (int64_t j = 0; j < Tk; ++j) {
        const double expected = t == masked_row ? 0.0 : torch_weights.at({b, t, j});
        EXPECT_NEAR(r.weights.at({b, t, j}), expected, 1e-10) << b << "," << t << "," << j;
      }
    }
  }

  sum(mul(r.output, g.tensor("proj"))).backward();
  std::vector<std::pair<std::string, Tensor>> grads{{"query", query.grad()}, {"key", key.grad()}, {"value", value.grad()}};
  for (const auto& [n, p] : mha->named_parameters()) grads.emplace_back(n, p.grad());
  for (const auto& [n, gr] : grads) {
    ASSERT_TRUE(gr.defined()) << n;
    for (double x : gr.to_vector<double>()) ASSERT_TRUE(std::isfinite(x)) << "non-finite gradient for " << n;
  }
  // The masked query row attends to nothing, so nothing depends on it: its gradient is exactly 0.
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) EXPECT_EQ(query.grad().at({b, masked_row, c}), 0.0);
  // The rows of the query input that are not masked still get PyTorch's gradient.
  const Tensor torch_grad_q = g.tensor("grad.query");
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < Tq; ++t) {
      if (t == masked_row) continue;
      for (int64_t c = 0; c < C; ++c) EXPECT_NEAR(query.grad().at({b, t, c}), torch_grad_q.at({b, t, c}), 1e-10);
    }
  }
}

}  // namespace
}  // namespace attend
