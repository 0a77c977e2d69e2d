// The one fused-attention kernel template, compiled once per instruction set.
//
// Each flash_<isa>.cc defines ATTEND_FLASH_NS (its own namespace) and, inside it, a struct `Isa`
// with the vector type and operations, then includes this file. Everything here lives in that
// namespace, so the per-ISA copies never share a symbol (the CTranslate2 way) and a machine without
// AVX-512 never runs an AVX-512 instruction.
//
// Isa provides:
//   V, W (lanes), kAcc (accumulator registers a micro-kernel may use), kMaxNV (vectors per row)
//   zero(), set1(f), loadu(p), storeu(p, v), load_part(p, n), store_part(p, v, n)
//   add, sub, mul, max, fma(a, b, c) = a * b + c, fma1 (one lane of fma), exp2(x) (0 for x < -126, -inf and NaN),
//   philox_block(seed, c, out) (the 4 W dropout uniforms of Philox counters c .. c + W - 1),
//   ge_bits16(u, p, bits) (16 compares u >= p as 2 bytes of bits), apply16(keep, scale, x, y)
//   (16 of y = x * (kept ? scale : 0)),
//   iota() (lanes 0, 1, ..., W-1 as floats), select_in(x, j, lo, hi, fill) (x where
//   lo <= j <= hi, else fill), eq_neg_inf(m, fill) (fill where m == -inf, else m).
//
// Layout of the work (docs/flash_attention.md):
//   forward  : "transposed" tiles S^T [Bc keys][Br queries], vectors across queries, so the
//              row-wise max and sum of the online softmax are vertical (no shuffles); Q^T is packed
//              once per query tile, K and V are read in place (broadcast scalars).
//   backward : row tiles S [Br queries][Bc keys], vectors across keys; K^T and V^T are packed once
//              per key tile, Q, dO, K rows are read in place.
// All matrix products go through one register-blocked micro-kernel:
//   C[r][v] (+)= sum_k b[r * bs + k * bk] * vec[k * ldv + v * W],   r < R, v < NV
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "attend/core/error.h"
#include "attend/core/threads.h"
#include "attend/kernels/flash_attention.h"
#include "../fast_math.h"
#include "../flash_mask.h"

#ifndef ATTEND_FLASH_NS
#error "define ATTEND_FLASH_NS before including flash_impl.h"
#endif

namespace attend::kernels::flash_detail {
// Defined once, in the generic translation unit flash_attention.cc (not inline: the per-ISA
// translation units must not emit their own copies of shared code).
float dropout_uniform(uint64_t seed, uint64_t offset, uint64_t index);
// Size of the dQ partial-sum buffers the backward may use, shared by every ISA.
int64_t backward_chunks(int64_t B, int64_t H, int64_t Hkv, int64_t Tq, int64_t D, int64_t key_tiles);
}  // namespace attend::kernels::flash_detail

namespace attend::kernels::ATTEND_FLASH_NS {

using V = Isa::V;
constexpr int W = Isa::W;
constexpr int64_t kBr = 64;  // queries per tile
constexpr int64_t kBcF = 128;  // keys per tile, forward and weights (fewer passes over the O^T tile)
constexpr int64_t kBc = 64;    // keys per tile, backward (less wasted work on causal diagonals)
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();

void uniforms(uint64_t seed, uint64_t first, int64_t n, float* out);  // below

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
inline void fill(float* begin, float* end, float value) {
  for (float* p = begin; p < end; ++p) *p = value;
}

// A 64-byte aligned float scratch buffer (one per thread and purpose).
class Buf {
 public:
  Buf() = default;
  explicit Buf(int64_t n) : n_(n) {
    if (n > 0) {
      p_ = static_cast<float*>(::operator new[](static_cast<size_t>(round_up(n, 16)) * sizeof(float),
                                                std::align_val_t{64}));
      std::memset(p_, 0, static_cast<size_t>(n) * sizeof(float));
    }
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() {
    if (p_) ::operator delete[](p_, std::align_val_t{64});
  }
  float* data() const { return p_; }
  int64_t bytes() const { return n_ > 0 ? round_up(n_, 16) * 4 : 0; }

 private:
  float* p_ = nullptr;
  int64_t n_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Micro-kernel: C[R][NV vectors] = ACC ? C + sum_k b[r*bs + k*bk] * vec[k*ldv + v*W]
//                                  : alpha * sum_k ...            (alpha: the softmax scale)
// `tail` = valid lanes of the last vector of C (W = all); lanes past it are neither read nor
// written in C, which lets dQ accumulate straight into a caller's row of D % W != 0 floats.

constexpr int rows_for(int nv) { return std::min(12, std::max(1, Isa::kAcc / nv)); }

template <int R, int NV, bool ACC>
inline void micro(int64_t K, const float* b, int64_t bs, int64_t bk, const float* vec, int64_t ldv, float* c,
                  int64_t ldc, int tail, float alpha) {
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) {
      if constexpr (ACC) {
        const float* cp = c + r * ldc + v * W;
        acc[r][v] = (v == NV - 1 && tail < W) ? Isa::load_part(cp, tail) : Isa::loadu(cp);
      } else {
        acc[r][v] = Isa::zero();
      }
    }
  for (int64_t k = 0; k < K; ++k) {
    V x[NV];
    for (int v = 0; v < NV; ++v) x[v] = Isa::loadu(vec + k * ldv + v * W);
    const float* bp = b + k * bk;
    for (int r = 0; r < R; ++r) {
      const V s = Isa::set1(bp[r * bs]);
      for (int v = 0; v < NV; ++v) acc[r][v] = Isa::fma(s, x[v], acc[r][v]);
    }
  }
  if constexpr (!ACC) {
    const V a = Isa::set1(alpha);
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] = Isa::mul(acc[r][v], a);
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) {
      float* cp = c + r * ldc + v * W;
      if (v == NV - 1 && tail < W)
        Isa::store_part(cp, acc[r][v], tail);
      else
        Isa::storeu(cp, acc[r][v]);
    }
}

template <int NV, bool ACC, int r = 1>
inline void micro_tail(int rows, int64_t K, const float* b, int64_t bs, int64_t bk, const float* vec, int64_t ldv,
                       float* c, int64_t ldc, int tail, float alpha) {
  if constexpr (r < rows_for(NV)) {
    if (rows == r)
      micro<r, NV, ACC>(K, b, bs, bk, vec, ldv, c, ldc, tail, alpha);
    else
      micro_tail<NV, ACC, r + 1>(rows, K, b, bs, bk, vec, ldv, c, ldc, tail, alpha);
  }
}

template <int NV, bool ACC>
inline void micro_rows(int64_t M, int64_t K, const float* b, int64_t bs, int64_t bk, const float* vec,
                       int64_t ldv, float* c, int64_t ldc, int tail, float alpha) {
  constexpr int R = rows_for(NV);
  int64_t r0 = 0;
  for (; r0 + R <= M; r0 += R) micro<R, NV, ACC>(K, b + r0 * bs, bs, bk, vec, ldv, c + r0 * ldc, ldc, tail, alpha);
  if (r0 < M) micro_tail<NV, ACC>(static_cast<int>(M - r0), K, b + r0 * bs, bs, bk, vec, ldv, c + r0 * ldc, ldc, tail, alpha);
}

template <bool ACC, int NV = 1>
inline void micro_cols(int nv, int64_t M, int64_t K, const float* b, int64_t bs, int64_t bk, const float* vec,
                       int64_t ldv, float* c, int64_t ldc, int tail, float alpha) {
  if constexpr (NV <= Isa::kMaxNV) {
    if (nv == NV)
      micro_rows<NV, ACC>(M, K, b, bs, bk, vec, ldv, c, ldc, tail, alpha);
    else
      micro_cols<ACC, NV + 1>(nv, M, K, b, bs, bk, vec, ldv, c, ldc, tail, alpha);
  }
}

// C[M][ncols] (+)= B-broadcast x vec over K, where ncols floats = nvec vectors, the last one
// holding `tail` valid lanes.
template <bool ACC>
void gemm_bv(int64_t M, int64_t nvec, int tail, int64_t K, const float* b, int64_t bs, int64_t bk,
             const float* vec, int64_t ldv, float* c, int64_t ldc, float alpha = 1.0f) {
  for (int64_t v0 = 0; v0 < nvec; v0 += Isa::kMaxNV) {
    const int nv = static_cast<int>(std::min<int64_t>(Isa::kMaxNV, nvec - v0));
    const int t = (v0 + nv == nvec) ? tail : W;
    micro_cols<ACC>(nv, M, K, b, bs, bk, vec + v0 * W, ldv, c + v0 * W, ldc, t, alpha);
  }
}

// ---------------------------------------------------------------------------------------------
// The problem, normalized.

struct Problem : MaskRules {
  int64_t B, H, Hkv, Tq, Tk, D, group;
  FlashTensor<const float> q, k, v;
  FlashTensor<float> o;
  float* lse;
  float* lse_lo;  // nullptr: not stored (taken as 0)
  int64_t lse_sb, lse_sh;
  float scale;
  float drop_p, drop_scale;
  uint64_t seed, offset;

