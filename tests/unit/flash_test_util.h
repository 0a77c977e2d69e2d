// Shared by the fused-attention tests: seeded random problems, a runner that calls the kernel and
// both naive paths, and the FlashAttention tolerance rule
//   |fused - ref64| <= 2 |naive32 - ref64| + 1e-6 max(1, |ref64|)      (max over each tensor)
// for outputs, LSE, gradients and recomputed weights alike (the kernel stores the LSE as
// lse + lse_lo, so what it recomputes from it has no extra error for large logits).
// ATTEND_TEST_QUICK=1 (set by the project's test script for the sanitizer run) shrinks the sweeps.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attend/core/rng.h"
#include "attend/core/threads.h"
#include "attend/kernels/flash_attention.h"
#include "reference/flash_reference.h"

namespace attend::flash_test {

using kernels::CausalMode;
using kernels::FlashBackwardParams;
using kernels::FlashParams;

// True when ATTEND_TEST_QUICK=1: the sweeps skip their biggest cases and repeat less (for slow
// sanitizer builds). Release runs without the variable are unchanged.
inline bool quick() {
  const char* e = std::getenv("ATTEND_TEST_QUICK");
  return e && std::strcmp(e, "1") == 0;
}

enum class TensorMask { None, BoolRandom, BoolKeyPadding, AdditiveRandom, AdditiveHeadBroadcast, Both };

struct Case {
  std::string name;
  int64_t B = 1, H = 1, Hkv = 1, Tq = 1, Tk = 1, D = 64;
  CausalMode causal = CausalMode::None;
  int64_t window_left = -1, window_right = -1;
  CausalMode window_align = CausalMode::BottomRight;
  std::vector<int64_t> kv_len;  // empty: no key padding
  TensorMask tensor_mask = TensorMask::None;
  float logit = 1.0f;  // multiplies q
  float dropout = 0.0f;
  bool bthd = false;  // q/k/v/o/dout/dq/dk/dv stored as [B, T, H, D]
  std::optional<float> scale;
  uint64_t seed = 1;
  std::optional<uint64_t> dropout_offset;  // default 1000 + seed
  bool store_lse_lo = true;  // false: FlashParams::lse_lo = nullptr (the LSE in one float)
  bool inference_only = false;  // FlashParams::inference_only (forward only)
};

inline std::vector<float> normals(uint64_t seed, int64_t n, float mul = 1.0f) {
  Rng rng(seed);
  const uint64_t base = rng.advance(static_cast<uint64_t>(n));
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = static_cast<float>(rng.normal_at(base, i)) * mul;
  return x;
}
inline std::vector<double> uniforms(uint64_t seed, int64_t n) {
  Rng rng(seed);
  const uint64_t base = rng.advance(static_cast<uint64_t>(n));
  std::vector<double> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = rng.uniform_at(base, i);
  return x;
}

// A problem instance with its buffers. Tensors use the [B, heads, T, D] or [B, T, heads, D]
// layout of the case; `at` maps a logical index to storage.
struct Problem {
  Case c;
  std::vector<float> q, k, v, o, lse, lse_lo, dout, dq, dk, dv, amask;
  std::unique_ptr<bool[]> bmask;
  int64_t bmask_sb = 0, bmask_sh = 0, bmask_sq = 0, bmask_sk = 0;
  int64_t amask_sb = 0, amask_sh = 0, amask_sq = 0, amask_sk = 0;

