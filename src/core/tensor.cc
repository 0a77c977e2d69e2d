#include "attend/core/tensor.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "attend/core/rng.h"
#include "attend/core/strided.h"
#include "attend/core/threads.h"

namespace attend {

size_t dtype_size(DType t) { return t == DType::f64 ? 8 : 4; }
const char* dtype_name(DType t) { return t == DType::f64 ? "f64" : "f32"; }

namespace {
thread_local AllocationBudget* current_budget = nullptr;
}

AllocationBudget::AllocationBudget(size_t bytes, std::string op, std::string context)
    : limit_(bytes), op_(std::move(op)), context_(std::move(context)), outer_(current_budget) {
  current_budget = this;
}

AllocationBudget::~AllocationBudget() { current_budget = outer_; }

void AllocationBudget::charge(size_t bytes) {
  AllocationBudget* b = current_budget;
  if (b == nullptr) return;
  ATTEND_CHECK(bytes <= b->limit_ - b->used_, b->op_, b->context_, " (allocating ", bytes,
               " more bytes would exceed the budget of ", b->limit_, " bytes, ", b->used_, " used)");
  b->used_ += bytes;
}

namespace {

// Large blocks are kept for reuse instead of returned to malloc. glibc serves blocks above its mmap
// threshold (at most 32 MiB) with fresh mappings whose pages the kernel zeroes on first touch, and
// trims freed heap tops; a training step that frees and reallocates the same activations (the
// logits of a batch alone are tens of MiB) then spends a tenth of its time clearing pages. Sizes
// are rounded up to one of 8 classes per power of two (at most 12.5% slack) and a block is reused
// only for a request of its own class. At most kCacheBytes stay cached; beyond that the blocks
// freed longest ago go back to malloc first, so sizes that stop recurring (a decoder's growing
// caches) do not hold memory. Under AddressSanitizer nothing is cached, so a use after free is
// still caught.
class BlockCache {
 public:
  static constexpr size_t kMinBytes = size_t{64} << 10;
  static constexpr size_t kCacheBytes = size_t{256} << 20;

  // The size class of a request of `bytes` (>= kMinBytes): 8 steps per power of two.
  static size_t size_class(size_t bytes) {
    size_t top = kMinBytes;
    while (top <= bytes / 2) top *= 2;  // top <= bytes < 2 top
    const size_t step = top / 8;
    return (bytes + step - 1) / step * step;
  }
  void* take(size_t cls) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_class_.find(cls);
    if (it == by_class_.end() || it->second.empty()) return nullptr;
    const auto entry = it->second.back();  // the most recently freed block of the class
    it->second.pop_back();
    void* p = entry->data;
    lru_.erase(entry);
    cached_ -= cls;
    return p;
  }
  void give(void* p, size_t cls) {
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      lru_.push_back({p, cls});
      by_class_[cls].push_back(std::prev(lru_.end()));
      cached_ += cls;
      while (cached_ > kCacheBytes) {  // the oldest block is the front of its class's list too
        const Block old = lru_.front();
        by_class_[old.cls].pop_front();
        lru_.pop_front();
        cached_ -= old.cls;
        evicted.push_back(old.data);
      }
    }
    for (void* e : evicted) std::free(e);
  }

 private:
  struct Block {
    void* data;
    size_t cls;
  };
  std::mutex mutex_;
  std::list<Block> lru_;  // freed longest ago first
  std::unordered_map<size_t, std::deque<std::list<Block>::iterator>> by_class_;  // oldest first
  size_t cached_ = 0;
};

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheBlocks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kCacheBlocks = false;
#else
constexpr bool kCacheBlocks = true;
#endif
#else
constexpr bool kCacheBlocks = true;
#endif

BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache;  // never destroyed: storages may outlive static destructors
  return *cache;
}

// The bytes a storage of `bytes` allocates: its size class when cached, else 64-byte granules.
size_t allocation_size(size_t bytes) {
  if (kCacheBlocks && bytes >= BlockCache::kMinBytes) return BlockCache::size_class(bytes);
  return bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
}

}  // namespace

Storage::Storage(size_t bytes) : bytes_(bytes) {
  AllocationBudget::charge(bytes);
  const size_t size = allocation_size(bytes);
  if (kCacheBlocks && bytes >= BlockCache::kMinBytes) data_ = block_cache().take(size);
  if (data_ == nullptr) data_ = std::aligned_alloc(64, size);
  if (!data_) throw std::bad_alloc();
}

Storage::Storage(void* external, size_t bytes, std::shared_ptr<void> owner)
    : data_(external), bytes_(bytes), owner_(std::move(owner)) {}

Storage::~Storage() {
  if (owner_) return;
  if (kCacheBlocks && bytes_ >= BlockCache::kMinBytes) block_cache().give(data_, allocation_size(bytes_));
  else std::free(data_);
}

