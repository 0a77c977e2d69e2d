// Golden tests (oracle 3) for conv2d, max_pool2d and avg_pool2d: PyTorch's values and the
// gradients of sum(out * proj), from scripts/golden/make_conv_golden.py (PyTorch 1.13, float64).
// f64 to ~1e-10, f32 to ~1e-5.
#include <gtest/gtest.h>

#include <string>

#include "attend/ops/ops.h"
#include "support/check.h"
#include "support/golden.h"

namespace attend {
namespace {

using test::all_close;
using test::Golden;

double tol(DType dt) { return dt == DType::f64 ? 1e-10 : 1e-5; }

void check_conv(DType dt) {
  const Golden g = Golden::load("conv2d");
  for (const std::string name : {"a", "patch", "pointwise"}) {
    SCOPED_TRACE(name);
    const auto c = [&](const char* k) { return g.config_int(name + "." + k); };
    const Conv2dOptions o{.stride_h = c("stride_h"), .stride_w = c("stride_w"), .pad_h = c("pad_h"),
                          .pad_w = c("pad_w"), .dilation_h = c("dilation_h"), .dilation_w = c("dilation_w")};
    const bool has_bias = g.config_bool(name + ".bias");
    Tensor x = g.tensor(name + ".x", dt).set_requires_grad(true), w = g.tensor(name + ".w", dt).set_requires_grad(true);
    Tensor b = has_bias ? g.tensor(name + ".b", dt).set_requires_grad(true) : Tensor();
    const Tensor y = conv2d(x, w, b, o);
    EXPECT_TRUE(all_close(y, g.tensor(name + ".out"), tol(dt), tol(dt)));
    sum(mul(y, g.tensor(name + ".proj", dt))).backward();
    EXPECT_TRUE(all_close(x.grad(), g.tensor(name + ".grad.x"), tol(dt), tol(dt))) << "grad x";
    EXPECT_TRUE(all_close(w.grad(), g.tensor(name + ".grad.w"), tol(dt), tol(dt))) << "grad w";
    if (has_bias) {
      EXPECT_TRUE(all_close(b.grad(), g.tensor(name + ".grad.b"), tol(dt), tol(dt))) << "grad b";
    }
  }
}

TEST(GoldenConv, Conv2dValuesAndGradsF64) { check_conv(DType::f64); }
TEST(GoldenConv, Conv2dValuesAndGradsF32) { check_conv(DType::f32); }

void check_pool(DType dt) {
  const Golden g = Golden::load("pool2d");
  for (const std::string name : {"max_k2", "max_k3s2p1", "avg_k3s2p1", "avg_k3s2p1_nopad", "avg_k3x2s1p1x0"}) {
    SCOPED_TRACE(name);
    const auto c = [&](const char* k) { return g.config_int(name + "." + k); };
    const Pool2dOptions o{.kernel_h = c("kernel_h"), .kernel_w = c("kernel_w"), .stride_h = c("stride_h"),
                          .stride_w = c("stride_w"), .pad_h = c("pad_h"), .pad_w = c("pad_w"),
                          .count_pad = g.config_bool(name + ".count_include_pad")};
    Tensor x = g.tensor("x", dt).set_requires_grad(true);
    const Tensor y = g.config_bool(name + ".max") ? max_pool2d(x, o) : avg_pool2d(x, o);
    EXPECT_TRUE(all_close(y, g.tensor(name + ".out"), tol(dt), tol(dt)));
    sum(mul(y, g.tensor(name + ".proj", dt))).backward();
    EXPECT_TRUE(all_close(x.grad(), g.tensor(name + ".grad"), tol(dt), tol(dt))) << "grad";
  }
}

TEST(GoldenPool, MaxAndAvgValuesAndGradsF64) { check_pool(DType::f64); }
TEST(GoldenPool, MaxAndAvgValuesAndGradsF32) { check_pool(DType::f32); }

}  // namespace
}  // namespace attend
