// GradCheck*: finite differences in float64 (PyTorch's gradcheck defaults) for every elementwise
// op and reduction, with broadcasting so that the sum_to of each gradient is exercised.
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

using test::gradcheck;
using test::randn64;
using V = std::vector<Tensor>;

Tensor positive64(const Shape& s, Rng& rng) { return Tensor::uniform(s, rng, 0.5, 2.0, DType::f64); }

TEST(GradCheckElementwise, BinaryOpsWithBroadcasting) {
  Rng rng(101);
  for (const Shape& bs : {Shape{2, 3, 4}, Shape{3, 1}, Shape{4}, Shape{}, Shape{2, 1, 4}}) {
    SCOPED_TRACE("b " + bs.str());
    const Tensor a = randn64({2, 3, 4}, rng), b = randn64(bs, rng), bp = positive64(bs, rng);
    EXPECT_TRUE(gradcheck([](const V& x) { return add(x[0], x[1]); }, {a, b}));
    EXPECT_TRUE(gradcheck([](const V& x) { return sub(x[1], x[0]); }, {a, b}));
    EXPECT_TRUE(gradcheck([](const V& x) { return mul(x[0], x[1]); }, {a, b}));
    EXPECT_TRUE(gradcheck([](const V& x) { return div(x[0], x[1]); }, {a, bp}));
    EXPECT_TRUE(gradcheck([](const V& x) { return div(x[1], x[0]); }, {positive64({2, 3, 4}, rng), b}));
    EXPECT_TRUE(gradcheck([](const V& x) { return maximum(x[0], x[1]); }, {a, b}));
  }
}

TEST(GradCheckElementwise, SameTensorOnBothSides) {
  Rng rng(102);
  const Tensor a = randn64({3, 4}, rng);
  EXPECT_TRUE(gradcheck([](const V& x) { return mul(x[0], x[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return add(x[0], x[0]); }, {a}));
}

TEST(GradCheckElementwise, ScalarForms) {
  Rng rng(103);
  const Tensor a = randn64({3, 4}, rng);
  EXPECT_TRUE(gradcheck([](const V& x) { return add(x[0], 1.5); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return mul(x[0], -2.5); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return x[0] / 3.0 - 1.0; }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return -x[0]; }, {a}));
}

TEST(GradCheckElementwise, UnaryOps) {
  Rng rng(104);
  const Tensor a = randn64({3, 5}, rng), p = positive64({3, 5}, rng);
  EXPECT_TRUE(gradcheck([](const V& x) { return neg(x[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return exp(x[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return log(x[0]); }, {p}));
  EXPECT_TRUE(gradcheck([](const V& x) { return sqrt(x[0]); }, {p}));
  EXPECT_TRUE(gradcheck([](const V& x) { return square(x[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return tanh(x[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return sigmoid(x[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return relu(x[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](const V& x) { return gelu(x[0], GeluApprox::none); }, {mul(a, 2.0)}));
  EXPECT_TRUE(gradcheck([](const V& x) { return gelu(x[0], GeluApprox::tanh); }, {mul(a, 2.0)}));
  EXPECT_TRUE(gradcheck([](const V& x) { return pow(x[0], 2.5); }, {p}));
  EXPECT_TRUE(gradcheck([](const V& x) { return pow(x[0], -1.5); }, {p}));
  EXPECT_TRUE(gradcheck([](const V& x) { return pow(x[0], 3.0); }, {a}));
}

TEST(GradCheckElementwise, NonContiguousInputs) {
  Rng rng(105);
  const Tensor a = randn64({4, 3}, rng), b = randn64({3, 4}, rng);
  EXPECT_TRUE(gradcheck([](const V& x) { return mul(transpose(x[0], 0, 1), tanh(x[1])); }, {a, b}));
}

TEST(GradCheckReduce, SumMeanOverAxesWithKeepdim) {
  Rng rng(106);
  const Tensor a = randn64({2, 3, 4}, rng);
  for (const std::vector<int>& axes : std::vector<std::vector<int>>{{}, {0}, {-1}, {0, 2}}) {
    for (bool keepdim : {false, true}) {
      EXPECT_TRUE(gradcheck([&](const V& x) { return sum(x[0], axes, keepdim); }, {a}));
      EXPECT_TRUE(gradcheck([&](const V& x) { return mean(x[0], axes, keepdim); }, {a}));
    }
  }
}

TEST(GradCheckReduce, MaxOverEachAxis) {
  Rng rng(107);
  const Tensor a = randn64({3, 4, 5}, rng);
  for (int axis : {0, 1, -1})
    for (bool keepdim : {false, true})
      EXPECT_TRUE(gradcheck([&](const V& x) { return max(x[0], axis, keepdim); }, {a}));
}

TEST(GradCheckReduce, MaxGradientGoesToTheFirstMaximum) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 3, 3, 2}, {1, 4});
  x.set_requires_grad(true);
  sum(max(x, 1)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 1, 0, 0}));
}

}  // namespace
}  // namespace attend