  explicit Problem(const FlashParams& p)
      : MaskRules(p), B(p.B), H(p.H), Hkv(p.Hkv), Tq(p.Tq), Tk(p.Tk), D(p.D), group(p.H / p.Hkv), q(p.q), k(p.k), v(p.v),
        o(p.o), lse(p.lse), lse_lo(p.lse_lo), lse_sb(p.lse_stride_b), lse_sh(p.lse_stride_h), scale(*p.scale),
        drop_p(p.dropout.p), drop_scale(p.dropout.p > 0 ? 1.0f / (1.0f - p.dropout.p) : 1.0f),
        seed(p.dropout.seed), offset(p.dropout.offset) {}

  // Dropout multipliers Z of row i, keys [j0, j0 + n): 1/(1-p) if kept, else 0, with the counter
  // formula of the header (element (b, h, i, j) uses counter offset + ((b H + h) Tq + i) Tk + j).
  void dropout_row(int64_t b, int64_t h, int64_t i, int64_t j0, int64_t n, float* z) const {
    const uint64_t first = offset + ((static_cast<uint64_t>(b) * H + h) * Tq + i) * Tk + j0;
    uniforms(seed, first, n, z);
    for (int64_t e = 0; e < n; ++e) z[e] = z[e] >= drop_p ? drop_scale : 0.0f;
  }
};

// Row intervals of one query tile, and how a key tile relates to them.
enum class TileKind { Skip, Full, Partial };

struct RowIntervals {
  int64_t lo[kBr], hi[kBr];
  float lof[kBr], hif[kBr];  // as floats for vector compares (padded lanes: empty)
  int64_t n = 0;
  int64_t min_lo = 0, max_hi = -1;  // over non-empty rows; max_hi < min_lo: all rows empty

  void build(const Problem& P, int64_t b, int64_t i0, int64_t br) {
    n = br;
    min_lo = std::numeric_limits<int64_t>::max();
    max_hi = -1;
    for (int64_t r = 0; r < kBr; ++r) {
      if (r < br) {
        P.interval(b, i0 + r, lo[r], hi[r]);
        if (lo[r] <= hi[r]) {
          min_lo = std::min(min_lo, lo[r]);
          max_hi = std::max(max_hi, hi[r]);
        }
      } else {
        lo[r] = 1;
        hi[r] = 0;
      }
      lof[r] = static_cast<float>(lo[r]);
      hif[r] = static_cast<float>(hi[r]);
    }
  }
  bool any() const { return max_hi >= min_lo; }

