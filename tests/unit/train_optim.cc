// Optimizers (hand-computed SGD momentum, in-place updates, state export/import), gradient
// clipping against a hand computation, the plateau scheduler and early stopping.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "attend/ops/ops.h"
#include "attend/train/optimizer.h"
#include "attend/train/schedule.h"
#include "support/check.h"

namespace attend::train {
namespace {

Tensor leaf(const std::vector<double>& v, const Shape& s, DType dt = DType::f64) {
  return Tensor::from_vector(v, s, dt).set_requires_grad();
}

void set_grad(Tensor& p, const std::vector<double>& g) {
  p.zero_grad();
  p.impl().grad = Tensor::from_vector(g, p.shape(), p.dtype()).impl_ptr();
}

using test::error_of;

TEST(TrainOptim, SgdMomentumByHand) {
  NamedParameters params{{"p", leaf({1.0, 2.0}, Shape{2})}};
  SGD sgd(params, SgdOptions{.lr = 0.1, .momentum = 0.9});
  set_grad(params[0].second, {1.0, 1.0});
  sgd.step();  // buf = g = [1, 1]; p = [0.9, 1.9]
  EXPECT_TRUE(test::all_close(params[0].second, Tensor::from_vector(std::vector<double>{0.9, 1.9}, Shape{2}), 1e-15));
  set_grad(params[0].second, {1.0, -1.0});
  sgd.step();  // buf = 0.9 [1, 1] + [1, -1] = [1.9, -0.1]; p = [0.9 - 0.19, 1.9 + 0.01]
  EXPECT_TRUE(test::all_close(params[0].second, Tensor::from_vector(std::vector<double>{0.71, 1.91}, Shape{2}), 1e-15));
  const OptimizerState st = sgd.state_dict();
  EXPECT_TRUE(test::all_close(st.tensors.at("p.momentum_buffer"),
                              Tensor::from_vector(std::vector<double>{1.9, -0.1}, Shape{2}), 1e-15));
  EXPECT_EQ(st.tensors.at("p.step").item(), 2.0);
}

TEST(TrainOptim, UpdatesInPlaceAndSkipsParametersWithoutGradient) {
  Tensor w = leaf({1.0, 2.0, 3.0}, Shape{3}, DType::f32);
  Tensor b = leaf({5.0}, Shape{1}, DType::f32);
  const void* storage = w.data<float>();
  Adam adam({{"w", w}, {"b", b}}, AdamOptions{.lr = 0.1});
  set_grad(w, {1.0, -1.0, 0.5});
  adam.step();
  EXPECT_EQ(w.data<float>(), storage);  // the same leaf, its own storage
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(w.requires_grad());
  // First Adam step moves every element by lr * sign(g) (up to eps).
  EXPECT_NEAR(w.at({0}), 0.9, 1e-6);
  EXPECT_NEAR(w.at({1}), 2.1, 1e-6);
  EXPECT_EQ(b.at({0}), 5.0);  // no gradient, no update, no state
  EXPECT_EQ(adam.state_dict().tensors.count("b.step"), 0u);
  adam.zero_grad();
  EXPECT_FALSE(w.grad().defined() && w.grad().at({0}) != 0.0);
}

TEST(TrainOptim, StateDictRoundTripContinuesIdentically) {
  Rng rng(3);
  const Tensor init = Tensor::randn(Shape{4, 3}, rng);
  Tensor a = init.clone().set_requires_grad();
  Tensor b = init.clone().set_requires_grad();
  Adam first({{"w", a}}, AdamOptions{.lr = 0.01, .weight_decay = 0.01});
  std::vector<std::vector<double>> grads;
  for (int s = 0; s < 4; ++s) grads.push_back(Tensor::randn(Shape{4, 3}, rng, DType::f64).to_vector<double>());
  for (int s = 0; s < 2; ++s) {
    set_grad(a, grads[static_cast<size_t>(s)]);
    first.step();
  }
  // A second optimizer over a copy of the weights, given the exported state.
  copy_into(b, a);
  Adam second({{"w", b}}, AdamOptions{.lr = 0.5, .weight_decay = 0.01});
  second.load_state_dict(first.state_dict());
  EXPECT_EQ(second.lr(), 0.01);
  for (int s = 2; s < 4; ++s) {
    set_grad(a, grads[static_cast<size_t>(s)]);
    set_grad(b, grads[static_cast<size_t>(s)]);
    first.step();
    second.step();
  }
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
}

TEST(BadInputTrainOptim, LoadStateDictNamesTheProblem) {
  NamedParameters params{{"enc.weight", leaf({1, 2, 3, 4}, Shape{2, 2})}};
  Adam adam(params);
  set_grad(params[0].second, {1, 1, 1, 1});
  adam.step();
  const OptimizerState good = adam.state_dict();

  OptimizerState unknown = good;
  unknown.tensors["dec.weight.exp_avg"] = Tensor::zeros(Shape{2, 2});
  EXPECT_NE(error_of([&] { adam.load_state_dict(unknown, "ck.safetensors"); })
                .find("ck.safetensors: unknown optimizer key 'dec.weight.exp_avg'"),
            std::string::npos);

  OptimizerState shape = good;
  shape.tensors["enc.weight.exp_avg"] = Tensor::zeros(Shape{4});
  const std::string e = error_of([&] { adam.load_state_dict(shape, "ck.safetensors"); });
  EXPECT_NE(e.find("'enc.weight.exp_avg' has shape [4], expected [2, 2]"), std::string::npos) << e;

  OptimizerState partial = good;
  partial.tensors.erase("enc.weight.exp_avg_sq");
  EXPECT_NE(error_of([&] { adam.load_state_dict(partial); }).find("has 2 of its 3 optimizer slots"),
            std::string::npos);

  OptimizerState kind = good;
  kind.kind = "sgd";
  EXPECT_NE(error_of([&] { adam.load_state_dict(kind); }).find("of optimizer 'sgd'"), std::string::npos);

  // Nothing changed by the failed loads.
  EXPECT_EQ(adam.state_dict().tensors.at("enc.weight.exp_avg").to_vector<double>(),
            good.tensors.at("enc.weight.exp_avg").to_vector<double>());
}

TEST(BadInputTrainOptim, RejectsBadOptions) {
  NamedParameters params{{"p", leaf({1}, Shape{1})}};
  EXPECT_THROW(Adam(params, AdamOptions{.beta1 = 1.0}), Error);
  EXPECT_THROW(Adam(params, AdamOptions{.lr = std::nan("")}), Error);
  EXPECT_THROW(SGD(params, SgdOptions{.momentum = 0.0, .nesterov = true}), Error);
  EXPECT_THROW(SGD({}, SgdOptions{}), Error);
  EXPECT_THROW(SGD({{"p", params[0].second}, {"p", params[0].second}}, SgdOptions{}), Error);
}

TEST(TrainOptim, ClipGradNormByHand) {
  Tensor a = leaf({0, 0}, Shape{2});
  Tensor b = leaf({0}, Shape{1});
  Tensor c = leaf({0}, Shape{1});  // no gradient: ignored
  const NamedParameters params{{"a", a}, {"b", b}, {"c", c}};
  set_grad(a, {3, 4});   // |a| = 5
  set_grad(b, {12});     // |b| = 12, total sqrt(25 + 144) = 13
  EXPECT_DOUBLE_EQ(clip_grad_norm(params, 20.0), 13.0);  // below max_norm: untouched
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{3, 4}));
  EXPECT_DOUBLE_EQ(clip_grad_norm(params, 6.5), 13.0);
  const double k = 6.5 / (13.0 + 1e-6);
  EXPECT_DOUBLE_EQ(a.grad().at({0}), 3 * k);
  EXPECT_DOUBLE_EQ(a.grad().at({1}), 4 * k);
  EXPECT_DOUBLE_EQ(b.grad().at({0}), 12 * k);
  EXPECT_NEAR(grad_norm(params), 6.5, 1e-6);