  explicit Problem(Case cs) : c(std::move(cs)) {
    const int64_t nq = c.B * c.H * c.Tq * c.D, nk = c.B * c.Hkv * c.Tk * c.D;
    q = normals(c.seed * 11 + 1, nq, c.logit);
    k = normals(c.seed * 11 + 2, nk);
    v = normals(c.seed * 11 + 3, nk);
    dout = normals(c.seed * 11 + 4, nq);
    o.assign(static_cast<size_t>(nq), NAN);
    dq.assign(static_cast<size_t>(nq), NAN);
    lse.assign(static_cast<size_t>(c.B * c.H * c.Tq), NAN);
    if (c.store_lse_lo) lse_lo.assign(static_cast<size_t>(c.B * c.H * c.Tq), NAN);
    dk.assign(static_cast<size_t>(nk), NAN);
    dv.assign(static_cast<size_t>(nk), NAN);
    const int64_t full = c.B * c.H * c.Tq * c.Tk;
    const bool want_bool = c.tensor_mask == TensorMask::BoolRandom || c.tensor_mask == TensorMask::Both;
    const bool want_add = c.tensor_mask == TensorMask::AdditiveRandom || c.tensor_mask == TensorMask::Both;
    if (want_bool) {  // full [B, H, Tq, Tk], 70% kept, every 5th row of every head fully dropped
      const auto u = uniforms(c.seed * 11 + 5, full);
      bmask.reset(new bool[static_cast<size_t>(full)]);
      for (int64_t e = 0; e < full; ++e) {
        const int64_t i = (e / c.Tk) % c.Tq;
        bmask[static_cast<size_t>(e)] = u[static_cast<size_t>(e)] < 0.7 && i % 5 != 3;
      }
      bmask_sb = c.H * c.Tq * c.Tk, bmask_sh = c.Tq * c.Tk, bmask_sq = c.Tk, bmask_sk = 1;
    }
    if (c.tensor_mask == TensorMask::BoolKeyPadding) {  // [B, 1, 1, Tk]: the last third of keys of batch 0
      bmask.reset(new bool[static_cast<size_t>(c.B * c.Tk)]);
      for (int64_t b = 0; b < c.B; ++b)
        for (int64_t j = 0; j < c.Tk; ++j) bmask[static_cast<size_t>(b * c.Tk + j)] = !(b == 0 && j >= 2 * c.Tk / 3);
      bmask_sb = c.Tk, bmask_sk = 1;
    }
    if (want_add) {  // full [B, H, Tq, Tk], N(0, 2^2) with 10% -inf
      amask = normals(c.seed * 11 + 6, full, 2.0f);
      const auto u = uniforms(c.seed * 11 + 7, full);
      for (int64_t e = 0; e < full; ++e)
        if (u[static_cast<size_t>(e)] < 0.1) amask[static_cast<size_t>(e)] = -INFINITY;
      amask_sb = c.H * c.Tq * c.Tk, amask_sh = c.Tq * c.Tk, amask_sq = c.Tk, amask_sk = 1;
    }
    if (c.tensor_mask == TensorMask::AdditiveHeadBroadcast) {  // [B, 1, Tq, Tk]
      amask = normals(c.seed * 11 + 6, c.B * c.Tq * c.Tk, 3.0f);
      amask_sb = c.Tq * c.Tk, amask_sq = c.Tk, amask_sk = 1;
    }
  }

  template <typename T>
  kernels::FlashTensor<T> view(T* data, int64_t heads, int64_t tokens) const {
    if (c.bthd) return {.data = data, .stride_b = tokens * heads * c.D, .stride_h = c.D, .stride_t = heads * c.D};
    return kernels::flash_contiguous(data, heads, tokens, c.D);
  }
  // Storage index of logical element (b, h, t, d) of a tensor with `heads` heads and `tokens` tokens.
  int64_t at(int64_t heads, int64_t tokens, int64_t b, int64_t h, int64_t t, int64_t d) const {
    return c.bthd ? ((b * tokens + t) * heads + h) * c.D + d : ((b * heads + h) * tokens + t) * c.D + d;
  }

  FlashParams params() {
    FlashParams p{.B = c.B, .H = c.H, .Hkv = c.Hkv, .Tq = c.Tq, .Tk = c.Tk, .D = c.D};
    p.q = view<const float>(q.data(), c.H, c.Tq);
    p.k = view<const float>(k.data(), c.Hkv, c.Tk);
    p.v = view<const float>(v.data(), c.Hkv, c.Tk);
    p.o = view<float>(o.data(), c.H, c.Tq);
    p.lse = lse.data();
    p.lse_lo = c.store_lse_lo ? lse_lo.data() : nullptr;
    p.scale = c.scale;
    p.inference_only = c.inference_only;
    p.mask.causal = c.causal;
    p.mask.window_left = c.window_left;
    p.mask.window_right = c.window_right;
    p.mask.window_align = c.window_align;
    p.mask.kv_len = c.kv_len.empty() ? nullptr : c.kv_len.data();
    if (bmask) p.mask.bool_mask = {bmask.get(), bmask_sb, bmask_sh, bmask_sq, bmask_sk};
    if (!amask.empty()) p.mask.additive_mask = {amask.data(), amask_sb, amask_sh, amask_sq, amask_sk};
    p.dropout = {.p = c.dropout, .seed = c.seed * 7919 + 5, .offset = c.dropout_offset.value_or(1000 + c.seed)};
    return p;
  }
  FlashBackwardParams backward_params() {
    return {.fwd = params(),
            .dout = view<const float>(dout.data(), c.H, c.Tq),
            .dq = view<float>(dq.data(), c.H, c.Tq),
            .dk = view<float>(dk.data(), c.Hkv, c.Tk),
            .dv = view<float>(dv.data(), c.Hkv, c.Tk)};
  }
  // dout as contiguous [B, H, Tq, D] (what the reference reads).
  std::vector<float> dout_contiguous() const {
    std::vector<float> g(dout.size());
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t h = 0; h < c.H; ++h)
        for (int64_t i = 0; i < c.Tq; ++i)
          for (int64_t d = 0; d < c.D; ++d)
            g[static_cast<size_t>(((b * c.H + h) * c.Tq + i) * c.D + d)] = dout[static_cast<size_t>(at(c.H, c.Tq, b, h, i, d))];
    return g;
  }
  // A kernel output in the reference's contiguous layout.
  std::vector<double> contiguous(const std::vector<float>& x, int64_t heads, int64_t tokens) const {
    std::vector<double> y(x.size());
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t t = 0; t < tokens; ++t)
          for (int64_t d = 0; d < c.D; ++d)
            y[static_cast<size_t>(((b * heads + h) * tokens + t) * c.D + d)] = x[static_cast<size_t>(at(heads, tokens, b, h, t, d))];
    return y;
  }

  void run_forward() { kernels::flash_attention_forward(params()); }
  void run_backward() { kernels::flash_attention_backward(backward_params()); }
};

