// Module, Linear and MultiheadAttention bookkeeping: PyTorch state_dict names, PyTorch's default
// initializations, zero_grad, train/eval, dtype conversion, strict loading by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "attend/nn/linear.h"
#include "attend/nn/multihead_attention.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

std::vector<std::string> names_of(const nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& [n, p] : m.named_parameters()) out.push_back(n);
  return out;
}

TEST(SemanticsModule, LinearNamesShapesAndPyTorchDefaultInit) {
  Rng rng(11);
  nn::Linear lin(16, 64, rng);
  EXPECT_EQ(names_of(lin), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(lin.weight.shape(), Shape({64, 16}));
  EXPECT_EQ(lin.bias.shape(), Shape({64}));
  EXPECT_TRUE(lin.weight.requires_grad() && lin.bias.requires_grad());
  // U(-1/sqrt(in), 1/sqrt(in)) = U(-0.25, 0.25): inside the bound, spread over it, centred.
  const std::vector<double> w = lin.weight.to_vector<double>();
  double lo = 1.0, hi = -1.0, s = 0.0;
  for (double x : w) lo = std::min(lo, x), hi = std::max(hi, x), s += x;
  EXPECT_GE(lo, -0.25);
  EXPECT_LE(hi, 0.25);
  EXPECT_LT(lo, -0.23);
  EXPECT_GT(hi, 0.23);
  EXPECT_NEAR(s / static_cast<double>(w.size()), 0.0, 0.02);
  // Same seed, same module.
  Rng rng2(11);
  nn::Linear again(16, 64, rng2);
  EXPECT_EQ(test::max_abs_diff(again.weight, lin.weight), 0.0);
  nn::Linear nobias(16, 4, rng, {.bias = false});
  EXPECT_EQ(names_of(nobias), (std::vector<std::string>{"weight"}));
  EXPECT_FALSE(nobias.bias.defined());
}

TEST(ReferenceLinear, ForwardIsXWtPlusB) {
  Rng rng(12);
  nn::Linear lin(3, 2, rng, {.dtype = DType::f64});
  const Tensor x = test::randn64({4, 3}, rng);
  const Tensor y = lin.forward(x);  // [4, 2]
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t o = 0; o < 2; ++o) {
      double ref = lin.bias.at({o});
      for (int64_t k = 0; k < 3; ++k) ref += x.at({i, k}) * lin.weight.at({o, k});
      EXPECT_NEAR(y.at({i, o}), ref, 1e-14);
    }
}

TEST(SemanticsModule, MultiheadAttentionNamesFollowPyTorch) {
  Rng rng(13);
  nn::MultiheadAttention packed({.embed_dim = 8, .num_heads = 2}, rng);
  EXPECT_EQ(names_of(packed),
            (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}));
  EXPECT_EQ(packed.in_proj_weight.shape(), Shape({24, 8}));
  EXPECT_EQ(packed.in_proj_bias.shape(), Shape({24}));
  // PyTorch's _reset_parameters: biases start at zero; Xavier bound sqrt(6 / (8 + 24)).
  EXPECT_EQ(test::max_abs_diff(packed.in_proj_bias, Tensor::zeros({24})), 0.0);
  EXPECT_EQ(test::max_abs_diff(packed.out_proj.bias, Tensor::zeros({8})), 0.0);
  for (double w : packed.in_proj_weight.to_vector<double>()) EXPECT_LE(std::fabs(w), std::sqrt(6.0 / 32.0));

  nn::MultiheadAttention separate({.embed_dim = 8, .num_heads = 2, .kdim = 6, .vdim = 4}, rng);
  EXPECT_EQ(names_of(separate), (std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight",
                                                          "in_proj_bias", "out_proj.weight", "out_proj.bias"}));
  EXPECT_EQ(separate.k_proj_weight.shape(), Shape({8, 6}));
  EXPECT_EQ(separate.v_proj_weight.shape(), Shape({8, 4}));

  nn::MultiheadAttention nobias({.embed_dim = 8, .num_heads = 2, .bias = false}, rng);
  EXPECT_EQ(names_of(nobias), (std::vector<std::string>{"in_proj_weight", "out_proj.weight"}));

  // Grouped-query: the k and v blocks of the packed projection have Hkv * D rows.
  nn::MultiheadAttention gqa({.embed_dim = 8, .num_heads = 4, .num_kv_heads = 2}, rng);
  EXPECT_EQ(gqa.in_proj_weight.shape(), Shape({8 + 2 * 2 * 2, 8}));
  EXPECT_EQ(gqa.in_proj_bias.shape(), Shape({16}));
  nn::MultiheadAttention mqa({.embed_dim = 8, .num_heads = 4, .num_kv_heads = 1, .kdim = 5}, rng);
  EXPECT_EQ(mqa.k_proj_weight.shape(), Shape({2, 5}));
}

