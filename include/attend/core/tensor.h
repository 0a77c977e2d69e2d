// Tensor: a shape, strides (in elements) and an offset into shared, 64-byte aligned storage,
// of dtype f32 (compute) or f64 (references and gradient checks).
//
// Views (ops::reshape, permute, slice, expand...) share storage; `contiguous()` copies only when
// the layout is not row-major already. Everything differentiable lives in attend/ops; this class
// is metadata, data access and the autograd slots (requires_grad, grad, grad_fn) that the tape in
// attend/autograd fills.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attend/core/error.h"
#include "attend/core/shape.h"

namespace attend {

enum class DType : uint8_t { f32, f64 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::f32; }
template <>
constexpr DType dtype_of<double>() { return DType::f64; }

class Rng;
namespace autograd {
struct Node;
}

// An aligned byte buffer of its own, or memory owned elsewhere (a NumPy array's) that `owner`
// keeps alive for as long as the storage lives.
class Storage {
 public:
  explicit Storage(size_t bytes);
  Storage(void* external, size_t bytes, std::shared_ptr<void> owner);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  std::shared_ptr<void> owner_;  // set for external memory, which this storage never frees
};

// While an AllocationBudget lives on a thread, every tensor storage allocated on that thread counts
// against its bytes, and an allocation that would exceed them throws attend::Error("[<what>]
// ...") instead of allocating. For building something whose size comes from untrusted input (a
// model from a checkpoint's config) without letting that input allocate without bound. Budgets
// nest; the innermost one counts.
class AllocationBudget {
 public:
  AllocationBudget(size_t bytes, std::string op, std::string context);
  ~AllocationBudget();
  AllocationBudget(const AllocationBudget&) = delete;
  AllocationBudget& operator=(const AllocationBudget&) = delete;
  size_t used() const { return used_; }
  // Counts `bytes` against the innermost budget of this thread, if any; throws when over.
  static void charge(size_t bytes);

 private:
  size_t limit_, used_ = 0;
  std::string op_, context_;
  AllocationBudget* outer_;
};

class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::f32;
  // Autograd slots, filled by attend/autograd.
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
  int output_nr = 0;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories (all contiguous, no grad) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
  static Tensor scalar(double value, DType dtype = DType::f32);
  // Copies `values` (numel must match `shape`).
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  // A row-major tensor over `bytes` of memory owned elsewhere, without copying; `owner` keeps that
  // memory alive (the Python bindings pass the NumPy array). Error "[Tensor] ..." when the shape
  // needs more than `bytes`.
  static Tensor from_external(void* data, size_t bytes, const Shape& shape, DType dtype, std::shared_ptr<void> owner);
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape);
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype);
  // 0, 1, ..., n-1
  static Tensor arange(int64_t n, DType dtype = DType::f32);
  // Seeded random tensors; see attend/core/rng.h.
  static Tensor randn(const Shape& shape, Rng& rng, DType dtype = DType::f32);
  static Tensor uniform(const Shape& shape, Rng& rng, double lo = 0.0, double hi = 1.0,
                        DType dtype = DType::f32);
  static Tensor bernoulli(const Shape& shape, Rng& rng, double p, DType dtype = DType::f32);

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int dim() const { return shape().rank(); }
  int64_t size(int axis) const { return shape().at(axis); }
  int64_t numel() const { return shape().numel(); }
  DType dtype() const { return impl().dtype; }
  bool is_contiguous() const;
  std::string str() const;  // "f32[2, 3]"

  // ---- data access ----
  // Pointer to element 0 (storage + offset). Throws if T does not match the dtype.
  template <typename T>
  T* data() const;
  // Element at a multi-index, any layout. For tests and small loops.
  double at(std::initializer_list<int64_t> index) const;
  // Value of a one-element tensor.
  double item() const;
  // A row-major copy of the elements, converted to T.
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- raw layout (no autograd; ops/ wraps these differentiably) ----
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;
  // Row-major copy of the elements (always a new buffer).
  Tensor clone() const;
  // This tensor if row-major already, else clone().
  Tensor contiguous() const;
  // Same elements converted to `dtype` (a copy unless the dtype already matches).
  Tensor to(DType dtype) const;
  // Shares storage and layout, without any autograd history.
  Tensor detach() const;

  // ---- autograd slots ----
  bool requires_grad() const { return defined() && impl().requires_grad; }
  // Marks a leaf as a parameter/input to differentiate with respect to. Returns *this.
  Tensor& set_requires_grad(bool on = true);
  // The accumulated gradient (undefined until a backward reaches this leaf).
  Tensor grad() const;
  void zero_grad();
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl().grad_fn; }
  // Reverse-mode differentiation from this tensor (defined in attend/autograd/engine.cc).
  // A scalar needs no `grad_output`; otherwise it must match this tensor's shape.
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- raw, non-differentiable helpers used by the autograd engine and kernels ----
// dst += src (same shape; any layouts; dst written in place).
void add_inplace(Tensor& dst, const Tensor& src);
// a + b into a new contiguous tensor (same shape and dtype; any layouts): one pass, where
// clone-then-add_inplace would make two.
Tensor sum_of(const Tensor& a, const Tensor& b);
// Copies src into dst element by element (same shape and dtype; any layouts).
void copy_into(Tensor& dst, const Tensor& src);
// Sets every element of dst to `value`.
void fill(Tensor& dst, double value);

// Calls f.template operator()<T>() with T = float or double according to `dtype`.
template <typename F>
decltype(auto) dispatch_dtype(DType dtype, F&& f) {
  if (dtype == DType::f64) return f.template operator()<double>();
  return f.template operator()<float>();
}

}  // namespace attend
