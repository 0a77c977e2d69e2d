// The Transformer's layers (Vaswani et al. 2017, "Attention Is All You Need", sections 3.1-3.5),
// named as PyTorch's nn.LayerNorm, nn.TransformerEncoderLayer and nn.TransformerDecoderLayer
// (batch_first=True) so that state_dicts map one to one.
//
//   LayerNorm:    y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim C (biased var)
//   feed-forward: ff(x) = linear2(dropout(act(linear1(x))))      [.., C] -> [.., F] -> [.., C]
//   encoder layer, post-norm (the paper):      pre-norm (norm_first, Xiong et al. 2020):
//     x = norm1(x + drop(sa(x)))                 x = x + drop(sa(norm1(x)))
//     x = norm2(x + drop(ff(x)))                 x = x + drop(ff(norm2(x)))
//   decoder layer adds cross-attention `multihead_attn` over the encoder memory between the two,
//   with norm2, and the feed-forward's norm becomes norm3; its self-attention is causal. Without
//   cross-attention (cross_attention = false: a decoder-only model's layer, GPT's block) it is the
//   encoder layer's two sublayers and names, with a causal self-attention and a key/value cache.
//   sa(x) = self_attn(x, x, x), all attention through nn::MultiheadAttention (fused kernel).
//
// Dropout: `dropout` on each sublayer's output before the residual sum and inside the
// feed-forward (PyTorch's dropout, dropout1..3); `attention_dropout` on the attention weights
// (PyTorch uses `dropout` for both). Training mode only.
//
// Parameters (PyTorch names): self_attn.{in_proj_weight [3C, C], in_proj_bias, out_proj.*},
// multihead_attn.* (decoder), linear1.{weight [F, C], bias [F]}, linear2.{weight [C, F], bias [C]},
// norm1/norm2(/norm3).{weight [C] = 1, bias [C] = 0}. Initialization as PyTorch's.
//
// Stacks (LayerStack): "layers.<i>.*" and, for pre-norm stacks (or when asked), the final "norm.*",
// as PyTorch's nn.TransformerEncoder/Decoder with a norm.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attend/attention/mask.h"
#include "attend/core/rng.h"
#include "attend/nn/linear.h"
#include "attend/nn/module.h"
#include "attend/nn/multihead_attention.h"

namespace attend::nn {

class LayerNorm : public Module {
 public:
  // Error "[LayerNorm] ..." unless dim > 0 and eps > 0.
  LayerNorm(int64_t dim, double eps = 1e-5, DType dtype = DType::f32);
  // x [..., C] -> [..., C]. Error "[LayerNorm] ..." naming the shape if the last dim is not C.
  Tensor forward(const Tensor& x) const;
  int64_t dim() const { return weight.size(0); }

  Tensor weight;  // [C], ones
  Tensor bias;    // [C], zeros

 private:
  double eps_;
};

enum class Activation { relu, gelu };  // gelu: the exact erf form (PyTorch's default)

struct TransformerLayerOptions {
  int64_t d_model = 0;             // C; num_heads must divide it
  int64_t num_heads = 1;           // H
  int64_t ffn_dim = 0;             // F
  double dropout = 0.1;            // residual branches and inside the feed-forward
  double attention_dropout = 0.0;  // on the attention weights
  Activation activation = Activation::relu;
  bool norm_first = false;  // pre-norm; false = post-norm as in the paper
  bool cross_attention = true;  // decoder layers: attend over an encoder's memory (false: decoder-only)
  double layer_norm_eps = 1e-5;
  DType dtype = DType::f32;
  std::string normalizer = "softmax";  // of every attention in the layer (MultiheadAttentionOptions)
};

// Position-wise feed-forward network (section 3.3) as the two Linear members of the layers; used
// by both of them, parameters registered by the layer (linear1, linear2).
Tensor feed_forward(const Linear& linear1, const Linear& linear2, Activation act, const Tensor& x, double p,
                    bool training, Rng& rng);

class TransformerEncoderLayer : public Module {
 public:
  // Errors "[TransformerEncoderLayer] ..." for non-positive sizes or dropouts outside [0, 1).
  TransformerEncoderLayer(const TransformerLayerOptions& opt, Rng& rng);
  // x [B, S, C] -> [B, S, C]. `mask` (typically key_lengths of the sources) restricts the
  // self-attention; padded positions still get (ignored) outputs. With `weights`, also stores the
  // self-attention weights there per head, [B, H, S, S] (for pictures; costs the weights' memory).
  Tensor forward(const Tensor& x, const attention::Mask& mask = {}, Tensor* weights = nullptr);

  const TransformerLayerOptions& options() const { return opt_; }
  Rng& dropout_rng() { return dropout_rng_; }

  MultiheadAttention self_attn;
  Linear linear1, linear2;
  LayerNorm norm1, norm2;