  set_grad(b, {std::numeric_limits<double>::infinity()});
  EXPECT_TRUE(std::isinf(clip_grad_norm(params, 1.0)));
  EXPECT_DOUBLE_EQ(a.grad().at({0}), 3 * k);  // untouched
  EXPECT_EQ(first_nonfinite(params, Check::gradients), "b");
  EXPECT_EQ(first_nonfinite(params, Check::values), "");
  EXPECT_THROW(clip_grad_norm(params, 0.0), Error);
}

// all_finite checks the exponent bits: NaN and both infinities anywhere, in f32 and f64, and
// nothing else (the largest finite value, denormals, -0).
TEST(TrainGradients, AllFiniteFindsEveryNonFiniteValue) {
  for (const DType dt : {DType::f32, DType::f64}) {
    const double big = dt == DType::f32 ? std::numeric_limits<float>::max() : std::numeric_limits<double>::max();
    const double tiny = dt == DType::f32 ? std::numeric_limits<float>::denorm_min() : std::numeric_limits<double>::denorm_min();
    std::vector<double> v(37, 0.0);
    v[0] = big;
    v[1] = -big;
    v[2] = tiny;
    v[3] = -0.0;
    EXPECT_TRUE(all_finite(Tensor::from_vector(v, Shape{37}, dt)));
    for (const double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity()})
      for (const int64_t at : {int64_t{0}, int64_t{17}, int64_t{36}}) {
        std::vector<double> w = v;
        w[static_cast<size_t>(at)] = bad;
        const Tensor u = Tensor::from_vector(w, Shape{37}, dt);
        EXPECT_FALSE(all_finite(u)) << bad << " at " << at;
        EXPECT_FALSE(all_finite(slice(u, 0, at, at + 1))) << "a view";
      }
  }
}

