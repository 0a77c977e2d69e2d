// NumPy arrays in and out of attend::Tensor, without copies where the layout allows.
//
// In:  a float32 or float64 array that is C-contiguous and aligned is wrapped as it is: the Tensor
//      reads the array's own buffer and holds a reference to the array, so the buffer outlives any
//      use. Any other array (another dtype, strided, a list) is converted ONCE to a C-contiguous
//      array of the dtype the call computes in. Inputs are never written.
// Out: a Tensor's elements become an array over the Tensor's own storage (row-major first), whose
//      base object keeps that storage alive; no copy when the result is row-major already.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <vector>

#include "attend/core/tensor.h"

namespace attend::python {

namespace py = pybind11;

// The dtype a call computes in: float64 when `first` is a float64 array, else float32.
DType dtype_for(const py::handle& first);

// `obj` as a Tensor of `dtype` (see the header comment); `name` names the argument in errors:
// "[<op>] <name>: expected a float array, got ...".
Tensor tensor_of(const py::handle& obj, DType dtype, const std::string& op, const std::string& name);

// The Tensor's elements as a NumPy array (float32 or float64) sharing its storage.
py::array array_of(const Tensor& t);
// A copy of the elements as a new NumPy array (for state dicts: the caller may write it).
py::array array_copy_of(const Tensor& t);

// An optional sequence of non-negative integers (key lengths, source lengths).
std::optional<std::vector<int64_t>> lengths_of(const py::handle& obj, const std::string& op, const std::string& name);

}  // namespace attend::python
