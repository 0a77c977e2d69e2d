// Fused sparse attention (sparse_attention.h): scores of a block of query rows against every key
// by one GEMM, the alpha-entmax threshold of each row on its candidates in float64, and every
// product past the scores over the support only.
#include "attend/kernels/sparse_attention.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "attend/core/error.h"
#include "attend/core/threads.h"
#include "attend/kernels/gemm.h"
#include "flash_mask.h"

namespace attend::kernels {

namespace {

constexpr const char* kOp = "sparse_attention";
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Problem : MaskRules {
  const FlashParams& p;
  int64_t group;
  float scale;
  double alpha, am1, inv;  // alpha - 1 and 1 / (alpha - 1)

  explicit Problem(const SparseAttentionParams& sp)
      : MaskRules(sp.base),
        p(sp.base),
        group(sp.base.H / sp.base.Hkv),
        scale(sp.base.scale ? *sp.base.scale : 1.0f / std::sqrt(static_cast<float>(sp.base.D))),
        alpha(sp.alpha),
        am1(sp.alpha - 1.0),
        inv(1.0 / (sp.alpha - 1.0)) {
    ATTEND_CHECK(sp.alpha > 1.0 && std::isfinite(sp.alpha), kOp, "alpha must be > 1, got ", sp.alpha);
    ATTEND_CHECK(sp.base.dropout.p == 0.0f, kOp, "no dropout in the sparse kernel (p = ", sp.base.dropout.p, ")");
    ATTEND_CHECK(p.B > 0 && p.H > 0 && p.Hkv > 0 && p.H % p.Hkv == 0 && p.Tq > 0 && p.Tk > 0 && p.D > 0, kOp,
                 "bad sizes B ", p.B, ", H ", p.H, ", Hkv ", p.Hkv, ", Tq ", p.Tq, ", Tk ", p.Tk, ", D ", p.D);
  }
  bool sparsemax() const { return alpha == 2.0; }
  bool entmax15() const { return alpha == 1.5; }

  template <typename T>
  static T* row(const FlashTensor<T>& t, int64_t b, int64_t h, int64_t i) {
    return t.data + b * t.stride_b + h * t.stride_h + i * t.stride_t;
  }
};

// S [br][Tk] = scale * Q[i0 .. i0 + br) K^T, masked (-inf) and with the additive mask added. The
// same call on the same block gives the same bits, so every pass sees the same scores.
void scores(const Problem& P, int64_t b, int64_t h, int64_t i0, int64_t br, float* S) {
  const FlashParams& p = P.p;
  gemm(false, true, br, p.Tk, p.D, P.scale, Problem::row(p.q, b, h, i0), p.q.stride_t,
       Problem::row(p.k, b, h / P.group, 0), p.k.stride_t, 0.0f, S, p.Tk);
  for (int64_t r = 0; r < br; ++r) {
    float* s = S + r * p.Tk;
    int64_t lo = 0, hi = -1;
    P.interval(b, i0 + r, lo, hi);
    if (lo > hi) lo = p.Tk, hi = p.Tk - 1;
    std::fill(s, s + std::min(lo, p.Tk), kNegInf);
    std::fill(s + std::max<int64_t>(hi + 1, 0), s + p.Tk, kNegInf);
    if (P.has_tensor_mask)
      for (int64_t j = lo; j <= hi; ++j) s[j] += P.tensor_mask(b, h, i0 + r, j);
  }
}

// The support of one row: its keys, weights p and s = p^(2 - alpha).
struct Support {
  std::vector<int64_t> key;
  std::vector<double> p, s;
  void clear() { key.clear(), p.clear(), s.clear(); }
};

// tau of the candidates c (sorted descending, c[0] = 0, all > -1) for alpha-entmax: the support is
// the shortest prefix k whose mass at tau = c[k] reaches 1 (g(k) = sum_{j<k} (c_j - c_k)^inv is
// nondecreasing in k; c[m] is taken as -1, where the mass is >= 1), found by bisection; then
// Newton's method on f(tau) = sum_{j<k} (c_j - tau)^inv - 1, kept inside its bracket.
double entmax_tau(const std::vector<double>& c, double inv, int64_t& support) {
  const auto m = static_cast<int64_t>(c.size());
  const auto at = [&](int64_t k) { return k < m ? c[k] : -1.0; };
  const auto mass = [&](int64_t k, double tau) {
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += std::pow(std::max(c[j] - tau, 0.0), inv);
    return s;
  };
  int64_t lo = 1, hi = m;  // the answer is in [lo, hi]; g(m) >= 1
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (mass(mid, at(mid)) >= 1.0) hi = mid;
    else lo = mid + 1;
  }
  support = lo;
  // Newton from the left end, where f >= 0; f is convex for alpha <= 2, so the iterates rise
  // monotonically to the root (quadratically: a handful of steps); a step leaving the bracket
  // [a, b] is replaced by bisection.
  double a = at(lo), b = c[lo - 1], tau = a;
  for (int it = 0; it < 60; ++it) {
    double f = -1.0, df = 0.0;
    for (int64_t j = 0; j < lo; ++j) {
      const double d = c[j] - tau;
      if (d <= 0) continue;
      const double pw = std::pow(d, inv);
      f += pw;
      df -= inv * pw / d;
    }
    if (std::abs(f) <= 1e-15) break;
    if (f > 0) a = tau;
    else b = tau;
    double next = df < 0 ? tau - f / df : 0.5 * (a + b);
    if (!(next > a && next < b)) next = 0.5 * (a + b);
    if (std::abs(next - tau) <= 1e-15 * (1.0 + std::abs(tau))) break;
    tau = next;
  }
  return tau;
}

// sum_d x_d y_d in float64, four running sums (the compiler keeps them in vector registers).
double dot_f64(const float* x, const float* y, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t d = 0;
  for (; d + 4 <= n; d += 4) {
    s0 += static_cast<double>(x[d]) * y[d];
    s1 += static_cast<double>(x[d + 1]) * y[d + 1];
    s2 += static_cast<double>(x[d + 2]) * y[d + 2];
    s3 += static_cast<double>(x[d + 3]) * y[d + 3];
  }
  for (; d < n; ++d) s0 += static_cast<double>(x[d]) * y[d];
  return (s0 + s1) + (s2 + s3);
}

// A key that may be in the support: its index, its score recomputed in float64 and its shifted
// value y = (alpha - 1)(score - max).
struct Candidate {
  int64_t key;
  double score, y;
};

// The weights of row i of (b, h) from its f32 scores s [n] (-inf = masked) into `out`; false for a
// fully masked row. Only keys with y > -1 can be in the support (tau >= -1): they are picked by
// the f32 scores with a margin for their rounding, and their scores recomputed in float64 (the
// dot product of the f32 inputs, as the float64 reference computes it), because near the
// threshold p = (y - tau)^(1 / (alpha - 1)) turns one ulp of a score into a large relative error.
struct RowSolver {
  const Problem& P;
  std::vector<Candidate> cand;
  std::vector<double> c;