 private:
  TransformerLayerOptions opt_;
  Rng dropout_rng_;
};

struct DecoderLayerCall {
  bool need_weights = false;      // return the cross-attention weights averaged over heads
  bool need_head_weights = false;  // return self- and cross-attention weights per head
  KVCache* self_cache = nullptr;  // incremental decoding: append this call's self-attention k/v
  const KVCache* memory_kv = nullptr;  // cross-attention k/v from memory_kv(); memory is then not read
  // Grouped cross-attention (a beam's k hypotheses of one source): rows g r .. g r + g - 1 of x
  // attend to row r of the memory (or memory_kv), which then has B / g rows, so the memory is held
  // once per source, not once per hypothesis. Exact: cross-attention queries do not interact, so
  // the g rows' queries become g * T queries of one memory row.
  int64_t memory_groups = 1;
};

struct DecoderLayerOutput {
  Tensor output;         // [B, T, C]
  Tensor cross_weights;  // [B, T, S] when need_weights; [B, H, T, S] when need_head_weights
  Tensor self_weights;   // [B, H, T, T_cached + T] when need_head_weights
};

class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(const TransformerLayerOptions& opt, Rng& rng);
  // x [B, T, C] (the targets so far), memory [B, S, C] (the encoder's output; undefined without
  // cross-attention) -> [B, T, C]. self_mask applies to the self-attention (give causal = true: it
  // is not added here, so that a caller may also attend bidirectionally); memory_mask to the
  // cross-attention (key_lengths of the sources). With call.self_cache, x holds only the new
  // positions and self_mask's sizes count the cached ones (causal is bottom-right aligned, so a
  // cached step sees every key).
  DecoderLayerOutput forward(const Tensor& x, const Tensor& memory, const attention::Mask& self_mask,
                             const attention::Mask& memory_mask, const DecoderLayerCall& call = {});
  // The cross-attention keys and values of memory [B, S, C], projected once per source. Error
  // without cross-attention.
  KVCache memory_kv(const Tensor& memory) const;
  bool has_cross_attention() const { return multihead_attn != nullptr; }

  const TransformerLayerOptions& options() const { return opt_; }
  Rng& dropout_rng() { return dropout_rng_; }

  MultiheadAttention self_attn;
  std::unique_ptr<MultiheadAttention> multihead_attn;  // null without cross-attention
  Linear linear1, linear2;
  LayerNorm norm1, norm2;
  std::unique_ptr<LayerNorm> norm3;  // the feed-forward's norm with cross-attention (norm2 without)

 private:
  TransformerLayerOptions opt_;
  Rng dropout_rng_;
};

enum class PositionKind { sinusoidal, learned };

// Sinusoidal positional encoding (section 3.5), rows offset .. offset + length - 1:
//   PE[p, 2i] = sin(p / 10000^(2i / C)),  PE[p, 2i + 1] = cos(p / 10000^(2i / C))   -> [length, C]
// computed in double, returned in `dtype`. C may be odd (the last column is a sine).
Tensor sinusoidal_positions(int64_t offset, int64_t length, int64_t dim, DType dtype = DType::f32);

// Positions to add to embeddings [B, T, C]: sinusoidal (no parameters) or learned (parameter
// "weight" [max_positions, C], N(0, C^-1/2) as fairseq). Either way positions must stay below
// max_positions: error "[<op>] ... length L ... max_positions M".
class PositionalEncoding : public Module {
 public:
  PositionalEncoding(PositionKind kind, int64_t max_positions, int64_t dim, Rng& rng, DType dtype = DType::f32);
  // [length, C] for positions offset .. offset + length - 1, in `dtype`; `what` names
  // the sequence in errors ("source", "target").
  Tensor forward(int64_t offset, int64_t length, DType dtype, const char* op, const char* what) const;
  int64_t max_positions() const { return max_positions_; }

  Tensor weight;  // [max_positions, C] when learned

 private:
  PositionKind kind_;
  int64_t max_positions_, dim_;
};

// PyTorch's nn.ModuleList of n layers built from one set of options: children "0", "1", ...
template <typename Layer>
class LayerList : public Module {
 public:
  LayerList(int64_t n, const TransformerLayerOptions& opt, Rng& rng) {
    for (int64_t i = 0; i < n; ++i) {
      items.push_back(std::make_unique<Layer>(opt, rng));
      register_module(std::to_string(i), *items.back());
    }
  }
  int64_t size() const { return static_cast<int64_t>(items.size()); }
  Layer& operator[](int64_t i) { return *items[static_cast<size_t>(i)]; }
  std::vector<std::unique_ptr<Layer>> items;
};

// A stack of n layers ("layers.<i>.*") and, when the layers are pre-norm, the LayerNorm that ends
// the stack ("norm.*"; fairseq's normalize_before, PyTorch's TransformerEncoder(norm=...)): every
// pre-norm sublayer adds to an unnormalized residual stream, so the stack's output is normalized
// once at the end. Post-norm stacks have none.
template <typename Layer>
class LayerStack : public Module {
 public:
  LayerStack(int64_t n, const TransformerLayerOptions& opt, Rng& rng) : LayerStack(n, opt, rng, opt.norm_first) {}
  // With the final norm or without, whatever the layers are (torch.nn.Transformer's post-norm
  // stacks have one).
  LayerStack(int64_t n, const TransformerLayerOptions& opt, Rng& rng, bool final_norm) : layers(n, opt, rng) {
    register_module("layers", layers);
    if (final_norm) {
      norm = std::make_unique<LayerNorm>(opt.d_model, opt.layer_norm_eps, opt.dtype);
      register_module("norm", *norm);
    }
  }
  // The stack's output from the last layer's: norm(x) for pre-norm stacks, x otherwise.
  Tensor finish(const Tensor& x) const { return norm ? norm->forward(x) : x; }
  int64_t size() const { return layers.size(); }
  Layer& operator[](int64_t i) { return layers[i]; }

  LayerList<Layer> layers;
  std::unique_ptr<LayerNorm> norm;  // pre-norm (or final_norm) only
};

}  // namespace attend::nn
