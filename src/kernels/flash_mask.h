// The masks of FlashParams (flash_attention.h) as rules per score (b, h, i, j), shared by the fused
// softmax kernel (cpu/flash_impl.h, every instruction set) and the fused sparse kernel
// (sparse_attention.cc), so that both keep exactly the same keys.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "attend/kernels/flash_attention.h"

namespace attend::kernels {

struct MaskRules {
  // Structured masks: row i keeps keys [lo(i), hi(i)].
  bool causal;
  int64_t causal_off;
  int64_t wl, wr, window_off;
  const int64_t* kv_len;
  FlashMaskTensor<bool> bmask;
  FlashMaskTensor<float> amask;
  bool has_tensor_mask;

  explicit MaskRules(const FlashParams& p)
      : causal(p.mask.causal != CausalMode::None),
        causal_off(p.mask.causal == CausalMode::TopLeft ? 0 : p.Tk - p.Tq),
        wl(p.mask.window_left),
        wr(p.mask.window_right),
        window_off(p.mask.window_align == CausalMode::TopLeft ? 0 : p.Tk - p.Tq),
        kv_len(p.mask.kv_len),
        bmask(p.mask.bool_mask),
        amask(p.mask.additive_mask),
        has_tensor_mask(p.mask.bool_mask.data != nullptr || p.mask.additive_mask.data != nullptr),
        tk_(p.Tk) {}

  // Keys [lo, hi] that row i of batch b may attend by the structured masks (lo > hi: none).
  void interval(int64_t b, int64_t i, int64_t& lo, int64_t& hi) const {
    lo = 0;
    hi = (kv_len ? std::min(kv_len[b], tk_) : tk_) - 1;
    if (causal) hi = std::min(hi, i + causal_off);
    if (wl >= 0) lo = std::max(lo, i + window_off - wl);
    if (wr >= 0) hi = std::min(hi, i + window_off + wr);
  }

  // Tensor-mask term for (b, h, i, j): -inf if dropped, else the additive mask (0 without one).
  float tensor_mask(int64_t b, int64_t h, int64_t i, int64_t j) const {
    float t = 0.0f;
    if (bmask.data &&
        !bmask.data[b * bmask.stride_b + h * bmask.stride_h + i * bmask.stride_q + j * bmask.stride_k])
      return -std::numeric_limits<float>::infinity();
    if (amask.data)
      t = amask.data[b * amask.stride_b + h * amask.stride_h + i * amask.stride_q + j * amask.stride_k];
    return t;
  }

 private:
  int64_t tk_;
};

}  // namespace attend::kernels