  bool solve(int64_t b, int64_t h, int64_t i, const float* s, Support& out) {
    const FlashParams& p = P.p;
    out.clear();
    float mx = kNegInf;
    for (int64_t j = 0; j < p.Tk; ++j) mx = std::max(mx, s[j]);
    if (mx == kNegInf) return false;
    const double margin = 1e-3 * (1.0 + std::abs(P.am1 * mx));
    const float* qi = Problem::row(p.q, b, h, i);
    cand.clear();
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < p.Tk; ++j) {
      if (s[j] == kNegInf || P.am1 * (static_cast<double>(s[j]) - mx) <= -1.0 - margin) continue;
      const float* kj = Problem::row(p.k, b, h / P.group, j);
      const double dot = dot_f64(qi, kj, p.D);
      const double score = static_cast<double>(P.scale) * dot + (P.has_tensor_mask ? P.tensor_mask(b, h, i, j) : 0.0f);
      cand.push_back({j, score, 0.0});
      m = std::max(m, score);
    }
    c.clear();
    for (Candidate& e : cand) {
      e.y = P.am1 * (e.score - m);
      if (e.y > -1.0) c.push_back(e.y);
    }
    std::sort(c.begin(), c.end(), std::greater<double>());
    double tau = 0.0, total = 1.0;
    if (P.sparsemax()) {  // k(z) = max{k : 1 + k c_k > sum_{j<=k} c_j}, tau = (sum_{j<=k} c_j - 1) / k
      double cum = 0;
      for (size_t k = 0; k < c.size(); ++k) {
        cum += c[k];
        if (1.0 + static_cast<double>(k + 1) * c[k] > cum) tau = (cum - 1.0) / static_cast<double>(k + 1);
      }
    } else if (P.entmax15()) {  // Peters et al. Algorithm 2 on c = (s - max s) / 2
      double cum = 0, cum2 = 0;
      for (size_t k = 0; k < c.size(); ++k) {
        cum += c[k];
        cum2 += c[k] * c[k];
        const double kk = static_cast<double>(k + 1), mean = cum / kk, ss = cum2 / kk;
        const double tau_k = mean - std::sqrt(std::max((1.0 - kk * (ss - mean * mean)) / kk, 0.0));
        if (tau_k <= c[k]) tau = tau_k;
      }
    } else {
      int64_t support = 0;
      tau = entmax_tau(c, P.inv, support);
      total = 0;
      for (int64_t j = 0; j < support; ++j) total += std::pow(std::max(c[j] - tau, 0.0), P.inv);
    }
    for (const Candidate& e : cand) {
      const double d = e.y - tau;
      if (d <= 0) continue;
      const double pj = (P.sparsemax() ? d : P.entmax15() ? d * d : std::pow(d, P.inv)) / total;
      out.key.push_back(e.key);
      out.p.push_back(pj);
      out.s.push_back(P.sparsemax() ? 1.0 : P.entmax15() ? std::sqrt(pj) : std::pow(pj, 2.0 - P.alpha));
    }
    return true;
  }
};

}  // namespace