  TileKind classify(int64_t j0, int64_t bc) const {
    const int64_t j1 = j0 + bc - 1;
    bool any_hit = false, all_full = true;
    for (int64_t r = 0; r < n; ++r) {
      if (std::max(lo[r], j0) <= std::min(hi[r], j1)) any_hit = true;
      if (lo[r] > j0 || hi[r] < j1) all_full = false;
    }
    if (!any_hit) return TileKind::Skip;
    return all_full ? TileKind::Full : TileKind::Partial;
  }
};

struct KvRange {
  int64_t first_tile, end_tile;
};
inline KvRange kv_tiles(const RowIntervals& R, int64_t Tk) {  // in forward tiles of kBcF keys
  if (!R.any()) return {0, 0};
  return {R.min_lo / kBcF, std::min((R.max_hi / kBcF) + 1, (Tk + kBcF - 1) / kBcF)};
}

// ---------------------------------------------------------------------------------------------
// Shared by the forward and the weights: the S^T tile with every mask applied.
//   QT : [D][kBr] packed Q^T of the query tile (lanes past br are 0)
//   ST : [bc][kBr] output, scale * (q . k) + additive mask, -inf where masked
// The dot products run in the same order (d ascending, one FMA each) as in the backward's
// row-layout S, and the scale is applied the same way, so the forward's LSE and the backward's
// recomputed scores agree to the bit: a row with a single visible key gets P = 1 exactly.

inline void pack_qt(const Problem& P, int64_t b, int64_t h, int64_t i0, int64_t br, float* QT) {
  const float* q = P.q.data + b * P.q.stride_b + h * P.q.stride_h + i0 * P.q.stride_t;
  for (int64_t d = 0; d < P.D; ++d) {
    float* row = QT + d * kBr;
    for (int64_t r = 0; r < br; ++r) row[r] = q[r * P.q.stride_t + d];
    for (int64_t r = br; r < kBr; ++r) row[r] = 0.0f;
  }
}

inline void scores_t(const Problem& P, int64_t b, int64_t h, int64_t i0, int64_t br, int64_t j0, int64_t bc,
                     TileKind kind, const RowIntervals& R, const float* QT, float* ST) {
  const int64_t nvq = (br + W - 1) / W;
  const int64_t hk = h / P.group;
  const float* kp = P.k.data + b * P.k.stride_b + hk * P.k.stride_h + j0 * P.k.stride_t;
  gemm_bv<false>(bc, nvq, W, P.D, kp, P.k.stride_t, 1, QT, kBr, ST, kBr, P.scale);  // [bc][kBr]
  if (kind == TileKind::Partial) {
    const V neg = Isa::set1(kNegInf);
    for (int64_t j = 0; j < bc; ++j) {
      const V jv = Isa::set1(static_cast<float>(j0 + j));
      for (int64_t v = 0; v < nvq; ++v) {
        float* s = ST + j * kBr + v * W;
        Isa::storeu(s, Isa::select_in(Isa::loadu(s), jv, Isa::loadu(R.lof + v * W), Isa::loadu(R.hif + v * W), neg));
      }
    }
  }
  if (P.has_tensor_mask)
    for (int64_t j = 0; j < bc; ++j)
      for (int64_t r = 0; r < br; ++r) ST[j * kBr + r] += P.tensor_mask(b, h, i0 + r, j0 + j);
}

// ---------------------------------------------------------------------------------------------
// Forward. Per query row (lanes of the S^T tiles), over key tiles t:
//   m_t = max(m_{t-1}, max_j s_j)            (m_use = 0 while m_t = -inf: the row saw no key yet)
//   alpha = e^(m_{t-1} - m_use)              rescales what was accumulated with the old max
//   p_j = e^(s_j - m_use),  l_t = alpha l_{t-1} + sum_j p_j,  O^T = alpha O^T + V^T dropout(p)
// and at the end O = O^T / l, LSE = m + log l; l = 0 means every key was masked: O = 0,
// LSE = -inf. e^y is computed as 2^(y log2 e).
// LSE is stored as lse = fl(m + log l) and (if requested) lse_lo = fl((m - lse) + log l), both
// formed in double: lse + lse_lo equals m + log l to f32 precision of lse_lo, so what is
// recomputed from them (backward, weights) does not see the rounding of lse (2^-24 |LSE|).

// The end of a forward row i of (b, h): O = acc / l (acc[d * acc_stride], d < D) and the LSE as
// lse = fl(m + log l), lse_lo = fl((m - lse) + log l), formed in double; l = 0 (every key masked):
// O = 0, LSE = -inf, lse_lo = 0.
inline void finish_row(const Problem& P, int64_t b, int64_t h, int64_t i, float m, float l, const float* acc,
                       int64_t acc_stride) {
  const bool empty = !(l > 0.0f);
  const float inv = empty ? 0.0f : 1.0f / l;
  float* op = P.o.data + b * P.o.stride_b + h * P.o.stride_h + i * P.o.stride_t;
  for (int64_t d = 0; d < P.D; ++d) op[d] = acc[d * acc_stride] * inv;
  float hi = kNegInf, lo = 0.0f;
  if (!empty) {
    const double lg = std::log(static_cast<double>(l));
    hi = static_cast<float>(static_cast<double>(m) + lg);
    lo = static_cast<float>((static_cast<double>(m) - static_cast<double>(hi)) + lg);
  }
  const int64_t at = b * P.lse_sb + h * P.lse_sh + i;
  P.lse[at] = hi;
  if (P.lse_lo) P.lse_lo[at] = lo;
}

// Forward of few queries (decoding: one query per step), for calls whose LSE no backward or
// weights call reads (FlashParams::inference_only). The transposed tiles above put queries across
// the lanes, so one query uses 1 lane in W; here rows stay rows: s_j = scale (q . k_j) with vectors
// along D, reduced across lanes (not the backward's rounding order, hence the condition), the
// online softmax with vectors along the keys, and O += p_j v_j with vectors along D.
inline bool few_queries(const FlashParams& fp) {
  return fp.inference_only && fp.dropout.p == 0.0f && fp.Tq * 4 <= W;
}

// s[n] = scale (q . k_n) for the N keys k_0 + n * ks, vectors along D (the last one of dtail lanes),
// one accumulator per key: N independent FMA chains.
template <int N>
inline void dots(const float* q, const float* k0, int64_t ks, int64_t nvd, int dtail, float scale, float* s) {
  V acc[N];
  for (int n = 0; n < N; ++n) acc[n] = Isa::zero();
  for (int64_t v = 0; v < nvd; ++v) {
    const int lanes = v == nvd - 1 ? dtail : W;
    const V x = Isa::load_part(q + v * W, lanes);
    for (int n = 0; n < N; ++n) acc[n] = Isa::fma(x, Isa::load_part(k0 + n * ks + v * W, lanes), acc[n]);
  }
  for (int n = 0; n < N; ++n) s[n] = Isa::hsum(acc[n]) * scale;
}

int64_t forward_few_queries(const Problem& P) {  // -> workspace bytes
  const int64_t units = P.B * P.H;  // one unit holds all Tq (<= W / 4) queries of a (batch, head)
  const int64_t nvd = (P.D + W - 1) / W, Dp = nvd * W;
  const int dtail = static_cast<int>(P.D - (nvd - 1) * W);
  const int64_t nfull = P.D / W;  // whole vectors along D (nvd - 1 when dtail < W)
  const V log2e = Isa::set1(kLog2e);
  const int nthreads = num_threads();
  int64_t ws_bytes = 0;
#pragma omp parallel num_threads(nthreads) reduction(max : ws_bytes)
  {
    Buf O(Dp * W), ST(kBcF * W);  // O [br][Dp], S [br][kBcF] (br <= W / 4)
    ws_bytes = O.bytes() + ST.bytes();
    RowIntervals R;
    float m[W], l[W];
#pragma omp for schedule(dynamic, 1)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t h = u % P.H, b = u / P.H, br = P.Tq;
      const int64_t hk = h / P.group;
      const float* kp = P.k.data + b * P.k.stride_b + hk * P.k.stride_h;
      const float* vp = P.v.data + b * P.v.stride_b + hk * P.v.stride_h;
      const float* qp = P.q.data + b * P.q.stride_b + h * P.q.stride_h;
      R.build(P, b, 0, br);
      const KvRange kr = kv_tiles(R, P.Tk);
      fill(O.data(), O.data() + br * Dp, 0.0f);
      fill(m, m + br, kNegInf);
      fill(l, l + br, 0.0f);
      for (int64_t t = kr.first_tile; t < kr.end_tile; ++t) {
        const int64_t j0 = t * kBcF, bc = std::min(kBcF, P.Tk - j0);
        if (R.classify(j0, bc) == TileKind::Skip) continue;
        const int64_t nvk = (bc + W - 1) / W;
        for (int64_t r = 0; r < br; ++r) {
          float* srow = ST.data() + r * kBcF;
          fill(srow, srow + nvk * W, kNegInf);
          const int64_t lo = std::max(R.lo[r], j0), hi = std::min(R.hi[r], j0 + bc - 1);
          const float* q = qp + r * P.q.stride_t;
          int64_t j = lo;
          for (; j + 4 <= hi + 1; j += 4) dots<4>(q, kp + j * P.k.stride_t, P.k.stride_t, nvd, dtail, P.scale, srow + j - j0);
          for (; j <= hi; ++j) dots<1>(q, kp + j * P.k.stride_t, P.k.stride_t, nvd, dtail, P.scale, srow + j - j0);
          if (P.has_tensor_mask)
            for (j = lo; j <= hi; ++j) srow[j - j0] += P.tensor_mask(b, h, r, j);
          // Online softmax over this tile's keys (see forward below for the recurrence).
          V mv = Isa::set1(kNegInf);
          for (int64_t v = 0; v < nvk; ++v) mv = Isa::max(mv, Isa::loadu(srow + v * W));
          const float m_old = m[r], mx = std::max(m_old, Isa::hmax(mv));
          m[r] = mx;
          const float m_use = mx == kNegInf ? 0.0f : mx;
          const V mu = Isa::set1(m_use);
          V sum = Isa::zero();
          for (int64_t v = 0; v < nvk; ++v) {
            const V pj = Isa::exp2(Isa::mul(Isa::sub(Isa::loadu(srow + v * W), mu), log2e));
            sum = Isa::add(sum, pj);
            Isa::storeu(srow + v * W, pj);
          }
          alignas(64) float lane[W];
          Isa::storeu(lane, Isa::exp2(Isa::mul(Isa::set1(m_old - m_use), log2e)));
          const float a = lane[0];
          l[r] = a * l[r] + Isa::hsum(sum);
          const V av = Isa::set1(a);
          float* orow = O.data() + r * Dp;
          for (int64_t v = 0; v < nvd; ++v) Isa::storeu(orow + v * W, Isa::mul(Isa::loadu(orow + v * W), av));
        }
        // O [br][D] += P [br][bc] V [bc][D]. V's rows are read in place, so a last vector of
        // fewer than W lanes is loaded partially (the micro-kernel loads whole vectors, which would
        // read past the end of V); per element the same FMA sequence either way.
        const float* vt = vp + j0 * P.v.stride_t;
        if (nfull > 0) gemm_bv<true>(br, nfull, W, bc, ST.data(), kBcF, 1, vt, P.v.stride_t, O.data(), Dp);
        if (nfull < nvd)
          for (int64_t r = 0; r < br; ++r) {
            float* oc = O.data() + r * Dp + nfull * W;
            const float* pr = ST.data() + r * kBcF;
            V acc = Isa::load_part(oc, dtail);
            for (int64_t j = 0; j < bc; ++j)
              acc = Isa::fma(Isa::set1(pr[j]), Isa::load_part(vt + j * P.v.stride_t + nfull * W, dtail), acc);
            Isa::store_part(oc, acc, dtail);
          }
      }
      for (int64_t r = 0; r < br; ++r) finish_row(P, b, h, r, m[r], l[r], O.data() + r * Dp, 1);
    }
  }
  return ws_bytes * nthreads;
}

