// Shape: the extents of a tensor, outermost first (as in PyTorch), at most kMaxRank dims.
// The same small type holds strides (in elements).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace attend {

inline constexpr int kMaxRank = 6;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims);

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return d_[static_cast<size_t>(i)]; }
  int64_t& operator[](int i) { return d_[static_cast<size_t>(i)]; }
  // Dimension i, with negative i counting from the end (-1 is the last).
  int64_t at(int i) const;
  int64_t numel() const;
  const int64_t* begin() const { return d_.data(); }
  const int64_t* end() const { return d_.data() + rank_; }
  std::vector<int64_t> vec() const { return {begin(), end()}; }

  void push_back(int64_t v);
  void insert(int pos, int64_t v);
  void erase(int pos);

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;

 private:
  std::array<int64_t, kMaxRank> d_{};
  int rank_ = 0;
};

// Row-major (C-contiguous) strides of `shape`.
Shape contiguous_strides(const Shape& shape);
// Normalizes a possibly negative axis of a tensor of `shape` (whose rank is shape.rank() + extra:
// stack and unsqueeze address one axis more); throws Error(op) naming the axis and the shape.
int normalize_axis(int axis, const Shape& shape, const char* op, int extra = 0);
// The NumPy/PyTorch broadcast of two shapes (aligned at the right); throws Error(op) if they
// cannot broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

std::ostream& operator<<(std::ostream& os, const Shape& s);

}  // namespace attend
