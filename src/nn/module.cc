#include "attend/nn/module.h"

#include <set>

namespace attend::nn {

namespace {
constexpr const char* kOp = "Module";
}

void Module::register_parameter(std::string name, Tensor& slot) {
  for (const auto& [n, p] : params_) ATTEND_CHECK(n != name, kOp, "parameter '", name, "' registered twice");
  if (slot.defined()) slot.set_requires_grad(true);
  params_.emplace_back(std::move(name), &slot);
}

void Module::register_normalizer(const attention::Normalizer& normalizer) {
  for (const auto& [name, slot] : normalizer.parameters()) register_parameter("normalizer." + name, *slot);
}

void Module::register_module(std::string name, Module& child) {
  for (const auto& [n, c] : children_) ATTEND_CHECK(n != name, kOp, "child module '", name, "' registered twice");
  children_.emplace_back(std::move(name), &child);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, slot] : params_)
    if (slot->defined()) out.emplace_back(name, *slot);
  for (const auto& [cname, child] : children_)
    for (auto& [name, p] : child->named_parameters()) out.emplace_back(cname + "." + name, p);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

Tensor& Module::parameter(const std::string& name) {
  for (auto& [n, slot] : params_)
    if (n == name && slot->defined()) return *slot;
  const size_t dot = name.find('.');
  if (dot != std::string::npos) {
    const std::string head = name.substr(0, dot);
    for (auto& [cname, child] : children_)
      if (cname == head) return child->parameter(name.substr(dot + 1));
  }
  throw Error(kOp, detail::concat("no parameter named '", name, "'"));
}

void Module::load_parameter(const std::string& name, const Tensor& value) {
  Tensor& p = parameter(name);
  ATTEND_CHECK(p.shape() == value.shape(), kOp, "parameter '", name, "' is ", p.shape().str(), ", the value ",
               value.shape().str());
  Tensor dst = p.detach();
  copy_into(dst, value.to(p.dtype()));
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  if (strict) {
    std::set<std::string> own;
    for (const auto& [name, p] : named_parameters()) {
      own.insert(name);
      ATTEND_CHECK(state.count(name) == 1, kOp, "state dict lacks parameter '", name, "' ", p.shape().str());
    }
    for (const auto& [name, v] : state)
      ATTEND_CHECK(own.count(name) == 1, kOp, "state dict has unknown parameter '", name, "' ", v.shape().str());
  }
  // Every name and shape is checked before any parameter changes: a failed load leaves the module as it was.
  for (const auto& [name, v] : state) {
    const Tensor& p = parameter(name);
    ATTEND_CHECK(p.shape() == v.shape(), kOp, "parameter '", name, "' is ", p.shape().str(), ", the value ",
                 v.shape().str());
  }
  for (const auto& [name, v] : state) load_parameter(name, v);
}

void Module::zero_grad() {
  for (const auto& [name, slot] : params_)
    if (slot->defined()) slot->zero_grad();
  for (const auto& [cname, child] : children_) child->zero_grad();
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& [cname, child] : children_) child->train(on);
}

void Module::to(DType dtype) {
  for (const auto& [name, slot] : params_) {
    if (!slot->defined() || slot->dtype() == dtype) continue;
    *slot = slot->detach().to(dtype);
    slot->set_requires_grad(true);
  }
  for (const auto& [cname, child] : children_) child->to(dtype);
}

}  // namespace attend::nn