void forward(const FlashParams& fp) {
  const Problem P(fp);
  if (few_queries(fp)) {
    const int64_t ws = forward_few_queries(P);
    if (fp.stats) fp.stats->workspace_bytes = ws;
    return;
  }
  const int64_t n_qt = (P.Tq + kBr - 1) / kBr;
  const int64_t units = P.B * P.H * n_qt;
  const int nthreads = num_threads();
  int64_t ws_bytes = 0;
#pragma omp parallel num_threads(nthreads) reduction(max : ws_bytes)
  {
    Buf QT(P.D * kBr), OT(P.D * kBr), ST(kBcF * kBr);
    ws_bytes = QT.bytes() + OT.bytes() + ST.bytes();
    RowIntervals R;
    alignas(64) float m[kBr], l[kBr], alpha[kBr], z[kBcF];
#pragma omp for schedule(dynamic, 1)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t qt = u % n_qt, bh = u / n_qt, h = bh % P.H, b = bh / P.H;
      const int64_t i0 = qt * kBr, br = std::min(kBr, P.Tq - i0);
      const int64_t nvq = (br + W - 1) / W;
      const int64_t hk = h / P.group;
      const float* vp = P.v.data + b * P.v.stride_b + hk * P.v.stride_h;
      R.build(P, b, i0, br);
      const KvRange kr = kv_tiles(R, P.Tk);
      pack_qt(P, b, h, i0, br, QT.data());
      fill(OT.data(), OT.data() + P.D * kBr, 0.0f);
      fill(m, m + kBr, kNegInf);
      fill(l, l + kBr, 0.0f);
      for (int64_t t = kr.first_tile; t < kr.end_tile; ++t) {
        const int64_t j0 = t * kBcF, bc = std::min(kBcF, P.Tk - j0);
        const TileKind kind = R.classify(j0, bc);
        if (kind == TileKind::Skip) continue;
        float* S = ST.data();
        scores_t(P, b, h, i0, br, j0, bc, kind, R, QT.data(), S);  // S^T [bc][kBr]
        // Online softmax, vertical over the bc keys.
        for (int64_t v = 0; v < nvq; ++v) {
          V mx = Isa::loadu(m + v * W);
          const V m_old = mx;
          for (int64_t j = 0; j < bc; ++j) mx = Isa::max(mx, Isa::loadu(S + j * kBr + v * W));
          Isa::storeu(m + v * W, mx);
          const V m_use = Isa::eq_neg_inf(mx, Isa::zero());
          const V log2e = Isa::set1(kLog2e);
          const V a = Isa::exp2(Isa::mul(Isa::sub(m_old, m_use), log2e));
          V sum = Isa::zero();
          for (int64_t j = 0; j < bc; ++j) {
            float* s = S + j * kBr + v * W;
            const V pj = Isa::exp2(Isa::mul(Isa::sub(Isa::loadu(s), m_use), log2e));
            sum = Isa::add(sum, pj);
            Isa::storeu(s, pj);
          }
          Isa::storeu(l + v * W, Isa::fma(a, Isa::loadu(l + v * W), sum));
          Isa::storeu(alpha + v * W, a);
        }
        if (P.drop_p > 0.0f)
          for (int64_t r = 0; r < br; ++r) {
            P.dropout_row(b, h, i0 + r, j0, bc, z);
            for (int64_t j = 0; j < bc; ++j) S[j * kBr + r] *= z[j];
          }
        // O^T = alpha * O^T + V^T P^T                                    // [D][kBr]
        for (int64_t d = 0; d < P.D; ++d)
          for (int64_t v = 0; v < nvq; ++v) {
            float* op = OT.data() + d * kBr + v * W;
            Isa::storeu(op, Isa::mul(Isa::loadu(op), Isa::loadu(alpha + v * W)));
          }
        gemm_bv<true>(P.D, nvq, W, bc, vp + j0 * P.v.stride_t, 1, P.v.stride_t, S, kBr, OT.data(), kBr);
      }
      for (int64_t r = 0; r < br; ++r) finish_row(P, b, h, i0 + r, m[r], l[r], OT.data() + r, kBr);
    }
  }
  if (fp.stats) fp.stats->workspace_bytes = ws_bytes * nthreads;
}

// ---------------------------------------------------------------------------------------------
// Exact weights: P^T = e^((S^T - lse) - lse_lo) tile by tile, written out transposed.

