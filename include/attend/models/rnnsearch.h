// rnnsearch: Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly Learning to Align
// and Translate". Bidirectional GRU encoder, annotations h_j = [fwd_j; bwd_j] [B, S, 2H];
// s_0 = tanh(W_s bwd_1); at step t
//   c_t = sum_j a_tj h_j,  a_t = softmax_j(v^T tanh(W_q s_{t-1} + W_k h_j + b))
//   s_t = GRU([E y_{t-1}; c_t], s_{t-1})
//   logits_t = W_o dropout(tanh(U_o [s_t; E y_{t-1}; c_t] + b_o))
// (deep output, no maxout; the readout reads the new state s_t, as in dl4mt/Nematus, where the
// paper's appendix writes s_{t-1}).
//
// Shapes: E embed_dim, H hidden_dim (per direction), A attention_dim, R readout_dim.
// Dropout (training only) acts on the embeddings and on the output layer's input.
// Efficiency: the keys are projected by W_k once per source; the target embeddings of a
// teacher-forced batch are looked up once; the readout and output layers run once over all steps.
#pragma once

#include <string>

#include "attend/models/config.h"

namespace attend::models {

struct RnnsearchConfig : ConfigOf<RnnsearchConfig, SequenceToSequenceConfig> {
  static constexpr const char* kName = "rnnsearch";
  int64_t embed_dim = 64;       // E (source and target embeddings)
  std::string normalizer = "softmax";  // of the attention (attention/normalizers.h)
  int64_t hidden_dim = 128;     // H
  int64_t attention_dim = 128;  // A
  int64_t readout_dim = 128;    // R
  double dropout = 0.0;

  std::vector<Field> arch_fields() override;

 protected:
  void check_more() const override;
};

}  // namespace attend::models
