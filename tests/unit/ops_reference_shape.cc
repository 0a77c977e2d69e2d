// Reference*: layout ops (views and copies) and the joining/selection ops against the float64
// naive references, on contiguous and non-contiguous inputs.
#include "attend/ops/ops.h"
#include "reference/ops_reference.h"
#include "support/check.h"

namespace attend {
namespace {

using test::all_close;
using test::randn32;

TEST(ReferenceShape, ReshapeContiguousAndStrided) {
  Rng rng(21);
  const Tensor x = randn32({2, 3, 4}, rng);
  EXPECT_TRUE(all_close(reshape(x, {6, 4}), ref::reshape(x, {6, 4}), 0.0));
  EXPECT_TRUE(all_close(reshape(x, {4, -1}), ref::reshape(x, {4, -1}), 0.0));
  const Tensor t = transpose(x, 0, 2);  // [4, 3, 2], non-contiguous: reshape must copy in logical order
  EXPECT_TRUE(all_close(reshape(t, {-1}), ref::reshape(t, {-1}), 0.0));
  EXPECT_TRUE(all_close(reshape(t, {12, 2}), ref::reshape(t, {12, 2}), 0.0));
}

TEST(ReferenceShape, PermuteTransposeContiguous) {
  Rng rng(22);
  const Tensor x = randn32({2, 3, 4, 5}, rng);
  EXPECT_TRUE(all_close(permute(x, {3, 1, 0, 2}), ref::permute(x, {3, 1, 0, 2}), 0.0));
  EXPECT_TRUE(all_close(permute(x, {-1, 0, 1, 2}), ref::permute(x, {-1, 0, 1, 2}), 0.0));
  EXPECT_TRUE(all_close(transpose(x, 1, -1), ref::transpose(x, 1, -1), 0.0));
  const Tensor p = permute(permute(x, {2, 0, 3, 1}), {1, 3, 0, 2});  // round trip
  EXPECT_TRUE(all_close(p, x, 0.0));
  const Tensor c = contiguous(transpose(x, 0, 3));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_TRUE(all_close(c, ref::transpose(x, 0, 3), 0.0));
}

TEST(ReferenceShape, SliceWithStepAndNegativeBounds) {
  Rng rng(23);
  const Tensor x = randn32({5, 9}, rng);
  EXPECT_TRUE(all_close(slice(x, 1, 1, 8, 3), ref::slice(x, 1, 1, 8, 3), 0.0));
  EXPECT_TRUE(all_close(slice(x, 0, -3, 100), ref::slice(x, 0, -3, 100, 1), 0.0));  // end clamped
  EXPECT_TRUE(all_close(slice(x, -1, -100, -2, 2), ref::slice(x, -1, -100, -2, 2), 0.0));
  EXPECT_EQ(slice(x, 0, 4, 2).shape(), (Shape{0, 9}));  // empty
  const Tensor s = slice(slice(transpose(x, 0, 1), 0, 2, 9, 2), 1, 1, 5, 2);  // slice of a strided view
  EXPECT_TRUE(all_close(s, ref::slice(ref::slice(ref::transpose(x, 0, 1), 0, 2, 9, 2), 1, 1, 5, 2), 0.0));
}

TEST(ReferenceShape, ExpandSqueezeUnsqueeze) {
  Rng rng(24);
  const Tensor x = randn32({3, 1}, rng);
  EXPECT_TRUE(all_close(expand(x, {2, 3, 4}), ref::expand(x, {2, 3, 4}), 0.0));
  EXPECT_TRUE(all_close(squeeze(x, 1), ref::squeeze(x, 1), 0.0));
  EXPECT_TRUE(all_close(squeeze(x, -1), ref::squeeze(x, -1), 0.0));
  EXPECT_TRUE(all_close(unsqueeze(x, 0), ref::unsqueeze(x, 0), 0.0));
  EXPECT_TRUE(all_close(unsqueeze(x, -1), ref::unsqueeze(x, -1), 0.0));
  EXPECT_EQ(unsqueeze(x, -1).shape(), (Shape{3, 1, 1}));
  // an expanded (stride-0) view feeds ops like any other tensor
  const Tensor e = expand(x, {3, 5});
  EXPECT_TRUE(all_close(add(e, 1.0), ref::add_scalar(ref::expand(x, {3, 5}), 1.0), 1e-6));
}

TEST(ReferenceShape, ToDtypeRoundTrip) {
  Rng rng(25);
  const Tensor x = randn32({4, 3}, rng);
  const Tensor d = to_dtype(transpose(x, 0, 1), DType::f64);
  EXPECT_EQ(d.dtype(), DType::f64);
  EXPECT_TRUE(all_close(d, ref::transpose(x, 0, 1), 0.0));
  EXPECT_TRUE(all_close(to_dtype(d, DType::f32), d, 0.0));
}

TEST(ReferenceJoin, ConcatAlongEachAxis) {
  Rng rng(26);
  const Tensor a = randn32({2, 3, 4}, rng);
  const Tensor b = transpose(randn32({2, 5, 3}, rng), 1, 2);  // [2, 3, 5], non-contiguous
  const Tensor c = randn32({2, 3, 1}, rng);
  EXPECT_TRUE(all_close(concat({a, b, c}, 2), ref::concat({a, b, c}, 2), 0.0));
  EXPECT_TRUE(all_close(concat({a, b, c}, -1), ref::concat({a, b, c}, -1), 0.0));
  const Tensor d = randn32({1, 3, 4}, rng);
  EXPECT_TRUE(all_close(concat({a, d, a}, 0), ref::concat({a, d, a}, 0), 0.0));
  EXPECT_TRUE(all_close(concat({a}, 1), a, 0.0));
}

TEST(ReferenceJoin, StackAlongNewAxis) {
  Rng rng(27);
  const Tensor a = randn32({3, 4}, rng), b = transpose(randn32({4, 3}, rng), 0, 1), c = randn32({3, 4}, rng);
  for (int axis : {0, 1, 2, -1}) {
    const Tensor s = stack({a, b, c}, axis);
    EXPECT_TRUE(all_close(s, ref::stack({a, b, c}, axis), 0.0)) << "axis " << axis;
  }
  EXPECT_EQ(stack({a, b, c}, 1).shape(), (Shape{3, 3, 4}));
}

TEST(ReferenceSelect, IndexSelectWithRepeats) {
  Rng rng(28);
  const Tensor x = randn32({4, 5, 3}, rng);
  const Index idx(std::vector<int64_t>{4, 0, 0, 2});
  EXPECT_TRUE(all_close(index_select(x, 1, idx), ref::index_select(x, 1, idx), 0.0));
  EXPECT_TRUE(all_close(index_select(x, 0, Index({3, 1})), ref::index_select(x, 0, Index({3, 1})), 0.0));
  const Tensor t = permute(x, {2, 0, 1});  // [3, 4, 5]
  EXPECT_TRUE(all_close(index_select(t, -1, idx), ref::index_select(t, -1, idx), 0.0));
  EXPECT_EQ(index_select(x, 2, Index(std::vector<int64_t>{})).shape(), (Shape{4, 5, 0}));
}

TEST(ReferenceSelect, GatherAlongEachAxis) {
  Rng rng(29);
  const Tensor x = randn32({3, 4, 5}, rng);
  // index may be smaller than x outside the gathered axis (PyTorch allows it)
  const Index i0({2, 0, 1, 1, 0, 2, 2, 2, 1, 0, 0, 0}, Shape{2, 3, 2});
  EXPECT_TRUE(all_close(gather(x, 0, i0), ref::gather(x, 0, i0), 0.0));
  const Index i2({4, 4, 0, 1, 3, 2, 2, 0, 1, 3, 4, 0}, Shape{3, 2, 2});
  EXPECT_TRUE(all_close(gather(x, 2, i2), ref::gather(x, 2, i2), 0.0));
  EXPECT_TRUE(all_close(gather(x, -1, i2), ref::gather(x, 2, i2), 0.0));
  const Tensor t = transpose(x, 0, 2);  // [5, 4, 3], non-contiguous
  const Index i1({3, 0, 1, 2, 3, 3}, Shape{2, 3, 1});
  EXPECT_TRUE(all_close(gather(t, 1, i1), ref::gather(t, 1, i1), 0.0));
}

}  // namespace
}  // namespace attend
