#include "reference/ops_reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

#include "attend/core/rng.h"

namespace attend::ref {
namespace {

using Idx = std::vector<int64_t>;
constexpr double kInf = std::numeric_limits<double>::infinity();

// A row-major f64 array with its shape: the only data structure of the references.
struct Arr {
  Idx shape;
  std::vector<double> v;
  explicit Arr(const Tensor& t) : shape(t.shape().vec()), v(t.to_vector<double>()) {}
  explicit Arr(Idx s) : shape(std::move(s)) { v.assign(static_cast<size_t>(numel()), 0.0); }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int rank() const { return static_cast<int>(shape.size()); }
  double& at(const Idx& i) { return v[static_cast<size_t>(flat(i))]; }
  double at(const Idx& i) const { return v[static_cast<size_t>(flat(i))]; }
  int64_t flat(const Idx& i) const {
    int64_t f = 0;
    for (size_t d = 0; d < shape.size(); ++d) f = f * shape[d] + i[d];
    return f;
  }
  Idx unravel(int64_t f) const {
    Idx i(shape.size());
    for (size_t d = shape.size(); d-- > 0;) {
      i[d] = f % shape[d];
      f /= shape[d];
    }
    return i;
  }
  Tensor tensor() const { return Tensor::from_vector(v, Shape(shape)); }
};

int norm_axis(int axis, int rank) {
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw std::invalid_argument("reference: axis out of range");
  return a;
}

Idx broadcast(const Idx& a, const Idx& b) {
  const size_t r = std::max(a.size(), b.size());
  Idx out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i + a.size() >= r ? a[i + a.size() - r] : 1;
    const int64_t db = i + b.size() >= r ? b[i + b.size() - r] : 1;
    if (da != db && da != 1 && db != 1) throw std::invalid_argument("reference: shapes do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// The index into an array of shape `s` that an output index `oi` broadcasts from.
Idx broadcast_index(const Idx& oi, const Idx& s) {
  Idx i(s.size());
  const size_t off = oi.size() - s.size();
  for (size_t d = 0; d < s.size(); ++d) i[d] = s[d] == 1 ? 0 : oi[d + off];
  return i;
}

std::vector<bool> reduced_axes(const std::vector<int>& axes, int rank) {
  std::vector<bool> red(static_cast<size_t>(rank), axes.empty());
  for (int a : axes) red[static_cast<size_t>(norm_axis(a, rank))] = true;
  return red;
}

// Output shape and index map of a reduction.
Idx reduce_shape(const Idx& s, const std::vector<bool>& red, bool keepdim) {
  Idx o;
  for (size_t d = 0; d < s.size(); ++d) {
    if (!red[d]) o.push_back(s[d]);
    else if (keepdim) o.push_back(1);
  }
  return o;
}
Idx reduce_index(const Idx& i, const std::vector<bool>& red, bool keepdim) {
  Idx o;
  for (size_t d = 0; d < i.size(); ++d) {
    if (!red[d]) o.push_back(i[d]);
    else if (keepdim) o.push_back(0);
  }
  return o;
}

double gelu_exact(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh(double x) {
  const double k = std::sqrt(2.0 / std::numbers::pi);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

}  // namespace

Tensor binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  const Arr A(a), B(b);
  Arr out(broadcast(A.shape, B.shape));
  for (int64_t k = 0; k < out.numel(); ++k) {
    const Idx oi = out.unravel(k);
    out.v[static_cast<size_t>(k)] = f(A.at(broadcast_index(oi, A.shape)), B.at(broadcast_index(oi, B.shape)));
  }
  return out.tensor();
}

Tensor unary(const Tensor& x, const std::function<double(double)>& f) {
  Arr X(x);
  for (double& e : X.v) e = f(e);
  return X.tensor();
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, [](double x, double y) { return x + y; }); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(a, b, [](double x, double y) { return x - y; }); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, [](double x, double y) { return x * y; }); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(a, b, [](double x, double y) { return x / y; }); }
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary(a, b, [](double x, double y) { return x >= y ? x : y; });
}
Tensor add_scalar(const Tensor& x, double s) { return unary(x, [s](double e) { return e + s; }); }
Tensor mul_scalar(const Tensor& x, double s) { return unary(x, [s](double e) { return e * s; }); }
Tensor neg(const Tensor& x) { return unary(x, [](double e) { return -e; }); }
Tensor exp(const Tensor& x) { return unary(x, [](double e) { return std::exp(e); }); }
Tensor log(const Tensor& x) { return unary(x, [](double e) { return std::log(e); }); }
Tensor sqrt(const Tensor& x) { return unary(x, [](double e) { return std::sqrt(e); }); }
Tensor square(const Tensor& x) { return unary(x, [](double e) { return e * e; }); }
Tensor tanh(const Tensor& x) { return unary(x, [](double e) { return std::tanh(e); }); }
Tensor sigmoid(const Tensor& x) { return unary(x, [](double e) { return 1.0 / (1.0 + std::exp(-e)); }); }
Tensor relu(const Tensor& x) { return unary(x, [](double e) { return e > 0.0 ? e : 0.0; }); }
Tensor gelu(const Tensor& x, GeluApprox approx) {
  return unary(x, approx == GeluApprox::tanh ? gelu_tanh : gelu_exact);
}
Tensor pow(const Tensor& x, double p) { return unary(x, [p](double e) { return std::pow(e, p); }); }

Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  const Arr X(x);
  const std::vector<bool> red = reduced_axes(axes, X.rank());
  Arr out(reduce_shape(X.shape, red, keepdim));
  for (int64_t k = 0; k < X.numel(); ++k) out.at(reduce_index(X.unravel(k), red, keepdim)) += X.v[static_cast<size_t>(k)];
  return out.tensor();
}

Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  const Arr X(x);
  const std::vector<bool> red = reduced_axes(axes, X.rank());
  int64_t n = 1;
  for (size_t d = 0; d < red.size(); ++d)
    if (red[d]) n *= X.shape[d];
  Arr out(Arr(ref::sum(x, axes, keepdim)));
  for (double& e : out.v) e /= static_cast<double>(n);
  return out.tensor();
}

