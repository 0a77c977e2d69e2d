// Module: the base of everything in nn/ that owns parameters (PyTorch's nn.Module, reduced to
// what attend needs): named parameters with PyTorch's state_dict names, child modules, train/eval
// mode, zero_grad, dtype conversion and loading parameters by name.
//
// A subclass registers its own Tensor members (`register_parameter("weight", weight)`) and member
// modules (`register_module("out_proj", out_proj)`) in its constructor. The registry keeps their
// addresses, so a Module is neither copyable nor movable: hold modules by value as members or
// through std::unique_ptr.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "attend/attention/normalizers.h"
#include "attend/core/tensor.h"

namespace attend::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = delete;
  Module& operator=(Module&&) = delete;

  // Every defined parameter, this module's first then each child's (in registration order),
  // named as in PyTorch's state_dict: "in_proj_weight", "out_proj.weight", ...
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  // The parameter slot called `name` (dotted for children). Error "[Module] ..." if unknown.
  Tensor& parameter(const std::string& name);
  // Copies `value` into parameter `name` (shapes must match; converted to the parameter's dtype).
  // The parameter stays the same leaf, so optimizers holding it see the new values.
  void load_parameter(const std::string& name, const Tensor& value);
  // Loads every entry of `state`. With `strict`, the names must match named_parameters() one to one.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  // Clears the .grad of every parameter.
  void zero_grad();
  // Training mode (dropout active) for this module and all children; eval() = train(false).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Converts every parameter to `dtype` (fresh leaves that require grad).
  void to(DType dtype);

  std::vector<std::pair<std::string, Module*>> named_children() const { return children_; }

 protected:
  // `slot` must be a member of the subclass. An undefined slot (e.g. a disabled bias) is kept
  // registered but skipped by named_parameters(). Marks a defined slot as requiring grad.
  void register_parameter(std::string name, Tensor& slot);
  void register_module(std::string name, Module& child);
  // The parameters of a learned normalizer (a member of the subclass, like a slot) as
  // "normalizer.<its name>" (crf-segment: "normalizer.pairwise"); none for the built-ins.
  void register_normalizer(const attention::Normalizer& normalizer);

 private:
  std::vector<std::pair<std::string, Tensor*>> params_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

}  // namespace attend::nn
