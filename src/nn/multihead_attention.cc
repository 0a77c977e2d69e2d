#include "attend/nn/multihead_attention.h"

#include <algorithm>
#include <cmath>

#include "attend/attention/scaled_dot.h"
#include "attend/core/threads.h"
#include "attend/ops/ops.h"

namespace attend::nn {

namespace {

constexpr const char* kOp = "MultiheadAttention";

// Validates the options before any member is built from them; fills the defaults (0 = inherit).
MultiheadAttentionOptions resolved(MultiheadAttentionOptions o) {
  ATTEND_CHECK(o.embed_dim > 0 && o.num_heads > 0, kOp, "embed_dim ", o.embed_dim, " and num_heads ", o.num_heads,
               " must be positive");
  ATTEND_CHECK(o.embed_dim % o.num_heads == 0, kOp, "embed_dim ", o.embed_dim, " is not divisible by num_heads ",
               o.num_heads);
  if (o.num_kv_heads == 0) o.num_kv_heads = o.num_heads;
  ATTEND_CHECK(o.num_kv_heads > 0 && o.num_heads % o.num_kv_heads == 0, kOp, "num_heads ", o.num_heads,
               " is not divisible by num_kv_heads ", o.num_kv_heads);
  if (o.kdim == 0) o.kdim = o.embed_dim;
  if (o.vdim == 0) o.vdim = o.embed_dim;
  ATTEND_CHECK(o.kdim > 0 && o.vdim > 0, kOp, "kdim ", o.kdim, " and vdim ", o.vdim, " must be positive");
  ATTEND_CHECK(o.dropout >= 0.0 && o.dropout < 1.0, kOp, "dropout ", o.dropout, " must be in [0, 1)");
  return o;
}

// PyTorch's xavier_uniform_ on a [fan_out, fan_in] matrix: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform(int64_t fan_out, int64_t fan_in, Rng& rng, DType dtype) {
  const double a = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return Tensor::uniform(Shape{fan_out, fan_in}, rng, -a, a, dtype);
}

// [B, T, heads * D] -> [B, heads, T, D]
Tensor split_heads(const Tensor& x, int64_t heads, int64_t d) {
  return transpose(reshape(x, {x.size(0), x.size(1), heads, d}), 1, 2);
}

// True when `m` broadcasts to `target` (aligned at the right).
bool broadcasts_to(const Shape& m, const Shape& target) {
  if (m.rank() > target.rank()) return false;
  for (int i = 1; i <= m.rank(); ++i) {
    const int64_t a = m[m.rank() - i], b = target[target.rank() - i];
    if (a != 1 && a != b) return false;
  }
  return true;
}

}  // namespace

MultiheadAttention::MultiheadAttention(const MultiheadAttentionOptions& opt, Rng& rng)
    : out_proj(resolved(opt).embed_dim, opt.embed_dim, rng, {.bias = opt.bias, .dtype = opt.dtype}),
      opt_(resolved(opt)),
      head_dim_(opt_.embed_dim / opt_.num_heads),
      dropout_rng_(rng.next_u64()),
      normalizer_(attention::make_normalizer(opt.normalizer, {.heads = opt_.num_heads, .dtype = opt_.dtype})) {
  const int64_t C = opt_.embed_dim, D = head_dim_, Hkv = opt_.num_kv_heads;
  const int64_t rows = C + 2 * Hkv * D;  // q, k, v rows of the packed projection
  if (opt_.kdim == C && opt_.vdim == C) {
    in_proj_weight = xavier_uniform(rows, C, rng, opt_.dtype);  // [(H + 2 Hkv) D, C]
  } else {
    q_proj_weight = xavier_uniform(C, C, rng, opt_.dtype);              // [C, C]
    k_proj_weight = xavier_uniform(Hkv * D, opt_.kdim, rng, opt_.dtype);  // [Hkv D, kdim]
    v_proj_weight = xavier_uniform(Hkv * D, opt_.vdim, rng, opt_.dtype);  // [Hkv D, vdim]
  }
  if (opt_.bias) {
    in_proj_bias = Tensor::zeros(Shape{rows}, opt_.dtype);  // [(H + 2 Hkv) D]
    fill(out_proj.bias, 0.0);
  }
  // Registration order = PyTorch's named_parameters() order.
  register_parameter("in_proj_weight", in_proj_weight);
  register_parameter("q_proj_weight", q_proj_weight);
  register_parameter("k_proj_weight", k_proj_weight);
  register_parameter("v_proj_weight", v_proj_weight);
  register_parameter("in_proj_bias", in_proj_bias);
  register_module("out_proj", out_proj);
  register_normalizer(normalizer_);
}

