// GradCheck*: finite differences in float64 for matmul/linear and the nn ops: softmax,
// log_softmax, masked_fill, where, layer_norm, embedding, dropout, cross_entropy, mse_loss.
#include <limits>

#include "attend/ops/ops.h"
#include "reference/ops_reference.h"
#include "support/check.h"

namespace attend {
namespace {

using test::all_close;
using test::gradcheck;
using test::randn64;
using V = std::vector<Tensor>;

TEST(GradCheckMatmul, TwoDBatchedBroadcastAndVector) {
  Rng rng(121);
  struct Case {
    Shape a, b;
  };
  for (const Case& c : {Case{{3, 4}, {4, 2}}, Case{{2, 3, 4}, {2, 4, 5}}, Case{{2, 1, 3, 4}, {3, 4, 2}},
                        Case{{2, 3, 4}, {4, 2}}, Case{{3, 4}, {2, 4, 2}}, Case{{3, 4}, {4}}, Case{{2, 3, 4}, {4}}}) {
    SCOPED_TRACE(c.a.str() + " @ " + c.b.str());
    EXPECT_TRUE(gradcheck([](const V& x) { return matmul(x[0], x[1]); }, {randn64(c.a, rng), randn64(c.b, rng)}));
  }
}

TEST(GradCheckMatmul, TransposedOperands) {
  Rng rng(122);
  EXPECT_TRUE(gradcheck([](const V& x) { return matmul(transpose(x[0], -1, -2), x[1]); },
                        {randn64({2, 4, 3}, rng), randn64({2, 4, 5}, rng)}));
}

TEST(GradCheckMatmul, LinearWithAndWithoutBias) {
  Rng rng(123);
  const Tensor x = randn64({2, 3, 4}, rng), w = randn64({5, 4}, rng), b = randn64({5}, rng);
  EXPECT_TRUE(gradcheck([](const V& v) { return linear(v[0], v[1], v[2]); }, {x, w, b}));
  EXPECT_TRUE(gradcheck([](const V& v) { return linear(v[0], v[1]); }, {x, w}));
}

TEST(GradCheckSoftmax, SoftmaxAndLogSoftmaxAlongEachAxis) {
  Rng rng(124);
  const Tensor a = randn64({2, 3, 4}, rng);
  for (int axis : {0, 1, -1}) {
    EXPECT_TRUE(gradcheck([&](const V& x) { return softmax(x[0], axis); }, {a}));
    EXPECT_TRUE(gradcheck([&](const V& x) { return log_softmax(x[0], axis); }, {a}));
  }
}

TEST(GradCheckSoftmax, PartlyMaskedRows) {
  Rng rng(125);
  const Tensor m = Tensor::from_vector(std::vector<double>{0, 1, 0, 1, 1, 1, 0, 0}, {2, 4});
  const double ninf = -std::numeric_limits<double>::infinity();
  // masked entries get -inf: no gradient reaches them; the fully masked row gives zeros
  EXPECT_TRUE(gradcheck([&](const V& x) { return softmax(masked_fill(x[0], m, ninf), -1); }, {randn64({2, 4}, rng)}));
  EXPECT_TRUE(gradcheck([&](const V& x) { return softmax(masked_fill(x[0], expand(unsqueeze(m, 0), {3, 2, 4}), ninf), -1); },
                        {randn64({3, 2, 4}, rng)}));
}

TEST(GradCheckMasking, MaskedFillAndWhere) {
  Rng rng(126);
  const Tensor m = Tensor::bernoulli({3, 1}, rng, 0.5, DType::f64);
  EXPECT_TRUE(gradcheck([&](const V& x) { return masked_fill(x[0], m, 2.0); }, {randn64({2, 3, 4}, rng)}));
  const Tensor c = Tensor::bernoulli({3, 4}, rng, 0.5, DType::f64);
  EXPECT_TRUE(gradcheck([&](const V& x) { return where(c, x[0], x[1]); }, {randn64({3, 4}, rng), randn64({2, 1, 4}, rng)}));
  EXPECT_TRUE(gradcheck([&](const V& x) { return where(c, x[0], x[1]); }, {randn64({4}, rng), randn64({3, 4}, rng)}));
}

TEST(GradCheckLayerNorm, WithAndWithoutAffine) {
  Rng rng(127);
  const Tensor x = randn64({2, 3, 5}, rng), w = randn64({5}, rng), b = randn64({5}, rng);
  EXPECT_TRUE(gradcheck([](const V& v) { return layer_norm(v[0], 1, v[1], v[2]); }, {x, w, b}));
  EXPECT_TRUE(gradcheck([](const V& v) { return layer_norm(v[0], 1, Tensor(), Tensor()); }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return layer_norm(v[0], 1, v[1], Tensor(), 0.1); }, {x, w}));
  EXPECT_TRUE(gradcheck([](const V& v) { return layer_norm(v[0], 2, v[1], v[2]); },
                        {x, randn64({3, 5}, rng), randn64({3, 5}, rng)}));
  EXPECT_TRUE(gradcheck([](const V& v) { return layer_norm(transpose(v[0], 0, 1), 1, v[1], v[2]); },  // [4, 5]
                        {randn64({5, 4}, rng), randn64({5}, rng), randn64({5}, rng)}));
}

TEST(GradCheckEmbedding, RepeatedIdsAndPaddingIdx) {
  Rng rng(128);
  const Tensor w = randn64({5, 3}, rng);
  const Index ids({4, 1, 1, 0, 4, 2}, Shape{2, 3});
  EXPECT_TRUE(gradcheck([&](const V& x) { return embedding(x[0], ids); }, {w}));
  EXPECT_TRUE(gradcheck([&](const V& x) { return embedding(x[0], ids, 1); }, {w}, {.atol = 1e-5}) == false)
      << "row 1 must not receive the gradient that finite differences see";
  // with padding_idx the analytic gradient of the padding row is zero, the rest as without it
  Tensor wl = w.clone();
  wl.set_requires_grad(true);
  Tensor wr = w.clone();
  wr.set_requires_grad(true);
  const Tensor g = randn64({2, 3, 3}, rng);
  embedding(wl, ids, 1).backward(g);
  embedding(wr, ids).backward(g);
  for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(wl.grad().at({1, c}), 0.0);
  EXPECT_NE(wr.grad().at({1, 0}), 0.0);
  for (int64_t r : {0, 2, 3, 4})
    for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(wl.grad().at({r, c}), wr.grad().at({r, c}));
}

TEST(GradCheckDropout, FixedMaskFromTheSeed) {
  Rng rng(129);
  const Tensor x = randn64({4, 6}, rng);
  // a fresh stream per call, so every evaluation of f draws the same mask
  EXPECT_TRUE(gradcheck([](const V& v) {
    Rng r(77);
    return dropout(v[0], 0.4, true, r);
  }, {x}));
  // the gradient is exactly mask / (1 - p)
  Tensor xl = x.clone();
  xl.set_requires_grad(true);
  Rng r(77);
  dropout(xl, 0.4, true, r).backward(Tensor::ones({4, 6}, DType::f64));
  EXPECT_TRUE(all_close(xl.grad(), ref::dropout(Tensor::ones({4, 6}, DType::f64), 0.4, 77, 0), 1e-15));
  int zeros = 0;
  for (double gv : xl.grad().to_vector<double>()) zeros += gv == 0.0;
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, 24);
}

