#include "attend/train/optimizer.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <set>

#include "attend/autograd/autograd.h"
#include "attend/core/threads.h"

namespace attend::train {
namespace {

bool finite_lr(double lr) { return std::isfinite(lr) && lr >= 0.0; }

// Parameters of at least this many elements are updated by all threads.
constexpr int64_t kParallelUpdate = int64_t{1} << 16;

// sum of squares of `t` in double (any layout).
double sum_squares(const Tensor& t) {
  const Tensor c = t.contiguous();
  return dispatch_dtype(c.dtype(), [&]<typename T>() {
    const T* x = c.data<T>();
    const int64_t n = c.numel();
    double s[4] = {0.0, 0.0, 0.0, 0.0};  // independent partial sums, so the adds pipeline
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int k = 0; k < 4; ++k) s[k] += static_cast<double>(x[i + k]) * static_cast<double>(x[i + k]);
    for (; i < n; ++i) s[0] += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    return (s[0] + s[1]) + (s[2] + s[3]);
  });
}

// One Adam update of n elements, in PyTorch's order of operations (tests/golden/train_golden.cc):
//   g' = g + wd w;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
//   w = w - step (m / (sqrt(v) / sqrt(bc2) + eps)).
// The arrays never alias (restrict), so the loop vectorizes.
template <typename T, bool kDecay>
void adam_update(T* __restrict w, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n, T wd, T b1,
                 T b2, T one_b1, T one_b2, T bc2, T eps, T neg_step) {
  for (int64_t k = 0; k < n; ++k) {
    T gk = g[k];
    if constexpr (kDecay) gk = gk + wd * w[k];
    m[k] = m[k] * b1;
    m[k] = m[k] + one_b1 * gk;
    v[k] = v[k] * b2;
    v[k] = v[k] + one_b2 * gk * gk;
    const T denom = std::sqrt(v[k]) / bc2 + eps;
    w[k] = w[k] + neg_step * (m[k] / denom);
  }
}

// The gradient of `p` as a contiguous tensor of p's dtype (undefined when there is none).
Tensor grad_of(const Tensor& p) {
  const Tensor g = p.grad();
  if (!g.defined()) return g;
  return g.to(p.dtype()).contiguous();
}

}  // namespace

// ---- Optimizer -----------------------------------------------------------------------------------

Optimizer::Optimizer(std::string kind, NamedParameters params, double lr)
    : kind_(std::move(kind)), params_(std::move(params)), lr_(lr) {
  ATTEND_CHECK(!params_.empty(), kind_, "no parameters to optimize");
  ATTEND_CHECK(finite_lr(lr), kind_, "learning rate ", lr, " is not a finite number >= 0");
  std::set<std::string> names;
  for (const auto& [name, p] : params_) {
    ATTEND_CHECK(names.insert(name).second, kind_, "parameter '", name, "' appears twice");
    ATTEND_CHECK(p.defined(), kind_, "parameter '", name, "' is undefined");
    ATTEND_CHECK(p.is_contiguous(), kind_, "parameter '", name, "' ", p.str(), " is not contiguous");
  }
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : params_) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  ATTEND_CHECK(finite_lr(lr), kind_, "learning rate ", lr, " is not a finite number >= 0");
  lr_ = lr;
}

OptimizerState Optimizer::state_dict() const {
  OptimizerState out{.kind = kind_, .lr = lr_, .tensors = {}};
  for (const auto& [name, s] : state_) {
    if (s.step == 0) continue;
    out.tensors[name + ".step"] = Tensor::full(Shape{1}, static_cast<double>(s.step), DType::f64);
    for (const auto& [slot, t] : s.buffers) out.tensors[name + "." + slot] = t.clone();
  }
  return out;
}

