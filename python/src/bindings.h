// The pieces of the _attend extension module, one function per area (module.cc calls them).
#pragma once

#include <pybind11/pybind11.h>

#include <map>
#include <string>

#include "attend/core/tensor.h"
#include "attend/io/safetensors.h"
#include "attend/nn/module.h"

namespace attend::python {

namespace py = pybind11;

void bind_attention(py::module_& m);  // attention.cc: functions on arrays
void bind_modules(py::module_& m);    // modules.cc: MultiheadAttention
void bind_models(py::module_& m);     // models.cc: load, Translator, LanguageModel, Classifier, train, convert

// A module's parameters as {name: copy as a NumPy array}, in named_parameters() order.
py::dict state_dict_of(const nn::Module& module);
// {name: array} as tensors (float arrays only, read in place where they can be); `op` names errors.
io::TensorMap tensors_of(const py::dict& state, const std::string& op);
// Loads {name: array} into `module` (converted to its dtype); strict: the names must match one to
// one. Every name and shape is checked before anything changes. `op` names errors.
void load_state_dict_into(nn::Module& module, const py::dict& state, bool strict, const std::string& op);

}  // namespace attend::python