void sparse_attention_forward(const SparseAttentionParams& sp) {
  const Problem P(sp);
  const FlashParams& p = P.p;
  const int64_t blocks = (p.Tq + kSparseRows - 1) / kSparseRows, units = p.B * p.H * blocks;
  int64_t ws_bytes = 0;
#pragma omp parallel num_threads(num_threads()) reduction(max : ws_bytes)
  {
    std::vector<float> S(static_cast<size_t>(kSparseRows * p.Tk));
    std::vector<double> acc(static_cast<size_t>(p.D));
    RowSolver solver{P, {}, {}};
    Support sup;
    ws_bytes = static_cast<int64_t>(S.size() * sizeof(float) + acc.size() * sizeof(double));
#pragma omp for schedule(dynamic, 1)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t blk = u % blocks, bh = u / blocks, h = bh % p.H, b = bh / p.H, hk = h / P.group;
      const int64_t i0 = blk * kSparseRows, br = std::min(kSparseRows, p.Tq - i0);
      scores(P, b, h, i0, br, S.data());
      for (int64_t r = 0; r < br; ++r) {
        float* o = Problem::row(p.o, b, h, i0 + r);
        std::fill(acc.begin(), acc.end(), 0.0);
        if (solver.solve(b, h, i0 + r, S.data() + r * p.Tk, sup))
          for (size_t e = 0; e < sup.key.size(); ++e) {  // O_i = sum over the support of p_ij v_j
            const float* v = Problem::row(p.v, b, hk, sup.key[e]);
            const double pe = sup.p[e];
            for (int64_t d = 0; d < p.D; ++d) acc[d] += pe * v[d];
          }
        for (int64_t d = 0; d < p.D; ++d) o[d] = static_cast<float>(acc[d]);
      }
    }
  }
  if (p.stats) p.stats->workspace_bytes = ws_bytes, p.stats->isa = "sparse";
}

