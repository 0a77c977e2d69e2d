// Normalizers (the third step of the skeleton): softmax, sparsemax (Martins & Astudillo 2016),
// 1.5-entmax and alpha-entmax (Peters, Niculae & Martins 2019), the per-row log-sum-exp, and the
// registry of Normalizer objects. Each works row by row
// over the last axis of a contiguous copy; -inf entries (masked keys) get weight 0, and a row of
// all -inf gives zeros and zero gradient.
#include "attend/attention/normalizers.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include "attend/attention/structured.h"
#include "attend/ops/ops.h"

namespace attend::attention {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

void check_rows(const Tensor& x, const char* op) {
  ATTEND_CHECK(x.defined() && x.dim() >= 1, op, "scores must have at least one axis, got ",
               x.defined() ? x.shape().str() : std::string("an undefined tensor"));
}

// Applies `row_fn(in, out, n)` to every row of the last axis; returns a contiguous result.
template <typename T, typename F>
Tensor map_rows(const Tensor& x, F&& row_fn) {
  const Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const int64_t n = x.shape().at(-1);
  const int64_t rows = n == 0 ? 0 : x.numel() / n;
  const T* in = xc.data<T>();
  T* o = out.data<T>();
  for (int64_t r = 0; r < rows; ++r) row_fn(in + r * n, o + r * n, n);
  return out;
}

// dz = row_fn(p_row, g_row, dz_row, n) for every row of the normalizer's output p and incoming
// gradient g (both [..., Tk]): the shared plumbing of the sparse normalizers' backwards.
template <typename RowFn>
Tensor map_rows_backward(const Tensor& p, const Tensor& g, RowFn&& row_fn) {
  return dispatch_dtype(p.dtype(), [&]<typename T>() {
    const Tensor gc = g.contiguous();
    Tensor dz = Tensor::empty(p.shape(), p.dtype());
    const int64_t n = p.shape().at(-1);
    const int64_t rows = n == 0 ? 0 : p.numel() / n;
    const T* pp = p.data<T>();
    const T* gg = gc.data<T>();
    T* d = dz.data<T>();
    for (int64_t r = 0; r < rows; ++r) row_fn(pp + r * n, gg + r * n, d + r * n, n);
    return dz;
  });
}

// Sorted (descending) finite entries of a row, max-shifted by the caller's choice.
template <typename T>
std::vector<T> sorted_finite(const T* z, int64_t n, T scale) {
  std::vector<T> s;
  s.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    if (z[i] != static_cast<T>(kNegInf)) s.push_back(z[i] * scale);
  std::sort(s.begin(), s.end(), std::greater<T>());
  return s;
}

// sparsemax threshold: with z sorted descending, k(z) = max{k : 1 + k z_k > sum_{j<=k} z_j},
// tau = (sum_{j<=k} z_j - 1) / k.
template <typename T>
void sparsemax_row(const T* z, T* p, int64_t n) {
  const std::vector<T> s = sorted_finite(z, n, T(1));
  if (s.empty()) {
    std::fill(p, p + n, T(0));
    return;
  }
  const T m = s.front();  // shift for accuracy: sparsemax(z) = sparsemax(z - m)
  T cum = 0, tau = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    cum += s[k] - m;
    const T kk = static_cast<T>(k + 1);
    if (T(1) + kk * (s[k] - m) > cum) tau = (cum - T(1)) / kk;
  }
  for (int64_t i = 0; i < n; ++i) p[i] = z[i] == static_cast<T>(kNegInf) ? T(0) : std::max(z[i] - m - tau, T(0));
}

// 1.5-entmax threshold (Peters et al. 2019, Algorithm 2): on x = (z - max z) / 2 sorted
// descending, for each support size k: mean_k, ss_k = mean of squares,
// tau_k = mean_k - sqrt(max(0, (1 - k (ss_k - mean_k^2)) / k)); the support is the largest k with
// tau_k <= x_k, and p = max(x - tau, 0)^2.
template <typename T>
void entmax15_row(const T* z, T* p, int64_t n) {
  std::vector<T> s = sorted_finite(z, n, T(1));
  if (s.empty()) {
    std::fill(p, p + n, T(0));
    return;
  }
  const T m = s.front();
  for (T& v : s) v = (v - m) / T(2);
  T cum = 0, cum2 = 0, tau = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    cum += s[k];
    cum2 += s[k] * s[k];
    const T kk = static_cast<T>(k + 1);
    const T mean = cum / kk, ss = cum2 / kk;
    const T delta = (T(1) - kk * (ss - mean * mean)) / kk;
    const T tau_k = mean - std::sqrt(std::max(delta, T(0)));
    if (tau_k <= s[k]) tau = tau_k;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (z[i] == static_cast<T>(kNegInf)) {
      p[i] = T(0);
    } else {
      const T t = std::max((z[i] - m) / T(2) - tau, T(0));
      p[i] = t * t;
    }
  }
}