void MultiheadAttention::check_query(const Tensor& query) const {
  const int64_t C = opt_.embed_dim;
  ATTEND_CHECK(query.defined(), kOp, "query must be defined");
  ATTEND_CHECK(query.dim() == 3 && query.size(2) == C, kOp, "query ", query.shape().str(), " must be [B, Tq, ", C,
               "] (embed_dim ", C, ")");
  const DType dt = out_proj.weight.dtype();
  ATTEND_CHECK(query.dtype() == dt, kOp, "query ", query.str(), " must have the parameters' dtype ", dtype_name(dt));
}

void MultiheadAttention::check_mask(const attention::Mask& mask, int64_t B, int64_t Tq, int64_t Tk) const {
  if (mask.key_padding.defined())
    ATTEND_CHECK(mask.key_padding.shape() == Shape({B, Tk}), kOp, "key_padding ", mask.key_padding.shape().str(),
                 " must be [B, Tk] = ", Shape({B, Tk}).str());
  if (!mask.key_lengths.empty())
    ATTEND_CHECK(static_cast<int64_t>(mask.key_lengths.size()) == B, kOp, "key_lengths has ",
                 mask.key_lengths.size(), " entries for batch ", B);
  const Shape full{B, opt_.num_heads, Tq, Tk};
  if (mask.attn_mask.defined())
    ATTEND_CHECK(broadcasts_to(mask.attn_mask.shape(), full), kOp, "attn_mask ", mask.attn_mask.shape().str(),
                 " does not broadcast to [B, H, Tq, Tk] = ", full.str());
}

void MultiheadAttention::check_inputs(const Tensor& query, const Tensor& key, const Tensor& value,
                                      const attention::Mask& mask, const KVCache* cache) const {
  ATTEND_CHECK(query.defined() && key.defined() && value.defined(), kOp, "query, key and value must be defined");
  const int64_t C = opt_.embed_dim;
  ATTEND_CHECK(query.dim() == 3 && query.size(2) == C, kOp, "query ", query.shape().str(), " must be [B, Tq, ", C,
               "] (embed_dim ", C, ")");
  ATTEND_CHECK(key.dim() == 3 && key.size(2) == opt_.kdim, kOp, "key ", key.shape().str(), " must be [B, Tk, ",
               opt_.kdim, "] (kdim ", opt_.kdim, ")");
  ATTEND_CHECK(value.dim() == 3 && value.size(2) == opt_.vdim, kOp, "value ", value.shape().str(),
               " must be [B, Tk, ", opt_.vdim, "] (vdim ", opt_.vdim, ")");
  ATTEND_CHECK(key.size(0) == query.size(0) && value.size(0) == query.size(0) && key.size(1) == value.size(1), kOp,
               "query ", query.shape().str(), ", key ", key.shape().str(), " and value ", value.shape().str(),
               " must share B, and key and value Tk");
  const DType dt = out_proj.weight.dtype();
  ATTEND_CHECK(query.dtype() == dt && key.dtype() == dt && value.dtype() == dt, kOp, "query ", query.str(),
               ", key ", key.str(), ", value ", value.str(), " must have the parameters' dtype ", dtype_name(dt));

  const int64_t B = query.size(0), Tq = query.size(1);
  int64_t Tk = key.size(1);
  if (cache != nullptr && cache->length() > 0) {
    ATTEND_CHECK(cache->k.size(0) == B && cache->k.size(1) == opt_.num_kv_heads && cache->k.size(3) == head_dim_ &&
                     cache->k.dtype() == dt,
                 kOp, "cache k ", cache->k.str(), " does not fit batch ", B, ", ", opt_.num_kv_heads,
                 " kv heads of size ", head_dim_);
    Tk += cache->length();
  }
  check_mask(mask, B, Tq, Tk);
}

MultiheadAttention::Projections MultiheadAttention::projections() const {
  const int64_t C = opt_.embed_dim, D = head_dim_, Hkv = opt_.num_kv_heads;
  // Rows of the packed [Wq; Wk; Wv] (views, so gradients flow back into it).
  Projections p{.wq = q_proj_weight, .wk = k_proj_weight, .wv = v_proj_weight};
  if (packed_in_proj()) {
    p.wq = slice(in_proj_weight, 0, 0, C);                          // [C, C]
    p.wk = slice(in_proj_weight, 0, C, C + Hkv * D);                // [Hkv D, C]
    p.wv = slice(in_proj_weight, 0, C + Hkv * D, C + 2 * Hkv * D);  // [Hkv D, C]
  }
  if (in_proj_bias.defined()) {
    p.bq = slice(in_proj_bias, 0, 0, C);                          // [C]
    p.bk = slice(in_proj_bias, 0, C, C + Hkv * D);                // [Hkv D]
    p.bv = slice(in_proj_bias, 0, C + Hkv * D, C + 2 * Hkv * D);  // [Hkv D]
  }
  return p;
}

MhaOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                      const attention::Mask& mask, const MhaCallOptions& opt) {
  check_inputs(query, key, value, mask, opt.cache);
  const int64_t D = head_dim_, H = opt_.num_heads, Hkv = opt_.num_kv_heads;
  const Projections p = projections();
  Tensor q = split_heads(linear(query, p.wq, p.bq), H, D);    // [B, H, Tq, D]
  Tensor k = split_heads(linear(key, p.wk, p.bk), Hkv, D);    // [B, Hkv, Tk_new, D]
  Tensor v = split_heads(linear(value, p.wv, p.bv), Hkv, D);  // [B, Hkv, Tk_new, D]
  if (opt.cache != nullptr) {
    opt.cache->append(k, v);
    k = opt.cache->k;  // [B, Hkv, Tk, D]
    v = opt.cache->v;
  }
  return attend_heads(q, k, v, mask, opt);
}

void KVCache::append(const Tensor& k_new, const Tensor& v_new) {
  const int64_t T = length(), t = k_new.size(2), need = T + t;
  if (grad_enabled() || k_new.requires_grad() || v_new.requires_grad() ||
      (k.defined() && k.requires_grad())) {
    k = T > 0 ? concat({k, k_new}, 2) : k_new;  // [B, Hkv, Tk, D]
    v = T > 0 ? concat({v, v_new}, 2) : v_new;
    k_buf = v_buf = Tensor();
    used.reset();
    return;
  }
  const bool fits = k_buf.defined() && used && *used == T && k_buf.size(2) >= need &&
                    k_buf.size(0) == k_new.size(0) && k_buf.size(1) == k_new.size(1) &&
                    k_buf.size(3) == k_new.size(3) && k_buf.dtype() == k_new.dtype();
  if (!fits) {  // new buffers with room for about half as many steps again
    const int64_t capacity = need + std::max<int64_t>(need / 2, 16);
    const Shape shape{k_new.size(0), k_new.size(1), capacity, k_new.size(3)};
    Tensor kb = Tensor::empty(shape, k_new.dtype()), vb = Tensor::empty(shape, k_new.dtype());
    if (T > 0) {
      Tensor kd = slice(kb, 2, 0, T), vd = slice(vb, 2, 0, T);
      copy_into(kd, k);
      copy_into(vd, v);
    }
    k_buf = kb, v_buf = vb;
    used = std::make_shared<int64_t>(T);
  }
  Tensor kd = slice(k_buf, 2, T, need), vd = slice(v_buf, 2, T, need);
  copy_into(kd, k_new);
  copy_into(vd, v_new);
  *used = need;
  k = slice(k_buf, 2, 0, need);  // [B, Hkv, Tk, D] views
  v = slice(v_buf, 2, 0, need);
}

KVCache KVCache::select(const std::vector<int64_t>& rows) const {
  KVCache out;
  if (length() == 0) return out;
  if (!k_buf.defined()) {
    out.k = index_select(k, 0, Index(rows));  // [N', Hkv, T, D]
    out.v = index_select(v, 0, Index(rows));
    return out;
  }
  // Gather only the positions in use, into buffers of the same capacity.
  const int64_t T = length();
  const Shape shape{static_cast<int64_t>(rows.size()), k_buf.size(1), k_buf.size(2), k_buf.size(3)};
  out.k_buf = Tensor::empty(shape, k_buf.dtype());
  out.v_buf = Tensor::empty(shape, v_buf.dtype());
  for (size_t r = 0; r < rows.size(); ++r) {
    const int64_t from = rows[r], to = static_cast<int64_t>(r);
    ATTEND_CHECK(from >= 0 && from < k.size(0), "KVCache::select", "row ", from, " is outside a cache of ", k.size(0),
                 " rows");
    Tensor kd = slice(slice(out.k_buf, 0, to, to + 1), 2, 0, T), vd = slice(slice(out.v_buf, 0, to, to + 1), 2, 0, T);
    copy_into(kd, slice(k, 0, from, from + 1));
    copy_into(vd, slice(v, 0, from, from + 1));
  }
  out.used = std::make_shared<int64_t>(T);
  out.k = slice(out.k_buf, 2, 0, T);
  out.v = slice(out.v_buf, 2, 0, T);
  return out;
}