void weights(const FlashParams& fp, const FlashWeightsRequest& rq) {
  const Problem P(fp);
  const int64_t nh = rq.head_end - rq.head_begin, nr = rq.row_end - rq.row_begin;
  const int64_t n_qt = (nr + kBr - 1) / kBr;
  const int64_t units = P.B * nh * n_qt;
  const int64_t n_kt = (P.Tk + kBcF - 1) / kBcF;
#pragma omp parallel num_threads(num_threads())
  {
    Buf QT(P.D * kBr), ST(kBcF * kBr);
    RowIntervals R;
    alignas(64) float lse[kBr], bias[kBr];  // bias = -lse_lo log2 e
#pragma omp for schedule(dynamic, 1)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t qt = u % n_qt, bh = u / n_qt, hh = bh % nh, b = bh / nh;
      const int64_t h = rq.head_begin + hh;
      const int64_t i0 = rq.row_begin + qt * kBr, br = std::min(kBr, rq.row_end - i0);
      const int64_t nvq = (br + W - 1) / W;
      R.build(P, b, i0, br);
      pack_qt(P, b, h, i0, br, QT.data());
      for (int64_t r = 0; r < kBr; ++r) {
        const int64_t e = b * P.lse_sb + h * P.lse_sh + i0 + r;
        const float x = r < br ? P.lse[e] : kNegInf;
        lse[r] = x == kNegInf ? kPosInf : x;  // fully masked rows: P = e^-inf = 0
        bias[r] = r < br && P.lse_lo && x != kNegInf ? -P.lse_lo[e] * kLog2e : 0.0f;
      }
      float* out = rq.out + b * rq.stride_b + hh * rq.stride_h + (qt * kBr) * rq.stride_q;
      for (int64_t t = 0; t < n_kt; ++t) {
        const int64_t j0 = t * kBcF, bc = std::min(kBcF, P.Tk - j0);
        const TileKind kind = R.classify(j0, bc);
        if (kind == TileKind::Skip) {
          for (int64_t r = 0; r < br; ++r) fill(out + r * rq.stride_q + j0, out + r * rq.stride_q + j0 + bc, 0.0f);
          continue;
        }
        float* S = ST.data();
        scores_t(P, b, h, i0, br, j0, bc, kind, R, QT.data(), S);
        for (int64_t j = 0; j < bc; ++j)
          for (int64_t v = 0; v < nvq; ++v) {
            float* s = S + j * kBr + v * W;
            const V y = Isa::sub(Isa::loadu(s), Isa::loadu(lse + v * W));  // exact near the row max
            Isa::storeu(s, Isa::exp2(Isa::fma(y, Isa::set1(kLog2e), Isa::loadu(bias + v * W))));
          }
        for (int64_t r = 0; r < br; ++r)
          for (int64_t j = 0; j < bc; ++j) out[r * rq.stride_q + j0 + j] = S[j * kBr + r];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward. With S = scale Q K^T (+ masks), P = softmax(S), Z the dropout mask scaled by
// 1/(1-p), O = (P o Z) V and upstream dO:
//   dV = (P o Z)^T dO
//   dP = (dO V^T) o Z                       (gradient with respect to P)
//   dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik) (softmax Jacobian, row by row)
//   sum_k P_ik dP_ik = sum_k P_ik Z_ik dO_i . V_k = dO_i . O_i = delta_i, so no full row is needed
//   dQ = scale dS K,  dK = scale dS^T Q
// P is recomputed per tile from the stored LSE: P_ij = e^((S_ij - lse_i) - lse_lo_i), with S_ij
// computed bit-identically to the forward's; S - lse is exact near the row maximum (Sterbenz), and
// the product by log2 e and the - lse_lo term go through one FMA: 2^(fma(S - lse, log2 e, bias)),
// bias = -lse_lo log2 e. A fully masked row has LSE = -inf; it is mapped to +inf here
// so that P = 0 and dS = 0 (never NaN).
//
// Threads own (batch, kv head, chunk of key tiles): dK and dV of a key tile are summed by one
// thread over every query tile of every head of its group, in a fixed order. dQ of chunk 0 goes
// straight into the output; chunks c > 0 (only when B * Hkv is small, to keep both cores busy)
// write partial dQ buffers that are added in chunk order at the end. The chunk count depends on
// the shapes only, so the result is bit-identical for any thread count.

void backward(const FlashBackwardParams& bp) {
  const FlashParams& fp = bp.fwd;
  const Problem P(fp);
  const int64_t D = P.D, Dp = round_up(D, W), nvd = Dp / W;
  const int dtail = static_cast<int>(D - (nvd - 1) * W);
  const bool pad_rows = (D % W) != 0;
  const int64_t n_qt = (P.Tq + kBr - 1) / kBr, n_kt = (P.Tk + kBc - 1) / kBc;
  const int64_t chunks = flash_detail::backward_chunks(P.B, P.H, P.Hkv, P.Tq, D, n_kt);
  const int nthreads = num_threads();

  // delta = rowsum(dO * O), the LSE (+inf for fully masked rows) and -lse_lo log2 e (0 without
  // lse_lo and for fully masked rows): [B, H, Tq] each.
  Buf delta(P.B * P.H * P.Tq), lse_rows(P.B * P.H * P.Tq), bias_rows(P.B * P.H * P.Tq);
  // dQ partial sums of chunks 1..chunks-1, each [B, H, Tq, D] contiguous.
  Buf dq_part((chunks - 1) * P.B * P.H * P.Tq * D);
  const int64_t shared_bytes = delta.bytes() + lse_rows.bytes() + bias_rows.bytes() + dq_part.bytes();

#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int64_t bh = 0; bh < P.B * P.H; ++bh) {
    const int64_t b = bh / P.H, h = bh % P.H;
    const float* o = P.o.data + b * P.o.stride_b + h * P.o.stride_h;
    const float* g = bp.dout.data + b * bp.dout.stride_b + h * bp.dout.stride_h;
    float* dq = bp.dq.data + b * bp.dq.stride_b + h * bp.dq.stride_h;
    for (int64_t i = 0; i < P.Tq; ++i) {
      // Same rounding sequence as the micro-kernel's dP = dO . V (one FMA per d, ascending): where
      // a row's O is a single V row (one visible key, or one-hot weights), delta equals that dP to
      // the bit and dS is exactly 0, as in the naive composition.
      float s = 0.0f;
      for (int64_t d = 0; d < D; ++d) s = Isa::fma1(g[i * bp.dout.stride_t + d], o[i * P.o.stride_t + d], s);
      delta.data()[bh * P.Tq + i] = s;
      const int64_t e = b * P.lse_sb + h * P.lse_sh + i;
      const float x = P.lse[e];
      lse_rows.data()[bh * P.Tq + i] = x == kNegInf ? kPosInf : x;
      bias_rows.data()[bh * P.Tq + i] = P.lse_lo && x != kNegInf ? -P.lse_lo[e] * kLog2e : 0.0f;
      fill(dq + i * bp.dq.stride_t, dq + i * bp.dq.stride_t + D, 0.0f);
    }
  }

  const int64_t units = P.B * P.Hkv * chunks;
  int64_t ws_thread = 0;
#pragma omp parallel num_threads(nthreads) reduction(max : ws_thread)
  {
    Buf KT(D * kBc), VT(D * kBc), Kpad(pad_rows ? kBc * Dp : 0), dK(kBc * Dp), dV(kBc * Dp);
    Buf S(kBr * kBc), dP(kBr * kBc), Pd(P.drop_p > 0 ? kBr * kBc : 0);
    Buf Qpad(pad_rows ? kBr * Dp : 0), Gpad(pad_rows ? kBr * Dp : 0);
    ws_thread = KT.bytes() + VT.bytes() + Kpad.bytes() + dK.bytes() + dV.bytes() + S.bytes() + dP.bytes() +
                Pd.bytes() + Qpad.bytes() + Gpad.bytes();
    RowIntervals R;
#pragma omp for schedule(dynamic, 1)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t chunk = u % chunks, bk = u / chunks, hk = bk % P.Hkv, b = bk / P.Hkv;
      const int64_t t_begin = chunk * n_kt / chunks, t_end = (chunk + 1) * n_kt / chunks;
      const float* kbase = P.k.data + b * P.k.stride_b + hk * P.k.stride_h;
      const float* vbase = P.v.data + b * P.v.stride_b + hk * P.v.stride_h;
      for (int64_t t = t_begin; t < t_end; ++t) {
        const int64_t j0 = t * kBc, bc = std::min(kBc, P.Tk - j0);
        const int64_t nvk = (bc + W - 1) / W;
        const float* kp = kbase + j0 * P.k.stride_t;
        const float* vp = vbase + j0 * P.v.stride_t;
        // K^T, V^T of the key tile                                      // [D][kBc]
        for (int64_t d = 0; d < D; ++d)
          for (int64_t j = 0; j < kBc; ++j) {
            KT.data()[d * kBc + j] = j < bc ? kp[j * P.k.stride_t + d] : 0.0f;
            VT.data()[d * kBc + j] = j < bc ? vp[j * P.v.stride_t + d] : 0.0f;
          }
        const float* krows = kp;
        int64_t krow_ld = P.k.stride_t;
        if (pad_rows) {
          for (int64_t j = 0; j < bc; ++j)
            for (int64_t d = 0; d < Dp; ++d) Kpad.data()[j * Dp + d] = d < D ? kp[j * P.k.stride_t + d] : 0.0f;
          krows = Kpad.data();
          krow_ld = Dp;
        }
        fill(dK.data(), dK.data() + kBc * Dp, 0.0f);
        fill(dV.data(), dV.data() + kBc * Dp, 0.0f);
        for (int64_t h = hk * P.group; h < (hk + 1) * P.group; ++h) {
          const int64_t bh = b * P.H + h;
          const float* qbase = P.q.data + b * P.q.stride_b + h * P.q.stride_h;
          const float* gbase = bp.dout.data + b * bp.dout.stride_b + h * bp.dout.stride_h;
          FlashTensor<float> dqt = bp.dq;
          if (chunk > 0)
            dqt = {.data = dq_part.data() + (chunk - 1) * P.B * P.H * P.Tq * D,
                   .stride_b = P.H * P.Tq * D,
                   .stride_h = P.Tq * D,
                   .stride_t = D};
          float* dqbase = dqt.data + b * dqt.stride_b + h * dqt.stride_h;
          for (int64_t qt = 0; qt < n_qt; ++qt) {
            const int64_t i0 = qt * kBr, br = std::min(kBr, P.Tq - i0);
            R.build(P, b, i0, br);
            const TileKind kind = R.classify(j0, bc);
            if (kind == TileKind::Skip) continue;
            const float* qrows = qbase + i0 * P.q.stride_t;
            const float* grows = gbase + i0 * bp.dout.stride_t;
            int64_t qrow_ld = P.q.stride_t, grow_ld = bp.dout.stride_t;
            if (pad_rows) {
              for (int64_t r = 0; r < br; ++r)
                for (int64_t d = 0; d < Dp; ++d) {
                  Qpad.data()[r * Dp + d] = d < D ? qrows[r * P.q.stride_t + d] : 0.0f;
                  Gpad.data()[r * Dp + d] = d < D ? grows[r * bp.dout.stride_t + d] : 0.0f;
                }
              qrows = Qpad.data();
              grows = Gpad.data();
              qrow_ld = grow_ld = Dp;
            }
            const float* lr = lse_rows.data() + bh * P.Tq + i0;
            const float* br_bias = bias_rows.data() + bh * P.Tq + i0;
            const float* dl = delta.data() + bh * P.Tq + i0;
            float* Sp = S.data();
            float* dPp = dP.data();
            // S = scale Q K^T (+ tensor masks)                          // [br][kBc]
            gemm_bv<false>(br, nvk, W, D, qbase + i0 * P.q.stride_t, P.q.stride_t, 1, KT.data(), kBc, Sp, kBc,
                           P.scale);
            if (P.has_tensor_mask)
              for (int64_t r = 0; r < br; ++r)
                for (int64_t j = 0; j < bc; ++j) Sp[r * kBc + j] += P.tensor_mask(b, h, i0 + r, j0 + j);
            // P = e^((S - lse) - lse_lo), 0 where masked                // [br][kBc]
            const V log2e = Isa::set1(kLog2e);
            const V neg = Isa::set1(kNegInf);
            for (int64_t r = 0; r < br; ++r) {
              const V lv = Isa::set1(lr[r]), bv = Isa::set1(br_bias[r]);
              const V lo = Isa::set1(static_cast<float>(R.lo[r])), hi = Isa::set1(static_cast<float>(R.hi[r]));
              for (int64_t v = 0; v < nvk; ++v) {
                float* s = Sp + r * kBc + v * W;
                V x = Isa::fma(Isa::sub(Isa::loadu(s), lv), log2e, bv);
                if (kind == TileKind::Partial) {
                  const V jv = Isa::add(Isa::set1(static_cast<float>(j0 + v * W)), Isa::iota());
                  x = Isa::select_in(x, jv, lo, hi, neg);
                }
                Isa::storeu(s, Isa::exp2(x));
              }
            }
            // dP = dO V^T                                               // [br][kBc]
            gemm_bv<false>(br, nvk, W, D, gbase + i0 * bp.dout.stride_t, bp.dout.stride_t, 1, VT.data(), kBc, dPp,
                           kBc);
            const float* Pv = Sp;  // the weights that multiplied V in the forward
            if (P.drop_p > 0.0f) {
              float* pd = Pd.data();
              alignas(64) float z[kBc];
              for (int64_t r = 0; r < br; ++r) {
                P.dropout_row(b, h, i0 + r, j0, bc, z);
                for (int64_t j = 0; j < bc; ++j) {
                  pd[r * kBc + j] = Sp[r * kBc + j] * z[j];
                  dPp[r * kBc + j] *= z[j];
                }
              }
              Pv = pd;
            }
            // dV += (P o Z)^T dO                                        // [bc][Dp]
            gemm_bv<true>(bc, nvd, W, br, Pv, 1, kBc, grows, grow_ld, dV.data(), Dp);
            // dS = scale * P * (dP - delta)                             // [br][kBc]
            const V sc = Isa::set1(P.scale);
            for (int64_t r = 0; r < br; ++r) {
              const V dr = Isa::set1(dl[r]);
              for (int64_t v = 0; v < nvk; ++v) {
                float* g = dPp + r * kBc + v * W;
                const V pr = Isa::mul(Isa::loadu(Sp + r * kBc + v * W), sc);
                Isa::storeu(g, Isa::mul(pr, Isa::sub(Isa::loadu(g), dr)));
              }
            }
            // dK += dS^T Q                                              // [bc][Dp]
            gemm_bv<true>(bc, nvd, W, br, dPp, 1, kBc, qrows, qrow_ld, dK.data(), Dp);
            // dQ += dS K                                                // [br][D]
            gemm_bv<true>(br, nvd, dtail, bc, dPp, kBc, 1, krows, krow_ld, dqbase + i0 * dqt.stride_t,
                          dqt.stride_t);
          }
        }
        float* dkp = bp.dk.data + b * bp.dk.stride_b + hk * bp.dk.stride_h + j0 * bp.dk.stride_t;
        float* dvp = bp.dv.data + b * bp.dv.stride_b + hk * bp.dv.stride_h + j0 * bp.dv.stride_t;
        for (int64_t j = 0; j < bc; ++j) {
          std::memcpy(dkp + j * bp.dk.stride_t, dK.data() + j * Dp, static_cast<size_t>(D) * sizeof(float));
          std::memcpy(dvp + j * bp.dv.stride_t, dV.data() + j * Dp, static_cast<size_t>(D) * sizeof(float));
        }
      }
    }
  }

  // dQ = chunk 0 + chunk 1 + ... in that order.
  if (chunks > 1) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t bh = 0; bh < P.B * P.H; ++bh) {
      const int64_t b = bh / P.H, h = bh % P.H;
      float* dq = bp.dq.data + b * bp.dq.stride_b + h * bp.dq.stride_h;
      for (int64_t c = 1; c < chunks; ++c) {
        const float* part = dq_part.data() + (c - 1) * P.B * P.H * P.Tq * D + bh * P.Tq * D;
        for (int64_t i = 0; i < P.Tq; ++i)
          for (int64_t d = 0; d < D; ++d) dq[i * bp.dq.stride_t + d] += part[i * D + d];
      }
    }
  }
  if (fp.stats) fp.stats->workspace_bytes = shared_bytes + ws_thread * nthreads;
}

