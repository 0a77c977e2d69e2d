// The _attend extension module: attend's C++ API on NumPy arrays (attend/__init__.py re-exports
// it with the Python-side classes). Errors are attend.Error, a ValueError carrying the "[op]
// message" of attend::Error.
#include <pybind11/pybind11.h>

#include "arrays.h"
#include "attend/attention/flash.h"
#include "attend/core/threads.h"
#include "bindings.h"

namespace py = pybind11;

PYBIND11_MODULE(_attend, m) {
  m.doc() = "attend: attention mechanisms, modules and models on NumPy arrays (C++ core)";
  py::register_exception<attend::Error>(m, "Error", PyExc_ValueError);
  m.def("num_threads", &attend::num_threads, "Threads attend computes with (ATTEND_NUM_THREADS, default: all cores).");
  m.def("set_num_threads", &attend::set_num_threads, py::arg("n"), "Sets the threads attend computes with.");
  m.def(
      "_input_address",
      [](const py::object& a) {
        const attend::Tensor t = attend::python::tensor_of(a, attend::python::dtype_for(a), "_input_address", "a");
        return reinterpret_cast<uintptr_t>(t.dtype() == attend::DType::f64 ? static_cast<const void*>(t.data<double>())
                                                                             : static_cast<const void*>(t.data<float>()));
      },
      py::arg("a"),
      "The address of the buffer attend reads for array `a` (the conversion every function applies to its "
      "arrays): a's own data pointer when no copy was needed. For tests.");
  attend::attention::check_attention_env();
  attend::python::bind_attention(m);
  attend::python::bind_modules(m);
  attend::python::bind_models(m);
}
