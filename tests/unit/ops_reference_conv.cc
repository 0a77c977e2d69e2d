// Reference*: conv2d, max_pool2d, avg_pool2d in f32 against the float64 definitions (strides,
// padding, dilation, bias, 1x1 and whole-image kernels, batches, 1 and 2 threads); pooling's
// documented rules (NaN, padding in the divisor, the gradient to the first maximum); bad input.
#include <cmath>
#include <limits>

#include "attend/core/threads.h"
#include "attend/ops/ops.h"
#include "reference/ops_reference.h"
#include "support/check.h"

namespace attend {
namespace {

using test::all_close;
using test::expect_error;
using test::randn32;

struct ConvCase {
  Shape x, w;
  Conv2dOptions opt;
  bool bias;
};

TEST(ReferenceConv, Conv2dMatchesTheDefinition) {
  Rng rng(301);
  const ConvCase cases[] = {
      {{2, 3, 9, 8}, {4, 3, 3, 3}, {}, true},
      {{1, 2, 7, 7}, {5, 2, 3, 2}, {.stride_h = 2, .stride_w = 3, .pad_h = 1, .pad_w = 2}, false},
      {{2, 1, 28, 28}, {6, 1, 4, 4}, {.stride_h = 4, .stride_w = 4}, true},  // ViT's patch embedding
      {{1, 3, 10, 11}, {2, 3, 3, 3}, {.pad_h = 2, .pad_w = 2, .dilation_h = 2, .dilation_w = 3}, true},
      {{3, 4, 5, 6}, {7, 4, 1, 1}, {}, true},                                   // 1x1
      {{2, 2, 4, 5}, {3, 2, 4, 5}, {}, true},                                   // the whole image
  };
  for (const int threads : {1, 2})
    for (const ConvCase& c : cases) {
      SCOPED_TRACE(c.x.str() + " * " + c.w.str() + ", threads " + std::to_string(threads));
      const int saved = num_threads();
      set_num_threads(threads);
      const Tensor x = randn32(c.x, rng), w = randn32(c.w, rng), b = c.bias ? randn32({c.w[0]}, rng) : Tensor();
      const Tensor y = conv2d(x, w, b, c.opt);
      set_num_threads(saved);
      EXPECT_TRUE(all_close(y, ref::conv2d(x, w, b, c.opt), 1e-5, 1e-4));
    }
}

TEST(ReferenceConv, PoolingMatchesTheDefinition) {
  Rng rng(302);
  const Pool2dOptions opts[] = {
      {},                                                                    // 2x2, stride 2
      {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1},
      {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .count_pad = false},
      {.kernel_h = 3, .kernel_w = 2, .stride_h = 1, .stride_w = 1},          // overlapping windows
      {.kernel_h = 7, .kernel_w = 9},                                        // the whole image
  };
  for (const Pool2dOptions& o : opts) {
    SCOPED_TRACE("kernel " + std::to_string(o.kernel_h) + "x" + std::to_string(o.kernel_w) + " pad " +
                 std::to_string(o.pad_h) + (o.count_pad ? "" : " (padding not counted)"));
    const Tensor x = randn32({2, 3, 7, 9}, rng);
    EXPECT_TRUE(all_close(max_pool2d(x, o), ref::max_pool2d(x, o), 0.0, 0.0));
    EXPECT_TRUE(all_close(avg_pool2d(x, o), ref::avg_pool2d(x, o), 1e-6, 1e-6));
  }
}

TEST(SemanticsPool, NanWinsTheMaxAndTheGradientGoesToTheFirstMaximum) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 5, 5, 2, nan, 0, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0}, {1, 1, 4, 4});
  const Tensor y = max_pool2d(x, {});  // windows: {1 5 nan 0}, {5 2 3 3}, {1 1 0 0}, {1 1 0 0}
  const auto v = y.to_vector<double>();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 5.0);
  Tensor t = Tensor::from_vector(std::vector<double>{1, 5, 5, 2, 4, 0, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0}, {1, 1, 4, 4});
  t.set_requires_grad(true);
  sum(max_pool2d(t, {})).backward();
  // tied maxima: window 2's two 5s? no, window 1 = {5, 2, 3, 3} at (0,2): one 5; windows 3, 4: the first 1
  EXPECT_EQ(t.grad().to_vector<double>(), (std::vector<double>{0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0}));
}

TEST(BadInputConv, ShapesAndOptionsAreNamed) {
  const Tensor x = Tensor::ones({1, 3, 8, 8}), w = Tensor::ones({4, 3, 3, 3});
  expect_error([&] { conv2d(Tensor::ones({3, 8, 8}), w); }, "[conv2d]", {"[3, 8, 8]", "4-d"});
  expect_error([&] { conv2d(x, Tensor::ones({4, 2, 3, 3})); }, "[conv2d]", {"3 channels", "[4, 2, 3, 3]"});
  expect_error([&] { conv2d(x, Tensor::ones({4, 3, 9, 3})); }, "[conv2d]", {"spans 9", "H", "[1, 3, 8, 8]"});
  expect_error([&] { conv2d(x, w, Tensor::ones({5})); }, "[conv2d]", {"bias", "[5]", "[4]"});
  expect_error([&] { conv2d(x, w, Tensor(), {.stride_h = 0}); }, "[conv2d]", {"stride 0"});
  expect_error([&] { conv2d(x, w, Tensor(), {.pad_w = -1}); }, "[conv2d]", {"padding -1"});
  expect_error([&] { conv2d(x, w.to(DType::f64)); }, "[conv2d]", {"dtypes"});
  expect_error([&] { max_pool2d(Tensor::ones({8, 8}), {}); }, "[max_pool2d]", {"[8, 8]", "4-d"});
  expect_error([&] { avg_pool2d(x, {.kernel_h = 2, .kernel_w = 2, .pad_h = 2}); }, "[avg_pool2d]", {"half the kernel"});
  expect_error([&] { max_pool2d(x, {.kernel_h = 9, .kernel_w = 2}); }, "[max_pool2d]", {"spans 9"});
}

}  // namespace
}  // namespace attend
