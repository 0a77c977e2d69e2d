// Fused scaled dot-product attention (FlashAttention-2 on the CPU): the Tensor and autograd
// wrapper around kernels/flash_attention.h, and the dispatcher between it and the composition.
#include "attend/attention/flash.h"

#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/core/strided.h"
#include "attend/kernels/flash_attention.h"
#include "attend/kernels/sparse_attention.h"

namespace attend::attention {

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

// A mask tensor converted for the kernel and kept alive as long as the op's graph needs it.
struct KernelMasks {
  std::vector<int64_t> kv_len;
  std::shared_ptr<bool[]> bool_data;  // key padding AND boolean attn_mask, in the attn_mask's shape
  Shape bool_shape, bool_strides;     // broadcast strides over [B, H, Tq, Tk]
  Tensor additive;                    // f32, contiguous
  Shape additive_strides;
  kernels::FlashMask flash;
};

// [B, H, Tq, Tk] broadcast strides of a tensor of shape `s` (contiguous strides `st`).
Shape strides_over(const Shape& s, const Shape& st, const Shape& target) { return broadcast_strides(s, st, target); }

std::shared_ptr<KernelMasks> kernel_masks(const Mask& m, int64_t B, int64_t H, int64_t Tq, int64_t Tk) {
  auto km = std::make_shared<KernelMasks>();
  const Shape full{B, H, Tq, Tk};
  kernels::FlashMask& f = km->flash;
  f.causal = !m.causal ? kernels::CausalMode::None
             : m.causal_align == CausalAlign::bottom_right ? kernels::CausalMode::BottomRight
                                                             : kernels::CausalMode::TopLeft;
  f.window_left = m.window_left;
  f.window_right = m.window_right;
  f.window_align = m.causal_align == CausalAlign::bottom_right ? kernels::CausalMode::BottomRight
                                                                 : kernels::CausalMode::TopLeft;
  if (!m.key_lengths.empty()) {
    km->kv_len = m.key_lengths;
    f.kv_len = km->kv_len.data();
  }
  // Boolean parts given as tensors: key padding [B, Tk] and a boolean attn_mask. They are ANDed
  // into one bool array in the broadcast shape of the two (never [B, H, Tq, Tk] unless the user's
  // mask already is).
  Tensor allowed;
  if (m.key_padding.defined()) {
    const Tensor kp = m.key_padding.to(DType::f32).contiguous();  // [B, Tk]
    allowed = kp.as_strided(Shape{B, 1, 1, Tk}, Shape{Tk, 0, 0, 1}, kp.offset());
  }
  if (m.attn_mask.defined() && m.attn_mask_kind == MaskKind::boolean) {
    const Tensor am = m.attn_mask.to(DType::f32);
    if (!allowed.defined()) {
      allowed = am;
    } else {
      const Shape s = broadcast_shapes(allowed.shape(), am.shape(), kOp);
      Tensor both = Tensor::empty(s, DType::f32);
      float* q = both.data<float>();
      const float* pa = allowed.data<float>();
      const float* pb = am.data<float>();
      int64_t n = 0;
      for_each_offset<2>(s, {broadcast_strides(allowed.shape(), allowed.strides(), s),
                             broadcast_strides(am.shape(), am.strides(), s)},
                         [&](int64_t oa, int64_t ob) { q[n++] = (pa[oa] != 0.0f && pb[ob] != 0.0f) ? 1.0f : 0.0f; });
      allowed = both;
    }
  }
  if (allowed.defined()) {
    const Tensor a = allowed.contiguous();
    const int64_t n = a.numel();
    km->bool_data = std::shared_ptr<bool[]>(new bool[static_cast<size_t>(std::max<int64_t>(n, 1))]);
    const float* pa = a.data<float>();
    for (int64_t i = 0; i < n; ++i) km->bool_data[static_cast<size_t>(i)] = pa[i] != 0.0f;
    km->bool_shape = a.shape();
    km->bool_strides = strides_over(a.shape(), contiguous_strides(a.shape()), full);
    f.bool_mask = {.data = km->bool_data.get(),
                   .stride_b = km->bool_strides[0],
                   .stride_h = km->bool_strides[1],
                   .stride_q = km->bool_strides[2],
                   .stride_k = km->bool_strides[3]};
  }
  if (m.attn_mask.defined() && m.attn_mask_kind == MaskKind::additive) {
    km->additive = m.attn_mask.to(DType::f32).contiguous();
    km->additive_strides = strides_over(km->additive.shape(), contiguous_strides(km->additive.shape()), full);
    f.additive_mask = {.data = km->additive.data<float>(),
                       .stride_b = km->additive_strides[0],
                       .stride_h = km->additive_strides[1],
                       .stride_q = km->additive_strides[2],
                       .stride_k = km->additive_strides[3]};
  }
  return km;
}

// A [B, heads, T, D] tensor as the kernel reads it: unit stride along D, any other strides.
template <typename T>
kernels::FlashTensor<T> flash_view(const Tensor& t) {
  return {.data = const_cast<T*>(static_cast<const T*>(t.data<float>())),
          .stride_b = t.strides()[0],
          .stride_h = t.strides()[1],
          .stride_t = t.strides()[2]};
}

Tensor unit_stride_d(const Tensor& t) { return t.strides()[3] == 1 || t.size(3) == 1 ? t : t.contiguous(); }

// A new [B, heads, T, D] tensor (shape `s`) laid out as `like` is: when `like` has its heads inside
// its tokens (the [B, T, heads, D] memory of split_heads' transposed view, stride_h < stride_t),
// the transposed view of a contiguous [B, T, heads, D] buffer, else contiguous. An output in its
// input's layout makes the caller's transpose back to [B, T, heads * D] free: no copy of the
// context in the forward, none of dQ, dK, dV in the backward.
Tensor like_layout(const Tensor& like, const Shape& s) {
  if (like.dim() == 4 && s[1] > 1 && s[2] > 1 && like.strides()[1] < like.strides()[2]) {
    const Tensor bthd = Tensor::empty(Shape{s[0], s[2], s[1], s[3]});  // [B, T, heads, D]
    return bthd.as_strided(s, Shape{s[1] * s[2] * s[3], s[3], s[1] * s[3], 1}, 0);
  }
  return Tensor::empty(s);
}

AttentionPath forced_path() {
  const char* env = std::getenv("ATTEND_ATTENTION");
  if (!env || !*env || std::string(env) == "auto") return AttentionPath::composed;  // "no force"
  const std::string s(env);
  ATTEND_CHECK(s == "fused" || s == "composed", "ATTEND_ATTENTION", "expected fused, composed or auto, got '", s,
               "'");
  return s == "fused" ? AttentionPath::fused : AttentionPath::composed;
}

bool path_forced() {
  const char* env = std::getenv("ATTEND_ATTENTION");
  return env && *env && std::string(env) != "auto";
}

// The fused sparse path (kernels/sparse_attention.h): alpha-entmax weights, recomputed in the
// backward from the scores (no stored statistics). dV = P^T dO, dS = s (dP - q), dQ = scale dS K,
// dK = scale dS^T Q over each row's support.
AttentionResult sparse_fused(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& q,
                             const Tensor& k, const Tensor& v, std::shared_ptr<KernelMasks> km,
                             kernels::FlashParams p, double alpha, bool need_weights) {
  Tensor o = like_layout(q_in, Shape{p.B, p.H, p.Tq, p.D});  // [B, H, Tq, D], q's layout
  p.o = flash_view<float>(o);
  const kernels::SparseAttentionParams sp{.base = p, .alpha = alpha};
  kernels::sparse_attention_forward(sp);
  AttentionResult r{.context = o};
  if (need_weights) {
    r.weights = Tensor::empty({p.B, p.H, p.Tq, p.Tk});
    kernels::sparse_attention_weights(sp, {.out = r.weights.data<float>()});
  }
  autograd::record("sparse_attention", {q_in, k_in, v_in}, o,
                   [q, k, v, km, sp, qs = q_in.shape(), ks = k_in.shape(),
                    vs = v_in.shape()](const std::vector<Tensor>& g) -> std::vector<Tensor> {
                     const Tensor dout = unit_stride_d(g[0]);
                     Tensor dq = like_layout(q, qs), dk = like_layout(k, ks), dv = like_layout(v, vs);
                     kernels::sparse_attention_backward(sp, flash_view<const float>(dout), flash_view<float>(dq),
                                                        flash_view<float>(dk), flash_view<float>(dv));
                     return {dq, dk, dv};
                   });
  return r;
}

}  // namespace