// The dropout uniforms of positions first .. first + n - 1 (flash_attention.h, dropout_uniforms):
// position j is word j % 4 of the Philox block at counter j / 4. Positions before the first
// multiple of 4 one at a time, then W counters (4 W positions) per philox_block.
void uniforms(uint64_t seed, uint64_t first, int64_t n, float* out) {
  constexpr int64_t G = 4 * W;
  int64_t e = 0;
  for (; e < n && ((first + static_cast<uint64_t>(e)) & 3) != 0; ++e)
    out[e] = flash_detail::dropout_uniform(seed, 0, first + static_cast<uint64_t>(e));
  for (; e + G <= n; e += G) Isa::philox_block(seed, (first + static_cast<uint64_t>(e)) >> 2, out + e);
  if (e < n) {
    alignas(64) float t[G];
    Isa::philox_block(seed, (first + static_cast<uint64_t>(e)) >> 2, t);
    std::copy(t, t + (n - e), out + e);
  }
}

// The dropout op's keep bits (flash_attention.h, dropout_keep_bits): uniforms a block at a time
// (in L1), compared 16 at a time.
void keep_bits(uint64_t seed, uint64_t first, int64_t n, float p, uint8_t* keep) {
  constexpr int64_t kBlock = 1024;
  alignas(64) float u[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t len = std::min(kBlock, n - b);
    uniforms(seed, first + static_cast<uint64_t>(b), len, u);
    uint8_t* kb = keep + b / 8;
    int64_t e = 0;
    for (; e + 16 <= len; e += 16) Isa::ge_bits16(u + e, p, kb + e / 8);
    if (e < len) {
      std::fill(kb + e / 8, kb + (len + 7) / 8, uint8_t{0});
      for (; e < len; ++e) kb[e / 8] = static_cast<uint8_t>(kb[e / 8] | (u[e] >= p ? 1u << (e % 8) : 0u));
    }
  }
}

