// Index: integer indices with a shape (token ids, class targets, gather indices). Tensors hold
// only f32/f64; indices are never differentiated, so they live in their own small type.
#pragma once

#include <cstdint>
#include <vector>

#include "attend/core/error.h"
#include "attend/core/shape.h"

namespace attend {

struct Index {
  Shape shape;
  std::vector<int64_t> data;  // row-major, shape.numel() entries

  Index() = default;
  Index(std::vector<int64_t> values, const Shape& s) : shape(s), data(std::move(values)) {
    ATTEND_CHECK(static_cast<int64_t>(data.size()) == shape.numel(), "Index", data.size(), " values for shape ",
                 shape.str());
  }
  // A 1-D index.
  explicit Index(std::vector<int64_t> values)
      : shape(Shape{static_cast<int64_t>(values.size())}), data(std::move(values)) {}
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
};

}  // namespace attend
