#include "reference/attention_reference.h"

#include <cmath>
#include <limits>

namespace attend::ref {

using attention::CausalAlign;
using attention::Mask;
using attention::MaskKind;
using attention::Normalizer;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<double> vec(const Tensor& t) { return t.to_vector<double>(); }
Tensor make(std::vector<double> v, const Shape& s) { return Tensor::from_vector(v, s); }

// Value of tensor t (row-major values `v`, shape `s`) broadcast (right-aligned) at [b, h, i, j].
double bcast4(const std::vector<double>& v, const Shape& s, int64_t b, int64_t h, int64_t i, int64_t j) {
  const int64_t idx[4] = {b, h, i, j};
  int64_t off = 0;
  for (int d = 0; d < s.rank(); ++d) {
    const int64_t n = s[d];
    const int64_t x = n == 1 ? 0 : idx[4 - s.rank() + d];
    off = off * n + x;
  }
  return v[static_cast<size_t>(off)];
}

std::vector<double> softmax_row(const std::vector<double>& z) {
  double m = -kInf;
  for (double x : z) m = std::max(m, x);
  std::vector<double> p(z.size(), 0.0);
  if (m == -kInf) return p;
  double s = 0;
  for (size_t i = 0; i < z.size(); ++i) s += std::exp(z[i] - m);
  for (size_t i = 0; i < z.size(); ++i) p[i] = std::exp(z[i] - m) / s;
  return p;
}

// Finds tau with sum_i f(z_i - tau) = 1 by bisection, f increasing in its argument, f(<= 0) = 0.
// f(reach) >= 1, so the row's maximum alone reaches mass 1 at tau = max - reach.
template <typename F>
std::vector<double> threshold_row(const std::vector<double>& z, F f, double reach) {
  double m = -kInf;
  for (double x : z) m = std::max(m, x);
  std::vector<double> p(z.size(), 0.0);
  if (m == -kInf) return p;
  double lo = m - reach - 1.0, hi = m;  // sum >= 1 at lo, 0 at hi
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    double s = 0;
    for (double x : z) s += x == -kInf ? 0.0 : f(x - mid);
    (s >= 1.0 ? lo : hi) = mid;
  }
  const double tau = 0.5 * (lo + hi);
  for (size_t i = 0; i < z.size(); ++i) p[i] = z[i] == -kInf ? 0.0 : f(z[i] - tau);
  return p;
}

// The normalizers by their definitions, whatever algorithm the library uses: softmax directly,
// sparsemax and alpha-entmax as p_i = f(z_i - tau) with tau found by bisection, where
// f(u) = ((alpha - 1) u)^(1 / (alpha - 1)) for u > 0 (alpha = 2: sparsemax; 1.5: (u / 2)^2).
std::vector<double> normalize_row(const std::vector<double>& z, const Normalizer& n) {
  const std::string name = n.name();
  if (name == "softmax") return softmax_row(z);
  double alpha = 0;
  if (name == "sparsemax") alpha = 2.0;
  else if (name == "entmax15") alpha = 1.5;
  else if (name.starts_with("entmax-")) alpha = std::stod(name.substr(7));
  else throw Error("ref::normalize", "no reference for normalizer '" + name + "'");
  return threshold_row(z, [alpha](double u) { return u > 0 ? std::pow((alpha - 1.0) * u, 1.0 / (alpha - 1.0)) : 0.0; },
                       1.0 / (alpha - 1.0));
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

Tensor mask_allowed(const Mask& mask, int64_t B, int64_t H, int64_t Tq, int64_t Tk) {
  std::vector<double> out(static_cast<size_t>(B * H * Tq * Tk));
  const std::vector<double> pad = mask.key_padding.defined() ? vec(mask.key_padding) : std::vector<double>();
  const bool boolean_attn = mask.attn_mask.defined() && mask.attn_mask_kind == MaskKind::boolean;
  const std::vector<double> am = boolean_attn ? vec(mask.attn_mask) : std::vector<double>();
  size_t o = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Tq; ++i)
        for (int64_t j = 0; j < Tk; ++j) {
          // Key j's last allowed position relative to query i.
          const int64_t diag = mask.causal_align == CausalAlign::top_left ? i : i + (Tk - Tq);
          bool allowed = true;
          if (!mask.key_lengths.empty() && j >= mask.key_lengths[static_cast<size_t>(b)]) allowed = false;
          if (!pad.empty() && pad[static_cast<size_t>(b * Tk + j)] == 0.0) allowed = false;
          if (mask.causal && j > diag) allowed = false;
          if (mask.window_left >= 0 && diag - j > mask.window_left) allowed = false;
          if (mask.window_right >= 0 && j - diag > mask.window_right) allowed = false;
          if (boolean_attn && bcast4(am, mask.attn_mask.shape(), b, h, i, j) == 0.0) allowed = false;
          out[o++] = allowed ? 1.0 : 0.0;
        }
  return make(out, Shape{B, H, Tq, Tk});
}