TensorImpl& Tensor::impl() const {
  if (!impl_) throw Error("Tensor", "use of an undefined tensor");
  return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  const int64_t n = shape.numel();
  ATTEND_CHECK(static_cast<uint64_t>(n) <= SIZE_MAX / dtype_size(dtype), "Tensor", shape.str(), " of ", dtype_name(dtype),
               " is larger than the address space");
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(n) * dtype_size(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::from_external(void* data, size_t bytes, const Shape& shape, DType dtype, std::shared_ptr<void> owner) {
  const int64_t n = shape.numel();
  ATTEND_CHECK(data != nullptr || n == 0, "Tensor", "external memory for ", shape.str(), " is null");
  ATTEND_CHECK(static_cast<uint64_t>(n) <= bytes / dtype_size(dtype), "Tensor", shape.str(), " of ", dtype_name(dtype),
               " needs ", n * static_cast<int64_t>(dtype_size(dtype)), " bytes; the external memory has ", bytes);
  ATTEND_CHECK(owner != nullptr, "Tensor", "external memory needs an owner that keeps it alive");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, bytes, std::move(owner));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.impl().storage->data(), 0, static_cast<size_t>(shape.numel()) * dtype_size(dtype));
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  fill(t, value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full(Shape{}, value, dtype); }

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  ATTEND_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor::from_vector",
               values.size(), " values for shape ", shape.str());
  Tensor t = empty(shape, DType::f32);
  if (!values.empty()) std::memcpy(t.data<float>(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape) {
  return from_vector(values, shape, DType::f64);
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  ATTEND_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor::from_vector",
               values.size(), " values for shape ", shape.str());
  Tensor t = empty(shape, dtype);
  dispatch_dtype(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}

Tensor Tensor::arange(int64_t n, DType dtype) {
  Tensor t = empty(Shape{n}, dtype);
  dispatch_dtype(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(i);
  });
  return t;
}

Tensor Tensor::randn(const Shape& shape, Rng& rng, DType dtype) {
  Tensor t = empty(shape, dtype);
  const int64_t n = shape.numel();
  const uint64_t base = rng.advance(static_cast<uint64_t>(n));
  dispatch_dtype(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(rng.normal_at(base, static_cast<uint64_t>(i)));
  });
  return t;
}

Tensor Tensor::uniform(const Shape& shape, Rng& rng, double lo, double hi, DType dtype) {
  Tensor t = empty(shape, dtype);
  const int64_t n = shape.numel();
  const uint64_t base = rng.advance(static_cast<uint64_t>(n));
  dispatch_dtype(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i)
      p[i] = static_cast<T>(lo + (hi - lo) * rng.uniform_at(base, static_cast<uint64_t>(i)));
  });
  return t;
}

Tensor Tensor::bernoulli(const Shape& shape, Rng& rng, double p, DType dtype) {
  ATTEND_CHECK(p >= 0.0 && p <= 1.0, "Tensor::bernoulli", "probability ", p, " outside [0, 1]");
  Tensor t = empty(shape, dtype);
  const int64_t n = shape.numel();
  const uint64_t base = rng.advance(static_cast<uint64_t>(n));
  dispatch_dtype(dtype, [&]<typename T>() {
    T* q = t.data<T>();
    for (int64_t i = 0; i < n; ++i) q[i] = rng.uniform_at(base, static_cast<uint64_t>(i)) < p ? T(1) : T(0);
  });
  return t;
}

bool Tensor::is_contiguous() const {
  const Shape& s = shape();
  const Shape& st = strides();
  int64_t acc = 1;
  for (int i = s.rank() - 1; i >= 0; --i) {
    if (s[i] == 1) continue;
    if (st[i] != acc) return false;
    acc *= s[i];
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype())) + shape().str();
}

