// Reference*: matmul/linear and the nn ops (softmax, log_softmax, masked_fill, where, layer_norm,
// embedding, dropout, cross_entropy, mse_loss) against the float64 naive references.
// Semantics*: the documented rules (fully masked rows, all rows ignored, dropout's counters).
#include <cmath>
#include <limits>

#include "attend/core/threads.h"
#include "attend/ops/ops.h"
#include "reference/ops_reference.h"
#include "support/check.h"

namespace attend {
namespace {

using test::all_close;
using test::randn32;

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(ReferenceMatmul, TwoDBatchedBroadcastAndVector) {
  Rng rng(31);
  struct Case {
    Shape a, b;
  };
  for (const Case& c : {Case{{4, 5}, {5, 3}}, Case{{2, 3, 4, 5}, {2, 3, 5, 6}}, Case{{2, 1, 4, 5}, {3, 5, 6}},
                        Case{{3, 4, 5}, {5, 2}}, Case{{4, 5}, {2, 5, 3}}, Case{{4, 5}, {5}}, Case{{2, 4, 5}, {5}},
                        Case{{1, 7}, {7, 1}}}) {
    SCOPED_TRACE(c.a.str() + " @ " + c.b.str());
    const Tensor a = randn32(c.a, rng), b = randn32(c.b, rng);
    EXPECT_TRUE(all_close(matmul(a, b), ref::matmul(a, b), 1e-5, 1e-4));
  }
}

TEST(ReferenceMatmul, TransposedOperands) {
  Rng rng(32);
  const Tensor a = transpose(randn32({2, 5, 4}, rng), 1, 2);  // [2, 4, 5] non-contiguous
  const Tensor b = permute(randn32({6, 2, 5}, rng), {1, 2, 0});  // [2, 5, 6]
  EXPECT_TRUE(all_close(matmul(a, b), ref::matmul(a, b), 1e-5, 1e-4));
  const Tensor bs = slice(randn32({5, 12}, rng), 1, 0, 12, 2);  // [5, 6] column-strided
  EXPECT_TRUE(all_close(matmul(a, bs), ref::matmul(a, bs), 1e-5, 1e-4));
}

TEST(ReferenceMatmul, LinearWithAndWithoutBias) {
  Rng rng(33);
  const Tensor x = randn32({2, 3, 5}, rng), w = randn32({4, 5}, rng), bias = randn32({4}, rng);
  EXPECT_TRUE(all_close(linear(x, w, bias), ref::linear(x, w, bias), 1e-5, 1e-4));
  EXPECT_TRUE(all_close(linear(x, w), ref::linear(x, w, Tensor()), 1e-5, 1e-4));
  const Tensor xt = transpose(randn32({5, 3}, rng), 0, 1);  // [3, 5]
  EXPECT_TRUE(all_close(linear(xt, w, bias), ref::linear(xt, w, bias), 1e-5, 1e-4));
}

// The gradients of a linear layer large enough for the threads (the bias gradient in blocks of 64
// columns, a partial last one): dx = g w, dw = g^T x, db = the rows of g summed, against float64.
TEST(ReferenceMatmul, LinearGradientsOfManyRowsOnTwoThreads) {
  Rng rng(35);
  const int saved = num_threads();
  set_num_threads(2);
  Tensor x = randn32({2, 150, 7}, rng), w = randn32({300, 7}, rng), bias = randn32({300}, rng);
  for (Tensor* t : {&x, &w, &bias}) t->set_requires_grad(true);
  const Tensor g = randn32({2, 150, 300}, rng);
  linear(x, w, bias).backward(g);
  set_num_threads(saved);
  const Tensor g2 = reshape(g.to(DType::f64), {300, 300}), x2 = reshape(x.detach().to(DType::f64), {300, 7});
  EXPECT_TRUE(all_close(bias.grad(), sum(g2, {0}), 1e-5, 1e-5));
  EXPECT_TRUE(all_close(w.grad(), matmul(transpose(g2, 0, 1), x2), 1e-5, 1e-5));
  EXPECT_TRUE(all_close(x.grad(), reshape(matmul(g2, w.detach().to(DType::f64)), {2, 150, 7}), 1e-5, 1e-5));
}

TEST(ReferenceSoftmax, RandomRowsAlongEachAxis) {
  Rng rng(34);
  const Tensor x = mul(randn32({3, 4, 5}, rng), 3.0);
  const Tensor t = transpose(x, 0, 2);  // non-contiguous
  for (int axis : {0, 1, 2, -1}) {
    EXPECT_TRUE(all_close(softmax(x, axis), ref::softmax(x, axis), 1e-6, 1e-5)) << "axis " << axis;
    EXPECT_TRUE(all_close(log_softmax(x, axis), ref::log_softmax(x, axis), 1e-5, 1e-5)) << "axis " << axis;
    EXPECT_TRUE(all_close(softmax(t, axis), ref::softmax(t, axis), 1e-6, 1e-5)) << "axis " << axis;
    EXPECT_TRUE(all_close(log_softmax(t, axis), ref::log_softmax(t, axis), 1e-5, 1e-5)) << "axis " << axis;
  }
}

TEST(ReferenceSoftmax, LargeLogitsStayFinite) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1e4f, 1e4f - 1.f, -1e4f, 3e4f, 3e4f, 3e4f - 5.f}, {2, 3});
  EXPECT_TRUE(all_close(softmax(x, -1), ref::softmax(x, -1), 1e-6, 1e-5));
  EXPECT_TRUE(all_close(log_softmax(x, -1), ref::log_softmax(x, -1), 1e-3, 1e-6));
}

