// Masks: the boolean and additive parts of attention masks, with the semantics of mask.h
// (DESIGN.md section 3). Boolean parts are ANDed into one 0/1 "allowed" tensor [B, Hm, Tq, Tk];
// apply_mask adds the additive part and writes -inf where a key is not allowed.
#include "attend/attention/mask.h"

#include <limits>

#include "attend/ops/ops.h"

namespace attend::attention {

bool Mask::empty() const {
  // An out-of-range window (< -1) is not empty: materialize() must see it to reject it.
  return key_lengths.empty() && !key_padding.defined() && !causal && window_left == -1 && window_right == -1 &&
         !attn_mask.defined();
}

namespace {

struct Dims {
  int64_t B, H, Tq, Tk;
};

Dims scores_dims(const Shape& s, const char* op) {
  ATTEND_CHECK(s.rank() == 3 || s.rank() == 4, op, "scores must be [B, Tq, Tk] or [B, H, Tq, Tk], got ", s.str());
  if (s.rank() == 3) return {s[0], 1, s[1], s[2]};
  return {s[0], s[1], s[2], s[3]};
}

// Strides of `m` broadcast (right-aligned) to [B, H, Tq, Tk]; checks that it broadcasts.
Shape attn_mask_strides(const Tensor& m, const Dims& d, const Shape& scores_shape, const char* op) {
  const Shape target{d.B, d.H, d.Tq, d.Tk};
  const Shape& ms = m.shape();
  bool ok = ms.rank() <= 4;
  for (int i = 0; ok && i < ms.rank(); ++i) {
    const int64_t want = target[4 - ms.rank() + i];
    ok = ms[i] == 1 || ms[i] == want;
  }
  ATTEND_CHECK(ok, op, "attn_mask ", ms.str(), " does not broadcast to [B, H, Tq, Tk] = ", target.str(),
               " (scores ", scores_shape.str(), ")");
  Shape st = target;
  const int off = 4 - ms.rank();
  for (int i = 0; i < 4; ++i) {
    const int j = i - off;
    st[i] = (j < 0 || ms[j] == 1) ? 0 : m.strides()[j];
  }
  return st;
}

}  // namespace

MaskTensors materialize(const Mask& mask, const Shape& scores_shape, DType dtype, const char* op) {
  const Dims d = scores_dims(scores_shape, op);
  MaskTensors out;
  if (!mask.key_lengths.empty()) {
    ATTEND_CHECK(static_cast<int64_t>(mask.key_lengths.size()) == d.B, op, "key_lengths has ",
                 mask.key_lengths.size(), " entries for batch B = ", d.B, " (scores ", scores_shape.str(), ")");
    for (size_t b = 0; b < mask.key_lengths.size(); ++b)
      ATTEND_CHECK(mask.key_lengths[b] >= 0 && mask.key_lengths[b] <= d.Tk, op, "key_lengths[", b, "] = ",
                   mask.key_lengths[b], " outside [0, Tk = ", d.Tk, "] (scores ", scores_shape.str(), ")");
  }
  if (mask.key_padding.defined())
    ATTEND_CHECK(mask.key_padding.shape() == (Shape{d.B, d.Tk}), op, "key_padding ", mask.key_padding.shape().str(),
                 " must be [B, Tk] = [", d.B, ", ", d.Tk, "] (scores ", scores_shape.str(), ")");
  ATTEND_CHECK(mask.window_left >= -1 && mask.window_right >= -1, op, "window (", mask.window_left, ", ",
               mask.window_right, ") must be >= 0, or -1 for unbounded");

  const bool bool_attn = mask.attn_mask.defined() && mask.attn_mask_kind == MaskKind::boolean;
  Shape am_strides;
  if (mask.attn_mask.defined()) am_strides = attn_mask_strides(mask.attn_mask, d, scores_shape, op);
  if (mask.attn_mask.defined() && !bool_attn) {
    ATTEND_CHECK(mask.attn_mask.dtype() == dtype, op, "additive attn_mask ", mask.attn_mask.str(),
                 " must have the scores' dtype ", dtype_name(dtype));
    out.additive = mask.attn_mask;
  }

  const bool has_bool = !mask.key_lengths.empty() || mask.key_padding.defined() || mask.causal ||
                        mask.window_left >= 0 || mask.window_right >= 0 || bool_attn;
  if (!has_bool) return out;

  const int64_t Hm = bool_attn && am_strides[1] != 0 ? d.H : 1;
  std::vector<double> allowed(static_cast<size_t>(d.B * Hm * d.Tq * d.Tk), 1.0);
  const std::vector<double> pad = mask.key_padding.defined() ? mask.key_padding.contiguous().to_vector<double>()
                                                             : std::vector<double>();
  const Tensor am = bool_attn ? mask.attn_mask.to(DType::f64) : Tensor();
  const Shape am_st = bool_attn ? attn_mask_strides(am, d, scores_shape, op) : Shape();
  const double* am_data = bool_attn ? am.data<double>() : nullptr;
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < Hm; ++h)
      for (int64_t i = 0; i < d.Tq; ++i) {
        // Position of query i among the keys: bottom-right aligns the last query with the last key.
        const int64_t p = mask.causal_align == CausalAlign::bottom_right ? i + d.Tk - d.Tq : i;
        for (int64_t j = 0; j < d.Tk; ++j) {
          bool ok = true;
          if (!mask.key_lengths.empty()) ok = ok && j < mask.key_lengths[static_cast<size_t>(b)];
          if (!pad.empty()) {
            const double v = pad[static_cast<size_t>(b * d.Tk + j)];
            ATTEND_CHECK(v == 0.0 || v == 1.0, op, "key_padding ", mask.key_padding.shape().str(),
                         " must hold 0/1, found ", v);
            ok = ok && v != 0.0;
          }
          if (mask.causal) ok = ok && j <= p;
          if (mask.window_left >= 0) ok = ok && j >= p - mask.window_left;
          if (mask.window_right >= 0) ok = ok && j <= p + mask.window_right;
          if (bool_attn) {
            const double v = am_data[b * am_st[0] + h * am_st[1] + i * am_st[2] + j * am_st[3]];
            ATTEND_CHECK(v == 0.0 || v == 1.0, op, "boolean attn_mask ", mask.attn_mask.shape().str(),
                         " must hold 0/1, found ", v);
            ok = ok && v != 0.0;
          }
          allowed[static_cast<size_t>(((b * Hm + h) * d.Tq + i) * d.Tk + j)] = ok ? 1.0 : 0.0;
        }
      }
  out.allowed = Tensor::from_vector(allowed, Shape{d.B, Hm, d.Tq, d.Tk}, dtype);
  return out;
}