// alpha-entmax by bisection on x = (alpha - 1)(z - max z): f(tau) = sum max(x - tau, 0)^(1/(alpha-1))
// is decreasing, f(-1) >= 1 (the max entry alone gives 1) and f(0) = 0. 60 halvings of [-1, 0]
// leave tau within 1e-18; p is renormalized so that it sums to 1 in the output dtype.
template <typename T>
void entmax_bisect_row(const T* z, T* p, int64_t n, double alpha) {
  double m = kNegInf;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(z[i]));
  if (m == kNegInf) {
    std::fill(p, p + n, T(0));
    return;
  }
  const double am1 = alpha - 1.0, inv = 1.0 / am1;
  auto mass = [&](double tau, bool write) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double x = z[i] == static_cast<T>(kNegInf) ? kNegInf : am1 * (static_cast<double>(z[i]) - m);
      const double v = x > tau ? std::pow(x - tau, inv) : 0.0;
      if (write) p[i] = static_cast<T>(v);
      s += v;
    }
    return s;
  };
  double lo = -1.0, hi = 0.0;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    (mass(mid, false) >= 1.0 ? lo : hi) = mid;
  }
  const double total = mass(lo, true);
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(static_cast<double>(p[i]) / total);
}

}  // namespace

Tensor masked_softmax(const Tensor& scores) {
  check_rows(scores, "softmax");
  // attend::softmax already gives zeros and a zero gradient on rows of all -inf.
  return softmax(scores, -1);
}

Tensor sparsemax(const Tensor& scores) {
  check_rows(scores, "sparsemax");
  Tensor out = dispatch_dtype(scores.dtype(), [&]<typename T>() { return map_rows<T>(scores, sparsemax_row<T>); });
  // Backward: p = z - tau on the support S (p > 0), tau = (sum_S z - 1)/|S|, so
  // dp_i/dz_j = [i, j in S] (delta_ij - 1/|S|): dz_i = [p_i > 0] (g_i - mean_{j in S} g_j).
  const Tensor p = out.detach();
  autograd::record("sparsemax", {scores}, out, [p](const std::vector<Tensor>& g) -> std::vector<Tensor> {
    return {map_rows_backward(p, g[0], []<typename T>(const T* pr, const T* gr, T* dr, int64_t n) {
      T sum = 0;
      int64_t support = 0;
      for (int64_t i = 0; i < n; ++i)
        if (pr[i] > T(0)) sum += gr[i], ++support;
      const T mean = support > 0 ? sum / static_cast<T>(support) : T(0);
      for (int64_t i = 0; i < n; ++i) dr[i] = pr[i] > T(0) ? gr[i] - mean : T(0);
    })};
  });
  return out;
}

Tensor entmax15(const Tensor& scores) {
  check_rows(scores, "entmax15");
  Tensor out = dispatch_dtype(scores.dtype(), [&]<typename T>() { return map_rows<T>(scores, entmax15_row<T>); });
  // Backward: on the support p_i = (z_i/2 - tau)^2 with sum_S p = 1. Let s_i = sqrt(p_i):
  // dp_i = s_i (dz_i - 2 dtau) and sum_S s_i (dz_i - 2 dtau) = 0 gives 2 dtau = sum s dz / sum s.
  // Hence dz_i = s_i g_i - s_i (sum_j s_j g_j) / (sum_j s_j); zero off the support.
  const Tensor p = out.detach();
  autograd::record("entmax15", {scores}, out, [p](const std::vector<Tensor>& g) -> std::vector<Tensor> {
    return {map_rows_backward(p, g[0], []<typename T>(const T* pr, const T* gr, T* dr, int64_t n) {
      T sg = 0, ss = 0;
      for (int64_t i = 0; i < n; ++i) {
        const T s = std::sqrt(pr[i]);
        sg += s * gr[i];
        ss += s;
      }
      const T q = ss > T(0) ? sg / ss : T(0);
      for (int64_t i = 0; i < n; ++i) {
        const T s = std::sqrt(pr[i]);
        dr[i] = s * gr[i] - s * q;
      }
    })};
  });
  return out;
}

