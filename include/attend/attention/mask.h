// Masks for attention, with the semantics fixed once for every path (docs/semantics.md):
// - boolean masks: true (1) = may attend; additive float masks are added to the scores;
// - causal with Tq != Tk is aligned bottom-right by default (query i sees keys j <= i + Tk - Tq,
//   what incremental decoding with a cache needs), top-left on request (j <= i);
// - a sliding window (left, right) uses the same alignment: query i at position p sees keys
//   p - left <= j <= p + right (-1 = unbounded on that side);
// - every kind combines with every other in one call (a key is allowed when every boolean part
//   allows it; additive parts add up);
// - a query row whose keys are all masked gets zero weights, a zero context and zero, finite
//   gradients. Never NaN.
#pragma once

#include <cstdint>
#include <vector>

#include "attend/core/tensor.h"

namespace attend::attention {

enum class CausalAlign { bottom_right, top_left };
enum class MaskKind { boolean, additive };

struct Mask {
  std::vector<int64_t> key_lengths;  // [B]: key j is valid iff j < key_lengths[b]
  Tensor key_padding;                // [B, Tk] of 0/1, 1 = may attend
  bool causal = false;
  CausalAlign causal_align = CausalAlign::bottom_right;
  int64_t window_left = -1;  // sliding window; -1 = unbounded
  int64_t window_right = -1;
  Tensor attn_mask;  // broadcastable to [B, H, Tq, Tk]; 0/1 if boolean, added if additive
  MaskKind attn_mask_kind = MaskKind::boolean;

  bool empty() const;
};

// A Mask made concrete for scores [B, H, Tq, Tk] (3-D scores [B, Tq, Tk] use H = 1). Hm is H when
// a boolean attn_mask varies over heads, else 1 (it broadcasts over H).
struct MaskTensors {
  Tensor allowed;   // [B, Hm, Tq, Tk] of 0/1, 1 = may attend (every boolean part ANDed); undefined if
                    // the Mask has no boolean part
  Tensor additive;  // attn_mask itself when it is additive (broadcastable to [B, H, Tq, Tk]), else
                    // undefined; kept as given so that gradients reach it
};

// Validates `mask` against scores of shape `scores_shape` ([B, H, Tq, Tk] or [B, Tq, Tk]) and
// builds its boolean and additive parts. Errors are "[op] ..." and name the shapes. Not
// differentiable (masks carry no gradient here; see apply_mask for the additive part).
MaskTensors materialize(const Mask& mask, const Shape& scores_shape, DType dtype, const char* op = "mask");

// The whole mask as one additive tensor [B, Hm, Tq, Tk]: 0 where allowed, -inf where blocked,
// plus the additive attn_mask (Hm = H if any part varies over heads, else 1). What a fused kernel
// consumes. Undefined when mask.empty().
Tensor additive_mask(const Mask& mask, const Shape& scores_shape, DType dtype, const char* op = "mask");

// scores [B, H, Tq, Tk] or [B, Tq, Tk] -> same shape: scores + additive attn_mask, then -inf where
// any boolean part forbids the key. Differentiable in scores and in an additive attn_mask; the
// -inf positions get no gradient. A row left all -inf is a fully masked row: the normalizers turn
// it into zero weights with zero gradients.
Tensor apply_mask(const Tensor& scores, const Mask& mask, const char* op = "apply_mask");
// The same with a mask already materialized (and `allowed` possibly refined by the caller, e.g.
// a local-attention window); `allowed` and `additive` broadcast to scores' shape.
Tensor apply_mask(const Tensor& scores, const MaskTensors& parts);

}  // namespace attend::attention