Tensor additive_mask(const Mask& mask, const Shape& scores_shape, DType dtype, const char* op) {
  if (mask.empty()) return Tensor();
  const MaskTensors parts = materialize(mask, scores_shape, dtype, op);
  const Dims d = scores_dims(scores_shape, op);
  NoGrad no_grad;
  // The additive tensor's head extent: H if either part varies over heads.
  int64_t Hm = parts.allowed.defined() ? parts.allowed.size(1) : 1;
  if (parts.additive.defined()) {
    const Shape& s = parts.additive.shape();
    if (s.rank() >= 3 && s[s.rank() - 3] != 1) Hm = d.H;
  }
  Tensor base = Tensor::zeros(Shape{d.B, Hm, d.Tq, d.Tk}, dtype);
  if (parts.additive.defined()) base = add(base, parts.additive.detach());
  if (parts.allowed.defined())
    base = masked_fill(base, sub(Tensor::ones(Shape{}, dtype), parts.allowed),
                       -std::numeric_limits<double>::infinity());
  return contiguous(base);
}

Tensor apply_mask(const Tensor& scores, const MaskTensors& parts) {
  if (scores.dim() == 3) {  // [B, Tq, Tk] as [B, 1, Tq, Tk]
    return squeeze(apply_mask(unsqueeze(scores, 1), parts), 1);
  }
  Tensor s = scores;                                       // [B, H, Tq, Tk]
  if (parts.additive.defined()) s = add(s, parts.additive);  // broadcast; gradient reaches the mask
  if (parts.allowed.defined()) {
    Tensor blocked;
    {
      NoGrad no_grad;
      blocked = sub(Tensor::ones(Shape{}, scores.dtype()), parts.allowed);  // [B, Hm, Tq, Tk]
    }
    s = masked_fill(s, blocked, -std::numeric_limits<double>::infinity());
  }
  return s;
}

Tensor apply_mask(const Tensor& scores, const Mask& mask, const char* op) {
  if (mask.empty()) {
    ATTEND_CHECK(scores.dim() == 3 || scores.dim() == 4, op, "scores must be [B, Tq, Tk] or [B, H, Tq, Tk], got ",
                 scores.shape().str());
    return scores;
  }
  return apply_mask(scores, materialize(mask, scores.shape(), scores.dtype(), op));
}

}  // namespace attend::attention
