#include "arrays.h"

#include <cstring>

#include "attend/core/error.h"

namespace attend::python {

namespace {

// Keeps a Python object alive from C++; the last owner drops the reference under the GIL (the
// Tensor may die on a thread that released it).
std::shared_ptr<void> keep_alive(const py::handle& obj) {
  obj.inc_ref();
  return std::shared_ptr<void>(obj.ptr(), [](void* p) {
    py::gil_scoped_acquire gil;
    Py_DECREF(static_cast<PyObject*>(p));
  });
}

}  // namespace

DType dtype_for(const py::handle& first) {
  if (py::isinstance<py::array>(first) && py::reinterpret_borrow<py::array>(first).dtype().is(py::dtype::of<double>()))
    return DType::f64;
  return DType::f32;
}

Tensor tensor_of(const py::handle& obj, DType dtype, const std::string& op, const std::string& name) {
  ATTEND_CHECK(!obj.is_none(), op, name, ": expected an array, got None");
  py::array a;
  try {
    a = py::array::ensure(obj);
  } catch (const py::error_already_set&) {
  }
  ATTEND_CHECK(a && a.ptr() != nullptr, op, name, ": expected an array, got ", std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  const char kind = a.dtype().kind();
  ATTEND_CHECK(kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b', op, name,
               ": expected a real-valued array, got dtype ", std::string(py::str(a.dtype())));
  // One conversion at most: to C-contiguous, aligned, native byte order, of the call's dtype.
  const auto flags = py::array::c_style | py::array::forcecast;
  py::array c = dtype == DType::f64 ? py::array(py::array_t<double, flags>::ensure(a))
                                    : py::array(py::array_t<float, flags>::ensure(a));
  ATTEND_CHECK(c, op, name, ": cannot convert dtype ", std::string(py::str(a.dtype())), " to ", dtype_name(dtype));
  Shape shape;
  std::vector<int64_t> dims(c.shape(), c.shape() + c.ndim());
  shape = Shape(dims);
  return Tensor::from_external(const_cast<void*>(c.data()), static_cast<size_t>(c.nbytes()), shape, dtype, keep_alive(c));
}

py::array array_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  const size_t item = dtype_size(c.dtype());
  std::vector<py::ssize_t> shape, strides;
  for (int d = 0; d < c.dim(); ++d) {
    shape.push_back(c.size(d));
    strides.push_back(static_cast<py::ssize_t>(c.strides()[d] * static_cast<int64_t>(item)));
  }
  auto* owner = new Tensor(c);
  py::capsule base(owner, [](void* p) { delete static_cast<Tensor*>(p); });
  if (c.dtype() == DType::f64) return py::array_t<double>(shape, strides, c.data<double>(), base);
  return py::array_t<float>(shape, strides, c.data<float>(), base);
}

py::array array_copy_of(const Tensor& t) {
  return py::array(array_of(t).attr("copy")());
}

std::optional<std::vector<int64_t>> lengths_of(const py::handle& obj, const std::string& op, const std::string& name) {
  if (obj.is_none()) return std::nullopt;
  std::vector<int64_t> out;
  try {
    for (const py::handle v : obj) {
      ATTEND_CHECK(!py::isinstance<py::float_>(v), op, name, ": lengths must be integers, got ",
                   std::string(py::repr(v)));
      out.push_back(v.cast<int64_t>());
    }
  } catch (const py::cast_error&) {
    throw Error(op, name + ": expected a sequence of integers, got " + std::string(py::repr(obj)));
  }
  for (int64_t v : out) ATTEND_CHECK(v >= 0, op, name, ": lengths must be >= 0, got ", v);
  return out;
}

}  // namespace attend::python
