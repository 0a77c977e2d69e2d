// classifier: a text classifier that pools its encoder's states with attention.
//
//   x   = dropout(E[tokens])                                   [B, S, E]
//   H   = encoder(x)                                           [B, S, C]
//         bigru / bilstm: a bidirectional GRU/LSTM (C = 2 hidden_dim), padding never read;
//         transformer: sinusoidal positions and pre-norm encoder layers (C = embed_dim)
//   pooling (the attention):
//     self-attentive (Lin et al. 2017, "A Structured Self-attentive Sentence Embedding"):
//         A = normalize(W_s2 tanh(W_s1 H^T))                   [B, r, S]   r hops, masked past the length
//         M = A H                                              [B, r, C]
//         penalization P = || A A^T - I ||_F^2, averaged over the batch, times `penalty`
//     additive (Yang et al. 2016, "Hierarchical Attention Networks"): one learned query u,
//         a = normalize(u^T tanh(W H^T + b))                   [B, 1, S]
//         M = a H                                              [B, 1, C]
//   logits = W_2 dropout(relu(W_1 flatten(M) + b_1)) + b_2     [B, K]
//
// Shapes: S source length, E embed_dim, r hops, d_a attention_dim, K num_classes. normalize is the
// model's normalizer (softmax unless --normalizer; crf-segment selects contiguous spans of words).
// The pooling weights [B, r, S] are the ClassifierOutput's weights and the attention maps (kind
// pooling, one "head" per hop).
//
// Parameters: embed.weight [V, E]; encoder.* (nn::GRU / nn::LSTM, PyTorch names) or positions.*,
// layers.*; pool.W_s1 [d_a, C], pool.W_s2 [r, d_a] (self-attentive) or pool.W [d_a, C], pool.b
// [d_a], pool.u [1, d_a] (additive); pool.normalizer.* for a learned normalizer; mlp.* [F, r C],
// out.* [K, F].
#pragma once

#include <string>
#include <vector>

#include "attend/models/config.h"
#include "attend/models/tasks.h"

namespace attend::models {

struct ClassifierModelConfig : ConfigOf<ClassifierModelConfig, ClassifierConfig> {
  static constexpr const char* kName = "classifier";
  enum class Encoder { bigru, bilstm, transformer };
  enum class Pooling { self_attentive, additive };
  int64_t embed_dim = 128;      // E
  int64_t hidden_dim = 128;     // per direction of a recurrent encoder
  Encoder encoder = Encoder::bigru;
  int64_t num_layers = 1;       // recurrent or Transformer encoder layers
  int64_t num_heads = 4;        // Transformer encoder: heads (divide embed_dim)
  int64_t ffn_dim = 256;        // Transformer encoder: feed-forward width
  int64_t max_positions = 512;  // Transformer encoder: longest source
  Pooling pooling = Pooling::self_attentive;
  int64_t hops = 4;             // r (self-attentive; additive pooling has one)
  int64_t attention_dim = 64;   // d_a
  double penalty = 1.0;         // coefficient of the penalization (self-attentive)
  int64_t mlp_dim = 256;        // F
  double dropout = 0.3;
  std::string normalizer = "softmax";  // of the pooling (attention/normalizers.h)

  std::vector<Field> arch_fields() override;
  int64_t state_dim() const { return encoder == Encoder::transformer ? embed_dim : 2 * hidden_dim; }
  int64_t pooled_hops() const { return pooling == Pooling::additive ? 1 : hops; }

 protected:
  void check_more() const override;
};

}  // namespace attend::models
