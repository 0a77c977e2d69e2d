#include "support/check.h"

#include <cmath>
#include <sstream>

#include "attend/autograd/autograd.h"

namespace attend::test {

::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double atol, double rtol) {
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shape " << a.shape().str() << " vs reference " << b.shape().str();
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  size_t worst = 0, bad = 0;
  double worst_excess = -1.0, max_err = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double err = std::fabs(x[i] - y[i]);
    const double tol = atol + rtol * std::fabs(y[i]);
    const bool nan = std::isnan(x[i]) != std::isnan(y[i]);
    const bool inf_mismatch = (std::isinf(x[i]) || std::isinf(y[i])) && x[i] != y[i];
    const bool same_inf = std::isinf(x[i]) && x[i] == y[i];
    if (!same_inf && !std::isnan(err)) max_err = std::max(max_err, err);
    if (nan || inf_mismatch || (!same_inf && !(err <= tol))) {
      ++bad;
      const double excess = std::isnan(err) || std::isinf(err) ? 1e300 : err - tol;
      if (excess > worst_excess) worst_excess = excess, worst = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << x.size() << " elements differ (shape " << a.shape().str()
                                       << "); worst at flat index " << worst << ": " << x[worst] << " vs reference "
                                       << y[worst] << "; max |err| " << max_err << ", atol " << atol << ", rtol "
                                       << rtol;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

void expect_error(const std::function<void()>& f, const std::string& prefix, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown; expected " << prefix;
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(prefix, 0), 0u) << m;
    for (const std::string& p : parts) EXPECT_NE(m.find(p), std::string::npos) << "'" << p << "' missing in: " << m;
  }
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  expect_error(f, "", parts);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = 0.0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

namespace {
double dot(const Tensor& out, const Tensor& w) {
  const std::vector<double> o = out.to_vector<double>(), v = w.to_vector<double>();
  double s = 0.0;
  for (size_t i = 0; i < o.size(); ++i) s += o[i] * v[i];
  return s;
}
}  // namespace

::testing::AssertionResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                     const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  std::vector<Tensor> xs;
  for (const Tensor& in : inputs) {
    Tensor x = in.to(DType::f64).clone();
    x.set_requires_grad(true);
    xs.push_back(x);
  }
  Tensor out = f(xs);
  if (out.dtype() != DType::f64) return ::testing::AssertionFailure() << "f returned " << out.str() << ", not f64";
  if (!out.requires_grad()) return ::testing::AssertionFailure() << "output " << out.str() << " has no gradient graph";
  Rng rng(opt.seed);
  const Tensor w = Tensor::randn(out.shape(), rng, DType::f64);
  out.backward(w);

  std::ostringstream failures;
  int n_bad = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    Tensor analytic = xs[k].grad().defined() ? xs[k].grad() : Tensor::zeros(xs[k].shape(), DType::f64);
    const std::vector<double> a = analytic.to_vector<double>();
    double* p = xs[k].data<double>();  // contiguous f64 clone
    for (int64_t i = 0; i < xs[k].numel(); ++i) {
      const double saved = p[i];
      double fp, fm;
      {
        NoGrad ng;
        p[i] = saved + opt.eps;
        fp = dot(f(xs), w);
        p[i] = saved - opt.eps;
        fm = dot(f(xs), w);
        p[i] = saved;
      }
      const double numeric = (fp - fm) / (2.0 * opt.eps);
      const double err = std::fabs(a[static_cast<size_t>(i)] - numeric);
      if (!(err <= opt.atol + opt.rtol * std::fabs(numeric))) {
        if (n_bad++ < 5)
          failures << "\n  input " << k << " " << xs[k].shape().str() << " flat element " << i << ": analytic "
                   << a[static_cast<size_t>(i)] << " vs numeric " << numeric;
      }
    }
  }
  if (n_bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << n_bad << " gradient entries disagree with finite differences"
                                       << failures.str();
}

}  // namespace attend::test
