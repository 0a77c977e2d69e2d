// Iteration over the elements of strided tensors in row-major order of a common shape.
// `for_each_offset` calls f(off0, off1, ...) with the element offsets of each operand; operands
// are described by their strides over `shape` (a broadcast dimension has stride 0).
#pragma once

#include <array>
#include <cstdint>

#include "attend/core/shape.h"

namespace attend {

template <size_t N, typename F>
void for_each_offset(const Shape& shape, const std::array<Shape, N>& strides, F&& f) {
  const int r = shape.rank();
  const int64_t n = shape.numel();
  if (n == 0) return;
  std::array<int64_t, N> off{};
  if (r == 0) {
    std::apply(f, off);
    return;
  }
  std::array<int64_t, kMaxRank> idx{};
  const int64_t inner = shape[r - 1];
  std::array<int64_t, N> inner_stride{};
  for (size_t k = 0; k < N; ++k) inner_stride[k] = strides[k][r - 1];
  for (int64_t done = 0; done < n; done += inner) {
    std::array<int64_t, N> o = off;
    for (int64_t j = 0; j < inner; ++j) {
      std::apply(f, o);
      for (size_t k = 0; k < N; ++k) o[k] += inner_stride[k];
    }
    // advance the outer index (odometer over dims r-2 .. 0)
    for (int d = r - 2; d >= 0; --d) {
      ++idx[static_cast<size_t>(d)];
      for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
      if (idx[static_cast<size_t>(d)] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= strides[k][d] * shape[d];
      idx[static_cast<size_t>(d)] = 0;
    }
  }
}

// Strides of a tensor with `shape`/`strides` broadcast to `target` (right-aligned; broadcast
// dimensions get stride 0). The caller has checked that the shapes broadcast.
inline Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& target) {
  Shape out = target;
  const int off = target.rank() - shape.rank();
  for (int i = 0; i < target.rank(); ++i) {
    const int j = i - off;
    out[i] = (j < 0 || shape[j] == 1) ? 0 : strides[j];
  }
  return out;
}

}  // namespace attend
