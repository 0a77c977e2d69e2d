// Local attention, Luong, Pham & Manning 2015, section 3.2: the skeleton restricted to a window
// [p_t - D, p_t + D] of source positions; local-m takes p_t = t, local-p predicts
// p_t = S * sigmoid(v_p^T tanh(W_p h_t)) and multiplies the window's weights by a Gaussian
// exp(-(s - p_t)^2 / (2 sigma^2)), sigma = D / 2, through which p_t receives its gradient.
#include "attend/attention/local.h"

#include <cmath>

#include "attend/ops/ops.h"

namespace attend::attention {

namespace {

void check_local(const Tensor& scores, const Tensor& values, const char* op) {
  ATTEND_CHECK(scores.defined() && values.defined() && scores.dim() == 3 && values.dim() == 3, op,
               "scores [B, Tq, Tk] and values [B, Tk, Dv] must have rank 3, got scores ",
               scores.defined() ? scores.shape().str() : "undefined", ", values ",
               values.defined() ? values.shape().str() : "undefined");
}

// Keeps the keys the window allows: allowed = mask's boolean parts AND window [B|1, 1, Tq, Tk].
MaskTensors with_window(const Tensor& scores, const Mask& mask, const Tensor& window, const char* op) {
  MaskTensors parts = materialize(mask, scores.shape(), scores.dtype(), op);
  NoGrad no_grad;
  parts.allowed = parts.allowed.defined() ? mul(parts.allowed, window) : window;
  return parts;
}

// The skeleton with the window folded into the mask and an optional factor on the weights.
AttentionResult finish(const Tensor& scores, const Tensor& values, const MaskTensors& parts, const Tensor& factor,
                       const AttendOptions& opt) {
  const Tensor masked = apply_mask(scores, parts);                  // [B, Tq, Tk]
  Tensor weights = opt.normalizer(masked);               // [B, Tq, Tk]
  if (factor.defined()) weights = mul(weights, factor);             // [B, Tq, Tk]
  AttentionResult r;
  r.context = weighted_sum(dropout_weights(weights, opt), values, opt.op);  // [B, Tq, Dv]
  if (opt.need_weights) r.weights = weights;
  if (opt.need_lse) r.lse = logsumexp(masked);  // [B, Tq]
  return r;
}

}  // namespace

AttentionResult local_m_attention(const Tensor& scores, const Tensor& values, const Mask& mask,
                                  const LocalOptions& opt) {
  constexpr const char* op = "local_m_attention";
  check_local(scores, values, op);
  ATTEND_CHECK(opt.D >= 0, op, "half window D = ", opt.D, " must be >= 0");
  const int64_t Tq = scores.size(1), Tk = scores.size(2);
  // Window of query t: keys s with |s - (query_offset + t)| <= D.
  std::vector<double> band(static_cast<size_t>(Tq * Tk));
  for (int64_t t = 0; t < Tq; ++t)
    for (int64_t s = 0; s < Tk; ++s)
      band[static_cast<size_t>(t * Tk + s)] = std::llabs(s - (opt.query_offset + t)) <= opt.D ? 1.0 : 0.0;
  const Tensor window = Tensor::from_vector(band, Shape{1, 1, Tq, Tk}, scores.dtype());
  AttendOptions a = opt.attend;
  a.op = op;
  return finish(scores, values, with_window(scores, mask, window, op), Tensor(), a);
}

LocalPosition LocalPosition::init(int64_t query_dim, int64_t attn_dim, Rng& rng, DType dtype) {
  const double bq = 1.0 / std::sqrt(static_cast<double>(query_dim));
  const double ba = 1.0 / std::sqrt(static_cast<double>(attn_dim));
  LocalPosition p{.W_p = Tensor::uniform(Shape{attn_dim, query_dim}, rng, -bq, bq, dtype),
                  .v_p = Tensor::uniform(Shape{attn_dim}, rng, -ba, ba, dtype)};
  p.W_p.set_requires_grad(true);
  p.v_p.set_requires_grad(true);
  return p;
}

Tensor LocalPosition::positions(const Tensor& query, const std::vector<int64_t>& source_lengths) const {
  constexpr const char* op = "local_p_position";
  ATTEND_CHECK(query.defined() && query.dim() == 3, op, "query must be [B, Tq, Dq], got ",
               query.defined() ? query.shape().str() : "undefined");
  ATTEND_CHECK(W_p.dim() == 2 && query.size(2) == W_p.size(1) && v_p.dim() == 1 && v_p.size(0) == W_p.size(0), op,
               "query ", query.shape().str(), " does not match W_p [A, Dq] = ", W_p.shape().str(), " and v_p [A] = ",
               v_p.shape().str());
  const int64_t B = query.size(0);
  ATTEND_CHECK(static_cast<int64_t>(source_lengths.size()) == B, op, "source_lengths has ", source_lengths.size(),
               " entries for batch B = ", B, " (query ", query.shape().str(), ")");
  std::vector<double> S(source_lengths.size());
  for (size_t b = 0; b < S.size(); ++b) {
    ATTEND_CHECK(source_lengths[b] >= 1, op, "source_lengths[", b, "] = ", source_lengths[b], " must be >= 1");
    S[b] = static_cast<double>(source_lengths[b]);
  }
  const Tensor h = tanh(linear(query, W_p));  // [B, Tq, A]
  const Tensor a = sigmoid(matmul(h, v_p));   // [B, Tq]
  return mul(a, Tensor::from_vector(S, Shape{B, 1}, query.dtype()));  // [B, Tq]
}

AttentionResult local_p_attention(const Tensor& scores, const Tensor& values, const Tensor& positions,
                                  const Mask& mask, const LocalOptions& opt) {
  constexpr const char* op = "local_p_attention";
  check_local(scores, values, op);
  ATTEND_CHECK(opt.D >= 1, op, "half window D = ", opt.D, " must be >= 1 (sigma = D / 2)");
  const int64_t B = scores.size(0), Tq = scores.size(1), Tk = scores.size(2);
  ATTEND_CHECK(positions.defined() && positions.shape() == (Shape{B, Tq}), op, "positions ",
               positions.defined() ? positions.shape().str() : "undefined", " must be [B, Tq] = [", B, ", ", Tq,
               "] (scores ", scores.shape().str(), ")");
  ATTEND_CHECK(positions.dtype() == scores.dtype(), op, "dtypes differ: positions ", positions.str(), " vs scores ",
               scores.str());
  // Window of query (b, t): keys s with |s - p_t| <= D (piecewise constant in p_t: no gradient).
  const std::vector<double> p = positions.to_vector<double>();
  std::vector<double> band(static_cast<size_t>(B * Tq * Tk));
  for (int64_t r = 0; r < B * Tq; ++r)
    for (int64_t s = 0; s < Tk; ++s)
      band[static_cast<size_t>(r * Tk + s)] =
          std::fabs(static_cast<double>(s) - p[static_cast<size_t>(r)]) <= static_cast<double>(opt.D) ? 1.0 : 0.0;
  const Tensor window = Tensor::from_vector(band, Shape{B, 1, Tq, Tk}, scores.dtype());
  // Gaussian exp(-(s - p_t)^2 / (2 sigma^2)) [B, Tq, Tk]: differentiable in p_t.
  const double sigma = static_cast<double>(opt.D) / 2.0;
  const Tensor src_pos = Tensor::arange(Tk, scores.dtype());                // [Tk]
  const Tensor dist = sub(src_pos, unsqueeze(positions, 2));                // [B, Tq, Tk]
  const Tensor gauss = exp(mul(square(dist), -1.0 / (2.0 * sigma * sigma)));  // [B, Tq, Tk]
  AttendOptions a = opt.attend;
  a.op = op;
  return finish(scores, values, with_window(scores, mask, window, op), gauss, a);
}

}  // namespace attend::attention