TEST(SemanticsSoftmax, AllMinusInfRowGivesZerosAndZeroGradient) {
  const float ninf = -std::numeric_limits<float>::infinity();
  Tensor x = Tensor::from_vector(std::vector<float>{ninf, ninf, ninf, 0.5f, ninf, -1.f}, {2, 3});
  x.set_requires_grad(true);
  const Tensor y = softmax(x, -1);
  EXPECT_TRUE(all_close(y, ref::softmax(x, -1), 1e-6, 1e-5));
  EXPECT_EQ(y.at({0, 0}), 0.0);
  const Tensor ly = log_softmax(x, -1);
  EXPECT_TRUE(all_close(ly, ref::log_softmax(x, -1), 1e-6, 1e-5));
  EXPECT_EQ(ly.at({0, 1}), -kInf);
  Rng rng(35);
  y.backward(randn32({2, 3}, rng));
  for (double g : x.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(g));
  for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(x.grad().at({0, j}), 0.0);
  x.zero_grad();
  const Tensor ls = log_softmax(x, -1);
  ls.backward(Tensor::ones({2, 3}));
  for (double g : x.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(g));
  for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(x.grad().at({0, j}), 0.0);
}

TEST(ReferenceMasking, MaskedFillAndWhereBroadcast) {
  Rng rng(36);
  const Tensor x = randn32({2, 3, 4}, rng);
  const Tensor m = Tensor::bernoulli({3, 1}, rng, 0.5);
  const Tensor m2 = Tensor::bernoulli({2, 3, 4}, rng, 0.5);
  EXPECT_TRUE(all_close(masked_fill(x, m, -7.0), ref::masked_fill(x, m, -7.0), 0.0));
  EXPECT_TRUE(all_close(masked_fill(x, m2, -kInf), ref::masked_fill(x, m2, -kInf), 0.0));
  const Tensor a = randn32({3, 4}, rng), b = randn32({2, 1, 4}, rng), c = Tensor::bernoulli({4}, rng, 0.5);
  EXPECT_TRUE(all_close(where(c, a, b), ref::where(c, a, b), 0.0));
  const Tensor at = transpose(randn32({4, 3}, rng), 0, 1);
  EXPECT_TRUE(all_close(where(m2, at, b), ref::where(m2, at, b), 0.0));
}

