#include "attend/core/shape.h"

#include <ostream>

#include "attend/core/error.h"

namespace attend {

Shape::Shape(std::initializer_list<int64_t> dims) {
  for (int64_t v : dims) push_back(v);
}

Shape::Shape(const std::vector<int64_t>& dims) {
  for (int64_t v : dims) push_back(v);
}

int64_t Shape::at(int i) const { return d_[static_cast<size_t>(normalize_axis(i, *this, "Shape::at"))]; }

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i)
    ATTEND_CHECK(!__builtin_mul_overflow(n, d_[static_cast<size_t>(i)], &n), "Shape", "element count of ", str(),
                 " overflows 64 bits");
  return n;
}

void Shape::push_back(int64_t v) {
  ATTEND_CHECK(rank_ < kMaxRank, "Shape", "rank above ", kMaxRank, " is not supported");
  ATTEND_CHECK(v >= 0, "Shape", "negative extent ", v);
  d_[static_cast<size_t>(rank_++)] = v;
}

void Shape::insert(int pos, int64_t v) {
  ATTEND_CHECK(pos >= 0 && pos <= rank_, "Shape", "insert position ", pos, " out of range for rank ", rank_);
  push_back(0);
  for (int i = rank_ - 1; i > pos; --i) d_[static_cast<size_t>(i)] = d_[static_cast<size_t>(i - 1)];
  d_[static_cast<size_t>(pos)] = v;
}

void Shape::erase(int pos) {
  ATTEND_CHECK(pos >= 0 && pos < rank_, "Shape", "erase position ", pos, " out of range for rank ", rank_);
  for (int i = pos; i + 1 < rank_; ++i) d_[static_cast<size_t>(i)] = d_[static_cast<size_t>(i + 1)];
  --rank_;
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (d_[static_cast<size_t>(i)] != o.d_[static_cast<size_t>(i)]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(d_[static_cast<size_t>(i)]);
  }
  return s + "]";
}

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

Shape contiguous_strides(const Shape& shape) {
  Shape st = shape;
  int64_t acc = 1;
  for (int i = shape.rank() - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

int normalize_axis(int axis, const Shape& shape, const char* op, int extra) {
  const int rank = shape.rank() + extra;
  const int a = axis < 0 ? axis + rank : axis;
  ATTEND_CHECK(a >= 0 && a < rank, op, "axis ", axis, " out of range for shape ", shape.str(), " of rank ",
               shape.rank(), extra ? " (plus one new axis)" : "");
  return a;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int r = a.rank() > b.rank() ? a.rank() : b.rank();
  Shape out;
  for (int i = 0; i < r; ++i) {
    const int ia = i - (r - a.rank()), ib = i - (r - b.rank());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    ATTEND_CHECK(da == db || da == 1 || db == 1, op, "shapes ", a.str(), " and ", b.str(),
                 " do not broadcast (dim ", i, ": ", da, " vs ", db, ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

}  // namespace attend
