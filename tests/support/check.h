// Test oracles shared by every test: closeness against a float64 reference and the finite-
// difference gradient check (DESIGN.md section 6).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "attend/core/rng.h"
#include "attend/core/tensor.h"

namespace attend::test {

// |a - b| <= atol + rtol * |b| elementwise (b is the reference); shapes must match. On failure the
// message names the worst element and the error statistics. NaN anywhere fails.
::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double atol, double rtol = 0.0);
// max |a - b| over all elements (as f64).
double max_abs_diff(const Tensor& a, const Tensor& b);

struct GradcheckOptions {
  double eps = 1e-6;  // PyTorch's gradcheck defaults
  double atol = 1e-5;
  double rtol = 1e-3;
  uint64_t seed = 1234;  // for the random projection of non-scalar outputs
};

// Checks the analytic gradient of f w.r.t. every input against central differences, in float64.
// Inputs are converted to f64 leaves that require grad. For a non-scalar output the scalar checked
// is sum(f(x) * w) with a fixed random w, so every output element's gradient is exercised.
::testing::AssertionResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                     const std::vector<Tensor>& inputs, const GradcheckOptions& opt = {});

// The message of the attend::Error that f throws, or "no error".
std::string error_of(const std::function<void()>& f);
// Runs f and expects an attend::Error whose message starts with `prefix` ("[op]") and contains
// every one of `parts` (typically the offending shapes).
void expect_error(const std::function<void()>& f, const std::string& prefix, const std::vector<std::string>& parts);
// Runs f and expects an attend::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts);

// Random f64 / f32 tensors from the project's RNG.
inline Tensor randn64(const Shape& s, Rng& rng) { return Tensor::randn(s, rng, DType::f64); }
inline Tensor randn32(const Shape& s, Rng& rng) { return Tensor::randn(s, rng, DType::f32); }

}  // namespace attend::test
