// Finite-difference gradient checks (oracle 2) of nn::MultiheadAttention in float64, w.r.t. the
// inputs and every parameter at once: packed and separate projections, grouped-query and
// multi-query heads, masks of every kind (a fully masked row included: its gradients must be the
// exact zeros the finite differences see), and the key/value cache path.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attend/nn/multihead_attention.h"
#include "attend/ops/ops.h"
#include "support/check.h"

// GCC 12 at -O3 warns that the std::string inside a designated-initialized options struct "may be
// used uninitialized" when the struct is copied out of a temporary (a known false positive, GCC
// bug 105562); the cases below are written exactly that way.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace attend {
namespace {

struct Case {
  nn::MultiheadAttentionOptions opt;
  int64_t B = 1, Tq = 3, Tk = 3;
  bool self_attention = false;
  attention::Mask mask;
};

// gradcheck over [query, (key, value,) every parameter]: f writes the perturbed parameter leaves
// into the module's slots, so the module computes with exactly the tensors being differentiated.
void check(const Case& c) {
  Rng rng(31);
  nn::MultiheadAttentionOptions opt = c.opt;
  opt.dtype = DType::f64;
  nn::MultiheadAttention m(opt, rng);
  const auto& o = m.options();
  std::vector<std::string> names;
  std::vector<Tensor> inputs{test::randn64({c.B, c.Tq, o.embed_dim}, rng)};
  if (!c.self_attention) {
    inputs.push_back(test::randn64({c.B, c.Tk, o.kdim}, rng));
    inputs.push_back(test::randn64({c.B, c.Tk, o.vdim}, rng));
  }
  const size_t n_inputs = inputs.size();
  for (const auto& [n, p] : m.named_parameters()) {
    names.push_back(n);
    inputs.push_back(mul(test::randn64(p.shape(), rng), 0.5));  // non-zero biases too
  }
  auto f = [&](const std::vector<Tensor>& xs) {
    for (size_t i = 0; i < names.size(); ++i) m.parameter(names[i]) = xs[n_inputs + i];
    const Tensor& q = xs[0];
    const Tensor& k = c.self_attention ? xs[0] : xs[1];
    const Tensor& v = c.self_attention ? xs[0] : xs[2];
    return m.forward(q, k, v, c.mask).output;
  };
  EXPECT_TRUE(test::gradcheck(f, inputs));
}

TEST(GradCheckMultiheadAttention, SelfAttentionPacked) {
  check({.opt = {.embed_dim = 4, .num_heads = 2}, .B = 2, .Tq = 3, .Tk = 3, .self_attention = true});
}

TEST(GradCheckMultiheadAttention, CrossAttentionKdimVdimNoBias) {
  check({.opt = {.embed_dim = 4, .num_heads = 2, .kdim = 3, .vdim = 5, .bias = false}, .Tq = 2, .Tk = 4});
}

TEST(GradCheckMultiheadAttention, GroupedQueryHeads) {
  check({.opt = {.embed_dim = 8, .num_heads = 4, .num_kv_heads = 2}, .Tq = 2, .Tk = 3});
}

TEST(GradCheckMultiheadAttention, MultiQuerySeparateProjections) {
  check({.opt = {.embed_dim = 4, .num_heads = 2, .num_kv_heads = 1, .kdim = 3}, .Tq = 2, .Tk = 3});
}

TEST(GradCheckMultiheadAttention, CausalKeyPaddingAndFloatMask) {
  Rng rng(32);
  attention::Mask mask{.key_padding = Tensor::from_vector(std::vector<double>{1, 1, 1, 0, 1, 1, 0, 0}, {2, 4},
                                                          DType::f64),
                       .causal = true,
                       .attn_mask = test::randn64({3, 4}, rng),
                       .attn_mask_kind = attention::MaskKind::additive};
  check({.opt = {.embed_dim = 4, .num_heads = 2}, .B = 2, .Tq = 3, .Tk = 4, .mask = mask});
}

// Other normalizers per head: the sparse ones, and the CRF whose pairwise potentials [H, 2, 2] are
// a parameter of the module ("normalizer.pairwise", checked like every other parameter).
TEST(GradCheckMultiheadAttention, SparseAndCrfSegmentNormalizersWithPadding) {
  const attention::Mask mask{.key_lengths = {4, 2}};
  for (const char* n : {"sparsemax", "entmax15", "entmax:1.25", "crf-segment"}) {
    SCOPED_TRACE(n);
    check({.opt = {.embed_dim = 4, .num_heads = 2, .normalizer = n}, .B = 2, .Tq = 3, .Tk = 4, .mask = mask});
  }
  Rng rng(3);
  nn::MultiheadAttention crf({.embed_dim = 4, .num_heads = 2, .normalizer = "crf-segment"}, rng);
  EXPECT_EQ(crf.parameter("normalizer.pairwise").shape(), (Shape{2, 2, 2}));
}

TEST(GradCheckMultiheadAttention, FullyMaskedRowHasExactZeroGradient) {
  // Query row 0 may attend to nothing: zero weights, zero context, zero and finite gradients.
  attention::Mask mask{.attn_mask = Tensor::from_vector(std::vector<double>{0, 0, 0, 1, 0, 1, 1, 1, 1}, {3, 3},
                                                        DType::f64),
                       .attn_mask_kind = attention::MaskKind::boolean};
  check({.opt = {.embed_dim = 4, .num_heads = 2}, .Tq = 3, .Tk = 3, .mask = mask});
}

// Gradients flow through the cache: the second chunk's output depends on the first chunk's keys
// and values, which the cache holds with their history.
TEST(GradCheckMultiheadAttention, ThroughTheKVCache) {
  Rng rng(33);
  nn::MultiheadAttention m({.embed_dim = 4, .num_heads = 2, .num_kv_heads = 1, .dtype = DType::f64}, rng);
  const Tensor x = test::randn64({1, 3, 4}, rng);
  auto f = [&](const std::vector<Tensor>& xs) {
    nn::KVCache cache;
    const Tensor a = slice(xs[0], 1, 0, 2), b = slice(xs[0], 1, 2, 3);
    m.forward(a, a, a, {.causal = true}, {.cache = &cache});
    return m.forward(b, b, b, {.causal = true}, {.cache = &cache}).output;  // [1, 1, 4]
  };
  EXPECT_TRUE(test::gradcheck(f, {x}));
}

}  // namespace
}  // namespace attend