void check_attention_env() { forced_path(); }

std::string fused_unsupported_reason(const Tensor& q, const Tensor& k, const Tensor& v, const Mask& mask,
                                     const SdpaOptions& opt) {
  if (q.dtype() != DType::f32 || k.dtype() != DType::f32 || v.dtype() != DType::f32)
    return "the fused kernel is f32 only (q is " + std::string(dtype_name(q.dtype())) + ")";
  if (v.size(3) != q.size(3)) return "values have Dv = " + std::to_string(v.size(3)) + " != D";
  if (q.size(2) == 0 || k.size(2) == 0 || q.size(3) == 0) return "an empty length or head size";
  if (mask.attn_mask.defined() && mask.attn_mask_kind == MaskKind::additive && mask.attn_mask.requires_grad())
    return "the additive mask requires grad (the kernel gives no gradient for masks)";
  if (opt.training && opt.dropout_p > 0.0 && opt.rng == nullptr) return "dropout without an Rng";
  if (!opt.normalizer.is_softmax()) {
    if (!opt.normalizer.entmax_alpha())
      return "the normalizer is " + opt.normalizer.name() + " (the fused kernels run softmax and alpha-entmax)";
    if (*opt.normalizer.entmax_alpha() > 2.0)
      return opt.normalizer.name() + ": the sparse kernel runs alpha in (1, 2] (above 2 the Jacobian p^(2 - alpha) " +
             "is unbounded near the threshold)";
    if (opt.training && opt.dropout_p > 0.0) return "dropout with " + opt.normalizer.name() + " (the sparse kernel has none)";
    if (opt.need_lse) return "the log-sum-exp was asked of " + opt.normalizer.name() + " (the sparse kernel has none)";
  }
  return "";
}