void Optimizer::load_state_dict(const OptimizerState& state, const std::string& source) {
  const std::string op = kind_ + "::load_state_dict";
  ATTEND_CHECK(state.kind == kind_, op, source, ": the state is of optimizer '", state.kind, "', this is '",
               kind_, "'");
  ATTEND_CHECK(finite_lr(state.lr), op, source, ": learning rate ", state.lr, " is not a finite number >= 0");
  const std::vector<std::string> slot_names = slots();
  // key -> (parameter index, slot)
  std::map<std::string, std::pair<size_t, std::string>> known;
  for (size_t i = 0; i < params_.size(); ++i)
    for (const auto& slot : slot_names) known[params_[i].first + "." + slot] = {i, slot};

  std::vector<size_t> found(params_.size(), 0);
  for (const auto& [key, t] : state.tensors) {
    const auto it = known.find(key);
    ATTEND_CHECK(it != known.end(), op, source, ": unknown optimizer key '", key, "' (no parameter of this model ",
                 "with a slot of that name; ", kind_, " keeps ", slot_names.size(), " slots per parameter)");
    const auto& [i, slot] = it->second;
    const Tensor& p = params_[i].second;
    ATTEND_CHECK(t.defined(), op, source, ": optimizer key '", key, "' is undefined");
    const Shape want = slot == "step" ? Shape{1} : p.shape();
    ATTEND_CHECK(t.shape() == want, op, source, ": optimizer key '", key, "' has shape ", t.shape().str(),
                 ", expected ", want.str(), " (parameter '", params_[i].first, "' is ", p.shape().str(), ")");
    if (slot == "step") {
      const double v = t.item();
      ATTEND_CHECK(std::isfinite(v) && v >= 1 && v == std::floor(v), op, source, ": optimizer key '", key,
                   "' holds step ", v, ", expected a whole number >= 1");
    } else {
      ATTEND_CHECK(all_finite(t), op, source, ": optimizer key '", key, "' holds NaN or Inf");
    }
    ++found[i];
  }
  for (size_t i = 0; i < params_.size(); ++i)
    ATTEND_CHECK(found[i] == 0 || found[i] == slot_names.size(), op, source, ": parameter '", params_[i].first,
                 "' has ", found[i], " of its ", slot_names.size(), " optimizer slots");

  // Everything is valid: replace the state.
  state_.clear();
  for (const auto& [key, t] : state.tensors) {
    const auto& [i, slot] = known.at(key);
    Slots& s = state_[params_[i].first];
    if (slot == "step")
      s.step = static_cast<int64_t>(t.item());
    else
      s.buffers[slot] = t.to(params_[i].second.dtype()).clone();
  }
  lr_ = state.lr;
}

// ---- Adam ------------------------------------------------------------------------------------------

Adam::Adam(NamedParameters params, const AdamOptions& options)
    : Optimizer("adam", std::move(params), options.lr), options_(options) {
  ATTEND_CHECK(options.beta1 >= 0 && options.beta1 < 1, "adam", "beta1 ", options.beta1, " is not in [0, 1)");
  ATTEND_CHECK(options.beta2 >= 0 && options.beta2 < 1, "adam", "beta2 ", options.beta2, " is not in [0, 1)");
  ATTEND_CHECK(options.eps >= 0 && std::isfinite(options.eps), "adam", "eps ", options.eps, " is not >= 0");
  ATTEND_CHECK(options.weight_decay >= 0 && std::isfinite(options.weight_decay), "adam", "weight_decay ",
               options.weight_decay, " is not >= 0");
}

void Adam::step() {
  NoGrad no_grad;
  const AdamOptions& o = options_;
  for (size_t i = 0; i < params().size(); ++i) {
    const Tensor& p = params()[i].second;
    const Tensor g = grad_of(p);
    if (!g.defined()) continue;
    Slots& s = slots_of(i);
    if (s.step == 0) {
      s.buffers["exp_avg"] = Tensor::zeros(p.shape(), p.dtype());
      s.buffers["exp_avg_sq"] = Tensor::zeros(p.shape(), p.dtype());
    }
    ++s.step;
    const double t = static_cast<double>(s.step);
    const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
    const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
    const double step_size = lr() / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);
    dispatch_dtype(p.dtype(), [&]<typename T>() {
      T* w = p.data<T>();
      const T* gr = g.data<T>();
      T* m = s.buffers.at("exp_avg").data<T>();
      T* v = s.buffers.at("exp_avg_sq").data<T>();
      const T wd = static_cast<T>(o.weight_decay), b1 = static_cast<T>(o.beta1), b2 = static_cast<T>(o.beta2);
      const T one_b1 = static_cast<T>(1.0 - o.beta1), one_b2 = static_cast<T>(1.0 - o.beta2);
      const T bc2 = static_cast<T>(bias_correction2_sqrt), eps = static_cast<T>(o.eps);
      const T neg_step = static_cast<T>(-step_size);
      // Element ranges over the threads (each element is updated alone: the same result).
      const int64_t n = p.numel(), parts = n >= kParallelUpdate ? num_threads() : 1;
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(parts)) if (parts > 1)
      for (int64_t k = 0; k < parts; ++k) {
        const int64_t a = n * k / parts, len = n * (k + 1) / parts - a;
        if (o.weight_decay != 0.0)
          adam_update<T, true>(w + a, gr + a, m + a, v + a, len, wd, b1, b2, one_b1, one_b2, bc2, eps, neg_step);
        else
          adam_update<T, false>(w + a, gr + a, m + a, v + a, len, wd, b1, b2, one_b1, one_b2, bc2, eps, neg_step);
      }
    });
  }
}