Tensor max(const Tensor& x, int axis, bool keepdim) {
  const Arr X(x);
  std::vector<bool> red(static_cast<size_t>(X.rank()), false);
  red[static_cast<size_t>(norm_axis(axis, X.rank()))] = true;
  Arr out(reduce_shape(X.shape, red, keepdim));
  std::fill(out.v.begin(), out.v.end(), -kInf);
  for (int64_t k = 0; k < X.numel(); ++k) {
    double& o = out.at(reduce_index(X.unravel(k), red, keepdim));
    o = std::max(o, X.v[static_cast<size_t>(k)]);
  }
  return out.tensor();
}

Index argmax(const Tensor& x, int axis) {
  const Arr X(x);
  const int a = norm_axis(axis, X.rank());
  std::vector<bool> red(static_cast<size_t>(X.rank()), false);
  red[static_cast<size_t>(a)] = true;
  Arr best(reduce_shape(X.shape, red, false));
  std::fill(best.v.begin(), best.v.end(), -kInf);
  std::vector<int64_t> pos(best.v.size(), 0);
  for (int64_t k = 0; k < X.numel(); ++k) {  // row-major: the first maximum along the axis wins
    const Idx i = X.unravel(k);
    const int64_t o = best.flat(reduce_index(i, red, false));
    if (X.v[static_cast<size_t>(k)] > best.v[static_cast<size_t>(o)]) {
      best.v[static_cast<size_t>(o)] = X.v[static_cast<size_t>(k)];
      pos[static_cast<size_t>(o)] = i[static_cast<size_t>(a)];
    }
  }
  return Index(pos, Shape(best.shape));
}

Tensor reshape(const Tensor& x, const std::vector<int64_t>& shape) {
  Arr X(x);
  Idx s = shape;
  int64_t known = 1;
  for (int64_t d : s)
    if (d != -1) known *= d;
  for (int64_t& d : s)
    if (d == -1) d = X.numel() / known;
  X.shape = s;
  if (X.numel() != static_cast<int64_t>(X.v.size())) throw std::invalid_argument("reference: reshape numel");
  return X.tensor();
}