Tensor mask_additive(const Mask& mask, int64_t B, int64_t H, int64_t Tq, int64_t Tk) {
  std::vector<double> a = vec(mask_allowed(mask, B, H, Tq, Tk));
  const bool additive = mask.attn_mask.defined() && mask.attn_mask_kind == MaskKind::additive;
  const std::vector<double> am = additive ? vec(mask.attn_mask) : std::vector<double>();
  size_t o = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Tq; ++i)
        for (int64_t j = 0; j < Tk; ++j, ++o) {
          const double add = additive ? bcast4(am, mask.attn_mask.shape(), b, h, i, j) : 0.0;
          a[o] = a[o] == 0.0 ? -kInf : add;
        }
  return make(a, Shape{B, H, Tq, Tk});
}

Tensor normalize(const Tensor& scores, const Normalizer& n) {
  const std::vector<double> z = vec(scores);
  const int64_t Tk = scores.shape().at(-1);
  std::vector<double> out(z.size());
  for (size_t r = 0; r + static_cast<size_t>(Tk) <= z.size(); r += static_cast<size_t>(Tk)) {
    const std::vector<double> p =
        normalize_row(std::vector<double>(z.begin() + static_cast<long>(r), z.begin() + static_cast<long>(r) + Tk), n);
    std::copy(p.begin(), p.end(), out.begin() + static_cast<long>(r));
  }
  return make(out, scores.shape());
}

Tensor logsumexp(const Tensor& scores) {
  const std::vector<double> z = vec(scores);
  const int64_t Tk = scores.shape().at(-1);
  Shape s = scores.shape();
  s.erase(s.rank() - 1);
  std::vector<double> out(static_cast<size_t>(s.numel()));
  for (size_t r = 0; r < out.size(); ++r) {
    double m = -kInf;
    for (int64_t j = 0; j < Tk; ++j) m = std::max(m, z[r * static_cast<size_t>(Tk) + static_cast<size_t>(j)]);
    if (m == -kInf) {
      out[r] = -kInf;
      continue;
    }
    double acc = 0;
    for (int64_t j = 0; j < Tk; ++j) acc += std::exp(z[r * static_cast<size_t>(Tk) + static_cast<size_t>(j)] - m);
    out[r] = m + std::log(acc);
  }
  return make(out, s);
}

