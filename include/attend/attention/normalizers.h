// Normalizers: turn a row of scores into a distribution over keys (the third step of the attention
// skeleton, DESIGN.md section 2). Each works along the last axis of x [..., Tk] and returns the
// same shape. Entries equal to -inf (masked keys) get weight exactly 0; a row that is entirely
// -inf (a fully masked query) gives all zeros and a zero gradient, never NaN.
//
// - softmax:   p_i = exp(z_i - m) / sum_j exp(z_j - m), m = max_j z_j (attend::softmax).
// - sparsemax: Martins & Astudillo 2016, "From Softmax to Sparsemax": the Euclidean projection
//              of z onto the simplex, p_i = max(z_i - tau, 0) with tau chosen so that sum p = 1
//              (exact, by sorting). Jacobian on the support S: dp/dz = I_S - 1_S 1_S^T / |S|.
// - entmax15:  Peters, Niculae & Martins 2019, "Sparse Sequence-to-Sequence Models": 1.5-entmax,
//              p_i = max(z_i / 2 - tau, 0)^2 with sum p = 1 (exact sort-based threshold).
//              Gradient: with s_i = sqrt(p_i), dz = s * g - s * (sum_j s_j g_j) / sum_j s_j.
// - entmax(alpha), alpha > 1: the same paper's alpha-entmax,
//              p_i = max((alpha - 1) z_i - tau, 0)^(1 / (alpha - 1)) with sum p = 1, tau found by
//              bisection in float64 (tau lies in [max - 1, max] of (alpha - 1) z) and p
//              renormalized. alpha -> 1 approaches softmax; alpha = 2 is sparsemax.
//              Gradient on the support: s_i = p_i^(2 - alpha), dz = s * g - s (sum s g) / sum s.
// Numerical notes: computed in the input dtype (bisection in float64); the threshold search runs
// on max-shifted values.
//
// A Normalizer is a small value object: a name, the function, and (for normalizers that learn,
// such as a CRF's potentials) parameters. Copies share the implementation, parameters included:
// each attention layer that learns one makes its own with make_normalizer, and its module registers
// the parameter slots (Normalizer::parameters()) so that optimizers, checkpoints and dtype moves
// reach them. Normalizers are registered by name, like architectures:
// make_normalizer("softmax" | "sparsemax" | "entmax15" | "entmax-1.3" | "crf-segment" | ...); the
// structured ones (crf-segment, dependency-tree, projective-tree) are in structured.h.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attend/core/tensor.h"

namespace attend::attention {

// What a normalizer is; derive to add one (and register it below).
class NormalizerImpl {
 public:
  virtual ~NormalizerImpl() = default;
  virtual std::string name() const = 0;
  // scores [..., Tk] -> weights [..., Tk], differentiable.
  virtual Tensor apply(const Tensor& scores) const = 0;
  // alpha when this is alpha-entmax (2 sparsemax, 1.5 entmax15): the fused sparse kernel runs it.
  virtual std::optional<double> entmax_alpha() const { return std::nullopt; }
  // Learned parameters, by name, as the slots apply() reads (none for the built-ins).
  virtual std::vector<std::pair<std::string, Tensor*>> parameters() { return {}; }
};

// What a normalizer with parameters is made for: the heads of the attention it normalizes (its
// scores are then [..., H, Tq, Tk]) and the parameters' dtype.
struct NormalizerArgs {
  int64_t heads = 1;
  DType dtype = DType::f32;
};

class Normalizer {
 public:
  Normalizer();  // softmax
  explicit Normalizer(std::shared_ptr<NormalizerImpl> impl);
  static Normalizer softmax();
  static Normalizer sparsemax();
  static Normalizer entmax15();
  // alpha > 1; 1.5 and 2 give the exact entmax15 and sparsemax.
  static Normalizer entmax(double alpha);

  std::string name() const { return impl_->name(); }
  bool is_softmax() const;
  std::optional<double> entmax_alpha() const { return impl_->entmax_alpha(); }
  Tensor operator()(const Tensor& scores) const { return impl_->apply(scores); }
  std::vector<std::pair<std::string, Tensor*>> parameters() const { return impl_->parameters(); }
  bool operator==(const Normalizer& o) const { return name() == o.name(); }

 private:
  std::shared_ptr<NormalizerImpl> impl_;
};

// The normalizer called `name`: a registered name, or "entmax-<alpha>" (also written
// "entmax:<alpha>"). Error "[normalizer] unknown normalizer 'x' (known: ...)".
Normalizer make_normalizer(const std::string& name, const NormalizerArgs& args = {});
// Every registered name (entmax-<alpha> is parsed, not listed).
std::vector<std::string> normalizer_names();
// Adds (or replaces) a normalizer factory under `name`.
void register_normalizer(const std::string& name, std::function<Normalizer(const NormalizerArgs&)> factory);

// The functions behind the built-ins (last axis).
Tensor masked_softmax(const Tensor& scores);  // fully masked rows give zeros (and zero gradient)
Tensor sparsemax(const Tensor& scores);
Tensor entmax15(const Tensor& scores);
Tensor entmax_bisect(const Tensor& scores, double alpha);

// Per-row log-sum-exp over the last axis: x [..., Tk] -> [...]; -inf for a row of all -inf.
// Gradient: dL/dx_i = g * softmax(x)_i (zero on a fully masked row).
Tensor logsumexp(const Tensor& scores);

}  // namespace attend::attention
