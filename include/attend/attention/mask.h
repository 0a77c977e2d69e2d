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

}  // namespace attend::attention