template <typename A, typename B>
double max_abs_diff(const std::vector<A>& a, const std::vector<B>& b) {
  double e = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = static_cast<double>(a[i]), y = static_cast<double>(b[i]);
    if (std::isinf(x) && std::isinf(y) && (x > 0) == (y > 0)) continue;
    e = std::max(e, std::isnan(x) || std::isnan(y) ? INFINITY : std::fabs(x - y));
  }
  return e;
}
inline double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double x : a)
    if (std::isfinite(x)) m = std::max(m, std::fabs(x));
  return m;
}

// The FlashAttention tolerance check for one tensor.
template <typename F>
void expect_within_rule(const char* what, const std::vector<F>& fused, const std::vector<float>& naive,
                        const std::vector<double>& ref, double extra_floor = 0.0) {
  ASSERT_EQ(fused.size(), ref.size()) << what;
  for (size_t i = 0; i < fused.size(); ++i) {
    const double x = static_cast<double>(fused[i]);
    ASSERT_FALSE(std::isnan(x)) << what << "[" << i << "] is NaN";
    if (std::isinf(ref[i]) || std::isinf(x)) {
      ASSERT_EQ(x, ref[i]) << what << "[" << i << "]: infinities must match the reference";
    }
  }
  const double e_fused = max_abs_diff(fused, ref), e_naive = max_abs_diff(naive, ref);
  const double tol = 2.0 * e_naive + 1e-6 * std::max(1.0, max_abs(ref)) + extra_floor;
  EXPECT_LE(e_fused, tol) << what << ": fused error " << e_fused << " vs naive f32 error " << e_naive;
}

// Runs forward (and backward) with the kernel and both naive paths and applies the rule.
inline void check_case(const Case& cs, bool backward = true) {
  SCOPED_TRACE("case " + cs.name);
  Problem pr(cs);
  pr.run_forward();
  if (backward) pr.run_backward();
  const auto g = pr.dout_contiguous();
  const FlashParams fp = pr.params();
  const auto ref = flash_ref::attention<double>(fp, backward ? g.data() : nullptr);
  const auto naive = flash_ref::attention<float>(fp, backward ? g.data() : nullptr);
  expect_within_rule("O", pr.contiguous(pr.o, cs.H, cs.Tq), naive.o, ref.o);
  expect_within_rule("LSE", pr.lse, naive.lse, ref.lse);
  // lse + lse_lo is the LSE to better than f32: never worse than lse alone. (Not promised by an
  // inference-only forward, whose LSE nothing recomputes from: its scores carry their own rounding.)
  if (cs.store_lse_lo && !cs.inference_only) {
    std::vector<double> sum(pr.lse.size());
    for (size_t e = 0; e < sum.size(); ++e) {
      ASSERT_TRUE(std::isfinite(pr.lse_lo[e])) << "lse_lo[" << e << "]";
      sum[e] = static_cast<double>(pr.lse[e]) + static_cast<double>(pr.lse_lo[e]);
      if (std::isinf(pr.lse[e])) {
        EXPECT_EQ(pr.lse_lo[e], 0.0f) << "fully masked row " << e;
      }
    }
    EXPECT_LE(max_abs_diff(sum, ref.lse), max_abs_diff(pr.lse, ref.lse) + 1e-6) << "lse + lse_lo";
  }
  if (!backward) return;
  // The backward recomputes P = e^((S - lse) - lse_lo) from the forward's two-float LSE: the same
  // rule as everything else, with no allowance for the rounding of lse.
  expect_within_rule("dQ", pr.contiguous(pr.dq, cs.H, cs.Tq), naive.dq, ref.dq);
  expect_within_rule("dK", pr.contiguous(pr.dk, cs.Hkv, cs.Tk), naive.dk, ref.dk);
  expect_within_rule("dV", pr.contiguous(pr.dv, cs.Hkv, cs.Tk), naive.dv, ref.dv);
}

// Fixture: one instance per instruction set this machine supports.
class PerIsa : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { kernels::set_flash_isa(GetParam()); }
  void TearDown() override { kernels::set_flash_isa(""); }
};

inline std::string isa_test_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace attend::flash_test

#define ATTEND_FLASH_PER_ISA(Suite) \
  INSTANTIATE_TEST_SUITE_P(Isa, Suite, ::testing::ValuesIn(::attend::kernels::supported_isas()), \
                           ::attend::flash_test::isa_test_name)