KVCacheStack::KVCacheStack(int64_t layers, int64_t kv_heads, int64_t head_dim, DType dtype)
    : kv_heads_(kv_heads), head_dim_(head_dim), dtype_(dtype), layers_(static_cast<size_t>(std::max<int64_t>(layers, 0))) {
  ATTEND_CHECK(layers > 0 && kv_heads > 0 && head_dim > 0, "KVCacheStack", "layers ", layers, ", kv_heads ", kv_heads,
               " and head_dim ", head_dim, " must be positive");
}

void KVCacheStack::bind(int64_t length) {
  const int64_t L = layers(), cap = buf_.size(4), plane = cap * head_dim_;
  const Shape shape{rows_, kv_heads_, cap, head_dim_};
  const Shape strides{L * 2 * kv_heads_ * plane, plane, head_dim_, 1};
  for (int64_t l = 0; l < L; ++l) {
    KVCache& c = layers_[static_cast<size_t>(l)];
    c.k_buf = buf_.as_strided(shape, strides, buf_.offset() + (2 * l) * kv_heads_ * plane);      // [N, Hkv, cap, D]
    c.v_buf = buf_.as_strided(shape, strides, buf_.offset() + (2 * l + 1) * kv_heads_ * plane);  // [N, Hkv, cap, D]
    c.used = std::make_shared<int64_t>(length);
    c.k = length > 0 ? slice(c.k_buf, 2, 0, length) : Tensor();
    c.v = length > 0 ? slice(c.v_buf, 2, 0, length) : Tensor();
  }
}

void KVCacheStack::reserve(int64_t rows, int64_t need) {
  constexpr const char* op = "KVCacheStack";
  ATTEND_CHECK(!layers_.empty(), op, "reserve on an empty stack (construct it with the layer count)");
  const int64_t T = length();
  ATTEND_CHECK(rows >= 1 && need >= T, op, "reserve(", rows, ", ", need, ") for a stack of ", rows_, " rows holding ",
               T, " positions");
  bool in_place = buf_.defined() && rows == rows_ && buf_.size(4) >= need;
  for (const KVCache& c : layers_) {
    ATTEND_CHECK(c.length() == T, op, "layers hold different lengths (", c.length(), " and ", T, ")");
    in_place = in_place && c.k_buf.defined() && c.k_buf.impl().storage == buf_.impl().storage && c.used && *c.used == T;
  }
  if (in_place) return;
  ATTEND_CHECK(T == 0 || rows == rows_, op, "reserve: ", rows, " rows for a stack of ", rows_,
               " rows that holds positions (select changes the rows)");
  const int64_t cap = need + std::max<int64_t>(need / 2, 16);
  Tensor fresh = Tensor::empty(Shape{rows, layers(), 2, kv_heads_, cap, head_dim_}, dtype_);
  std::vector<KVCache> old = layers_;
  rows_ = rows;
  buf_ = fresh;
  bind(T);
  for (size_t l = 0; l < old.size() && T > 0; ++l) {  // the positions held so far
    Tensor kd = layers_[l].k, vd = layers_[l].v;
    copy_into(kd, old[l].k);
    copy_into(vd, old[l].v);
  }
}

KVCacheStack KVCacheStack::select(const std::vector<int64_t>& rows) const {
  constexpr const char* op = "KVCacheStack::select";
  bool same_order = static_cast<int64_t>(rows.size()) == rows_;
  for (size_t r = 0; r < rows.size(); ++r) {
    ATTEND_CHECK(rows[r] >= 0 && rows[r] < rows_, op, "row ", rows[r], " is outside a cache of ", rows_, " rows");
    same_order = same_order && rows[r] == static_cast<int64_t>(r);
  }
  if (same_order) return *this;  // shares the buffer and each layer's `used`
  KVCacheStack out(layers(), kv_heads_, head_dim_, dtype_);
  out.rows_ = static_cast<int64_t>(rows.size());
  const int64_t T = length();
  if (T == 0) return out;
  bool packed = buf_.defined();
  for (const KVCache& c : layers_) packed = packed && c.k_buf.defined() && c.k_buf.impl().storage == buf_.impl().storage;
  if (!packed) {  // a layer appended outside the stack: gather layer by layer
    for (size_t l = 0; l < layers_.size(); ++l) out.layers_[l] = layers_[l].select(rows);
    return out;
  }
  // One gather: for each new row, the first T positions of each of its L * 2 * Hkv planes.
  const int64_t cap = buf_.size(4), planes = layers() * 2 * kv_heads_, D = head_dim_, N = out.rows_;
  out.buf_ = Tensor::empty(Shape{N, layers(), 2, kv_heads_, cap, D}, dtype_);
  dispatch_dtype(dtype_, [&]<typename F>() {
    const F* src = buf_.data<F>();
    F* dst = out.buf_.data<F>();
    const int64_t row = planes * cap * D;
#pragma omp parallel for schedule(static) if (N * planes * T * D >= (int64_t{1} << 18)) num_threads(num_threads())
    for (int64_t r = 0; r < N; ++r)
      for (int64_t p = 0; p < planes; ++p)
        std::copy_n(src + rows[static_cast<size_t>(r)] * row + p * cap * D, T * D, dst + r * row + p * cap * D);
  });
  out.bind(T);
  return out;
}