TEST(TrainSchedule, PlateauRelativeThresholdCooldownAndMinLr) {
  // Same rules as the golden (PyTorch) test, spelled out: patience 1, factor 0.5.
  ReduceLROnPlateau s(PlateauOptions{.factor = 0.5, .patience = 1, .threshold = 0.1, .min_lr = 0.3});
  EXPECT_EQ(s.step(1.0, 1.0), 1.0);   // best 1.0
  EXPECT_EQ(s.step(0.95, 1.0), 1.0);  // not < 0.9: bad 1
  EXPECT_EQ(s.step(0.95, 1.0), 0.5);  // bad 2 > patience: reduce
  EXPECT_EQ(s.step(0.95, 0.5), 0.5);
  EXPECT_EQ(s.step(0.95, 0.5), 0.3);  // 0.25 clipped to min_lr
  EXPECT_EQ(s.step(0.95, 0.3), 0.3);
  EXPECT_EQ(s.step(0.95, 0.3), 0.3);  // at min_lr: no change
  const PlateauState saved = s.state();
  ReduceLROnPlateau t(PlateauOptions{.factor = 0.5, .patience = 1, .threshold = 0.1, .min_lr = 0.3});
  t.set_state(saved);
  EXPECT_EQ(t.state(), saved);
  EXPECT_EQ(s.step(0.5, 0.3), t.step(0.5, 0.3));
  EXPECT_EQ(s.state(), t.state());
}

TEST(TrainSchedule, EarlyStoppingCountsEpochsWithoutImprovement) {
  EarlyStopping e(EarlyStoppingOptions{.mode = MetricMode::max, .patience = 2, .min_delta = 0.01});
  EXPECT_FALSE(e.step(10.0));
  EXPECT_TRUE(e.improved());
  EXPECT_FALSE(e.step(10.005));  // within min_delta
  EXPECT_FALSE(e.improved());
  EXPECT_FALSE(e.step(11.0));
  EXPECT_TRUE(e.improved());
  EXPECT_FALSE(e.step(std::nan("")));  // NaN never improves
  EXPECT_TRUE(e.step(10.0));
  EXPECT_EQ(e.state().bad_epochs, 2);
  EXPECT_EQ(e.state().best, 11.0);
}

}  // namespace
}  // namespace attend::train
