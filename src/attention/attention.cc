// The attention skeleton (DESIGN.md section 2): mask the scores, normalize them into weights, and
// take the weighted sum of the values. Every family (additive, multiplicative, local, scaled dot)
// computes its own scores and calls attend().
#include "attend/attention/attention.h"

#include "attend/ops/ops.h"

namespace attend::attention {

Tensor weighted_sum(const Tensor& weights, const Tensor& values, const char* op) {
  const Shape& w = weights.shape();
  const Shape& v = values.shape();
  ATTEND_CHECK((w.rank() == 3 || w.rank() == 4) && v.rank() == w.rank(), op,
               "weights [B, (H,) Tq, Tk] and values [B, (Hkv,) Tk, Dv] must both have rank 3 or 4, got weights ",
               w.str(), " and values ", v.str());
  ATTEND_CHECK(w[0] == v[0], op, "batch sizes differ: weights ", w.str(), " vs values ", v.str());
  ATTEND_CHECK(w.at(-1) == v.at(-2), op, "Tk differs: weights ", w.str(), " vs values ", v.str());
  if (w.rank() == 3 || w[1] == v[1]) return matmul(weights, values);  // [B, (H,) Tq, Dv]
  const int64_t B = w[0], H = w[1], Tq = w[2], Tk = w[3], Hkv = v[1], Dv = v[3];
  ATTEND_CHECK(Hkv > 0 && H % Hkv == 0, op, "H = ", H, " is not a multiple of Hkv = ", Hkv, ": weights ", w.str(),
               " vs values ", v.str());
  // Grouped heads: head h = kv * G + g reads value head kv.
  const Tensor wg = reshape(weights, {B, Hkv, H / Hkv, Tq, Tk});  // [B, Hkv, G, Tq, Tk]
  const Tensor ctx = matmul(wg, unsqueeze(values, 2));            // [B, Hkv, G, Tq, Dv]
  return reshape(ctx, {B, H, Tq, Dv});                            // [B, H, Tq, Dv]
}

Tensor dropout_weights(const Tensor& weights, const AttendOptions& opt) {
  if (!opt.training || opt.dropout_p == 0.0) return weights;
  ATTEND_CHECK(opt.dropout_p > 0.0 && opt.dropout_p < 1.0, opt.op, "dropout_p = ", opt.dropout_p,
               " outside [0, 1)");
  ATTEND_CHECK(opt.rng != nullptr, opt.op, "dropout_p = ", opt.dropout_p, " in training needs an Rng");
  return dropout(weights, opt.dropout_p, true, *opt.rng);
}

AttentionResult attend(const Tensor& scores, const Tensor& values, const Mask& mask, const AttendOptions& opt) {
  ATTEND_CHECK(scores.defined() && values.defined(), opt.op, "scores and values must be defined");
  ATTEND_CHECK(opt.scale == 0.0, opt.op, "scale = ", opt.scale, ": attend() takes scores as they are (scale them first)");
  ATTEND_CHECK(scores.dtype() == values.dtype(), opt.op, "dtypes differ: scores ", scores.str(), " vs values ",
               values.str());
  const Tensor masked = apply_mask(scores, mask, opt.op);       // [B, (H,) Tq, Tk]
  const Tensor weights = opt.normalizer(masked);     // [B, (H,) Tq, Tk]
  const Tensor used = dropout_weights(weights, opt);            // [B, (H,) Tq, Tk]
  AttentionResult r;
  r.context = weighted_sum(used, values, opt.op);               // [B, (H,) Tq, Dv]
  if (opt.need_weights) r.weights = weights;
  if (opt.need_lse) r.lse = logsumexp(masked);                  // [B, (H,) Tq]
  return r;
}

}  // namespace attend::attention