Tensor permute(const Tensor& x, const std::vector<int>& perm) {
  const Arr X(x);
  Idx s(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) s[i] = X.shape[static_cast<size_t>(norm_axis(perm[i], X.rank()))];
  Arr out(s);
  for (int64_t k = 0; k < out.numel(); ++k) {
    const Idx oi = out.unravel(k);
    Idx xi(oi.size());
    for (size_t i = 0; i < perm.size(); ++i) xi[static_cast<size_t>(norm_axis(perm[i], X.rank()))] = oi[i];
    out.v[static_cast<size_t>(k)] = X.at(xi);
  }
  return out.tensor();
}

Tensor transpose(const Tensor& x, int a, int b) {
  std::vector<int> perm(static_cast<size_t>(x.dim()));
  for (int i = 0; i < x.dim(); ++i) perm[static_cast<size_t>(i)] = i;
  std::swap(perm[static_cast<size_t>(norm_axis(a, x.dim()))], perm[static_cast<size_t>(norm_axis(b, x.dim()))]);
  return ref::permute(x, perm);
}

Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end, int64_t step) {
  const Arr X(x);
  const int a = norm_axis(axis, X.rank());
  const int64_t n = X.shape[static_cast<size_t>(a)];
  auto clamp = [n](int64_t v) { return std::clamp(v < 0 ? v + n : v, int64_t{0}, n); };
  const int64_t s = clamp(start), e = clamp(end);
  Idx picks;
  for (int64_t i = s; i < e; i += step) picks.push_back(i);
  Idx os = X.shape;
  os[static_cast<size_t>(a)] = static_cast<int64_t>(picks.size());
  Arr out(os);
  for (int64_t k = 0; k < out.numel(); ++k) {
    Idx i = out.unravel(k);
    i[static_cast<size_t>(a)] = picks[static_cast<size_t>(i[static_cast<size_t>(a)])];
    out.v[static_cast<size_t>(k)] = X.at(i);
  }
  return out.tensor();
}

Tensor expand(const Tensor& x, const Shape& shape) {
  const Arr X(x);
  Arr out(shape.vec());
  for (int64_t k = 0; k < out.numel(); ++k) out.v[static_cast<size_t>(k)] = X.at(broadcast_index(out.unravel(k), X.shape));
  return out.tensor();
}

Tensor squeeze(const Tensor& x, int axis) {
  Arr X(x);
  const int a = norm_axis(axis, X.rank());
  if (X.shape[static_cast<size_t>(a)] != 1) throw std::invalid_argument("reference: squeeze of a dim != 1");
  X.shape.erase(X.shape.begin() + a);
  return X.tensor();
}

Tensor unsqueeze(const Tensor& x, int axis) {
  Arr X(x);
  X.shape.insert(X.shape.begin() + norm_axis(axis, X.rank() + 1), 1);
  return X.tensor();
}

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  std::vector<Arr> A;
  for (const Tensor& t : xs) A.emplace_back(t);
  const int a = norm_axis(axis, A[0].rank());
  Idx os = A[0].shape;
  os[static_cast<size_t>(a)] = 0;
  for (const Arr& e : A) os[static_cast<size_t>(a)] += e.shape[static_cast<size_t>(a)];
  Arr out(os);
  for (int64_t k = 0; k < out.numel(); ++k) {
    Idx i = out.unravel(k);
    size_t part = 0;
    while (i[static_cast<size_t>(a)] >= A[part].shape[static_cast<size_t>(a)]) i[static_cast<size_t>(a)] -= A[part++].shape[static_cast<size_t>(a)];
    out.v[static_cast<size_t>(k)] = A[part].at(i);
  }
  return out.tensor();
}

Tensor stack(const std::vector<Tensor>& xs, int axis) {
  const int a = norm_axis(axis, xs[0].dim() + 1);
  std::vector<Tensor> parts;
  for (const Tensor& t : xs) parts.push_back(ref::unsqueeze(t, a));
  return ref::concat(parts, a);
}