Dispatch choose_attention_path(const Tensor& q, const Tensor& k, const Tensor& v, const Mask& mask,
                               const SdpaOptions& opt) {
  const std::string why_not = fused_unsupported_reason(q, k, v, mask, opt);
  if (path_forced()) {
    const AttentionPath p = forced_path();
    if (p == AttentionPath::fused)
      ATTEND_CHECK(why_not.empty(), kOp, "ATTEND_ATTENTION=fused, but the fused kernel cannot run: ", why_not,
                   " (q ", q.shape().str(), ", k ", k.shape().str(), ", v ", v.shape().str(), ")");
    return {p, p == AttentionPath::fused ? "fused: forced by ATTEND_ATTENTION" : "composed: forced by ATTEND_ATTENTION"};
  }
  if (!why_not.empty()) return {AttentionPath::composed, "composed: " + why_not};
  if (opt.normalizer.entmax_alpha())
    return {AttentionPath::fused, "fused: f32, D = " + std::to_string(q.size(3)) + ", sparse kernel (" +
                                      opt.normalizer.name() + ")"};
  return {AttentionPath::fused, "fused: f32, D = " + std::to_string(q.size(3)) + ", kernel " +
                                    kernels::flash_isa_name()};
}

AttentionResult scaled_dot_product_attention_fused(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                                   const Mask& mask, const SdpaOptions& opt) {
  {
    const std::string why_not = fused_unsupported_reason(q_in, k_in, v_in, mask, opt);
    ATTEND_CHECK(why_not.empty(), kOp, "the fused kernel cannot run: ", why_not);
  }
  const Tensor q = unit_stride_d(q_in), k = unit_stride_d(k_in), v = unit_stride_d(v_in);
  const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), D = q.size(3), Hkv = k.size(1), Tk = k.size(2);
  // The composed path validates the mask against the scores' shape; do the same here (cheaply).
  (void)materialize(Mask{.key_lengths = mask.key_lengths,
                         .key_padding = mask.key_padding,
                         .causal = false,
                         .window_left = -1,
                         .window_right = -1},
                    Shape{B, H, 1, Tk}, DType::f32, kOp);
  if (mask.attn_mask.defined())
    ATTEND_CHECK(broadcast_shapes(mask.attn_mask.shape(), Shape{B, H, Tq, Tk}, kOp) == (Shape{B, H, Tq, Tk}), kOp,
                 "attn_mask ", mask.attn_mask.shape().str(), " does not broadcast to the scores [B, H, Tq, Tk] = ",
                 Shape{B, H, Tq, Tk}.str());

  auto km = kernel_masks(mask, B, H, Tq, Tk);
  kernels::FlashParams p{.B = B, .H = H, .Hkv = Hkv, .Tq = Tq, .Tk = Tk, .D = D};
  p.q = flash_view<const float>(q);
  p.k = flash_view<const float>(k);
  p.v = flash_view<const float>(v);
  if (opt.scale != 0.0) p.scale = static_cast<float>(opt.scale);
  p.mask = km->flash;
  if (const std::optional<double> alpha = opt.normalizer.entmax_alpha())
    return sparse_fused(q_in, k_in, v_in, q, k, v, std::move(km), p, *alpha, opt.need_weights);
  p.inference_only = !opt.need_weights && !autograd::needs_grad({q_in, k_in, v_in});
  if (opt.training && opt.dropout_p > 0.0) {
    ATTEND_CHECK(opt.dropout_p < 1.0, kOp, "dropout_p = ", opt.dropout_p, " must be in [0, 1)");
    p.dropout = {.p = static_cast<float>(opt.dropout_p),
                 .seed = opt.rng->seed(),
                 .offset = opt.rng->advance(static_cast<uint64_t>(B * H * Tq * Tk))};
  }
  Tensor o = like_layout(q_in, Shape{B, H, Tq, D});  // [B, H, Tq, D], q's layout
  Tensor lse = Tensor::empty({B, H, Tq});   // [B, H, Tq]
  // The low part of the LSE (lse + lse_lo = m + log l to better than f32): the weights and the
  // backward recompute P = e^((S - lse) - lse_lo), exact for large logits too.
  Tensor lse_lo = Tensor::empty({B, H, Tq});  // [B, H, Tq]
  p.o = flash_view<float>(o);
  p.lse = lse.data<float>();
  p.lse_lo = lse_lo.data<float>();
  kernels::flash_attention_forward(p);

  AttentionResult r{.context = o};
  if (opt.need_weights) {
    r.weights = Tensor::empty({B, H, Tq, Tk});
    kernels::flash_attention_weights(p, {.out = r.weights.data<float>()});
  }
  if (opt.need_lse) r.lse = lse;

  // dQ, dK, dV from the kernel's backward, which recomputes P tile by tile from the lse:
  // dV = P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dO * O)), dQ = scale dS K, dK = scale dS^T Q.
  autograd::record(kOp, {q_in, k_in, v_in}, o,
                   [q, k, v, o = o.detach(), lse, lse_lo, km, p, qs = q_in.shape(), ks = k_in.shape(),
                    vs = v_in.shape()](const std::vector<Tensor>& g) -> std::vector<Tensor> {
                     const Tensor dout = unit_stride_d(g[0]);
                     // The gradients in their inputs' layouts (like_layout).
                     Tensor dq = like_layout(q, qs), dk = like_layout(k, ks), dv = like_layout(v, vs);
                     kernels::FlashBackwardParams bp{.fwd = p};
                     bp.fwd.o = flash_view<float>(o);
                     bp.fwd.lse = lse.data<float>();
                     bp.fwd.lse_lo = lse_lo.data<float>();
                     bp.dout = flash_view<const float>(dout);
                     bp.dq = flash_view<float>(dq);
                     bp.dk = flash_view<float>(dk);
                     bp.dv = flash_view<float>(dv);
                     kernels::flash_attention_backward(bp);
                     return {dq, dk, dv};
                   });
  return r;
}

}  // namespace attend::attention