// y = x * (kept ? scale : 0) (flash_attention.h, dropout_apply).
void apply_keep(const uint8_t* keep, int64_t n, float scale, const float* x, float* y) {
  int64_t e = 0;
  for (; e + 16 <= n; e += 16) Isa::apply16(keep + e / 8, scale, x + e, y + e);
  for (; e < n; ++e) y[e] = x[e] * (((keep[e / 8] >> (e % 8)) & 1) ? scale : 0.0f);
}

// Softmax or log-softmax of contiguous rows (flash_attention.h, softmax_rows): the max and the
// exponentials W lanes at a time, e = 2^((x - m) log2 e) (0 for masked entries), the lanes' sums
// added in double.
void softmax_rows(const float* x, float* y, int64_t rows, int64_t n, bool log) {
  const int64_t nv = n / W * W;
  alignas(64) float lanes[W];
  const V vlog2e = Isa::set1(kLog2e);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    V vm = Isa::set1(kNegInf);
    for (int64_t j = 0; j < nv; j += W) vm = Isa::max(vm, Isa::loadu(xr + j));
    Isa::storeu(lanes, vm);
    float m = kNegInf;
    for (int i = 0; i < W; ++i) m = std::max(m, lanes[i]);
    for (int64_t j = nv; j < n; ++j) m = std::max(m, xr[j]);
    if (m == kNegInf) {
      std::fill(yr, yr + n, log ? kNegInf : 0.0f);
      continue;
    }
    const V vmax = Isa::set1(m);
    V vs = Isa::zero();
    for (int64_t j = 0; j < nv; j += W) {
      const V e = Isa::exp2(Isa::mul(Isa::sub(Isa::loadu(xr + j), vmax), vlog2e));
      Isa::storeu(yr + j, e);
      vs = Isa::add(vs, e);
    }
    Isa::storeu(lanes, vs);
    double s = 0.0;
    for (int i = 0; i < W; ++i) s += static_cast<double>(lanes[i]);
    for (int64_t j = nv; j < n; ++j) {
      yr[j] = xr[j] == kNegInf ? 0.0f : static_cast<float>(std::exp(static_cast<double>(xr[j] - m)));
      s += static_cast<double>(yr[j]);
    }
    if (log) {
      const float lse = m + static_cast<float>(std::log(s));
      const V vl = Isa::set1(lse);
      for (int64_t j = 0; j < nv; j += W) Isa::storeu(yr + j, Isa::sub(Isa::loadu(xr + j), vl));
      for (int64_t j = nv; j < n; ++j) yr[j] = xr[j] - lse;
    } else {
      const float inv = static_cast<float>(1.0 / s);
      const V vi = Isa::set1(inv);
      for (int64_t j = 0; j < nv; j += W) Isa::storeu(yr + j, Isa::mul(Isa::loadu(yr + j), vi));
      for (int64_t j = nv; j < n; ++j) yr[j] *= inv;
    }
  }
}

// GELU and its backward (flash_attention.h, gelu): plain loops over fast_math.h's branch-free erf
// and exp, which the compiler vectorizes with this file's instruction set.
void gelu(const float* x, float* y, int64_t n) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * 0.5f * (1.0f + detail::fast_erf(x[i] * kInvSqrt2));
}

void gelu_backward(const float* x, const float* g, float* dx, int64_t n) {
  constexpr float kInvSqrt2 = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float cdf = 0.5f * (1.0f + detail::fast_erf(v * kInvSqrt2));
    dx[i] = g[i] * (cdf + v * kInvSqrt2Pi * detail::fast_exp(-0.5f * v * v));
  }
}

// The sum of n floats: W lanes of float partial sums, combined in double.
inline double lane_sum(const float* x, int64_t n) {
  const int64_t nv = n / W * W;
  alignas(64) float lanes[W];
  V vs = Isa::zero();
  for (int64_t j = 0; j < nv; j += W) vs = Isa::add(vs, Isa::loadu(x + j));
  Isa::storeu(lanes, vs);
  double s = 0.0;
  for (int i = 0; i < W; ++i) s += static_cast<double>(lanes[i]);
  for (int64_t j = nv; j < n; ++j) s += static_cast<double>(x[j]);
  return s;
}