Tensor index_select(const Tensor& x, int axis, const Index& index) {
  const Arr X(x);
  const int a = norm_axis(axis, X.rank());
  Idx os = X.shape;
  os[static_cast<size_t>(a)] = index.numel();
  Arr out(os);
  for (int64_t k = 0; k < out.numel(); ++k) {
    Idx i = out.unravel(k);
    i[static_cast<size_t>(a)] = index.data[static_cast<size_t>(i[static_cast<size_t>(a)])];
    out.v[static_cast<size_t>(k)] = X.at(i);
  }
  return out.tensor();
}

Tensor gather(const Tensor& x, int axis, const Index& index) {
  const Arr X(x);
  const int a = norm_axis(axis, X.rank());
  Arr out(index.shape.vec());
  for (int64_t k = 0; k < out.numel(); ++k) {
    Idx i = out.unravel(k);
    i[static_cast<size_t>(a)] = index.data[static_cast<size_t>(k)];
    out.v[static_cast<size_t>(k)] = X.at(i);
  }
  return out.tensor();
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  const Arr A(a);
  Arr B(b);
  const bool vec = B.rank() == 1;
  if (vec) B.shape.push_back(1);  // [K] -> [K, 1]
  const int64_t M = A.shape[A.shape.size() - 2], K = A.shape.back(), N = B.shape.back();
  if (B.shape[B.shape.size() - 2] != K) throw std::invalid_argument("reference: matmul inner dims");
  const Idx abatch(A.shape.begin(), A.shape.end() - 2), bbatch(B.shape.begin(), B.shape.end() - 2);
  Idx os = broadcast(abatch, bbatch);
  const size_t nb = os.size();
  os.push_back(M);
  os.push_back(N);
  Arr out(os);
  for (int64_t k = 0; k < out.numel(); ++k) {
    const Idx oi = out.unravel(k);
    const Idx batch(oi.begin(), oi.begin() + static_cast<std::ptrdiff_t>(nb));
    Idx ai = broadcast_index(batch, abatch), bi = broadcast_index(batch, bbatch);
    ai.push_back(oi[nb]);
    ai.push_back(0);
    bi.push_back(0);
    bi.push_back(oi[nb + 1]);
    double s = 0.0;
    for (int64_t kk = 0; kk < K; ++kk) {
      ai.back() = kk;
      bi[bi.size() - 2] = kk;
      s += A.at(ai) * B.at(bi);
    }
    out.v[static_cast<size_t>(k)] = s;
  }
  if (vec) out.shape.pop_back();
  return out.tensor();
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  const Arr X(x), W(w);
  const int64_t in = W.shape[1], outf = W.shape[0], rows = X.numel() / in;
  Idx os = X.shape;
  os.back() = outf;
  Arr out(os);
  const std::vector<double> bv = bias.defined() ? bias.to_vector<double>() : std::vector<double>(static_cast<size_t>(outf), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < outf; ++o) {
      double s = bv[static_cast<size_t>(o)];
      for (int64_t i = 0; i < in; ++i) s += X.v[static_cast<size_t>(r * in + i)] * W.v[static_cast<size_t>(o * in + i)];
      out.v[static_cast<size_t>(r * outf + o)] = s;
    }
  return out.tensor();
}

namespace {
// Calls f(row indices along `axis`) for every row of X along `axis`.
template <typename F>
void for_each_row(const Arr& X, int axis, F&& f) {
  const int a = norm_axis(axis, X.rank());
  for (int64_t k = 0; k < X.numel(); ++k) {
    const Idx i = X.unravel(k);
    if (i[static_cast<size_t>(a)] != 0) continue;
    std::vector<int64_t> flat;
    Idx j = i;
    for (int64_t t = 0; t < X.shape[static_cast<size_t>(a)]; ++t) {
      j[static_cast<size_t>(a)] = t;
      flat.push_back(X.flat(j));
    }
    f(flat);
  }
}

Tensor softmax_impl(const Tensor& x, int axis, bool log_space) {
  Arr X(x);
  Arr out = X;
  for_each_row(X, axis, [&](const std::vector<int64_t>& row) {
    double m = -kInf;
    for (int64_t f : row) m = std::max(m, X.v[static_cast<size_t>(f)]);
    if (m == -kInf) {  // every entry -inf
      for (int64_t f : row) out.v[static_cast<size_t>(f)] = log_space ? -kInf : 0.0;
      return;
    }
    double s = 0.0;
    for (int64_t f : row) s += std::exp(X.v[static_cast<size_t>(f)] - m);
    for (int64_t f : row) {
      const double z = X.v[static_cast<size_t>(f)] - m;
      out.v[static_cast<size_t>(f)] = log_space ? z - std::log(s) : std::exp(z) / s;
    }
  });
  return out.tensor();
}
}  // namespace

