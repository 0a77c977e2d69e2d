// GradCheck*: finite differences in float64 for conv2d (input, weight, bias; strides, padding,
// dilation, batches) and the pools.
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

using test::gradcheck;
using test::randn64;
using V = std::vector<Tensor>;

TEST(GradCheckConv, Conv2dInputWeightAndBias) {
  Rng rng(311);
  const Conv2dOptions opts[] = {{}, {.stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 2},
                                {.pad_h = 1, .pad_w = 1, .dilation_h = 2, .dilation_w = 1}};
  for (const Conv2dOptions& o : opts) {
    const Tensor x = randn64({2, 2, 6, 5}, rng), w = randn64({3, 2, 3, 2}, rng), b = randn64({3}, rng);
    EXPECT_TRUE(gradcheck([&](const V& v) { return conv2d(v[0], v[1], v[2], o); }, {x, w, b}));
    EXPECT_TRUE(gradcheck([&](const V& v) { return conv2d(v[0], v[1], Tensor(), o); }, {x, w}));
  }
}

TEST(GradCheckConv, MaxAndAvgPool) {
  Rng rng(312);
  const Pool2dOptions opts[] = {{}, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1},
                                {.kernel_h = 3, .kernel_w = 2, .stride_h = 1, .stride_w = 1, .pad_h = 1, .count_pad = false}};
  for (const Pool2dOptions& o : opts) {
    const Tensor x = randn64({2, 2, 5, 6}, rng);  // no ties: the max is differentiable
    EXPECT_TRUE(gradcheck([&](const V& v) { return max_pool2d(v[0], o); }, {x}));
    EXPECT_TRUE(gradcheck([&](const V& v) { return avg_pool2d(v[0], o); }, {x}));
  }
}

}  // namespace
}  // namespace attend
