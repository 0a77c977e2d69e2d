// Golden tests (oracle 3) for the sparse and structured normalizers against their published
// implementations: entmax 1.3 (sparsemax, entmax15, entmax_bisect) and torch-struct 0.5
// (LinearChainCRF, NonProjectiveDependencyCRF, DependencyCRF), values and the gradients of
// sum(out * proj), from scripts/golden/make_structured_golden.py (float64, attend's layouts).
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "attend/attention/normalizers.h"
#include "attend/attention/structured.h"
#include "attend/ops/ops.h"
#include "support/check.h"
#include "support/golden.h"

namespace attend {
namespace {

using test::all_close;
using test::Golden;

double tol(DType dt) { return dt == DType::f64 ? 1e-9 : 2e-5; }

// -inf at every [b, q, k] with q or k >= lengths.data[b] (the padding torch-struct cuts off), over the
// last two axes; with `square` false only the keys (last axis) of [B, N] scores.
Tensor pad(const Tensor& x, const Index& lengths, bool square) {
  std::vector<double> v = x.to_vector<double>();
  const int64_t n = x.shape().at(-1), per = square ? n * n : n;
  for (int64_t b = 0; b < x.size(0); ++b)
    for (int64_t i = 0; i < per; ++i)
      if ((square && i / n >= lengths.data[b]) || i % n >= lengths.data[b]) v[b * per + i] = -std::numeric_limits<double>::infinity();
  return Tensor::from_vector(v, x.shape(), DType::f64);
}

void check_sparse(DType dt) {
  const Golden g = Golden::load("sparse_normalizers");
  const std::pair<const char*, attention::Normalizer> cases[] = {{"sparsemax", attention::Normalizer::sparsemax()},
                                                                 {"entmax15", attention::Normalizer::entmax15()},
                                                                 {"entmax_1.3", attention::Normalizer::entmax(1.3)}};
  for (const auto& [name, n] : cases) {
    SCOPED_TRACE(name);
    Tensor x = g.tensor("x", dt).set_requires_grad(true);
    const Tensor y = n(x);
    EXPECT_TRUE(all_close(y, g.tensor(std::string(name) + ".out"), tol(dt), tol(dt)));
    sum(mul(y, g.tensor(std::string(name) + ".proj", dt))).backward();
    EXPECT_TRUE(all_close(x.grad(), g.tensor(std::string(name) + ".grad"), tol(dt), tol(dt))) << "grad";
  }
}

TEST(GoldenSparse, EntmaxPackageValuesAndGradsF64) { check_sparse(DType::f64); }
TEST(GoldenSparse, EntmaxPackageValuesAndGradsF32) { check_sparse(DType::f32); }

void check_segment(DType dt) {
  const Golden g = Golden::load("structured_attention");
  const Tensor raw = g.tensor("segment.scores");
  Tensor s = pad(raw, g.ints("segment.lengths"), false).to(dt).set_requires_grad(true);
  Tensor psi = reshape(g.tensor("segment.pairwise", dt), {1, 2, 2}).set_requires_grad(true);
  const Tensor p = attention::segment_marginals(s, psi);
  EXPECT_TRUE(all_close(p, g.tensor("segment.out"), tol(dt), tol(dt)));
  sum(mul(p, g.tensor("segment.proj", dt))).backward();
  EXPECT_TRUE(all_close(s.grad(), g.tensor("segment.grad.scores"), tol(dt), tol(dt))) << "grad scores";
  EXPECT_TRUE(all_close(reshape(psi.grad(), {2, 2}), g.tensor("segment.grad.pairwise"), tol(dt), tol(dt)))
      << "grad pairwise";
}

TEST(GoldenStructured, TorchStructLinearChainCrfSegmentsF64) { check_segment(DType::f64); }
TEST(GoldenStructured, TorchStructLinearChainCrfSegmentsF32) { check_segment(DType::f32); }

void check_trees(DType dt) {
  const Golden g = Golden::load("structured_attention");
  for (const std::string name : {"nonprojective_roots", "nonprojective_one_root", "projective_roots",
                                 "projective_one_root"}) {
    SCOPED_TRACE(name);
    const attention::TreeOptions o{.projective = g.config_bool(name + ".projective"),
                                   .single_root = g.config_bool(name + ".single_root")};
    Tensor s = pad(g.tensor(name + ".scores"), g.ints(name + ".lengths"), true).to(dt).set_requires_grad(true);
    const Tensor w = attention::tree_marginals(s, o);
    EXPECT_TRUE(all_close(w, g.tensor(name + ".out"), tol(dt), tol(dt)));
    sum(mul(w, g.tensor(name + ".proj", dt))).backward();
    EXPECT_TRUE(all_close(s.grad(), g.tensor(name + ".grad"), tol(dt), tol(dt))) << "grad";
  }
}

TEST(GoldenStructured, TorchStructDependencyTreesF64) { check_trees(DType::f64); }
TEST(GoldenStructured, TorchStructDependencyTreesF32) { check_trees(DType::f32); }

}  // namespace
}  // namespace attend
