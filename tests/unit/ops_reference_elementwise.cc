// Reference*: f32 elementwise ops and reductions against the float64 naive references, on random
// inputs with broadcasting and non-contiguous (permuted, sliced) operands.
#include <cmath>
#include <limits>

#include "attend/ops/ops.h"
#include "reference/ops_reference.h"
#include "support/check.h"

namespace attend {
namespace {

using test::all_close;
using test::randn32;

constexpr double kAtol = 1e-5, kRtol = 1e-5;

Tensor positive32(const Shape& s, Rng& rng) { return Tensor::uniform(s, rng, 0.5, 2.0, DType::f32); }

TEST(ReferenceElementwise, BinaryOpsBroadcast) {
  Rng rng(11);
  const Tensor a = randn32({2, 3, 4}, rng);
  for (const Shape& bs : {Shape{2, 3, 4}, Shape{3, 1}, Shape{4}, Shape{}, Shape{2, 1, 4}, Shape{1, 2, 3, 4}}) {
    SCOPED_TRACE("b " + bs.str());
    const Tensor b = randn32(bs, rng);
    const Tensor bpos = positive32(bs, rng);
    EXPECT_TRUE(all_close(add(a, b), ref::add(a, b), kAtol, kRtol));
    EXPECT_TRUE(all_close(sub(a, b), ref::sub(a, b), kAtol, kRtol));
    EXPECT_TRUE(all_close(mul(a, b), ref::mul(a, b), kAtol, kRtol));
    EXPECT_TRUE(all_close(div(a, bpos), ref::div(a, bpos), kAtol, kRtol));
    EXPECT_TRUE(all_close(maximum(a, b), ref::maximum(a, b), 0.0));
    // broadcasting is symmetric: the smaller operand on the left too
    EXPECT_TRUE(all_close(sub(b, a), ref::sub(b, a), kAtol, kRtol));
    EXPECT_TRUE(all_close(a + b, ref::add(a, b), kAtol, kRtol));
    EXPECT_TRUE(all_close(a - b, ref::sub(a, b), kAtol, kRtol));
    EXPECT_TRUE(all_close(a * b, ref::mul(a, b), kAtol, kRtol));
    EXPECT_TRUE(all_close(a / bpos, ref::div(a, bpos), kAtol, kRtol));
  }
}

TEST(ReferenceElementwise, NonContiguousOperands) {
  Rng rng(12);
  const Tensor a = permute(randn32({4, 3, 2}, rng), {2, 0, 1});       // [2, 4, 3], permuted
  const Tensor b = slice(randn32({2, 8, 3}, rng), 1, 1, 8, 2);        // [2, 4, 3], strided
  const Tensor c = transpose(randn32({3, 4}, rng), 0, 1);             // [4, 3], broadcasts
  ASSERT_FALSE(a.is_contiguous());
  ASSERT_FALSE(b.is_contiguous());
  EXPECT_TRUE(all_close(add(a, b), ref::add(a, b), kAtol, kRtol));
  EXPECT_TRUE(all_close(mul(a, c), ref::mul(a, c), kAtol, kRtol));
  EXPECT_TRUE(all_close(maximum(c, b), ref::maximum(c, b), 0.0));
  EXPECT_TRUE(all_close(exp(a), ref::exp(a), kAtol, kRtol));
  EXPECT_TRUE(all_close(gelu(b), ref::gelu(b, GeluApprox::none), kAtol, kRtol));
  EXPECT_TRUE(all_close(add(a, 0.25), ref::add_scalar(a, 0.25), kAtol, kRtol));
}

TEST(ReferenceElementwise, ScalarForms) {
  Rng rng(13);
  const Tensor x = randn32({3, 5}, rng);
  EXPECT_TRUE(all_close(add(x, 2.5), ref::add_scalar(x, 2.5), kAtol, kRtol));
  EXPECT_TRUE(all_close(mul(x, -1.5), ref::mul_scalar(x, -1.5), kAtol, kRtol));
  EXPECT_TRUE(all_close(x - 0.5, ref::add_scalar(x, -0.5), kAtol, kRtol));
  EXPECT_TRUE(all_close(x / 4.0, ref::mul_scalar(x, 0.25), kAtol, kRtol));
  EXPECT_TRUE(all_close(3.0 * x, ref::mul_scalar(x, 3.0), kAtol, kRtol));
  EXPECT_TRUE(all_close(-x, ref::neg(x), 0.0));
}

TEST(ReferenceElementwise, UnaryOps) {
  Rng rng(14);
  const Tensor x = mul(randn32({4, 7}, rng), 2.0);
  const Tensor p = positive32({4, 7}, rng);
  EXPECT_TRUE(all_close(neg(x), ref::neg(x), 0.0));
  EXPECT_TRUE(all_close(exp(x), ref::exp(x), kAtol, kRtol));
  EXPECT_TRUE(all_close(log(p), ref::log(p), kAtol, kRtol));
  EXPECT_TRUE(all_close(sqrt(p), ref::sqrt(p), kAtol, kRtol));
  EXPECT_TRUE(all_close(square(x), ref::square(x), kAtol, kRtol));
  EXPECT_TRUE(all_close(tanh(x), ref::tanh(x), kAtol, kRtol));
  EXPECT_TRUE(all_close(sigmoid(x), ref::sigmoid(x), kAtol, kRtol));
  EXPECT_TRUE(all_close(relu(x), ref::relu(x), 0.0));
  EXPECT_TRUE(all_close(gelu(x, GeluApprox::none), ref::gelu(x, GeluApprox::none), kAtol, kRtol));
  EXPECT_TRUE(all_close(gelu(x, GeluApprox::tanh), ref::gelu(x, GeluApprox::tanh), kAtol, kRtol));
  EXPECT_TRUE(all_close(pow(p, 2.5), ref::pow(p, 2.5), kAtol, kRtol));
  EXPECT_TRUE(all_close(pow(p, -0.5), ref::pow(p, -0.5), kAtol, kRtol));
  EXPECT_TRUE(all_close(pow(x, 3.0), ref::pow(x, 3.0), kAtol, kRtol));  // integer power of negatives
}

TEST(ReferenceElementwise, SaturatingInputsStayFinite) {
  const Tensor x = Tensor::from_vector(std::vector<float>{-1000.f, -100.f, -20.f, 0.f, 20.f, 100.f, 1000.f}, {7});
  EXPECT_TRUE(all_close(sigmoid(x), ref::sigmoid(x), kAtol, kRtol));
  EXPECT_TRUE(all_close(tanh(x), ref::tanh(x), kAtol, kRtol));
  EXPECT_TRUE(all_close(gelu(x, GeluApprox::none), ref::gelu(x, GeluApprox::none), kAtol, kRtol));
  EXPECT_TRUE(all_close(gelu(x, GeluApprox::tanh), ref::gelu(x, GeluApprox::tanh), kAtol, kRtol));
}

TEST(ReferenceReduce, SumMeanOverAxesWithKeepdim) {
  Rng rng(15);
  const Tensor base = randn32({3, 4, 5}, rng);
  const Tensor strided = permute(randn32({5, 3, 4}, rng), {1, 2, 0});  // [3, 4, 5], non-contiguous
  for (const Tensor& x : {base, strided}) {
    for (const std::vector<int>& axes : std::vector<std::vector<int>>{{}, {0}, {1}, {-1}, {0, 2}, {2, 0, 1}}) {
      for (bool keepdim : {false, true}) {
        SCOPED_TRACE(testing::Message() << "axes size " << axes.size() << " keepdim " << keepdim);
        EXPECT_TRUE(all_close(sum(x, axes, keepdim), ref::sum(x, axes, keepdim), 1e-5, 1e-5));
        EXPECT_TRUE(all_close(mean(x, axes, keepdim), ref::mean(x, axes, keepdim), 1e-6, 1e-5));
      }
    }
  }
}

TEST(ReferenceReduce, MaxAndArgmax) {
  Rng rng(16);
  const Tensor x = transpose(randn32({5, 3, 4}, rng), 0, 2);  // [4, 3, 5], non-contiguous
  for (int axis : {0, 1, 2, -1}) {
    for (bool keepdim : {false, true}) {
      EXPECT_TRUE(all_close(max(x, axis, keepdim), ref::max(x, axis, keepdim), 0.0));
    }
    const Index got = argmax(x, axis), want = ref::argmax(x, axis);
    EXPECT_EQ(got.shape, want.shape);
    EXPECT_EQ(got.data, want.data);
  }
}

TEST(ReferenceReduce, ArgmaxTakesTheFirstOfTies) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 3, 3, 2, 5, 5, 5, 0}, {2, 4});
  const Index got = argmax(x, 1);
  EXPECT_EQ(got.data, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(got.data, ref::argmax(x, 1).data);
}

}  // namespace
}  // namespace attend