Tensor softmax(const Tensor& x, int axis) { return softmax_impl(x, axis, false); }
Tensor log_softmax(const Tensor& x, int axis) { return softmax_impl(x, axis, true); }

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  const Arr X(x), Mk(mask);
  Arr out = X;
  for (int64_t k = 0; k < X.numel(); ++k)
    if (Mk.at(broadcast_index(X.unravel(k), Mk.shape)) != 0.0) out.v[static_cast<size_t>(k)] = value;
  return out.tensor();
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const Arr Cd(cond), A(a), B(b);
  Arr out(broadcast(Cd.shape, broadcast(A.shape, B.shape)));
  for (int64_t k = 0; k < out.numel(); ++k) {
    const Idx oi = out.unravel(k);
    out.v[static_cast<size_t>(k)] =
        Cd.at(broadcast_index(oi, Cd.shape)) != 0.0 ? A.at(broadcast_index(oi, A.shape)) : B.at(broadcast_index(oi, B.shape));
  }
  return out.tensor();
}

Tensor layer_norm(const Tensor& x, int normalized_dims, const Tensor& weight, const Tensor& bias, double eps) {
  Arr X(x);
  int64_t n = 1;
  for (int d = X.rank() - normalized_dims; d < X.rank(); ++d) n *= X.shape[static_cast<size_t>(d)];
  const std::vector<double> w = weight.defined() ? weight.to_vector<double>() : std::vector<double>(static_cast<size_t>(n), 1.0);
  const std::vector<double> b = bias.defined() ? bias.to_vector<double>() : std::vector<double>(static_cast<size_t>(n), 0.0);
  for (int64_t r = 0; r * n < X.numel(); ++r) {
    double* row = X.v.data() + r * n;
    double mu = 0.0, var = 0.0;
    for (int64_t j = 0; j < n; ++j) mu += row[j];
    mu /= static_cast<double>(n);
    for (int64_t j = 0; j < n; ++j) var += (row[j] - mu) * (row[j] - mu);
    var /= static_cast<double>(n);
    for (int64_t j = 0; j < n; ++j)
      row[j] = (row[j] - mu) / std::sqrt(var + eps) * w[static_cast<size_t>(j)] + b[static_cast<size_t>(j)];
  }
  return X.tensor();
}

Tensor embedding(const Tensor& weight, const Index& ids) {
  const Arr W(weight);
  const int64_t C = W.shape[1];
  Idx os = ids.shape.vec();
  os.push_back(C);
  Arr out(os);
  for (int64_t p = 0; p < ids.numel(); ++p)
    for (int64_t c = 0; c < C; ++c)
      out.v[static_cast<size_t>(p * C + c)] = W.at({ids.data[static_cast<size_t>(p)], c});
  return out.tensor();
}

Tensor dropout(const Tensor& x, double p, uint64_t seed, uint64_t base) {
  Arr X(x);
  for (int64_t i = 0; i < X.numel(); ++i) {
    const bool keep = philox_uniform(seed, base, static_cast<uint64_t>(i)) >= static_cast<float>(p);
    X.v[static_cast<size_t>(i)] = keep ? X.v[static_cast<size_t>(i)] / (1.0 - p) : 0.0;
  }
  return X.tensor();
}

