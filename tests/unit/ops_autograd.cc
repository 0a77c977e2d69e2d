// Semantics* of the autograd engine as the ops use it: accumulation into leaves, zero_grad,
// NoGrad, freeing the graph after backward (and retain_graph), diamond-shaped graphs, and the
// errors of backward.
#include <string>

#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

using test::all_close;

Tensor leaf(const std::vector<double>& v, const Shape& s) {
  Tensor t = Tensor::from_vector(v, s);
  t.set_requires_grad(true);
  return t;
}

using test::expect_error;

TEST(SemanticsAutograd, GradientsAccumulateAcrossBackwards) {
  Tensor x = leaf({1, -2, 3}, {3});
  sum(mul(x, 2.0)).backward();
  EXPECT_TRUE(all_close(x.grad(), Tensor::full({3}, 2.0, DType::f64), 0.0));
  sum(mul(x, x)).backward();  // d/dx x^2 = 2x, added to the previous 2
  EXPECT_TRUE(all_close(x.grad(), Tensor::from_vector(std::vector<double>{4, -2, 8}, {3}), 0.0));
}

TEST(SemanticsAutograd, ZeroGradClears) {
  Tensor x = leaf({1, 2}, {2});
  sum(exp(x)).backward();
  ASSERT_TRUE(x.grad().defined());
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(mul(x, 3.0)).backward();
  EXPECT_TRUE(all_close(x.grad(), Tensor::full({2}, 3.0, DType::f64), 0.0));
}

TEST(SemanticsAutograd, NoGradRecordsNothing) {
  Tensor x = leaf({1, 2, 3}, {3});
  {
    NoGrad guard;
    EXPECT_FALSE(grad_enabled());
    const Tensor y = softmax(mul(x, 2.0), 0);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    const Tensor l = cross_entropy(reshape(x, {1, 3}), Index({1}));
    EXPECT_EQ(l.grad_fn(), nullptr);
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_NE(mul(x, 2.0).grad_fn(), nullptr);
}

TEST(SemanticsAutograd, GraphIsFreedAfterBackward) {
  Tensor x = leaf({0.5, -1.0}, {2});
  const Tensor y = sum(exp(x));
  y.backward();
  EXPECT_TRUE(y.grad_fn()->released);
  expect_error([&] { y.backward(); }, "[backward]", {"second time", "retain_graph"});
  // a new root over an intermediate whose node was freed names the freed node
  Tensor z = leaf({1, 2}, {2});
  const Tensor e = exp(z);
  sum(e).backward();
  expect_error([&] { sum(mul(e, 2.0)).backward(); }, "[backward]", {"exp", "freed"});
}

TEST(SemanticsAutograd, RetainGraphAllowsASecondBackward) {
  Tensor x = leaf({0.5, -1.0}, {2});
  const Tensor y = sum(square(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_TRUE(all_close(x.grad(), Tensor::from_vector(std::vector<double>{2.0, -4.0}, {2}), 0.0));  // 2 * 2x
}

TEST(SemanticsAutograd, DiamondSumsBothPaths) {
  // a = 3x feeds both a*a and a: y = sum(a^2 + a), dy/dx = (2a + 1) * 3
  Tensor x = leaf({1, -2, 0.5}, {3});
  const Tensor a = mul(x, 3.0);
  sum(add(mul(a, a), a)).backward();
  EXPECT_TRUE(all_close(x.grad(), Tensor::from_vector(std::vector<double>{21, -33, 12}, {3}), 1e-12));
  // the same leaf through two ops that join later (concat of two views of x)
  Tensor w = leaf({1, 2, 3, 4}, {2, 2});
  sum(mul(concat({w, transpose(w, 0, 1)}, 0), 2.0)).backward();
  EXPECT_TRUE(all_close(w.grad(), Tensor::full({2, 2}, 4.0, DType::f64), 0.0));
}

TEST(SemanticsAutograd, ManyUsesSumWithoutTouchingSharedGradients) {
  // a = 2x used four times, twice through add(a, a), whose backward hands one tensor to both
  // inputs: the engine sums into its own buffer after the first use and never into a tensor
  // another slot (or the caller's grad_output) still holds. y = 2(a + a) + a * 1 + a, dy/da = 6.
  Tensor x = leaf({1, -2, 0.5}, {3});
  const Tensor a = mul(x, 2.0);
  const Tensor y = add(add(mul(add(a, a), 2.0), mul(a, 1.0)), a);
  const Tensor seed = Tensor::from_vector(std::vector<double>{1, 10, 100}, {3});
  y.backward(seed);
  EXPECT_TRUE(all_close(x.grad(), Tensor::from_vector(std::vector<double>{12, 120, 1200}, {3}), 1e-12));
  EXPECT_TRUE(all_close(seed, Tensor::from_vector(std::vector<double>{1, 10, 100}, {3}), 0.0));
}

// A leaf's gradient is its own memory: the engine keeps a backward's fresh buffer without a copy,
// but never one that another leaf, a view or the caller's grad_output shares. Each gradient is
// changed in place afterwards (as clipping and accumulation do) and the others stay put.
TEST(SemanticsAutograd, LeafGradientsNeverShareMemory) {
  Tensor a = leaf({1, 2}, {2}), b = leaf({3, 4}, {2}), w = leaf({1, 2, 3, 4}, {2, 2});
  const Tensor seed = Tensor::from_vector(std::vector<double>{5, 6}, {2});
  add(a, b).backward(seed);  // add's backward hands the same tensor to both inputs
  Tensor ga = a.grad();
  add_inplace(ga, Tensor::ones({2}, DType::f64));
  EXPECT_TRUE(all_close(b.grad(), seed, 0.0));
  EXPECT_TRUE(all_close(seed, Tensor::from_vector(std::vector<double>{5, 6}, {2}), 0.0));
  reshape(w, {4}).backward(Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {4}));  // a view of the seed
  const Tensor m = Tensor::from_vector(std::vector<double>{1, 1}, {2});
  sum(matmul(w, m)).backward();  // a fresh buffer: accumulated into w's own gradient
  Tensor gw = w.grad();
  add_inplace(gw, Tensor::ones({2, 2}, DType::f64));
  EXPECT_TRUE(all_close(w.grad(), Tensor::from_vector(std::vector<double>{3, 4, 5, 6}, {2, 2}), 0.0));
  Tensor x = leaf({1, -1}, {2});
  sum(mul(x, 3.0)).backward();
  Tensor gx = x.grad();
  add_inplace(gx, Tensor::ones({2}, DType::f64));
  EXPECT_TRUE(all_close(x.grad(), Tensor::full({2}, 4.0, DType::f64), 0.0));
}

TEST(SemanticsAutograd, NonScalarBackwardNeedsGradOutput) {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor y = exp(x);
  expect_error([&] { y.backward(); }, "[backward]", {"scalar", "[2, 3]"});
  expect_error([&] { y.backward(Tensor::ones({3, 2}, DType::f64)); }, "[backward]", {"[3, 2]", "[2, 3]"});
  y.backward(Tensor::ones({2, 3}, DType::f64));
  EXPECT_TRUE(all_close(x.grad(), exp(x.detach()), 1e-12));
}

TEST(BadInputAutograd, BackwardWithoutAGraph) {
  const Tensor x = Tensor::ones({2, 2});
  expect_error([&] { sum(x).backward(); }, "[backward]", {"does not require grad", "[]"});
  expect_error([&] { exp(x).backward(Tensor::ones({2, 2})); }, "[backward]", {"does not require grad", "[2, 2]"});
}

}  // namespace
}  // namespace attend
