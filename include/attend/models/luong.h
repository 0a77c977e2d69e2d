// luong: Luong, Pham & Manning 2015, "Effective Approaches to Attention-based Neural Machine
// Translation". Stacked LSTM encoder and decoder (num_layers); the decoder starts from the
// encoder's final (h, c) per layer; input feeding: layer 0 reads [E y_{t-1}; h~_{t-1}]
// (h~_0 = 0); attention on the top state h_t with score dot | general | concat | location and
// alignment global | local-m | local-p (half window D, local-p's sigma = D / 2);
//   h~_t = tanh(W_c [c_t; h_t]),  logits_t = W_s dropout(h~_t).
//
// Shapes: E embed_dim, H hidden_dim, A attention_dim (concat score, local-p position network),
// L max_source_len (the location score's longest source). Dropout (training only) acts on the
// embeddings, between stacked layers and on the output layer's input.
#pragma once

#include <string>

#include "attend/models/config.h"

namespace attend::models {

enum class Score { dot, general, concat, location };  // Luong's score functions
enum class Alignment { global, local_m, local_p };     // Luong's alignments

// Names as written in configs and on the command line.
inline constexpr std::pair<const char*, Score> kScoreNames[] = {
    {"dot", Score::dot}, {"general", Score::general}, {"concat", Score::concat}, {"location", Score::location}};
inline constexpr std::pair<const char*, Alignment> kAlignmentNames[] = {
    {"global", Alignment::global}, {"local-m", Alignment::local_m}, {"local-p", Alignment::local_p}};

struct LuongConfig : ConfigOf<LuongConfig, SequenceToSequenceConfig> {
  static constexpr const char* kName = "luong";
  std::string normalizer = "softmax";  // of the attention (attention/normalizers.h)
  int64_t embed_dim = 64;       // E
  int64_t hidden_dim = 128;     // H
  int64_t attention_dim = 128;  // A
  int64_t num_layers = 1;
  Score score = Score::general;
  Alignment alignment = Alignment::global;
  int64_t window = 5;            // D
  int64_t max_source_len = 128;  // L
  double dropout = 0.0;

  std::vector<Field> arch_fields() override;

 protected:
  void check_more() const override;
};

}  // namespace attend::models