TEST(ReferenceLayerNorm, AffineAndPlainOverOneAndTwoDims) {
  Rng rng(37);
  const Tensor x = add(mul(randn32({2, 3, 8}, rng), 3.0), 5.0);  // mean far from 0
  const Tensor w = randn32({8}, rng), b = randn32({8}, rng);
  EXPECT_TRUE(all_close(layer_norm(x, 1, w, b), ref::layer_norm(x, 1, w, b, 1e-5), 1e-5, 1e-4));
  EXPECT_TRUE(all_close(layer_norm(x, 1, Tensor(), Tensor()), ref::layer_norm(x, 1, Tensor(), Tensor(), 1e-5), 1e-5, 1e-4));
  EXPECT_TRUE(all_close(layer_norm(x, 1, w, Tensor(), 0.1), ref::layer_norm(x, 1, w, Tensor(), 0.1), 1e-5, 1e-4));
  const Tensor w2 = randn32({3, 8}, rng), b2 = randn32({3, 8}, rng);
  EXPECT_TRUE(all_close(layer_norm(x, 2, w2, b2), ref::layer_norm(x, 2, w2, b2, 1e-5), 1e-5, 1e-4));
  const Tensor xt = transpose(randn32({8, 4}, rng), 0, 1);  // [4, 8] non-contiguous
  EXPECT_TRUE(all_close(layer_norm(xt, 1, w, b), ref::layer_norm(xt, 1, w, b, 1e-5), 1e-5, 1e-4));
  // a constant row normalizes to 0 (+ bias): eps keeps it finite
  const Tensor c = Tensor::full({1, 8}, 3.0);
  EXPECT_TRUE(all_close(layer_norm(c, 1, w, b), ref::layer_norm(c, 1, w, b, 1e-5), 1e-6));
}