template <typename T>
T* Tensor::data() const {
  const TensorImpl& i = impl();
  ATTEND_CHECK(i.dtype == dtype_of<T>(), "Tensor::data", "tensor is ", dtype_name(i.dtype), ", asked for ",
               dtype_name(dtype_of<T>()));
  return static_cast<T*>(i.storage->data()) + i.offset;
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;

double Tensor::at(std::initializer_list<int64_t> index) const {
  ATTEND_CHECK(static_cast<int>(index.size()) == dim(), "Tensor::at", index.size(), " indices for ", str());
  int64_t off = 0;
  int d = 0;
  for (int64_t i : index) {
    ATTEND_CHECK(i >= 0 && i < shape()[d], "Tensor::at", "index ", i, " out of range in dim ", d, " of ", str());
    off += i * strides()[d++];
  }
  return dispatch_dtype(dtype(), [&]<typename T>() { return static_cast<double>(data<T>()[off]); });
}

double Tensor::item() const {
  ATTEND_CHECK(numel() == 1, "Tensor::item", "tensor ", str(), " has ", numel(), " elements, not 1");
  return dispatch_dtype(dtype(), [&]<typename T>() { return static_cast<double>(*data<T>()); });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  std::vector<T> out;
  dispatch_dtype(dtype(), [&]<typename S>() {
    const S* p = data<S>();
    if (is_contiguous()) {  // one pass the compiler vectorizes (a search step reads [N, V] this way)
      out.assign(p, p + numel());
      return;
    }
    out.reserve(static_cast<size_t>(numel()));
    for_each_offset<1>(shape(), {strides()}, [&](int64_t o) { out.push_back(static_cast<T>(p[o])); });
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  ATTEND_CHECK(shape.rank() == strides.rank(), "Tensor::as_strided", "shape ", shape.str(), " and strides ",
               strides.str(), " differ in rank");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->offset = offset;
  impl->shape = shape;
  impl->strides = strides;
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  copy_into(out, *this);
  return out;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target);
  dispatch_dtype(target, [&]<typename D>() {
    D* q = out.data<D>();
    dispatch_dtype(dtype(), [&]<typename S>() {
      const S* p = data<S>();
      int64_t k = 0;
      for_each_offset<1>(shape(), {strides()}, [&](int64_t o) { q[k++] = static_cast<D>(p[o]); });
    });
  });
  return out;
}

Tensor Tensor::detach() const {
  const TensorImpl& i = impl();
  return as_strided(i.shape, i.strides, i.offset);
}

Tensor& Tensor::set_requires_grad(bool on) {
  ATTEND_CHECK(is_leaf() || on, "Tensor::set_requires_grad", "only leaves can stop requiring grad");
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(impl().grad); }

void Tensor::zero_grad() { impl().grad.reset(); }

// Contiguous sums of at least this many elements (the gradients the engine accumulates) are
// split over the threads; each element is computed alone, so the result does not depend on them.
constexpr int64_t kParallelAdd = int64_t{1} << 16;

void add_inplace(Tensor& dst, const Tensor& src) {
  ATTEND_CHECK(dst.shape() == src.shape(), "add_inplace", "shapes ", dst.shape().str(), " vs ", src.shape().str());
  ATTEND_CHECK(dst.dtype() == src.dtype(), "add_inplace", "dtypes ", dtype_name(dst.dtype()), " vs ",
               dtype_name(src.dtype()));
  dispatch_dtype(dst.dtype(), [&]<typename T>() {
    T* d = dst.data<T>();
    const T* s = src.data<T>();
    if (dst.is_contiguous() && src.is_contiguous()) {
      const int64_t n = dst.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelAdd) num_threads(num_threads())
      for (int64_t i = 0; i < n; ++i) d[i] += s[i];
      return;
    }
    for_each_offset<2>(dst.shape(), {dst.strides(), src.strides()}, [&](int64_t a, int64_t b) { d[a] += s[b]; });
  });
}

Tensor sum_of(const Tensor& a, const Tensor& b) {
  ATTEND_CHECK(a.shape() == b.shape(), "sum_of", "shapes ", a.shape().str(), " vs ", b.shape().str());
  ATTEND_CHECK(a.dtype() == b.dtype(), "sum_of", "dtypes ", dtype_name(a.dtype()), " vs ", dtype_name(b.dtype()));
  if (!a.is_contiguous() || !b.is_contiguous()) {
    Tensor out = a.clone();
    add_inplace(out, b);
    return out;
  }
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  dispatch_dtype(a.dtype(), [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const int64_t n = a.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelAdd) num_threads(num_threads())
    for (int64_t i = 0; i < n; ++i) po[i] = pa[i] + pb[i];
  });
  return out;
}

void copy_into(Tensor& dst, const Tensor& src) {
  ATTEND_CHECK(dst.shape() == src.shape(), "copy_into", "shapes ", dst.shape().str(), " vs ", src.shape().str());
  ATTEND_CHECK(dst.dtype() == src.dtype(), "copy_into", "dtypes ", dtype_name(dst.dtype()), " vs ",
               dtype_name(src.dtype()));
  dispatch_dtype(dst.dtype(), [&]<typename T>() {
    T* d = dst.data<T>();
    const T* s = src.data<T>();
    if (dst.is_contiguous() && src.is_contiguous()) {
      if (dst.numel() > 0) std::memcpy(d, s, static_cast<size_t>(dst.numel()) * sizeof(T));
      return;
    }
    for_each_offset<2>(dst.shape(), {dst.strides(), src.strides()}, [&](int64_t a, int64_t b) { d[a] = s[b]; });
  });
}

void fill(Tensor& dst, double value) {
  dispatch_dtype(dst.dtype(), [&]<typename T>() {
    T* d = dst.data<T>();
    const T v = static_cast<T>(value);
    for_each_offset<1>(dst.shape(), {dst.strides()}, [&](int64_t a) { d[a] = v; });
  });
}

}  // namespace attend