TEST(SemanticsModule, ZeroGradTrainEvalAndDtype) {
  Rng rng(14);
  nn::MultiheadAttention mha({.embed_dim = 4, .num_heads = 2}, rng);
  EXPECT_TRUE(mha.is_training() && mha.out_proj.is_training());
  mha.eval();
  EXPECT_FALSE(mha.is_training() || mha.out_proj.is_training());
  mha.train();
  EXPECT_TRUE(mha.out_proj.is_training());

  const Tensor x = test::randn32({1, 3, 4}, rng);
  sum(mha.forward(x, x, x).output).backward();
  for (const auto& [n, p] : mha.named_parameters()) EXPECT_TRUE(p.grad().defined()) << n;
  mha.zero_grad();
  for (const auto& [n, p] : mha.named_parameters()) EXPECT_FALSE(p.grad().defined()) << n;

  mha.to(DType::f64);
  for (const auto& [n, p] : mha.named_parameters()) {
    EXPECT_EQ(p.dtype(), DType::f64) << n;
    EXPECT_TRUE(p.requires_grad() && p.is_leaf()) << n;
  }
  const Tensor y = mha.forward(x.to(DType::f64), x.to(DType::f64), x.to(DType::f64)).output;
  EXPECT_EQ(y.dtype(), DType::f64);
}

TEST(SemanticsModule, LoadStateDictByNameKeepsTheLeaf) {
  Rng rng(15);
  nn::MultiheadAttention a({.embed_dim = 4, .num_heads = 2}, rng), b({.embed_dim = 4, .num_heads = 2}, rng);
  const Tensor leaf = b.in_proj_weight;
  std::map<std::string, Tensor> state;
  for (const auto& [n, p] : a.named_parameters()) state[n] = p;
  b.load_state_dict(state);
  EXPECT_TRUE(b.in_proj_weight.same(leaf));  // values copied in, the parameter is the same tensor
  for (const auto& [n, p] : b.named_parameters()) EXPECT_EQ(test::max_abs_diff(p, a.parameter(n)), 0.0) << n;
}

TEST(BadInputModule, StrictLoadingNamesTheMissingOrUnknownParameter) {
  Rng rng(16);
  nn::MultiheadAttention mha({.embed_dim = 4, .num_heads = 2}, rng);
  std::map<std::string, Tensor> state;
  for (const auto& [n, p] : mha.named_parameters()) state[n] = p.detach();
  state.erase("out_proj.bias");
  try {
    mha.load_state_dict(state);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "[Module] state dict lacks parameter 'out_proj.bias' [4]");
  }
  state["out_proj.bias"] = Tensor::zeros({4});
  state["out_proj.scale"] = Tensor::zeros({4});
  try {
    mha.load_state_dict(state);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "[Module] state dict has unknown parameter 'out_proj.scale' [4]");
  }
  try {
    mha.load_parameter("in_proj_weight", Tensor::zeros({4, 4}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "[Module] parameter 'in_proj_weight' is [12, 4], the value [4, 4]");
  }
  EXPECT_THROW(mha.parameter("q_proj_weight"), Error);  // packed module: no separate q weight
}

TEST(BadInputLinear, InputWidthMismatchNamesTheShapes) {
  Rng rng(17);
  nn::Linear lin(3, 2, rng);
  try {
    lin.forward(Tensor::zeros({4, 5}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "[Linear] input [4, 5] must end in in_features 3 (weight [2, 3])");
  }
}

}  // namespace
}  // namespace attend