Attention attend(const Tensor& scores, const Tensor& values, const Mask& mask, const Normalizer& n,
                 const Tensor& extra_allowed, const Tensor& factor) {
  const bool rank3 = scores.dim() == 3;
  const int64_t B = scores.size(0), H = rank3 ? 1 : scores.size(1), Tq = scores.size(-2), Tk = scores.size(-1);
  const int64_t Hkv = rank3 ? 1 : values.size(1), Dv = values.size(-1);
  const std::vector<double> s = vec(scores), v = vec(values);
  const std::vector<double> add = vec(mask_additive(mask, B, H, Tq, Tk));
  const std::vector<double> extra = extra_allowed.defined() ? vec(extra_allowed) : std::vector<double>();
  const std::vector<double> fac = factor.defined() ? vec(factor) : std::vector<double>();
  std::vector<double> masked(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    masked[i] = s[i] + add[i];
    if (!extra.empty() && extra[i] == 0.0) masked[i] = -kInf;
  }
  const Tensor masked_t = make(masked, scores.shape());
  std::vector<double> w = vec(ref::normalize(masked_t, n));
  for (size_t i = 0; i < w.size() && !fac.empty(); ++i) w[i] *= fac[i];
  std::vector<double> ctx(static_cast<size_t>(B * H * Tq * Dv), 0.0);
  const int64_t G = H / Hkv;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Tq; ++i)
        for (int64_t d = 0; d < Dv; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < Tk; ++j)
            acc += w[static_cast<size_t>(((b * H + h) * Tq + i) * Tk + j)] *
                   v[static_cast<size_t>(((b * Hkv + h / G) * Tk + j) * Dv + d)];
          ctx[static_cast<size_t>(((b * H + h) * Tq + i) * Dv + d)] = acc;
        }
  Attention r;
  r.context = rank3 ? make(ctx, Shape{B, Tq, Dv}) : make(ctx, Shape{B, H, Tq, Dv});
  r.weights = make(w, scores.shape());
  r.lse = ref::logsumexp(masked_t);
  return r;
}

Tensor scaled_dot_scores(const Tensor& q, const Tensor& k, double scale) {
  const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), D = q.size(3), Hkv = k.size(1), Tk = k.size(2);
  const double sc = scale != 0.0 ? scale : 1.0 / std::sqrt(static_cast<double>(D));
  const std::vector<double> qv = vec(q), kv = vec(k);
  std::vector<double> out(static_cast<size_t>(B * H * Tq * Tk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t hk = h / (H / Hkv);  // grouped-query: H / Hkv query heads per key head
      for (int64_t i = 0; i < Tq; ++i)
        for (int64_t j = 0; j < Tk; ++j) {
          double acc = 0;
          for (int64_t d = 0; d < D; ++d)
            acc += qv[static_cast<size_t>(((b * H + h) * Tq + i) * D + d)] *
                   kv[static_cast<size_t>(((b * Hkv + hk) * Tk + j) * D + d)];
          out[static_cast<size_t>(((b * H + h) * Tq + i) * Tk + j)] = acc * sc;
        }
    }
  return make(out, Shape{B, H, Tq, Tk});
}

Attention sdpa(const Tensor& q, const Tensor& k, const Tensor& v, const Mask& mask, double scale) {
  return attend(scaled_dot_scores(q, k, scale), v, mask);
}