Tensor cross_entropy(const Tensor& logits, const Index& targets, const CrossEntropyOptions& opt) {
  const Arr L(ref::log_softmax(logits, 1));
  const int64_t N = L.shape[0], C = L.shape[1];
  const double eps = opt.label_smoothing;
  std::vector<double> loss(static_cast<size_t>(N), 0.0);
  double total = 0.0;
  int64_t count = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = targets.data[static_cast<size_t>(i)];
    if (t == opt.ignore_index) continue;
    double smooth = 0.0;
    for (int64_t c = 0; c < C; ++c) smooth += -L.at({i, c});
    loss[static_cast<size_t>(i)] = (1.0 - eps) * -L.at({i, t}) + eps / static_cast<double>(C) * smooth;
    total += loss[static_cast<size_t>(i)];
    ++count;
  }
  if (opt.reduction == Reduction::none) return Tensor::from_vector(loss, Shape{N});
  if (opt.reduction == Reduction::sum) return Tensor::scalar(total, DType::f64);
  return Tensor::scalar(count == 0 ? 0.0 : total / static_cast<double>(count), DType::f64);
}

Tensor mse_loss(const Tensor& a, const Tensor& b, Reduction reduction) {
  const Tensor sq = unary(ref::sub(a, b), [](double e) { return e * e; });
  if (reduction == Reduction::none) return sq;
  if (reduction == Reduction::sum) return ref::sum(sq, {}, false);
  return ref::mean(sq, {}, false);
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o) {
  const Arr X(x), Wt(w);
  const int64_t N = X.shape[0], C = X.shape[1], H = X.shape[2], W = X.shape[3];
  const int64_t O = Wt.shape[0], kh = Wt.shape[2], kw = Wt.shape[3];
  const int64_t Ho = (H + 2 * o.pad_h - o.dilation_h * (kh - 1) - 1) / o.stride_h + 1;
  const int64_t Wo = (W + 2 * o.pad_w - o.dilation_w * (kw - 1) - 1) / o.stride_w + 1;
  const std::vector<double> b = bias.defined() ? bias.to_vector<double>() : std::vector<double>(static_cast<size_t>(O), 0.0);
  Arr out({N, O, Ho, Wo});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < O; ++oc)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double s = b[static_cast<size_t>(oc)];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t u = 0; u < kh; ++u)
              for (int64_t v = 0; v < kw; ++v) {
                const int64_t yy = i * o.stride_h - o.pad_h + u * o.dilation_h, xx = j * o.stride_w - o.pad_w + v * o.dilation_w;
                if (yy >= 0 && yy < H && xx >= 0 && xx < W) s += Wt.at({oc, c, u, v}) * X.at({n, c, yy, xx});
              }
          out.at({n, oc, i, j}) = s;
        }
  return out.tensor();
}

namespace {

Tensor pool(const Tensor& x, const Pool2dOptions& o, bool is_max) {
  const Arr X(x);
  const int64_t N = X.shape[0], C = X.shape[1], H = X.shape[2], W = X.shape[3];
  const int64_t sh = o.stride_h ? o.stride_h : o.kernel_h, sw = o.stride_w ? o.stride_w : o.kernel_w;
  const int64_t Ho = (H + 2 * o.pad_h - o.kernel_h) / sh + 1, Wo = (W + 2 * o.pad_w - o.kernel_w) / sw + 1;
  Arr out({N, C, Ho, Wo});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double m = -std::numeric_limits<double>::infinity(), s = 0.0;
          int64_t inside = 0, padded = 0;
          bool nan = false;
          for (int64_t u = 0; u < o.kernel_h; ++u)
            for (int64_t v = 0; v < o.kernel_w; ++v) {
              const int64_t yy = i * sh - o.pad_h + u, xx = j * sw - o.pad_w + v;
              if (yy < H + o.pad_h && xx < W + o.pad_w) ++padded;  // inside the padded image
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              const double e = X.at({n, c, yy, xx});
              nan = nan || std::isnan(e);
              m = std::max(m, e);
              s += e;
              ++inside;
            }
          out.at({n, c, i, j}) = is_max ? (nan ? std::numeric_limits<double>::quiet_NaN() : m)
                                        : s / static_cast<double>(o.count_pad ? padded : inside);
        }
  return out.tensor();
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt) { return pool(x, opt, true); }
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt) { return pool(x, opt, false); }

}  // namespace attend::ref
