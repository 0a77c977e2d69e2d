// seq2seq: the encoder-decoder without attention (Sutskever et al. 2014; Cho et al. 2014), the
// baseline that shows what attention adds. A stacked LSTM encoder whose final (h, c) per layer is
// the decoder's initial state: the one fixed-length vector through which the whole source must
// pass (the bottleneck attention removes).  logits_t = W_s dropout(h_t).
// Shapes: E embed_dim, H hidden_dim; dropout (training only) on the embeddings, between stacked
// layers and on the output layer's input.
#pragma once

#include "attend/models/config.h"

namespace attend::models {

struct Seq2SeqConfig : ConfigOf<Seq2SeqConfig, SequenceToSequenceConfig> {
  static constexpr const char* kName = "seq2seq";
  int64_t embed_dim = 64;    // E
  int64_t hidden_dim = 128;  // H
  int64_t num_layers = 1;
  double dropout = 0.0;

  std::vector<Field> arch_fields() override;

 protected:
  void check_more() const override;
};

}  // namespace attend::models