Tensor dot_scores(const Tensor& q, const Tensor& k) {
  const int64_t B = q.size(0), Tq = q.size(1), D = q.size(2), Tk = k.size(1);
  const std::vector<double> qv = vec(q), kv = vec(k);
  std::vector<double> out(static_cast<size_t>(B * Tq * Tk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Tq; ++i)
      for (int64_t j = 0; j < Tk; ++j) {
        double acc = 0;
        for (int64_t d = 0; d < D; ++d)
          acc += qv[static_cast<size_t>((b * Tq + i) * D + d)] * kv[static_cast<size_t>((b * Tk + j) * D + d)];
        out[static_cast<size_t>((b * Tq + i) * Tk + j)] = acc;
      }
  return make(out, Shape{B, Tq, Tk});
}

Tensor general_scores(const Tensor& q, const Tensor& k, const Tensor& W_a) {
  // h_t^T W_a hs_s = sum_{d, e} q_d W[d, e] k_e
  const int64_t B = q.size(0), Tq = q.size(1), Dq = q.size(2), Tk = k.size(1), Dk = k.size(2);
  const std::vector<double> qv = vec(q), kv = vec(k), W = vec(W_a);
  std::vector<double> out(static_cast<size_t>(B * Tq * Tk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Tq; ++i)
      for (int64_t j = 0; j < Tk; ++j) {
        double acc = 0;
        for (int64_t d = 0; d < Dq; ++d)
          for (int64_t e = 0; e < Dk; ++e)
            acc += qv[static_cast<size_t>((b * Tq + i) * Dq + d)] * W[static_cast<size_t>(d * Dk + e)] *
                   kv[static_cast<size_t>((b * Tk + j) * Dk + e)];
        out[static_cast<size_t>((b * Tq + i) * Tk + j)] = acc;
      }
  return make(out, Shape{B, Tq, Tk});
}

Tensor concat_scores(const Tensor& q, const Tensor& k, const Tensor& W_a, const Tensor& v_a) {
  const int64_t B = q.size(0), Tq = q.size(1), Dq = q.size(2), Tk = k.size(1), Dk = k.size(2), A = W_a.size(0);
  const std::vector<double> qv = vec(q), kv = vec(k), W = vec(W_a), va = vec(v_a);
  std::vector<double> out(static_cast<size_t>(B * Tq * Tk));
  std::vector<double> cat(static_cast<size_t>(Dq + Dk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Tq; ++i)
      for (int64_t j = 0; j < Tk; ++j) {
        for (int64_t d = 0; d < Dq; ++d) cat[static_cast<size_t>(d)] = qv[static_cast<size_t>((b * Tq + i) * Dq + d)];
        for (int64_t e = 0; e < Dk; ++e)
          cat[static_cast<size_t>(Dq + e)] = kv[static_cast<size_t>((b * Tk + j) * Dk + e)];
        double acc = 0;
        for (int64_t a = 0; a < A; ++a) {
          double z = 0;
          for (int64_t c = 0; c < Dq + Dk; ++c) z += W[static_cast<size_t>(a * (Dq + Dk) + c)] * cat[static_cast<size_t>(c)];
          acc += va[static_cast<size_t>(a)] * std::tanh(z);
        }
        out[static_cast<size_t>((b * Tq + i) * Tk + j)] = acc;
      }
  return make(out, Shape{B, Tq, Tk});
}

Tensor location_weights(const Tensor& q, const Tensor& W_a, int64_t Tk, const std::vector<int64_t>& lengths) {
  const int64_t B = q.size(0), Tq = q.size(1), Dq = q.size(2), L = W_a.size(0);
  const std::vector<double> qv = vec(q), W = vec(W_a);
  std::vector<double> out(static_cast<size_t>(B * Tq * Tk), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Tq; ++i) {
      std::vector<double> logits(static_cast<size_t>(L));
      for (int64_t l = 0; l < L; ++l) {
        double z = 0;
        for (int64_t d = 0; d < Dq; ++d)
          z += W[static_cast<size_t>(l * Dq + d)] * qv[static_cast<size_t>((b * Tq + i) * Dq + d)];
        logits[static_cast<size_t>(l)] = z;
      }
      const std::vector<double> a = softmax_row(logits);  // over the maximum length L
      const int64_t len = lengths[static_cast<size_t>(b)];
      double kept = 0;
      for (int64_t j = 0; j < len; ++j) kept += a[static_cast<size_t>(j)];
      for (int64_t j = 0; j < len; ++j)
        out[static_cast<size_t>((b * Tq + i) * Tk + j)] = a[static_cast<size_t>(j)] / kept;  // cut, renormalized
    }
  return make(out, Shape{B, Tq, Tk});
}

Tensor additive_scores(const Tensor& q, const Tensor& k, const Tensor& W_q, const Tensor& W_k, const Tensor& b_,
                       const Tensor& v_) {
  const int64_t B = q.size(0), Tq = q.size(1), Dq = q.size(2), Tk = k.size(1), Dk = k.size(2), A = W_q.size(0);
  const std::vector<double> qv = vec(q), kv = vec(k), Wq = vec(W_q), Wk = vec(W_k), bias = vec(b_), va = vec(v_);
  std::vector<double> out(static_cast<size_t>(B * Tq * Tk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Tq; ++i)
      for (int64_t j = 0; j < Tk; ++j) {
        double acc = 0;
        for (int64_t a = 0; a < A; ++a) {
          double z = bias[static_cast<size_t>(a)];
          for (int64_t d = 0; d < Dq; ++d)
            z += Wq[static_cast<size_t>(a * Dq + d)] * qv[static_cast<size_t>((b * Tq + i) * Dq + d)];
          for (int64_t e = 0; e < Dk; ++e)
            z += Wk[static_cast<size_t>(a * Dk + e)] * kv[static_cast<size_t>((b * Tk + j) * Dk + e)];
          acc += va[static_cast<size_t>(a)] * std::tanh(z);
        }
        out[static_cast<size_t>((b * Tq + i) * Tk + j)] = acc;
      }
  return make(out, Shape{B, Tq, Tk});
}

Attention local_m(const Tensor& scores, const Tensor& values, const Mask& mask, int64_t D, int64_t query_offset,
                  const Normalizer& n) {
  const int64_t B = scores.size(0), Tq = scores.size(1), Tk = scores.size(2);
  std::vector<double> win(static_cast<size_t>(B * Tq * Tk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Tq; ++t)
      for (int64_t s = 0; s < Tk; ++s) {
        const int64_t p = query_offset + t;
        win[static_cast<size_t>((b * Tq + t) * Tk + s)] = (s >= p - D && s <= p + D) ? 1.0 : 0.0;
      }
  return attend(scores, values, mask, n, make(win, scores.shape()));
}

Tensor local_p_positions(const Tensor& q, const Tensor& W_p, const Tensor& v_p, const std::vector<int64_t>& S) {
  const int64_t B = q.size(0), Tq = q.size(1), Dq = q.size(2), A = W_p.size(0);
  const std::vector<double> qv = vec(q), W = vec(W_p), vp = vec(v_p);
  std::vector<double> out(static_cast<size_t>(B * Tq));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Tq; ++t) {
      double acc = 0;
      for (int64_t a = 0; a < A; ++a) {
        double z = 0;
        for (int64_t d = 0; d < Dq; ++d)
          z += W[static_cast<size_t>(a * Dq + d)] * qv[static_cast<size_t>((b * Tq + t) * Dq + d)];
        acc += vp[static_cast<size_t>(a)] * std::tanh(z);
      }
      out[static_cast<size_t>(b * Tq + t)] = static_cast<double>(S[static_cast<size_t>(b)]) * sigmoid(acc);
    }
  return make(out, Shape{B, Tq});
}

Attention local_p(const Tensor& scores, const Tensor& values, const Tensor& positions, const Mask& mask, int64_t D,
                  const Normalizer& n) {
  const int64_t B = scores.size(0), Tq = scores.size(1), Tk = scores.size(2);
  const std::vector<double> p = vec(positions);
  const double sigma = static_cast<double>(D) / 2.0;
  std::vector<double> win(static_cast<size_t>(B * Tq * Tk)), gauss(win.size());
  for (int64_t r = 0; r < B * Tq; ++r)
    for (int64_t s = 0; s < Tk; ++s) {
      const double d = static_cast<double>(s) - p[static_cast<size_t>(r)];
      win[static_cast<size_t>(r * Tk + s)] = (d >= -static_cast<double>(D) && d <= static_cast<double>(D)) ? 1.0 : 0.0;
      gauss[static_cast<size_t>(r * Tk + s)] = std::exp(-d * d / (2.0 * sigma * sigma));
    }
  return attend(scores, values, mask, n, make(win, scores.shape()), make(gauss, scores.shape()));
}

}  // namespace attend::ref
