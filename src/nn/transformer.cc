// The Transformer's layers (transformer.h has the equations and the parameter names).
#include "attend/nn/transformer.h"

#include <cmath>
#include <vector>

#include "attend/ops/ops.h"

namespace attend::nn {

namespace {

// Validates layer options before any member is built from them.
const TransformerLayerOptions& checked(const TransformerLayerOptions& o, const char* op) {
  ATTEND_CHECK(o.d_model > 0 && o.num_heads > 0 && o.ffn_dim > 0, op, "d_model ", o.d_model, ", num_heads ",
               o.num_heads, " and ffn_dim ", o.ffn_dim, " must be positive");
  ATTEND_CHECK(o.d_model % o.num_heads == 0, op, "d_model ", o.d_model, " is not divisible by num_heads ",
               o.num_heads);
  ATTEND_CHECK(o.dropout >= 0.0 && o.dropout < 1.0 && o.attention_dropout >= 0.0 && o.attention_dropout < 1.0, op,
               "dropout ", o.dropout, " and attention_dropout ", o.attention_dropout, " must be in [0, 1)");
  ATTEND_CHECK(o.layer_norm_eps > 0.0, op, "layer_norm_eps ", o.layer_norm_eps, " must be positive");
  return o;
}

MultiheadAttentionOptions attention_options(const TransformerLayerOptions& o) {
  return {.embed_dim = o.d_model,
          .num_heads = o.num_heads,
          .dropout = o.attention_dropout,
          .dtype = o.dtype,
          .normalizer = o.normalizer};
}

}  // namespace

LayerNorm::LayerNorm(int64_t dim, double eps, DType dtype) : eps_(eps) {
  ATTEND_CHECK(dim > 0 && eps > 0.0, "LayerNorm", "dim ", dim, " and eps ", eps, " must be positive");
  weight = Tensor::ones(Shape{dim}, dtype);  // [C]
  bias = Tensor::zeros(Shape{dim}, dtype);   // [C]
  register_parameter("weight", weight);
  register_parameter("bias", bias);
}

Tensor LayerNorm::forward(const Tensor& x) const {
  ATTEND_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == dim(), "LayerNorm", "input ",
               x.defined() ? x.shape().str() : "undefined", " must end in the normalized size ", dim());
  return layer_norm(x, 1, weight, bias, eps_);  // [..., C]
}

Tensor feed_forward(const Linear& linear1, const Linear& linear2, Activation act, const Tensor& x, double p,
                    bool training, Rng& rng) {
  Tensor h = linear1.forward(x);                                          // [..., F]
  h = act == Activation::relu ? relu(h) : gelu(h);
  return linear2.forward(dropout(h, p, training, rng));                  // [..., C]
}

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerLayerOptions& opt, Rng& rng)
    : self_attn(attention_options(checked(opt, "TransformerEncoderLayer")), rng),
      linear1(opt.d_model, opt.ffn_dim, rng, {.dtype = opt.dtype}),
      linear2(opt.ffn_dim, opt.d_model, rng, {.dtype = opt.dtype}),
      norm1(opt.d_model, opt.layer_norm_eps, opt.dtype),
      norm2(opt.d_model, opt.layer_norm_eps, opt.dtype),
      opt_(opt),
      dropout_rng_(rng.next_u64()) {
  // PyTorch's registration order.
  register_module("self_attn", self_attn);
  register_module("linear1", linear1);
  register_module("linear2", linear2);
  register_module("norm1", norm1);
  register_module("norm2", norm2);
}

Tensor TransformerEncoderLayer::forward(const Tensor& x, const attention::Mask& mask, Tensor* weights) {
  ATTEND_CHECK(x.defined() && x.dim() == 3 && x.size(2) == opt_.d_model, "TransformerEncoderLayer", "input ",
               x.defined() ? x.shape().str() : "undefined", " must be [B, S, ", opt_.d_model, "]");
  const bool training = is_training();
  const double p = opt_.dropout;
  auto sa = [&](const Tensor& h) {
    MhaOutput r = self_attn.forward(h, h, h, mask, {.need_weights = weights != nullptr, .average_attn_weights = false});
    if (weights != nullptr) *weights = r.weights;       // [B, H, S, S]
    return dropout(r.output, p, training, dropout_rng_);  // [B, S, C]
  };
  auto ff = [&](const Tensor& h) {
    return dropout(feed_forward(linear1, linear2, opt_.activation, h, p, training, dropout_rng_), p, training,
                   dropout_rng_);  // [B, S, C]
  };
  if (opt_.norm_first) {
    const Tensor y = add(x, sa(norm1.forward(x)));
    return add(y, ff(norm2.forward(y)));
  }
  const Tensor y = norm1.forward(add(x, sa(x)));
  return norm2.forward(add(y, ff(y)));
}

