// GradCheck*: finite differences in float64 for the layout, joining and selection ops. Each
// layout op is followed by an elementwise op inside f so that a wrong stride in the gradient
// (not only a wrong sum) shows up.
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

using test::gradcheck;
using test::randn64;
using V = std::vector<Tensor>;

TEST(GradCheckShape, ReshapePermuteTranspose) {
  Rng rng(111);
  const Tensor a = randn64({2, 3, 4}, rng);
  EXPECT_TRUE(gradcheck([](const V& x) { return reshape(x[0], {4, -1}); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return reshape(transpose(x[0], 0, 2), {-1, 6}); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return permute(x[0], {2, 0, 1}); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return transpose(x[0], -1, 0); }, {a}));
}

TEST(GradCheckShape, SliceWithStep) {
  Rng rng(112);
  const Tensor a = randn64({4, 7}, rng);
  EXPECT_TRUE(gradcheck([](const V& x) { return slice(x[0], 1, 1, 7, 2); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return slice(x[0], 0, -3, 4); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return slice(transpose(x[0], 0, 1), 0, 0, 7, 3); }, {a}));
}

TEST(GradCheckShape, ExpandSqueezeUnsqueezeContiguous) {
  Rng rng(113);
  const Tensor a = randn64({3, 1}, rng);
  EXPECT_TRUE(gradcheck([](const V& x) { return expand(x[0], {2, 3, 4}); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return squeeze(x[0], 1); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return unsqueeze(x[0], 0); }, {a}));
  const Tensor b = randn64({3, 4}, rng);
  EXPECT_TRUE(gradcheck([](const V& x) { return contiguous(transpose(x[0], 0, 1)); }, {b}));
}

TEST(GradCheckShape, ToDtypeRoundTrip) {
  Rng rng(114);
  const Tensor a = randn64({3, 4}, rng);
  // f64 -> f64 is the identity op; through f32 the gradient still reaches the f64 leaf with its
  // dtype (checked below with a loose step, since f32 rounding is far above gradcheck's 1e-6).
  EXPECT_TRUE(gradcheck([](const V& x) { return to_dtype(x[0], DType::f64); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return to_dtype(mul(to_dtype(x[0], DType::f32), 2.0), DType::f64); }, {a},
                        {.eps = 1e-2, .atol = 1e-3, .rtol = 1e-3}));
}

TEST(GradCheckJoin, ConcatAndStack) {
  Rng rng(115);
  const Tensor a = randn64({2, 3}, rng), b = randn64({2, 1}, rng), c = randn64({2, 4}, rng);
  EXPECT_TRUE(gradcheck([](const V& x) { return concat({x[0], x[1], x[2]}, 1); }, {a, b, c}));
  EXPECT_TRUE(gradcheck([](const V& x) { return concat({x[0], transpose(x[1], 0, 1)}, 0); }, {a, randn64({3, 2}, rng)}));
  EXPECT_TRUE(gradcheck([](const V& x) { return concat({x[0], x[0]}, -1); }, {a}));  // the same input twice
  const Tensor d = randn64({2, 3}, rng);
  for (int axis : {0, 1, 2})
    EXPECT_TRUE(gradcheck([&](const V& x) { return stack({x[0], x[1]}, axis); }, {a, d}));
}

TEST(GradCheckSelect, IndexSelectAndGather) {
  Rng rng(116);
  const Tensor a = randn64({3, 4, 2}, rng);
  const Index idx({3, 0, 3, 1, 3});  // repeats accumulate
  EXPECT_TRUE(gradcheck([&](const V& x) { return index_select(x[0], 1, idx); }, {a}));
  EXPECT_TRUE(gradcheck([&](const V& x) { return index_select(x[0], 0, Index({2, 2})); }, {a}));
  const Index g({1, 1, 0, 3, 2, 2}, Shape{3, 2, 1});
  EXPECT_TRUE(gradcheck([&](const V& x) { return gather(x[0], 1, g); }, {a}));
  const Index g0({2, 2, 2, 0}, Shape{1, 2, 2});
  EXPECT_TRUE(gradcheck([&](const V& x) { return gather(transpose(x[0], 0, 2), 0, g0); }, {randn64({3, 4, 3}, rng)}));
}

}  // namespace
}  // namespace attend
