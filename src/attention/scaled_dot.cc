// Scaled dot-product attention, Vaswani et al. 2017, "Attention Is All You Need":
//   score(q, k) = q . k * scale, scale = 1/sqrt(D) by default;
//   context = dropout(softmax(mask(Q K^T * scale))) V,
// with grouped-query heads (Hkv dividing H) handled by reshaping q to [B, Hkv, G, Tq, D] so that
// k and v are never copied per head.
#include "attend/attention/scaled_dot.h"

#include <cmath>

#include "attend/attention/attention.h"
#include "attend/attention/flash.h"
#include "attend/ops/ops.h"

namespace attend::attention {

namespace {
constexpr const char* kSdpa = "scaled_dot_product_attention";

void check_qkv(const Tensor& q, const Tensor& k, const Tensor& v, const char* op) {
  ATTEND_CHECK(q.defined() && k.defined() && v.defined(), op, "q, k and v must be defined");
  ATTEND_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, op,
               "q [B, H, Tq, D], k [B, Hkv, Tk, D] and v [B, Hkv, Tk, Dv] must have rank 4, got q ",
               q.shape().str(), ", k ", k.shape().str(), ", v ", v.shape().str());
  ATTEND_CHECK(q.dtype() == k.dtype() && q.dtype() == v.dtype(), op, "dtypes differ: q ", q.str(), ", k ", k.str(),
               ", v ", v.str());
  ATTEND_CHECK(q.size(0) == k.size(0) && q.size(0) == v.size(0), op, "batch sizes differ: q ", q.shape().str(),
               ", k ", k.shape().str(), ", v ", v.shape().str());
  ATTEND_CHECK(k.size(1) == v.size(1) && k.size(2) == v.size(2), op,
               "k and v must share [B, Hkv, Tk]: k ", k.shape().str(), " vs v ", v.shape().str());
  ATTEND_CHECK(q.size(3) == k.size(3), op, "head dims differ: q ", q.shape().str(), " vs k ", k.shape().str());
  ATTEND_CHECK(k.size(1) > 0 && q.size(1) % k.size(1) == 0, op, "H = ", q.size(1),
               " is not a multiple of Hkv = ", k.size(1), ": q ", q.shape().str(), " vs k ", k.shape().str());
}
}  // namespace

Tensor scaled_dot_scores(const Tensor& q, const Tensor& k, double scale, const char* op) {
  ATTEND_CHECK(q.defined() && k.defined() && q.dim() == 4 && k.dim() == 4, op,
               "q [B, H, Tq, D] and k [B, Hkv, Tk, D] must have rank 4, got q ",
               q.defined() ? q.shape().str() : "undefined", ", k ", k.defined() ? k.shape().str() : "undefined");
  ATTEND_CHECK(q.size(0) == k.size(0), op, "batch sizes differ: q ", q.shape().str(), " vs k ", k.shape().str());
  ATTEND_CHECK(q.size(3) == k.size(3), op, "head dims differ: q ", q.shape().str(), " vs k ", k.shape().str());
  const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), D = q.size(3), Hkv = k.size(1), Tk = k.size(2);
  ATTEND_CHECK(Hkv > 0 && H % Hkv == 0, op, "H = ", H, " is not a multiple of Hkv = ", Hkv, ": q ",
               q.shape().str(), " vs k ", k.shape().str());
  const double s = scale != 0.0 ? scale : 1.0 / std::sqrt(static_cast<double>(D));
  const Tensor kt = transpose(k, 2, 3);  // [B, Hkv, D, Tk]
  if (H == Hkv) return mul(matmul(q, kt), s);  // [B, H, Tq, Tk]
  const Tensor qg = reshape(q, {B, Hkv, H / Hkv, Tq, D});  // [B, Hkv, G, Tq, D]
  const Tensor sg = matmul(qg, unsqueeze(kt, 2));          // [B, Hkv, G, Tq, Tk]
  return mul(reshape(sg, {B, H, Tq, Tk}), s);              // [B, H, Tq, Tk]
}

AttentionResult scaled_dot_product_attention_composed(const Tensor& q, const Tensor& k, const Tensor& v,
                                                      const Mask& mask, const SdpaOptions& opt) {
  check_qkv(q, k, v, kSdpa);
  const Tensor scores = scaled_dot_scores(q, k, opt.scale, kSdpa);  // [B, H, Tq, Tk]
  AttendOptions a = opt;  // the same options; the scores are scaled now
  a.scale = 0.0;
  a.op = kSdpa;
  return attend(scores, v, mask, a);
}

AttentionResult scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Mask& mask,
                                             const SdpaOptions& opt) {
  check_qkv(q, k, v, kSdpa);
  if (choose_attention_path(q, k, v, mask, opt).path == AttentionPath::fused)
    return scaled_dot_product_attention_fused(q, k, v, mask, opt);
  return scaled_dot_product_attention_composed(q, k, v, mask, opt);
}

}  // namespace attend::attention