KVCache MultiheadAttention::project_kv(const Tensor& key, const Tensor& value) const {
  ATTEND_CHECK(key.defined() && value.defined(), kOp, "key and value must be defined");
  ATTEND_CHECK(key.dim() == 3 && key.size(2) == opt_.kdim && value.dim() == 3 && value.size(2) == opt_.vdim &&
                   key.size(0) == value.size(0) && key.size(1) == value.size(1),
               kOp, "project_kv: key ", key.shape().str(), " and value ", value.shape().str(), " must be [B, Tk, ",
               opt_.kdim, "] and [B, Tk, ", opt_.vdim, "]");
  const DType dt = out_proj.weight.dtype();
  ATTEND_CHECK(key.dtype() == dt && value.dtype() == dt, kOp, "project_kv: key ", key.str(), " and value ",
               value.str(), " must have the parameters' dtype ", dtype_name(dt));
  const Projections p = projections();
  KVCache kv;
  kv.k = split_heads(linear(key, p.wk, p.bk), opt_.num_kv_heads, head_dim_);    // [B, Hkv, Tk, D]
  kv.v = split_heads(linear(value, p.wv, p.bv), opt_.num_kv_heads, head_dim_);  // [B, Hkv, Tk, D]
  return kv;
}

MhaOutput MultiheadAttention::forward_kv(const Tensor& query, const KVCache& kv, const attention::Mask& mask,
                                         const MhaCallOptions& opt) {
  check_query(query);
  const int64_t B = query.size(0), Tq = query.size(1);
  ATTEND_CHECK(kv.length() > 0 && kv.v.defined() && kv.k.dim() == 4 && kv.k.size(0) == B &&
                   kv.k.size(1) == opt_.num_kv_heads && kv.k.size(3) == head_dim_ && kv.v.shape() == kv.k.shape() &&
                   kv.k.dtype() == query.dtype() && kv.v.dtype() == query.dtype(),
               kOp, "forward_kv: k ", kv.k.defined() ? kv.k.str() : "undefined", " and v ",
               kv.v.defined() ? kv.v.str() : "undefined", " must be [", B, ", ", opt_.num_kv_heads, ", Tk, ",
               head_dim_, "] of query ", query.str());
  check_mask(mask, B, Tq, kv.length());
  const Projections p = projections();
  const Tensor q = split_heads(linear(query, p.wq, p.bq), opt_.num_heads, head_dim_);  // [B, H, Tq, D]
  return attend_heads(q, kv.k, kv.v, mask, opt);
}

MhaOutput MultiheadAttention::attend_heads(const Tensor& q, const Tensor& k, const Tensor& v,
                                           const attention::Mask& mask, const MhaCallOptions& opt) {
  const int64_t B = q.size(0), Tq = q.size(2), C = opt_.embed_dim;
  const attention::SdpaOptions sdpa{.normalizer = normalizer_,
                                    .dropout_p = opt_.dropout,
                                    .training = is_training(),
                                    .rng = &dropout_rng_,
                                    .need_weights = opt.need_weights};
  const attention::AttentionResult att = attention::scaled_dot_product_attention(q, k, v, mask, sdpa);
  // [B, H, Tq, D] -> [B, Tq, H, D] -> [B, Tq, C]
  const Tensor heads = reshape(contiguous(transpose(att.context, 1, 2)), {B, Tq, C});

  MhaOutput out;
  out.output = out_proj.forward(heads);  // [B, Tq, C]
  if (opt.need_weights)
    out.weights = opt.average_attn_weights ? mean(att.weights, {1}) : att.weights;  // [B, Tq, Tk] | [B, H, Tq, Tk]
  return out;
}

}  // namespace attend::nn
