// Naive attention, the oracle of the fused kernel: materializes the scores of one query row at a
// time in type T, masks them, takes the softmax, the weighted sum of the values, and the backward,
// straight from the definitions (delta is computed as sum_j P_ij dP_ij here, not as dO . O).
//   T = double: the float64 reference.
//   T = float : the "naive f32 implementation" whose error sets the FlashAttention tolerance.
// Inputs are read through the kernel's FlashParams (float pointers and strides); the masks are
// re-derived here from their definitions (DESIGN.md section 3), not from kernel code.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "attend/core/rng.h"
#include "attend/kernels/flash_attention.h"

namespace attend::flash_ref {

using kernels::CausalMode;
using kernels::FlashParams;

// Outputs in contiguous layouts: o [B, H, Tq, D], lse [B, H, Tq], p [B, H, Tq, Tk] (weights after
// masking, before dropout), dq [B, H, Tq, D], dk/dv [B, Hkv, Tk, D].
template <typename T>
struct Result {
  std::vector<T> o, lse, p, dq, dk, dv;
};

// True iff query i of (b, h) may attend key j under every mask of p (the tensor masks included;
// additive -inf counts as masked when computing scores, not here).
inline bool allowed(const FlashParams& p, int64_t b, int64_t h, int64_t i, int64_t j) {
  const auto& m = p.mask;
  if (m.kv_len && j >= m.kv_len[b]) return false;
  if (m.causal == CausalMode::BottomRight && j > i + p.Tk - p.Tq) return false;
  if (m.causal == CausalMode::TopLeft && j > i) return false;
  const int64_t pos = m.window_align == CausalMode::TopLeft ? i : i + p.Tk - p.Tq;
  if (m.window_left >= 0 && j < pos - m.window_left) return false;
  if (m.window_right >= 0 && j > pos + m.window_right) return false;
  const auto& bm = m.bool_mask;
  if (bm.data && !bm.data[b * bm.stride_b + h * bm.stride_h + i * bm.stride_q + j * bm.stride_k]) return false;
  return true;
}

// The dropout multiplier Z_ij: 1/(1-p) if kept, 0 if dropped, 1 without dropout.
inline double dropout_factor(const FlashParams& p, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (p.dropout.p <= 0.0f) return 1.0;
  const uint64_t idx = ((static_cast<uint64_t>(b) * p.H + h) * p.Tq + i) * p.Tk + j;
  return philox_uniform(p.dropout.seed, p.dropout.offset, idx) >= p.dropout.p ? 1.0 / (1.0 - p.dropout.p) : 0.0;
}

// Forward, and the backward when dout is given (contiguous [B, H, Tq, D]).
template <typename T>
Result<T> attention(const FlashParams& p, const float* dout = nullptr) {
  const int64_t B = p.B, H = p.H, Hkv = p.Hkv, Tq = p.Tq, Tk = p.Tk, D = p.D, G = H / Hkv;
  const T scale = p.scale ? static_cast<T>(*p.scale) : T(1) / std::sqrt(static_cast<T>(D));
  const T neg_inf = -std::numeric_limits<T>::infinity();
  Result<T> r;
  r.o.assign(B * H * Tq * D, T(0));
  r.lse.assign(B * H * Tq, neg_inf);
  r.p.assign(B * H * Tq * Tk, T(0));
  if (dout) {
    r.dq.assign(B * H * Tq * D, T(0));
    r.dk.assign(B * Hkv * Tk * D, T(0));
    r.dv.assign(B * Hkv * Tk * D, T(0));
  }
  auto q = [&](int64_t b, int64_t h, int64_t i, int64_t d) {
    return static_cast<T>(p.q.data[b * p.q.stride_b + h * p.q.stride_h + i * p.q.stride_t + d]);
  };
  auto k = [&](int64_t b, int64_t h, int64_t j, int64_t d) {
    return static_cast<T>(p.k.data[b * p.k.stride_b + h * p.k.stride_h + j * p.k.stride_t + d]);
  };
  auto v = [&](int64_t b, int64_t h, int64_t j, int64_t d) {
    return static_cast<T>(p.v.data[b * p.v.stride_b + h * p.v.stride_h + j * p.v.stride_t + d]);
  };
  std::vector<T> s(Tk), z(Tk), dp(Tk);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t hk = h / G;
      for (int64_t i = 0; i < Tq; ++i) {
        // scores [Tk]
        T mx = neg_inf;
        for (int64_t j = 0; j < Tk; ++j) {
          T acc = 0;
          for (int64_t d = 0; d < D; ++d) acc += q(b, h, i, d) * k(b, hk, j, d);
          acc *= scale;
          const auto& am = p.mask.additive_mask;
          if (am.data)
            acc += static_cast<T>(am.data[b * am.stride_b + h * am.stride_h + i * am.stride_q + j * am.stride_k]);
          s[j] = allowed(p, b, h, i, j) ? acc : neg_inf;
          mx = std::max(mx, s[j]);
          z[j] = static_cast<T>(dropout_factor(p, b, h, i, j));
        }
        const int64_t row = (b * H + h) * Tq + i;
        if (mx == neg_inf) continue;  // fully masked: O = 0, LSE = -inf, P = 0, no gradient
        T l = 0;
        for (int64_t j = 0; j < Tk; ++j) {
          s[j] = std::exp(s[j] - mx);
          l += s[j];
        }
        r.lse[row] = mx + std::log(l);
        T* prow = r.p.data() + row * Tk;
        for (int64_t j = 0; j < Tk; ++j) prow[j] = s[j] / l;
        T* orow = r.o.data() + row * D;
        for (int64_t j = 0; j < Tk; ++j)
          if (prow[j] != T(0))
            for (int64_t d = 0; d < D; ++d) orow[d] += prow[j] * z[j] * v(b, hk, j, d);
        if (!dout) continue;
        // dP_j = (dO_i . V_j) Z_ij, delta = sum_j P_j dP_j, dS_j = P_j (dP_j - delta)
        const float* g = dout + row * D;
        T delta = 0;
        for (int64_t j = 0; j < Tk; ++j) {
          T acc = 0;
          for (int64_t d = 0; d < D; ++d) acc += static_cast<T>(g[d]) * v(b, hk, j, d);
          dp[j] = acc * z[j];
          delta += prow[j] * dp[j];
        }
        for (int64_t j = 0; j < Tk; ++j) {
          const T ds = prow[j] * (dp[j] - delta) * scale;
          T* dkrow = r.dk.data() + ((b * Hkv + hk) * Tk + j) * D;
          T* dvrow = r.dv.data() + ((b * Hkv + hk) * Tk + j) * D;
          T* dqrow = r.dq.data() + row * D;
          for (int64_t d = 0; d < D; ++d) {
            dvrow[d] += prow[j] * z[j] * static_cast<T>(g[d]);
            dkrow[d] += ds * q(b, h, i, d);
            dqrow[d] += ds * k(b, hk, j, d);
          }
        }
      }
    }
  return r;
}

}  // namespace attend::flash_ref
