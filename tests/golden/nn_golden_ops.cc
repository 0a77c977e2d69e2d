// Golden tests (oracle 3) for the functional ops PyTorch also has: softmax, log_softmax,
// layer_norm (with affine), cross_entropy with label smoothing and ignore_index. Values and the
// gradients of sum(out * proj) w.r.t. the inputs, from scripts/golden/make_golden.py (PyTorch 1.13,
// float64). f64 to ~1e-10, f32 to ~1e-5.
#include <gtest/gtest.h>

#include <string>

#include "attend/ops/ops.h"
#include "support/check.h"
#include "support/golden.h"

namespace attend {
namespace {

using test::all_close;
using test::Golden;

double atol_for(DType dt) { return dt == DType::f64 ? 1e-10 : 1e-5; }
double rtol_for(DType dt) { return dt == DType::f64 ? 1e-10 : 1e-5; }

void check_softmax_family(const std::string& name, Tensor (*fn)(const Tensor&, int), DType dt) {
  SCOPED_TRACE(name);
  const Golden g = Golden::load(name);
  for (int axis : {1, 2}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    const std::string a = "_axis" + std::to_string(axis);
    Tensor x = g.tensor("x", dt).set_requires_grad(true);  // [2, 3, 5], one logit of 60
    const Tensor y = fn(x, axis);
    EXPECT_TRUE(all_close(y, g.tensor("out" + a), atol_for(dt), rtol_for(dt)));
    sum(mul(y, g.tensor("proj" + a, dt))).backward();
    EXPECT_TRUE(all_close(x.grad(), g.tensor("grad" + a), atol_for(dt), rtol_for(dt)));
  }
}

TEST(GoldenSoftmax, ValuesAndGradF64) { check_softmax_family("softmax", &softmax, DType::f64); }
TEST(GoldenSoftmax, ValuesAndGradF32) { check_softmax_family("softmax", &softmax, DType::f32); }
TEST(GoldenLogSoftmax, ValuesAndGradF64) { check_softmax_family("log_softmax", &log_softmax, DType::f64); }
TEST(GoldenLogSoftmax, ValuesAndGradF32) { check_softmax_family("log_softmax", &log_softmax, DType::f32); }

void check_layer_norm(DType dt) {
  const Golden g = Golden::load("layer_norm");
  Tensor x = g.tensor("x", dt).set_requires_grad(true);       // [2, 3, 8]
  Tensor w = g.tensor("weight", dt).set_requires_grad(true);  // [8]
  Tensor b = g.tensor("bias", dt).set_requires_grad(true);    // [8]
  const Tensor y = layer_norm(x, static_cast<int>(g.config_int("normalized_dims")), w, b, g.config_double("eps"));
  EXPECT_TRUE(all_close(y, g.tensor("out"), atol_for(dt), rtol_for(dt)));
  sum(mul(y, g.tensor("proj", dt))).backward();
  EXPECT_TRUE(all_close(x.grad(), g.tensor("grad.x"), atol_for(dt), rtol_for(dt))) << "grad x";
  EXPECT_TRUE(all_close(w.grad(), g.tensor("grad.weight"), atol_for(dt), rtol_for(dt))) << "grad weight";
  EXPECT_TRUE(all_close(b.grad(), g.tensor("grad.bias"), atol_for(dt), rtol_for(dt))) << "grad bias";
}

TEST(GoldenLayerNorm, AffineValuesAndGradsF64) { check_layer_norm(DType::f64); }
TEST(GoldenLayerNorm, AffineValuesAndGradsF32) { check_layer_norm(DType::f32); }

void check_cross_entropy(DType dt) {
  const Golden g = Golden::load("cross_entropy");
  const Index targets = g.ints("targets");  // [6], two rows hit ignore_index
  const CrossEntropyOptions base{.ignore_index = g.config_int("ignore_index"),
                                 .label_smoothing = g.config_double("label_smoothing")};
  for (const auto& [red, reduction] : {std::pair{"mean", Reduction::mean}, std::pair{"sum", Reduction::sum},
                                       std::pair{"none", Reduction::none}}) {
    SCOPED_TRACE(std::string("reduction ") + red);
    Tensor logits = g.tensor("logits", dt).set_requires_grad(true);  // [6, 5]
    CrossEntropyOptions opt = base;
    opt.reduction = reduction;
    const Tensor loss = cross_entropy(logits, targets, opt);
    EXPECT_TRUE(all_close(loss, g.tensor(std::string("loss_") + red), atol_for(dt), rtol_for(dt)));
    sum(mul(loss, g.tensor(std::string("proj_") + red, dt))).backward();
    EXPECT_TRUE(all_close(logits.grad(), g.tensor(std::string("grad_") + red), atol_for(dt), rtol_for(dt)));
  }
}

TEST(GoldenCrossEntropy, LabelSmoothingIgnoreIndexF64) { check_cross_entropy(DType::f64); }
TEST(GoldenCrossEntropy, LabelSmoothingIgnoreIndexF32) { check_cross_entropy(DType::f32); }

}  // namespace
}  // namespace attend