// ---- SGD -------------------------------------------------------------------------------------------

SGD::SGD(NamedParameters params, const SgdOptions& options)
    : Optimizer("sgd", std::move(params), options.lr), options_(options) {
  ATTEND_CHECK(options.momentum >= 0 && std::isfinite(options.momentum), "sgd", "momentum ", options.momentum,
               " is not >= 0");
  ATTEND_CHECK(std::isfinite(options.dampening), "sgd", "dampening ", options.dampening, " is not finite");
  ATTEND_CHECK(options.weight_decay >= 0 && std::isfinite(options.weight_decay), "sgd", "weight_decay ",
               options.weight_decay, " is not >= 0");
  ATTEND_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0), "sgd",
               "nesterov momentum needs momentum > 0 and dampening 0 (momentum ", options.momentum, ", dampening ",
               options.dampening, ")");
}

void SGD::step() {
  NoGrad no_grad;
  const SgdOptions& o = options_;
  for (size_t i = 0; i < params().size(); ++i) {
    const Tensor& p = params()[i].second;
    const Tensor g = grad_of(p);
    if (!g.defined()) continue;
    Slots& s = slots_of(i);
    const bool first = s.step == 0;
    ++s.step;
    if (o.momentum != 0.0 && first) s.buffers["momentum_buffer"] = Tensor::zeros(p.shape(), p.dtype());
    dispatch_dtype(p.dtype(), [&]<typename T>() {
      T* w = p.data<T>();
      const T* gr = g.data<T>();
      T* buf = o.momentum != 0.0 ? s.buffers.at("momentum_buffer").data<T>() : nullptr;
      const T wd = static_cast<T>(o.weight_decay), mom = static_cast<T>(o.momentum);
      const T one_damp = static_cast<T>(1.0 - o.dampening), neg_lr = static_cast<T>(-lr());
      const int64_t n = p.numel();
      for (int64_t k = 0; k < n; ++k) {
        T d = gr[k];
        if (o.weight_decay != 0.0) d = d + wd * w[k];
        if (buf != nullptr) {
          buf[k] = first ? d : buf[k] * mom + one_damp * d;
          d = o.nesterov ? d + mom * buf[k] : buf[k];
        }
        w[k] = w[k] + neg_lr * d;
      }
    });
  }
}

std::vector<std::string> SGD::slots() const {
  if (options_.momentum == 0.0) return {"step"};
  return {"step", "momentum_buffer"};
}

// ---- gradients -------------------------------------------------------------------------------------

double grad_norm(const NamedParameters& params) {
  double total = 0.0;
  for (const auto& [name, p] : params) {
    const Tensor g = p.grad();
    if (g.defined()) total += sum_squares(g);
  }
  return std::sqrt(total);
}

double clip_grad_norm(const NamedParameters& params, double max_norm) {
  ATTEND_CHECK(std::isfinite(max_norm) && max_norm > 0, "clip_grad_norm", "max_norm ", max_norm,
               " is not a finite number > 0");
  const double total = grad_norm(params);
  if (!std::isfinite(total)) return total;
  const double coef = max_norm / (total + 1e-6);
  if (coef >= 1.0) return total;
  NoGrad no_grad;
  for (const auto& [name, p] : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor c = g.contiguous();
    dispatch_dtype(c.dtype(), [&]<typename T>() {
      T* x = c.data<T>();
      const T k = static_cast<T>(coef);
      const int64_t n = c.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelUpdate) num_threads(num_threads())
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] * k;
    });
    if (!c.same(g)) copy_into(g, c);
  }
  return total;
}

bool all_finite(const Tensor& t) {
  const Tensor c = t.contiguous();
  return dispatch_dtype(c.dtype(), [&]<typename T>() {
    const T* x = c.data<T>();
    const int64_t n = c.numel();
    // Non-finite iff the exponent bits are all ones: an integer OR over the elements, which
    // vectorizes (a branch per element does not).
    using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
    constexpr U kExp = static_cast<U>(sizeof(T) == 4 ? 0x7f800000ull : 0x7ff0000000000000ull);
    U bad = 0;
    for (int64_t i = 0; i < n; ++i) bad |= static_cast<U>((std::bit_cast<U>(x[i]) & kExp) == kExp);
    return bad == 0;
  });
}

std::string first_nonfinite(const NamedParameters& params, Check what) {
  for (const auto& [name, p] : params) {
    const Tensor t = what == Check::values ? p : p.grad();
    if (t.defined() && !all_finite(t)) return name;
  }
  return "";
}

}  // namespace attend::train