TEST(ReferenceEmbedding, RowsPickedByIds) {
  Rng rng(38);
  const Tensor w = randn32({6, 4}, rng);
  const Index ids({5, 0, 2, 2, 1, 5}, Shape{2, 3});
  EXPECT_TRUE(all_close(embedding(w, ids), ref::embedding(w, ids), 0.0));
  EXPECT_EQ(embedding(w, ids).shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(all_close(embedding(w, ids, 2), ref::embedding(w, ids), 0.0));  // padding_idx changes only grads
}

TEST(SemanticsDropout, MaskFromDocumentedCountersAndScale) {
  Rng rng(39);
  const Tensor x = randn32({4, 50}, rng);
  Rng drop(1234);
  drop.advance(17);  // a stream that has been used before
  const uint64_t seed = drop.seed(), base = drop.offset();
  const Tensor y = dropout(x, 0.3, true, drop);
  EXPECT_TRUE(all_close(y, ref::dropout(x, 0.3, seed, base), 1e-6, 1e-6));
  EXPECT_EQ(drop.offset(), base + 200) << "dropout consumes one counter per element";
  // a second call continues the stream: a different mask
  const Tensor y2 = dropout(x, 0.3, true, drop);
  EXPECT_TRUE(all_close(y2, ref::dropout(x, 0.3, seed, base + 200), 1e-6, 1e-6));
  EXPECT_GT(test::max_abs_diff(y, y2), 0.0);
}

// Several blocks of the op's threads (4096 elements each) and a partial one, from an offset that
// is not a multiple of 4: forward and backward use the same mask, the reference's, in f32 and f64,
// on 1 and 2 threads.
TEST(SemanticsDropout, BackwardUsesTheForwardMaskAcrossBlocksAndThreads) {
  Rng rng(40);
  for (const DType dt : {DType::f32, DType::f64})
    for (const int threads : {1, 2}) {
      SCOPED_TRACE(std::string(dt == DType::f32 ? "f32" : "f64") + ", threads " + std::to_string(threads));
      const int saved = num_threads();
      set_num_threads(threads);
      const Tensor x0 = Tensor::randn({3, 12345}, rng, dt);
      Tensor x = x0.detach();
      x.set_requires_grad(true);
      Rng drop(99);
      drop.advance(6);
      const uint64_t seed = drop.seed(), base = drop.offset();
      const Tensor y = dropout(x, 0.2, true, drop);
      EXPECT_TRUE(all_close(y, ref::dropout(x0, 0.2, seed, base), 1e-6, 1e-6));
      const Tensor g = Tensor::randn({3, 12345}, rng, dt);
      y.backward(g);
      set_num_threads(saved);
      EXPECT_TRUE(all_close(x.grad(), ref::dropout(g, 0.2, seed, base), 1e-6, 1e-6));
    }
}

TEST(SemanticsDropout, KeepsAboutOneMinusPAndIsIdentityWhenOff) {
  Rng drop(7);
  const Tensor x = Tensor::ones({100, 100});
  const Tensor y = dropout(x, 0.25, true, drop);
  int64_t kept = 0;
  for (float v : y.to_vector<float>()) {
    if (v != 0.f) {
      ++kept;
      EXPECT_FLOAT_EQ(v, 1.f / 0.75f);
    }
  }
  EXPECT_NEAR(static_cast<double>(kept) / 10000.0, 0.75, 0.02);
  const uint64_t before = drop.offset();
  EXPECT_TRUE(all_close(dropout(x, 0.25, false, drop), x, 0.0));
  EXPECT_TRUE(all_close(dropout(x, 0.0, true, drop), x, 0.0));
  EXPECT_EQ(drop.offset(), before) << "the identity consumes no counters";
}

TEST(ReferenceCrossEntropy, ReductionsIgnoreIndexAndLabelSmoothing) {
  Rng rng(40);
  const Tensor logits = mul(randn32({6, 5}, rng), 2.0);
  const Index targets({1, 4, -100, 0, 3, -100});
  const Index plain({1, 4, 2, 0, 3, 3});
  for (double eps : {0.0, 0.1, 0.5}) {
    for (Reduction red : {Reduction::none, Reduction::sum, Reduction::mean}) {
      for (const Index* t : {&targets, &plain}) {
        const CrossEntropyOptions opt{.label_smoothing = eps, .reduction = red};
        SCOPED_TRACE(testing::Message() << "eps " << eps << " reduction " << static_cast<int>(red));
        EXPECT_TRUE(all_close(cross_entropy(logits, *t, opt), ref::cross_entropy(logits, *t, opt), 1e-5, 1e-5));
      }
    }
  }
  const CrossEntropyOptions custom{.ignore_index = 2};
  EXPECT_TRUE(all_close(cross_entropy(logits, plain, custom), ref::cross_entropy(logits, plain, custom), 1e-5, 1e-5));
}

TEST(ReferenceCrossEntropy, MatchesPyTorchByHand) {
  // torch.nn.functional.cross_entropy(torch.tensor([[1., 2., 3.], [1., 1., 1.]]), torch.tensor([2, 0]),
  //                                   label_smoothing=0.2) = 0.853109; the closed form:
  // row 0: lse = 3.40760596; -log p = [2.40760596, 1.40760596, 0.40760596]
  //        0.8 * 0.40760596 + 0.2/3 * 4.22281788 = 0.60760596
  // row 1: -log p = log 3 for every class = 1.09861229
  const Tensor logits = Tensor::from_vector(std::vector<float>{1, 2, 3, 1, 1, 1}, {2, 3});
  const Tensor l = cross_entropy(logits, Index({2, 0}), {.label_smoothing = 0.2});
  EXPECT_NEAR(l.item(), (0.60760596 + 1.09861229) / 2.0, 1e-6);
  // ... with target [2, -100]: PyTorch gives 0.60760596 (the mean counts only the kept row)
  EXPECT_NEAR(cross_entropy(logits, Index({2, -100}), {.label_smoothing = 0.2}).item(), 0.60760596, 1e-6);
}

TEST(SemanticsCrossEntropy, AllRowsIgnoredMeanIsZeroWithZeroGradient) {
  Rng rng(41);
  Tensor logits = randn32({3, 4}, rng);
  logits.set_requires_grad(true);
  const Tensor l = cross_entropy(logits, Index({-100, -100, -100}), {.label_smoothing = 0.1});
  EXPECT_EQ(l.item(), 0.0);  // PyTorch gives NaN (0 / 0)
  l.backward();
  for (double g : logits.grad().to_vector<double>()) EXPECT_EQ(g, 0.0);
}

TEST(ReferenceMse, Reductions) {
  Rng rng(42);
  const Tensor a = randn32({3, 4}, rng), b = transpose(randn32({4, 3}, rng), 0, 1);
  for (Reduction red : {Reduction::none, Reduction::sum, Reduction::mean})
    EXPECT_TRUE(all_close(mse_loss(a, b, red), ref::mse_loss(a, b, red), 1e-5, 1e-5));
}

}  // namespace
}  // namespace attend
