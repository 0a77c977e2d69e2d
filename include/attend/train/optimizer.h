// Optimizers over named parameters (Module::named_parameters), with PyTorch 1.13's update rules
// exactly, gradient clipping by global norm, and the finiteness checks the training loop needs.
//
// Every update writes the parameter's own storage in place (under NoGrad), so the Module keeps
// the same leaves and nothing else needs to be re-bound. A parameter whose .grad is undefined is
// skipped and its state does not advance (as in PyTorch). Parameters must be contiguous.
//
//   Adam (Kingma & Ba 2015, torch.optim.Adam, amsgrad off):
//     g  = grad + weight_decay * p                 (L2 added to the gradient, not AdamW)
//     m  = beta1 * m + (1 - beta1) * g
//     v  = beta2 * v + (1 - beta2) * g * g
//     p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)    t = this parameter's step
//   SGD (torch.optim.SGD):
//     g  = grad + weight_decay * p
//     b  = g at the first step, then momentum * b + (1 - dampening) * g     (momentum > 0)
//     g  = nesterov ? g + momentum * b : b
//     p -= lr * g
//   Numerics: the state has the parameter's dtype and each line is evaluated in that dtype, in
//   PyTorch's order; the bias corrections and the step size are computed in double.
//
// State export (for checkpoints): OptimizerState.tensors holds "<param name>.<slot>" entries,
// slots "step" (f64, shape [1]), "exp_avg", "exp_avg_sq" (Adam) or "momentum_buffer" (SGD);
// OptimizerState.lr is the current learning rate (schedulers change it). A parameter that has not
// been stepped yet has no entries.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "attend/core/tensor.h"

namespace attend::train {

using NamedParameters = std::vector<std::pair<std::string, Tensor>>;

struct OptimizerState {
  std::string kind;                      // "adam" or "sgd"
  double lr = 0.0;
  std::map<std::string, Tensor> tensors;  // "<param>.<slot>"
};

class Optimizer {
 public:
  // Error "[<kind>] ..." for an empty list, duplicate names, undefined, non-contiguous parameters
  // or a learning rate that is not finite and >= 0.
  Optimizer(std::string kind, NamedParameters params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // Clears every parameter's .grad.
  void zero_grad();

  const std::string& kind() const { return kind_; }
  double lr() const { return lr_; }
  void set_lr(double lr);
  const NamedParameters& params() const { return params_; }

  // The slot names this optimizer keeps per parameter ("step" included).
  virtual std::vector<std::string> slots() const = 0;
  // Copies of the state (safe to keep while training goes on).
  OptimizerState state_dict() const;
  // Replaces the state. Validates everything before changing anything: the kind must match, every
  // key must be "<known param>.<known slot>" (else "unknown optimizer key 'k'"), a parameter has
  // all of its slots or none, shapes equal the parameter's ("step" is [1]). `source` (a file name)
  // prefixes every error: "[<kind>::load_state_dict] <source>: ...".
  void load_state_dict(const OptimizerState& state, const std::string& source = "state");

 protected:
  struct Slots {
    int64_t step = 0;
    std::map<std::string, Tensor> buffers;  // slot name (not "step") -> tensor like the parameter
  };
  // State of parameter i (created empty on first use).
  Slots& slots_of(size_t i) { return state_[params_[i].first]; }

 private:
  std::string kind_;
  NamedParameters params_;
  double lr_;
  std::map<std::string, Slots> state_;  // by parameter name
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 (PyTorch Adam), not decoupled
};

class Adam : public Optimizer {
 public:
  // Error "[adam] ..." unless 0 <= beta < 1, eps >= 0, weight_decay >= 0.
  Adam(NamedParameters params, const AdamOptions& options = {});
  void step() override;
  std::vector<std::string> slots() const override { return {"step", "exp_avg", "exp_avg_sq"}; }
  const AdamOptions& options() const { return options_; }

 private:
  AdamOptions options_;
};

struct SgdOptions {
  double lr = 0.1;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0 (as PyTorch)
};

class SGD : public Optimizer {
 public:
  SGD(NamedParameters params, const SgdOptions& options = {});
  void step() override;
  // {"step", "momentum_buffer"}, or only {"step"} without momentum.
  std::vector<std::string> slots() const override;
  const SgdOptions& options() const { return options_; }

 private:
  SgdOptions options_;
};

// torch.nn.utils.clip_grad_norm_ (norm 2): total = sqrt(sum over parameters of |grad|^2)
// (accumulated in double), and when total > max_norm every gradient is multiplied by
// max_norm / (total + 1e-6). Parameters without a gradient are ignored. Returns the total norm
// before clipping. A non-finite total leaves the gradients untouched (the caller skips the step;
// see all_finite). Error "[clip_grad_norm] ..." when max_norm is not finite and > 0.
double clip_grad_norm(const NamedParameters& params, double max_norm);
// The same total norm, without changing anything.
double grad_norm(const NamedParameters& params);

// True when every element of `t` is finite (no NaN, no +-Inf).
bool all_finite(const Tensor& t);
// The name of the first parameter whose values (Check::values) or gradient (Check::gradients)
// hold a NaN or an Inf, or "" when all are finite.
enum class Check { values, gradients };
std::string first_nonfinite(const NamedParameters& params, Check what);

}  // namespace attend::train
