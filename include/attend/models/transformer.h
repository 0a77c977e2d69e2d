// transformer: Vaswani et al. 2017, "Attention Is All You Need". Encoder and decoder stacks of
// nn::TransformerEncoderLayer / nn::TransformerDecoderLayer (nn/transformer.h has the layer
// equations and PyTorch's parameter names):
//   encoder: x_0 = dropout(sqrt(C) E_src[src] + PE[0..S)),  x_l = enc_l(x_{l-1}, source padding)
//   decoder: y_0 = dropout(sqrt(C) E_tgt[tgt_in] + PE[0..T)),  y_l = dec_l(y_{l-1}, x_L, causal)
//   logits  = y_L W_out^T (+ b_out)           W_out = E_tgt when tie_output (then no bias)
// With norm_first (pre-norm) each stack ends in a LayerNorm (encoder.norm, decoder.norm), as in
// fairseq's normalize_before; post-norm (the paper) has none. final_norm overrides that: "on" gives
// a post-norm model the final norms too, which torch.nn.Transformer always builds (its default
// norm_first=False included), so such models convert one to one (app/convert.h).
//
// Shapes: C d_model, H num_heads, F ffn_dim, S source length, T target length, V vocabulary.
// Embeddings are drawn N(0, C^-1/2) (fairseq), so sqrt(C) E has unit scale beside PE.
// share_embeddings uses one table for source and target (src_vocab must equal tgt_vocab).
// Sources and teacher-forced targets longer than max_positions are errors naming the length; a
// search step at position max_positions puts all probability on EOS (the hypothesis ends there).
//
// Incremental decoding (init_state/step): each decoder layer keeps its self-attention keys and
// values (nn::KVCache) and the cross-attention keys and values of the source, projected once by
// init_state and reordered with the rows by DecoderState::select. A step costs O(t) attention per
// layer instead of recomputing the prefix.
//
// Attention for `show` and --alignment: the cross-attention weights of decoder layer
// alignment_layer (1-based; 0 = the penultimate layer, or the only one), averaged over heads.
#pragma once

#include <string>

#include "attend/models/config.h"
#include "attend/nn/transformer.h"

namespace attend::models {

inline constexpr std::pair<const char*, nn::Activation> kActivationNames[] = {{"relu", nn::Activation::relu},
                                                                              {"gelu", nn::Activation::gelu}};
// Whether each stack ends in a LayerNorm: auto = exactly when norm_first (checkpoints written before
// the key existed); on/off as given.
enum class FinalNorm { automatic, on, off };
inline constexpr std::pair<const char*, FinalNorm> kFinalNormNames[] = {
    {"auto", FinalNorm::automatic}, {"on", FinalNorm::on}, {"off", FinalNorm::off}};
inline constexpr std::pair<const char*, nn::PositionKind> kPositionNames[] = {
    {"sinusoidal", nn::PositionKind::sinusoidal}, {"learned", nn::PositionKind::learned}};

struct TransformerConfig : ConfigOf<TransformerConfig, SequenceToSequenceConfig> {
  static constexpr const char* kName = "transformer";
  std::string normalizer = "softmax";  // of every attention (attention/normalizers.h)
  int64_t d_model = 128;  // C
  int64_t num_heads = 4;  // H; must divide C
  int64_t ffn_dim = 512;  // F
  int64_t encoder_layers = 3;
  int64_t decoder_layers = 3;
  double dropout = 0.1;            // embeddings, residual branches, feed-forward
  double attention_dropout = 0.0;  // attention weights
  nn::Activation activation = nn::Activation::relu;
  bool norm_first = true;  // pre-norm; false: post-norm (the paper)
  FinalNorm final_norm = FinalNorm::automatic;  // encoder.norm / decoder.norm
  nn::PositionKind positions = nn::PositionKind::sinusoidal;
  int64_t max_positions = 1024;
  bool share_embeddings = false;  // one embedding table for source and target
  bool tie_output = true;         // the output projection is the target embedding
  int64_t alignment_layer = 0;   // 1-based decoder layer whose cross-attention is returned; 0 = default

  std::vector<Field> arch_fields() override;
  // Whether the stacks end in a LayerNorm (final_norm resolved against norm_first).
  bool has_final_norm() const { return final_norm == FinalNorm::automatic ? norm_first : final_norm == FinalNorm::on; }

 protected:
  void check_more() const override;
};

}  // namespace attend::models