Tensor entmax_bisect(const Tensor& scores, double alpha) {
  check_rows(scores, "entmax");
  ATTEND_CHECK(alpha > 1.0 && std::isfinite(alpha), "entmax", "alpha must be > 1 (1 is softmax), got ", alpha);
  Tensor out = dispatch_dtype(scores.dtype(), [&]<typename T>() {
    return map_rows<T>(scores, [alpha](const T* z, T* p, int64_t n) { entmax_bisect_row(z, p, n, alpha); });
  });
  // Backward: on the support p_i^(alpha-1) = (alpha-1) z_i - tau, so with s_i = p_i^(2-alpha),
  // dp_i = s_i (dz_i - dtau / (alpha-1)) and sum_S dp_i = 0 fix dtau; hence
  // dz_i = s_i g_i - s_i (sum_j s_j g_j) / (sum_j s_j), zero off the support (entmax15's rule at 1.5).
  const Tensor p = out.detach();
  autograd::record("entmax", {scores}, out, [p, alpha](const std::vector<Tensor>& g) -> std::vector<Tensor> {
    return {map_rows_backward(p, g[0], [alpha]<typename T>(const T* pr, const T* gr, T* dr, int64_t n) {
      T sg = 0, ss = 0;
      for (int64_t i = 0; i < n; ++i) {
        const T s = pr[i] > T(0) ? static_cast<T>(std::pow(static_cast<double>(pr[i]), 2.0 - alpha)) : T(0);
        sg += s * gr[i];
        ss += s;
      }
      const T q = ss > T(0) ? sg / ss : T(0);
      for (int64_t i = 0; i < n; ++i) {
        const T s = pr[i] > T(0) ? static_cast<T>(std::pow(static_cast<double>(pr[i]), 2.0 - alpha)) : T(0);
        dr[i] = s * (gr[i] - q);
      }
    })};
  });
  return out;
}

Tensor logsumexp(const Tensor& scores) {
  check_rows(scores, "logsumexp");
  Shape out_shape = scores.shape();
  out_shape.erase(out_shape.rank() - 1);
  const Tensor xc = scores.contiguous();
  Tensor out = Tensor::empty(out_shape, scores.dtype());
  dispatch_dtype(scores.dtype(), [&]<typename T>() {
    const int64_t n = scores.shape().at(-1);
    const int64_t rows = out.numel();
    const T* x = xc.data<T>();
    T* o = out.data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * n;
      T m = static_cast<T>(kNegInf);
      for (int64_t i = 0; i < n; ++i) m = std::max(m, xr[i]);
      if (m == static_cast<T>(kNegInf)) {  // fully masked (or empty) row
        o[r] = m;
        continue;
      }
      T s = 0;
      for (int64_t i = 0; i < n; ++i) s += std::exp(xr[i] - m);
      o[r] = m + std::log(s);
    }
  });
  // Backward: d lse / d x_i = exp(x_i - lse) = softmax(x)_i, zero on a fully masked row.
  const Tensor x_saved = scores.detach();
  autograd::record("logsumexp", {scores}, out, [x_saved](const std::vector<Tensor>& g) -> std::vector<Tensor> {
    return {mul(softmax(x_saved, -1), unsqueeze(g[0], -1))};
  });
  return out;
}

namespace {

// A built-in normalizer: a name and a function.
class FunctionNormalizer : public NormalizerImpl {
 public:
  FunctionNormalizer(std::string name, std::function<Tensor(const Tensor&)> f, std::optional<double> alpha = {})
      : name_(std::move(name)), f_(std::move(f)), alpha_(alpha) {}
  std::string name() const override { return name_; }
  Tensor apply(const Tensor& scores) const override { return f_(scores); }
  std::optional<double> entmax_alpha() const override { return alpha_; }