// The members are drawn from rng in PyTorch's order (self_attn, multihead_attn, linear1, linear2),
// so a decoder layer without cross-attention draws its feed-forward as an encoder layer would.
TransformerDecoderLayer::TransformerDecoderLayer(const TransformerLayerOptions& opt, Rng& rng)
    : self_attn(attention_options(checked(opt, "TransformerDecoderLayer")), rng),
      multihead_attn(opt.cross_attention ? std::make_unique<MultiheadAttention>(attention_options(opt), rng) : nullptr),
      linear1(opt.d_model, opt.ffn_dim, rng, {.dtype = opt.dtype}),
      linear2(opt.ffn_dim, opt.d_model, rng, {.dtype = opt.dtype}),
      norm1(opt.d_model, opt.layer_norm_eps, opt.dtype),
      norm2(opt.d_model, opt.layer_norm_eps, opt.dtype),
      norm3(opt.cross_attention ? std::make_unique<LayerNorm>(opt.d_model, opt.layer_norm_eps, opt.dtype) : nullptr),
      opt_(opt),
      dropout_rng_(rng.next_u64()) {
  register_module("self_attn", self_attn);
  if (multihead_attn) register_module("multihead_attn", *multihead_attn);
  register_module("linear1", linear1);
  register_module("linear2", linear2);
  register_module("norm1", norm1);
  register_module("norm2", norm2);
  if (norm3) register_module("norm3", *norm3);
}

KVCache TransformerDecoderLayer::memory_kv(const Tensor& memory) const {
  ATTEND_CHECK(multihead_attn != nullptr, "TransformerDecoderLayer",
               "memory_kv: the layer has no cross-attention (cross_attention = false)");
  return multihead_attn->project_kv(memory, memory);
}

