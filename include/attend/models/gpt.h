// gpt: a decoder-only Transformer language model as GPT-2 (Radford et al. 2019, "Language Models
// are Unsupervised Multitask Learners"; GPT, Radford et al. 2018): learned positions, pre-norm
// blocks of causal self-attention and a GELU feed-forward, a final LayerNorm, the output
// projection tied to the token embedding.
//
//   x_0    = dropout(E[tokens] + P[0..T))                       [B, T, C]
//   x_l    = block_l(x_{l-1})                                   nn::TransformerDecoderLayer without
//            = x + drop(sa(ln1(x))), then + drop(ff(ln2(.)))    cross-attention, causal, pre-norm
//   logits = LN_f(x_L) E^T                                      [B, T, V]
//
// Shapes: C d_model, H num_heads, F ffn_dim, L num_layers, V vocab, T <= max_positions.
// Initialization as GPT-2: embeddings, positions and every linear weight N(0, 0.02), the two
// projections that write into the residual stream (self_attn.out_proj, linear2) N(0, 0.02 /
// sqrt(2 L)), biases 0, LayerNorms 1 and 0. The self-attention runs through the fused kernel
// (causal, bottom-right aligned, so cached steps see every earlier position).
//
// Parameters: embed.weight [V, C], positions.weight [max_positions, C], blocks.layers.<l>.{
// self_attn.in_proj_weight [3C, C], self_attn.in_proj_bias, self_attn.out_proj.*, linear1.*,
// linear2.*, norm1.*, norm2.*}, blocks.norm.* (LN_f); GPT-2's names map one to one (wte, wpe,
// h.<l>.attn.c_attn = in_proj transposed, ..., ln_f); bench/gpt_torch.py does the mapping.
//
// Generation: start(N) is an empty state; each step appends its positions' keys and values to
// every layer's cache (nn::KVCache), so a token costs O(t) attention per layer. A step that would
// pass max_positions puts all probability on eos_id (the generation ends there).
#pragma once

#include <string>

#include "attend/models/config.h"
#include "attend/models/transformer.h"

namespace attend::models {

struct GptConfig : ConfigOf<GptConfig, LanguageModelConfig> {
  static constexpr const char* kName = "gpt";
  std::string normalizer = "softmax";  // of every attention (attention/normalizers.h)
  int64_t d_model = 256;  // C
  int64_t num_heads = 4;  // H; must divide C
  int64_t ffn_dim = 1024;  // F
  int64_t num_layers = 4;  // L
  double dropout = 0.1;            // embeddings, residual branches, feed-forward
  double attention_dropout = 0.0;  // attention weights
  nn::Activation activation = nn::Activation::gelu;
  int64_t max_positions = 256;  // the longest context
  bool tie_output = true;       // the output projection is the token embedding

  std::vector<Field> arch_fields() override;

 protected:
  void check_more() const override;
};

}  // namespace attend::models