TEST(GradCheckCrossEntropy, ReductionsIgnoreIndexAndLabelSmoothing) {
  Rng rng(130);
  const Tensor logits = randn64({5, 4}, rng);
  const Index targets({3, -100, 0, 1, 3});
  for (double eps : {0.0, 0.2})
    for (Reduction red : {Reduction::none, Reduction::sum, Reduction::mean}) {
      const CrossEntropyOptions opt{.label_smoothing = eps, .reduction = red};
      EXPECT_TRUE(gradcheck([&](const V& x) { return cross_entropy(x[0], targets, opt); }, {logits}))
          << "eps " << eps << " reduction " << static_cast<int>(red);
    }
  EXPECT_TRUE(gradcheck([&](const V& x) { return cross_entropy(x[0], Index({2, 2, 0, 1, 2}), {.ignore_index = 2}); },
                        {logits}));
  EXPECT_TRUE(gradcheck([&](const V& x) { return cross_entropy(transpose(x[0], 0, 1), Index({0, 1, 2})); },
                        {randn64({4, 3}, rng)}));
}

// The fused linear + cross-entropy: finite differences for x, weight and bias, and the same value and
// gradients as cross_entropy(linear(...)) in float64 (rows in several chunks: V large enough that a
// chunk holds fewer rows than N).
TEST(GradCheckLinearCrossEntropy, MatchesTheComposedLossAndFiniteDifferences) {
  Rng rng(133);
  const Tensor x = randn64({5, 3}, rng), w = randn64({4, 3}, rng), b = randn64({4}, rng);
  const Index targets({3, -100, 0, 1, 3});
  for (double eps : {0.0, 0.2})
    for (Reduction red : {Reduction::sum, Reduction::mean}) {
      const CrossEntropyOptions opt{.label_smoothing = eps, .reduction = red};
      EXPECT_TRUE(gradcheck([&](const V& v) { return linear_cross_entropy(v[0], v[1], v[2], targets, opt); }, {x, w, b}))
          << "eps " << eps << " reduction " << static_cast<int>(red);
      EXPECT_TRUE(gradcheck([&](const V& v) { return linear_cross_entropy(v[0], v[1], Tensor(), targets, opt); }, {x, w}));
    }
  // Many chunks: 700 rows of 20000 classes (a chunk holds 209 rows).
  const int64_t N = 700, C = 6, Vc = 20000;
  Tensor xs = randn64({N, C}, rng).set_requires_grad(), ws = randn64({Vc, C}, rng).set_requires_grad();
  Tensor bs = randn64({Vc}, rng).set_requires_grad();
  std::vector<int64_t> t;
  for (int64_t i = 0; i < N; ++i) t.push_back(i % 9 == 0 ? -100 : (i * 7919) % Vc);
  const CrossEntropyOptions opt{.label_smoothing = 0.1};
  const Tensor fused = linear_cross_entropy(xs, ws, bs, Index(t), opt);
  fused.backward();
  const Tensor gx = xs.grad(), gw = ws.grad(), gb = bs.grad();
  xs.zero_grad();
  ws.zero_grad();
  bs.zero_grad();
  const Tensor composed = cross_entropy(linear(xs, ws, bs), Index(t), opt);
  composed.backward();
  EXPECT_NEAR(fused.item(), composed.item(), 1e-12);
  EXPECT_TRUE(all_close(gx, xs.grad(), 1e-13));
  EXPECT_TRUE(all_close(gw, ws.grad(), 1e-13));
  EXPECT_TRUE(all_close(gb, bs.grad(), 1e-13));
  // Every row ignored: loss 0, zero gradients (as cross_entropy).
  const Tensor none = linear_cross_entropy(xs, ws, bs, Index(std::vector<int64_t>(N, -100)), {});
  EXPECT_EQ(none.item(), 0.0);
  test::expect_error([&] { linear_cross_entropy(xs, ws, bs, Index(t), {.reduction = Reduction::none}); },
                     {"[linear_cross_entropy]", "reduction none"});
  test::expect_error([&] { linear_cross_entropy(xs, randn64({Vc, C + 1}, rng), bs, Index(t), {}); },
                     {"[linear_cross_entropy]", "[700, 6]", "[20000, 7]"});
  test::expect_error([&] { linear_cross_entropy(xs, ws, bs, Index({5}), {}); }, {"[linear_cross_entropy]", "targets [1]"});
}

TEST(GradCheckMse, Reductions) {
  Rng rng(131);
  const Tensor a = randn64({3, 4}, rng), b = randn64({3, 4}, rng);
  for (Reduction red : {Reduction::none, Reduction::sum, Reduction::mean})
    EXPECT_TRUE(gradcheck([&](const V& x) { return mse_loss(x[0], x[1], red); }, {a, b}));
}

}  // namespace
}  // namespace attend