DecoderLayerOutput TransformerDecoderLayer::forward(const Tensor& x, const Tensor& memory,
                                                    const attention::Mask& self_mask,
                                                    const attention::Mask& memory_mask, const DecoderLayerCall& call) {
  constexpr const char* op = "TransformerDecoderLayer";
  ATTEND_CHECK(x.defined() && x.dim() == 3 && x.size(2) == opt_.d_model, op, "input ",
               x.defined() ? x.shape().str() : "undefined", " must be [B, T, ", opt_.d_model, "]");
  ATTEND_CHECK(multihead_attn != nullptr || (!memory.defined() && call.memory_kv == nullptr), op,
               "the layer has no cross-attention (cross_attention = false), but got a memory");
  const int64_t g = call.memory_groups;
  ATTEND_CHECK(g >= 1 && x.size(0) % g == 0, op, "memory_groups ", g, " does not divide the batch of input ",
               x.shape().str());
  if (multihead_attn != nullptr && call.memory_kv == nullptr)
    ATTEND_CHECK(memory.defined() && memory.dim() == 3 && memory.size(0) == x.size(0) / g &&
                     memory.size(2) == opt_.d_model,
                 op, "memory ", memory.defined() ? memory.shape().str() : "undefined", " must be [B, S, ",
                 opt_.d_model, "] for input ", x.shape().str());
  const bool training = is_training();
  const double p = opt_.dropout;
  DecoderLayerOutput out;
  const bool heads = call.need_head_weights;
  auto sa = [&](const Tensor& h) {
    MhaOutput r = self_attn.forward(
        h, h, h, self_mask, {.need_weights = heads, .average_attn_weights = false, .cache = call.self_cache});
    out.self_weights = r.weights;                         // [B, H, T, T_cached + T] or undefined
    return dropout(r.output, p, training, dropout_rng_);  // [B, T, C]
  };
  auto ca = [&](const Tensor& h) {
    const MhaCallOptions o{.need_weights = call.need_weights || heads, .average_attn_weights = !heads};
    const int64_t B = h.size(0), T = h.size(1), C = h.size(2);
    const Tensor q = g == 1 ? h : reshape(h, {B / g, g * T, C});  // [B / g, g T, C]: a group's queries together
    MhaOutput r = call.memory_kv != nullptr ? multihead_attn->forward_kv(q, *call.memory_kv, memory_mask, o)
                                            : multihead_attn->forward(q, memory, memory, memory_mask, o);
    if (g > 1) {
      r.output = reshape(r.output, {B, T, C});
      if (r.weights.defined() && !heads) r.weights = reshape(r.weights, {B, T, r.weights.size(2)});
      if (r.weights.defined() && heads) {  // [B / g, H, g T, S] -> [B, H, T, S]
        const int64_t H = r.weights.size(1), S = r.weights.size(3);
        r.weights = reshape(permute(reshape(r.weights, {B / g, H, g, T, S}), {0, 2, 1, 3, 4}), {B, H, T, S});
      }
    }
    out.cross_weights = r.weights;                        // [B, T, S], [B, H, T, S] or undefined
    return dropout(r.output, p, training, dropout_rng_);  // [B, T, C]
  };
  auto ff = [&](const Tensor& h) {
    return dropout(feed_forward(linear1, linear2, opt_.activation, h, p, training, dropout_rng_), p, training,
                   dropout_rng_);  // [B, T, C]
  };
  if (multihead_attn == nullptr) {  // the encoder layer's sublayers, causal by self_mask
    if (opt_.norm_first) {
      const Tensor y = add(x, sa(norm1.forward(x)));
      out.output = add(y, ff(norm2.forward(y)));
    } else {
      const Tensor y = norm1.forward(add(x, sa(x)));
      out.output = norm2.forward(add(y, ff(y)));
    }
    return out;
  }
  if (opt_.norm_first) {
    Tensor y = add(x, sa(norm1.forward(x)));
    y = add(y, ca(norm2.forward(y)));
    out.output = add(y, ff(norm3->forward(y)));
  } else {
    Tensor y = norm1.forward(add(x, sa(x)));
    y = norm2.forward(add(y, ca(y)));
    out.output = norm3->forward(add(y, ff(y)));
  }
  return out;
}

Tensor sinusoidal_positions(int64_t offset, int64_t length, int64_t dim, DType dtype) {
  ATTEND_CHECK(offset >= 0 && length >= 0 && dim > 0, "sinusoidal_positions", "offset ", offset, ", length ", length,
               " and dim ", dim, " must be >= 0 (dim > 0)");
  std::vector<double> pe(static_cast<size_t>(length * dim));
  for (int64_t t = 0; t < length; ++t)
    for (int64_t c = 0; c < dim; ++c) {
      const int64_t i2 = c - c % 2;  // 2i
      const double angle =
          static_cast<double>(offset + t) / std::pow(10000.0, static_cast<double>(i2) / static_cast<double>(dim));
      pe[static_cast<size_t>(t * dim + c)] = c % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  return Tensor::from_vector(pe, Shape{length, dim}, dtype);  // [length, C]
}

PositionalEncoding::PositionalEncoding(PositionKind kind, int64_t max_positions, int64_t dim, Rng& rng, DType dtype)
    : kind_(kind), max_positions_(max_positions), dim_(dim) {
  ATTEND_CHECK(max_positions > 0 && dim > 0, "PositionalEncoding", "max_positions ", max_positions, " and dim ", dim,
               " must be positive");
  if (kind == PositionKind::learned)
    weight = mul(Tensor::randn(Shape{max_positions, dim}, rng, dtype),
                 1.0 / std::sqrt(static_cast<double>(dim)));  // [P, C]
  register_parameter("weight", weight);
}

Tensor PositionalEncoding::forward(int64_t offset, int64_t length, DType dtype, const char* op,
                                   const char* what) const {
  ATTEND_CHECK(offset + length <= max_positions_, op, "the ", what, " reaches length ", offset + length,
               ", beyond max_positions ", max_positions_, " (positions 0..", max_positions_ - 1, ")");
  if (kind_ == PositionKind::sinusoidal) return sinusoidal_positions(offset, length, dim_, dtype);  // [length, C]
  return slice(weight, 0, offset, offset + length);                                               // [length, C]
}

}  // namespace attend::nn
