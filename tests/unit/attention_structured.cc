// Structured attention (attention/structured.h) against the brute-force float64 reference
// (tests/reference/structured_reference.h), and the semantics every normalizer keeps: masked keys
// get weight 0, a fully masked row gives zeros and a zero gradient, tree rows sum to 1.
#include <cmath>
#include <limits>

#include "attend/attention/mask.h"
#include "attend/attention/structured.h"
#include "attend/ops/ops.h"
#include "reference/structured_reference.h"
#include "support/check.h"

namespace attend::test {
namespace {

using attention::Mask;
using attention::TreeOptions;

constexpr double kInf = std::numeric_limits<double>::infinity();

const TreeOptions kTrees[] = {{}, {.single_root = true}, {.projective = true}, {.projective = true, .single_root = true}};

std::string tree_name(const TreeOptions& o) {
  return std::string(o.projective ? "projective" : "non-projective") + (o.single_root ? ", one root" : ", roots");
}

// Sets scores[..., i] to -inf wherever `holes` (a row-major pattern over the last two axes) is 1.
Tensor with_holes(const Tensor& x, const std::vector<int>& holes) {
  std::vector<double> v = x.to_vector<double>();
  const size_t period = holes.size();
  for (size_t i = 0; i < v.size(); ++i)
    if (holes[i % period]) v[i] = -kInf;
  return Tensor::from_vector(v, x.shape(), x.dtype());
}

TEST(Structured, SegmentMarginalsMatchEnumerationWithSharedAndPerHeadPotentials) {
  Rng rng(11);
  for (const int64_t P : {1, 3}) {
    SCOPED_TRACE(P);
    const Tensor s = randn64(Shape{2, 3, 4, 7}, rng) * 2.0;
    const Tensor psi = randn64(Shape{P, 2, 2}, rng) * 1.5;
    // Padding at the end and a hole inside: the chain skips masked keys.
    const Tensor masked = attention::apply_mask(with_holes(s, {0, 0, 1, 0, 0, 0, 0}), Mask{.key_lengths = {6, 5}});
    const Tensor got = attention::segment_marginals(masked, psi);
    EXPECT_TRUE(all_close(got, ref::segment_marginals(masked, psi), 1e-12, 1e-10));
    const Tensor got32 = attention::segment_marginals(masked.to(DType::f32), psi.to(DType::f32));
    EXPECT_TRUE(all_close(got32, ref::segment_marginals(masked, psi), 1e-6, 1e-5));
  }
}

TEST(Structured, ZeroPairwisePotentialsGiveIndependentSigmoids) {
  Rng rng(12);
  const Tensor s = randn64(Shape{3, 9}, rng) * 3.0;
  const Tensor got = attention::segment_marginals(s, Tensor::zeros(Shape{1, 2, 2}, DType::f64));
  EXPECT_TRUE(all_close(got, sigmoid(s), 1e-12, 1e-12));
}

TEST(Structured, StickyPotentialsSelectWholeSegments) {
  // Scores favour keys 2..4; a pairwise reward for staying in a state pulls the weak key 3 (score
  // slightly negative) into the segment, which independent sigmoids would not select.
  const Tensor s = Tensor::from_vector({-4.0, -4.0, 8.0, -0.5, 8.0, -4.0, -4.0}, Shape{1, 7}, DType::f64);
  const Tensor sticky = Tensor::from_vector({2.0, -2.0, -2.0, 2.0}, Shape{1, 2, 2}, DType::f64);
  const std::vector<double> p = attention::segment_marginals(s, sticky).to_vector<double>();
  EXPECT_GT(p[3], 0.9);
  EXPECT_LT(sigmoid(s).to_vector<double>()[3], 0.5);
  EXPECT_LT(p[0], 0.05);
  EXPECT_LT(p[6], 0.05);
}

TEST(Structured, TreeMarginalsMatchEnumerationForEveryKindOfTree) {
  Rng rng(13);
  for (const TreeOptions& o : kTrees) {
    SCOPED_TRACE(tree_name(o));
    for (const int64_t T : {1, 2, 3, 5, 6}) {
      SCOPED_TRACE(T);
      const Tensor s = randn64(Shape{2, 2, T, T}, rng) * 1.5;
      const Tensor got = attention::tree_marginals(s, o);
      EXPECT_TRUE(all_close(got, ref::tree_marginals(s, o), 1e-11, 1e-9));
      EXPECT_TRUE(all_close(attention::tree_marginals(s.to(DType::f32), o), ref::tree_marginals(s, o), 1e-5, 1e-4));
      // Every position has exactly one head (or is a root): rows sum to 1.
      EXPECT_TRUE(all_close(sum(got, {-1}), Tensor::ones(Shape{2, 2, T}, DType::f64), 1e-10));
    }
  }
}

TEST(Structured, PaddedPositionsLeaveTheTreeAndMaskedArcsGetZero) {
  Rng rng(14);
  const int64_t T = 5;
  const Tensor s = randn64(Shape{2, T, T}, rng);
  // Batch 1 has 3 positions (padding rows and columns -inf); batch 0 forbids the arc 4 -> 0.
  std::vector<double> v = s.to_vector<double>();
  v[0 * T + 4] = -kInf;
  for (int64_t q = 0; q < T; ++q)
    for (int64_t k = 0; k < T; ++k)
      if (q >= 3 || k >= 3) v[T * T + q * T + k] = -kInf;
  const Tensor padded = Tensor::from_vector(v, s.shape(), DType::f64);
  for (const TreeOptions& o : kTrees) {
    SCOPED_TRACE(tree_name(o));
    const Tensor got = attention::tree_marginals(padded, o);
    EXPECT_TRUE(all_close(got, ref::tree_marginals(padded, o), 1e-11, 1e-9));
    const std::vector<double> w = got.to_vector<double>();
    EXPECT_EQ(w[0 * T + 4], 0.0);
    for (int64_t q = 3; q < T; ++q)
      for (int64_t k = 0; k < T; ++k) EXPECT_EQ(w[T * T + q * T + k], 0.0) << q << ", " << k;
  }
}

TEST(Structured, FullyMaskedRowsGiveZerosAndZeroGradients) {
  Rng rng(15);
  Tensor s = randn64(Shape{2, 4, 4}, rng).set_requires_grad(true);
  const Mask none{.key_lengths = {4, 0}};
  for (const TreeOptions& o : kTrees) {
    SCOPED_TRACE(tree_name(o));
    s.zero_grad();
    const Tensor w = attention::tree_marginals(attention::apply_mask(s, none), o);
    EXPECT_EQ(max_abs_diff(slice(w, 0, 1, 2), Tensor::zeros(Shape{1, 4, 4}, DType::f64)), 0.0);
    sum(mul(w, randn64(w.shape(), rng))).backward();
    const std::vector<double> g = slice(s.grad(), 0, 1, 2).to_vector<double>();
    for (double x : g) EXPECT_EQ(x, 0.0);
    for (double x : s.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(x));
  }
  Tensor c = randn64(Shape{2, 1, 5}, rng).set_requires_grad(true);
  const Tensor p = attention::segment_marginals(attention::apply_mask(c, none),
                                                Tensor::zeros(Shape{1, 2, 2}, DType::f64));
  EXPECT_EQ(max_abs_diff(slice(p, 0, 1, 2), Tensor::zeros(Shape{1, 1, 5}, DType::f64)), 0.0);
  sum(p).backward();
  for (double x : slice(c.grad(), 0, 1, 2).to_vector<double>()) EXPECT_EQ(x, 0.0);
}

TEST(Structured, NoPossibleTreeGivesZeros) {
  // Every root arc masked: no position can be the root, so no tree exists.
  Rng rng(16);
  std::vector<double> v = randn64(Shape{3, 3}, rng).to_vector<double>();
  for (int i = 0; i < 3; ++i) v[i * 3 + i] = -kInf;
  const Tensor s = Tensor::from_vector(v, Shape{3, 3}, DType::f64);
  for (const TreeOptions& o : kTrees) {
    SCOPED_TRACE(tree_name(o));
    EXPECT_EQ(max_abs_diff(attention::tree_marginals(s, o), Tensor::zeros(Shape{3, 3}, DType::f64)), 0.0);
  }
}

TEST(Structured, LargeScoresStayFinite) {
  Rng rng(17);
  const Tensor s = randn64(Shape{2, 5, 5}, rng) * 60.0;
  for (const TreeOptions& o : kTrees) {
    SCOPED_TRACE(tree_name(o));
    const Tensor w = attention::tree_marginals(s, o);
    EXPECT_TRUE(all_close(w, ref::tree_marginals(s, o), 1e-8, 1e-6));
  }
  const Tensor c = randn64(Shape{2, 8}, rng) * 500.0;
  const Tensor p = attention::segment_marginals(c, Tensor::full(Shape{1, 2, 2}, 100.0, DType::f64));
  for (double x : p.to_vector<double>()) EXPECT_TRUE(std::isfinite(x) && x >= 0.0 && x <= 1.0);
}

TEST(Structured, NormalizersByNameCarryTheirParameters) {
  const attention::Normalizer crf = attention::make_normalizer("crf-segment");
  EXPECT_EQ(crf.name(), "crf-segment");
  ASSERT_EQ(crf.parameters().size(), 1u);
  EXPECT_EQ(crf.parameters()[0].first, "pairwise");
  EXPECT_EQ(crf.parameters()[0].second->shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(attention::make_normalizer("dependency-tree").name(), "dependency-tree");
  EXPECT_EQ(attention::make_normalizer("projective-tree").name(), "projective-tree");
  const attention::Normalizer heads = attention::crf_segment_normalizer(4, DType::f64);
  EXPECT_EQ(heads.parameters()[0].second->shape(), (Shape{4, 2, 2}));
  EXPECT_EQ(attention::make_normalizer("crf-segment", {.heads = 3}).parameters()[0].second->shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(attention::make_normalizer("entmax:1.3").name(), "entmax-1.3");
}

TEST(Structured, BadShapesAreErrorsNamingThem) {
  expect_error([] { attention::tree_marginals(Tensor::zeros(Shape{2, 3, 4})); }, "[dependency-tree]", {"[2, 3, 4]"});
  expect_error([] { attention::segment_marginals(Tensor::zeros(Shape{2, 3, 4}), Tensor::zeros(Shape{2, 2})); },
               "[crf-segment]", {"[P, 2, 2]", "[2, 2]"});
  expect_error([] { attention::segment_marginals(Tensor::zeros(Shape{2, 3, 4}), Tensor::zeros(Shape{5, 2, 2})); },
               "[crf-segment]", {"5 heads", "[2, 3, 4]"});
  expect_error([] { attention::tree_marginals(Tensor::full(Shape{2, 2}, std::nan(""))); }, "[dependency-tree]",
               {"NaN"});
}

}  // namespace
}  // namespace attend::test