// Layer normalization rows (flash_attention.h, layer_norm_rows).
void layer_norm_rows(const float* x, const float* w, const float* b, float* y, float* xhat, double* rstd,
                     int64_t rows, int64_t n, double eps) {
  const int64_t nv = n / W * W;
  alignas(64) float lanes[W];
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    const double mean = lane_sum(xr, n) / static_cast<double>(n);
    const float mf = static_cast<float>(mean);
    const V vm = Isa::set1(mf);
    V vv = Isa::zero();
    for (int64_t j = 0; j < nv; j += W) {
      const V d = Isa::sub(Isa::loadu(xr + j), vm);
      vv = Isa::fma(d, d, vv);
    }
    Isa::storeu(lanes, vv);
    double var = 0.0;
    for (int i = 0; i < W; ++i) var += static_cast<double>(lanes[i]);
    for (int64_t j = nv; j < n; ++j) {
      const double d = static_cast<double>(xr[j]) - mean;
      var += d * d;
    }
    const double rs = 1.0 / std::sqrt(var / static_cast<double>(n) + eps);
    rstd[r] = rs;
    const float rf = static_cast<float>(rs);
    float* hr = xhat + r * n;
    float* yr = y + r * n;
    for (int64_t j = 0; j < n; ++j) {
      const float h = (xr[j] - mf) * rf;
      hr[j] = h;
      yr[j] = (w != nullptr ? h * w[j] : h) + (b != nullptr ? b[j] : 0.0f);
    }
  }
}

// Its backward (flash_attention.h, layer_norm_backward_rows).
void layer_norm_backward_rows(const float* g, const float* xhat, const float* w, const double* rstd, float* dx,
                              double* dw_acc, double* db_acc, int64_t rows, int64_t n) {
  const int64_t nv = n / W * W;
  alignas(64) float lanes[W];
  for (int64_t r = 0; r < rows; ++r) {
    const float* gr = g + r * n;
    const float* hr = xhat + r * n;
    V vg = Isa::zero(), vgh = Isa::zero();
    for (int64_t j = 0; j < nv; j += W) {
      const V gw = w != nullptr ? Isa::mul(Isa::loadu(gr + j), Isa::loadu(w + j)) : Isa::loadu(gr + j);
      vg = Isa::add(vg, gw);
      vgh = Isa::fma(gw, Isa::loadu(hr + j), vgh);
    }
    double m_gh = 0.0, m_ghh = 0.0;
    Isa::storeu(lanes, vg);
    for (int i = 0; i < W; ++i) m_gh += static_cast<double>(lanes[i]);
    Isa::storeu(lanes, vgh);
    for (int i = 0; i < W; ++i) m_ghh += static_cast<double>(lanes[i]);
    for (int64_t j = nv; j < n; ++j) {
      const double gw = w != nullptr ? static_cast<double>(gr[j]) * static_cast<double>(w[j]) : static_cast<double>(gr[j]);
      m_gh += gw;
      m_ghh += gw * static_cast<double>(hr[j]);
    }
    const float a = static_cast<float>(rstd[r]), mg = static_cast<float>(m_gh / static_cast<double>(n)),
                mgh = static_cast<float>(m_ghh / static_cast<double>(n));
    float* dr = dx + r * n;
    for (int64_t j = 0; j < n; ++j) {
      const float gw = w != nullptr ? gr[j] * w[j] : gr[j];
      dr[j] = a * (gw - mg - hr[j] * mgh);
    }
    if (dw_acc != nullptr)
      for (int64_t j = 0; j < n; ++j) dw_acc[j] += static_cast<double>(gr[j] * hr[j]);
    if (db_acc != nullptr)
      for (int64_t j = 0; j < n; ++j) db_acc[j] += static_cast<double>(gr[j]);
  }
}

// Softmax cross-entropy rows in place (flash_attention.h, xent_rows): the max, then e = 2^((l -
// m) log2 e) W lanes at a time with their sum in double, then the gradient from e.
void xent_rows(float* l, int64_t rows, int64_t n, const int64_t* targets, int64_t ignore, double eps, double scale,
               bool grad, double* losses) {
  const int64_t nv = n / W * W;
  alignas(64) float lanes[W];
  const V vlog2e = Isa::set1(kLog2e);
  for (int64_t r = 0; r < rows; ++r) {
    float* lr = l + r * n;
    const int64_t t = targets[r];
    if (t == ignore) {
      losses[r] = 0.0;
      if (grad) std::fill(lr, lr + n, 0.0f);
      continue;
    }
    const float lt = lr[t];
    double row_sum = 0.0;
    if (eps != 0.0) {
      V vs = Isa::zero();
      for (int64_t j = 0; j < nv; j += W) vs = Isa::add(vs, Isa::loadu(lr + j));
      Isa::storeu(lanes, vs);
      for (int i = 0; i < W; ++i) row_sum += static_cast<double>(lanes[i]);
      for (int64_t j = nv; j < n; ++j) row_sum += static_cast<double>(lr[j]);
    }
    V vm = Isa::set1(kNegInf);
    for (int64_t j = 0; j < nv; j += W) vm = Isa::max(vm, Isa::loadu(lr + j));
    Isa::storeu(lanes, vm);
    float m = kNegInf;
    for (int i = 0; i < W; ++i) m = std::max(m, lanes[i]);
    for (int64_t j = nv; j < n; ++j) m = std::max(m, lr[j]);
    const V vmax = Isa::set1(m);
    V vs = Isa::zero();
    for (int64_t j = 0; j < nv; j += W) {
      const V e = Isa::exp2(Isa::mul(Isa::sub(Isa::loadu(lr + j), vmax), vlog2e));
      Isa::storeu(lr + j, e);
      vs = Isa::add(vs, e);
    }
    Isa::storeu(lanes, vs);
    double s = 0.0;
    for (int i = 0; i < W; ++i) s += static_cast<double>(lanes[i]);
    for (int64_t j = nv; j < n; ++j) {
      lr[j] = static_cast<float>(std::exp(static_cast<double>(lr[j] - m)));
      s += static_cast<double>(lr[j]);
    }
    const double lse = static_cast<double>(m) + std::log(s);
    losses[r] = lse - (1.0 - eps) * static_cast<double>(lt) - eps / static_cast<double>(n) * row_sum;
    if (!grad) continue;
    const V va = Isa::set1(static_cast<float>(scale / s)), vb = Isa::set1(static_cast<float>(scale * eps / static_cast<double>(n)));
    for (int64_t j = 0; j < nv; j += W) Isa::storeu(lr + j, Isa::sub(Isa::mul(Isa::loadu(lr + j), va), vb));
    const float a = static_cast<float>(scale / s), b = static_cast<float>(scale * eps / static_cast<double>(n));
    for (int64_t j = nv; j < n; ++j) lr[j] = a * lr[j] - b;
    lr[t] -= static_cast<float>(scale * (1.0 - eps));
  }
}

}  // namespace attend::kernels::ATTEND_FLASH_NS