 private:
  std::string name_;
  std::function<Tensor(const Tensor&)> f_;
  std::optional<double> alpha_;
};

Normalizer builtin(const char* name, Tensor (*f)(const Tensor&), std::optional<double> alpha = {}) {
  return Normalizer(std::make_shared<FunctionNormalizer>(name, f, alpha));
}

struct NormalizerRegistry {
  std::mutex mutex;
  std::map<std::string, std::function<Normalizer(const NormalizerArgs&)>> factories;
};

NormalizerRegistry& normalizer_registry() {
  static NormalizerRegistry* r = [] {
    auto* reg = new NormalizerRegistry;  // never destroyed: lookups may run during static destruction
    reg->factories["softmax"] = [](const NormalizerArgs&) { return Normalizer::softmax(); };
    reg->factories["sparsemax"] = [](const NormalizerArgs&) { return Normalizer::sparsemax(); };
    reg->factories["entmax15"] = [](const NormalizerArgs&) { return Normalizer::entmax15(); };
    reg->factories["crf-segment"] = [](const NormalizerArgs& a) { return crf_segment_normalizer(a.heads, a.dtype); };
    reg->factories["dependency-tree"] = [](const NormalizerArgs&) { return tree_normalizer({}); };
    reg->factories["projective-tree"] = [](const NormalizerArgs&) { return tree_normalizer({.projective = true}); };
    return reg;
  }();
  return *r;
}

}  // namespace

Normalizer::Normalizer() : Normalizer(softmax()) {}
Normalizer::Normalizer(std::shared_ptr<NormalizerImpl> impl) : impl_(std::move(impl)) {
  ATTEND_CHECK(impl_ != nullptr, "normalizer", "no implementation");
}

Normalizer Normalizer::softmax() {
  static const Normalizer n = builtin("softmax", masked_softmax);
  return n;
}
Normalizer Normalizer::sparsemax() {
  static const Normalizer n = builtin("sparsemax", attention::sparsemax, 2.0);
  return n;
}
Normalizer Normalizer::entmax15() {
  static const Normalizer n = builtin("entmax15", attention::entmax15, 1.5);
  return n;
}
Normalizer Normalizer::entmax(double alpha) {
  ATTEND_CHECK(alpha > 1.0 && std::isfinite(alpha), "normalizer", "entmax alpha must be > 1 (1 is softmax), got ",
               alpha);
  if (alpha == 1.5) return entmax15();
  if (alpha == 2.0) return sparsemax();
  std::ostringstream name;
  name << "entmax-" << alpha;
  return Normalizer(std::make_shared<FunctionNormalizer>(
      name.str(), [alpha](const Tensor& scores) { return entmax_bisect(scores, alpha); }, alpha));
}

bool Normalizer::is_softmax() const { return impl_ == softmax().impl_; }

Normalizer make_normalizer(const std::string& name, const NormalizerArgs& args) {
  if (name.starts_with("entmax-") || name.starts_with("entmax:")) {
    const std::string a = name.substr(7);
    char* end = nullptr;
    const double alpha = std::strtod(a.c_str(), &end);
    ATTEND_CHECK(!a.empty() && end == a.c_str() + a.size(), "normalizer", "'", name,
                 "': expected entmax-<alpha>, e.g. entmax-1.3");
    return Normalizer::entmax(alpha);
  }
  NormalizerRegistry& r = normalizer_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  const auto it = r.factories.find(name);
  if (it != r.factories.end()) return it->second(args);
  std::string known;
  for (const auto& [n, f] : r.factories) known += n + ", ";
  throw Error("normalizer", "unknown normalizer '" + name + "' (known: " + known + "entmax-<alpha>, entmax:<alpha>)");
}

std::vector<std::string> normalizer_names() {
  NormalizerRegistry& r = normalizer_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [n, f] : r.factories) names.push_back(n);
  return names;
}

void register_normalizer(const std::string& name, std::function<Normalizer(const NormalizerArgs&)> factory) {
  ATTEND_CHECK(!name.empty() && factory, "normalizer", "a normalizer needs a name and a factory");
  NormalizerRegistry& r = normalizer_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[name] = std::move(factory);
}

}  // namespace attend::attention