void sparse_attention_backward(const SparseAttentionParams& sp, FlashTensor<const float> dout, FlashTensor<float> dq,
                               FlashTensor<float> dk, FlashTensor<float> dv) {
  const Problem P(sp);
  const FlashParams& p = P.p;
  const int64_t blocks = (p.Tq + kSparseRows - 1) / kSparseRows, tasks = p.B * p.Hkv;
  const int64_t D = p.D;
  // One task per (batch, key/value head): it owns dK and dV of that head (accumulated in float64
  // over every query row of its group of heads) and dQ of the group's rows.
#pragma omp parallel num_threads(num_threads())
  {
    std::vector<float> S(static_cast<size_t>(kSparseRows * p.Tk));
    RowSolver solver{P, {}, {}};
    std::vector<double> dk_acc(static_cast<size_t>(p.Tk * D)), dv_acc(static_cast<size_t>(p.Tk * D)),
        dq_acc(static_cast<size_t>(D)), dp;
    Support sup;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t b = t / p.Hkv, hk = t % p.Hkv;
      std::fill(dk_acc.begin(), dk_acc.end(), 0.0);
      std::fill(dv_acc.begin(), dv_acc.end(), 0.0);
      for (int64_t h = hk * P.group; h < (hk + 1) * P.group; ++h)
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const int64_t i0 = blk * kSparseRows, br = std::min(kSparseRows, p.Tq - i0);
          scores(P, b, h, i0, br, S.data());
          for (int64_t r = 0; r < br; ++r) {
            const int64_t i = i0 + r;
            std::fill(dq_acc.begin(), dq_acc.end(), 0.0);
            if (solver.solve(b, h, i, S.data() + r * p.Tk, sup)) {
              const float* go = Problem::row(dout, b, h, i);
              const float* qi = Problem::row(p.q, b, h, i);
              const size_t n = sup.key.size();
              dp.assign(n, 0.0);
              double ss = 0, sg = 0;
              for (size_t e = 0; e < n; ++e) {  // dP_ij = dO_i . v_j on the support
                const float* v = Problem::row(p.v, b, hk, sup.key[e]);
                const double acc = dot_f64(go, v, D);
                dp[e] = acc;
                ss += sup.s[e];
                sg += sup.s[e] * acc;
              }
              const double qbar = ss > 0 ? sg / ss : 0.0;
              for (size_t e = 0; e < n; ++e) {
                const int64_t j = sup.key[e];
                const double ds = sup.s[e] * (dp[e] - qbar) * P.scale;  // scale dS_ij
                const float* kj = Problem::row(p.k, b, hk, j);
                double* dkj = dk_acc.data() + j * D;
                double* dvj = dv_acc.data() + j * D;
                const double pe = sup.p[e];
                for (int64_t d = 0; d < D; ++d) {
                  dq_acc[d] += ds * kj[d];
                  dkj[d] += ds * qi[d];
                  dvj[d] += pe * go[d];
                }
              }
            }
            float* g = Problem::row(dq, b, h, i);
            for (int64_t d = 0; d < D; ++d) g[d] = static_cast<float>(dq_acc[d]);
          }
        }
      for (int64_t j = 0; j < p.Tk; ++j) {
        float* gk = Problem::row(dk, b, hk, j);
        float* gv = Problem::row(dv, b, hk, j);
        for (int64_t d = 0; d < D; ++d) {
          gk[d] = static_cast<float>(dk_acc[j * D + d]);
          gv[d] = static_cast<float>(dv_acc[j * D + d]);
        }
      }
    }
  }
}

void sparse_attention_weights(const SparseAttentionParams& sp, const FlashWeightsRequest& rq) {
  const Problem P(sp);
  const FlashParams& p = P.p;
  const int64_t h0 = rq.head_begin, h1 = rq.head_end < 0 ? p.H : rq.head_end;
  const int64_t r0 = rq.row_begin, r1 = rq.row_end < 0 ? p.Tq : rq.row_end;
  ATTEND_CHECK(0 <= h0 && h0 <= h1 && h1 <= p.H && 0 <= r0 && r0 <= r1 && r1 <= p.Tq && rq.out != nullptr, kOp,
               "weights request heads [", h0, ", ", h1, "), rows [", r0, ", ", r1, ") outside H ", p.H, ", Tq ", p.Tq);
  const int64_t nh = h1 - h0, nr = r1 - r0;
  const int64_t sq = rq.stride_q ? rq.stride_q : p.Tk, sh = rq.stride_h ? rq.stride_h : nr * sq,
                sb = rq.stride_b ? rq.stride_b : nh * sh;
  const int64_t blocks = (nr + kSparseRows - 1) / kSparseRows, units = p.B * nh * blocks;
#pragma omp parallel num_threads(num_threads())
  {
    std::vector<float> S(static_cast<size_t>(kSparseRows * p.Tk));
    RowSolver solver{P, {}, {}};
    Support sup;
#pragma omp for schedule(dynamic, 1)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t blk = u % blocks, bh = u / blocks, hh = bh % nh, b = bh / nh, h = h0 + hh;
      const int64_t i0 = r0 + blk * kSparseRows, br = std::min(kSparseRows, r1 - i0);
      scores(P, b, h, i0, br, S.data());
      for (int64_t r = 0; r < br; ++r) {
        float* w = rq.out + b * sb + hh * sh + (i0 - r0 + r) * sq;
        std::fill(w, w + p.Tk, 0.0f);
        if (solver.solve(b, h, i0 + r, S.data() + r * p.Tk, sup))
          for (size_t e = 0; e < sup.key.size(); ++e) w[sup.key[e]] = static_cast<float>(sup.p[e]);
      }
    }
  }
}

}  // namespace attend::kernels
