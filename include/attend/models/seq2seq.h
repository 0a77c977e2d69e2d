// Recurrent encoder-decoders, with and without attention, each one nn::Module (PyTorch-style
// parameter names) and one StepDecoder (step_decoder.h) for greedy and beam search.
//
//   rnnsearch  Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly Learning to
//              Align and Translate". Bidirectional GRU encoder, annotations h_j = [fwd_j; bwd_j]
//              [B, S, 2H]; s_0 = tanh(W_s bwd_1); at step t
//                c_t = sum_j a_tj h_j,  a_t = softmax_j(v^T tanh(W_q s_{t-1} + W_k h_j + b))
//                s_t = GRU([E y_{t-1}; c_t], s_{t-1})
//                logits_t = W_o dropout(tanh(U_o [s_t; E y_{t-1}; c_t] + b_o))   (deep output,
//              no maxout; the readout reads the new state s_t, as in dl4mt/Nematus, where the
//              paper's appendix writes s_{t-1}).
//   luong      Luong, Pham & Manning 2015, "Effective Approaches to Attention-based NMT".
//              Stacked LSTM encoder and decoder (num_layers), the decoder starts from the
//              encoder's final (h, c) per layer; input feeding: layer 0 reads [E y_{t-1}; h~_{t-1}]
//              (h~_0 = 0); attention on the top state h_t with score dot | general | concat |
//              location and alignment global | local-m | local-p (half window D);
//                h~_t = tanh(W_c [c_t; h_t]),  logits_t = W_s dropout(h~_t).
//   seq2seq    Sutskever et al. 2014 / Cho et al. 2014 without attention: stacked LSTM encoder whose
//              final (h, c) is the decoder's initial state, the one fixed-length vector through
//              which the whole source must pass (the bottleneck attention removes).
//              logits_t = W_s dropout(h_t).
//
// Shapes: B batch, S padded source length, T target length, E embed_dim, H hidden_dim,
// A attention_dim, V target vocabulary. src [B, S] and tgt_in [B, T] are token ids; padding
// (pad_id) on the right; src_lengths [B] in [1, S] are the real source lengths, and source padding
// is masked out of every attention (Mask{.key_lengths}). Target padding needs no mask: step t
// only reads tokens <= t, and sequence_loss ignores pad targets.
//
// Dropout (config.dropout) acts on the embeddings and on the output layer's input, and between
// stacked LSTM layers, in training mode only. StepDecoder::step always runs as inference (no
// dropout, no gradient), whatever the module's mode.
//
// Efficiency: the encoder's keys are projected once per source (additive, general, concat); the
// target embeddings of a teacher-forced batch are looked up once; the output layer (the largest
// GEMM, [B*T, .] x [., V]) runs once over all steps after the recurrent loop.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/rng.h"
#include "attend/core/tensor.h"
#include "attend/models/step_decoder.h"
#include "attend/nn/module.h"

namespace attend::models {

enum class Architecture { rnnsearch, luong, seq2seq };
enum class Score { dot, general, concat, location };  // Luong's score functions
enum class Alignment { global, local_m, local_p };     // Luong's alignments

// Names as written in configs and on the command line: "rnnsearch", "luong", "seq2seq"; "dot",
// "general", "concat", "location"; "global", "local-m", "local-p". parse_* throw
// attend::Error("[Seq2SeqConfig] unknown <what> 'x' (known: ...)").
const char* architecture_name(Architecture a);
const char* score_name(Score s);
const char* alignment_name(Alignment a);
Architecture parse_architecture(const std::string& name);
Score parse_score(const std::string& name);
Alignment parse_alignment(const std::string& name);

struct Seq2SeqConfig {
  Architecture architecture = Architecture::rnnsearch;
  int64_t src_vocab = 0;         // source vocabulary size (ids in [0, src_vocab))
  int64_t tgt_vocab = 0;         // V
  int64_t embed_dim = 64;        // E (source and target embeddings)
  int64_t hidden_dim = 128;      // H (per direction for the rnnsearch encoder)
  int64_t attention_dim = 128;   // A: additive / concat score and local-p position network
  int64_t readout_dim = 128;     // rnnsearch deep-output width
  int64_t num_layers = 1;        // luong, seq2seq: stacked LSTM layers
  Score score = Score::general;  // luong
  Alignment alignment = Alignment::global;  // luong
  int64_t window = 5;            // luong local-m / local-p: half window D (local-p: sigma = D / 2)
  int64_t max_source_len = 128;  // luong location score: L, the longest source it can score
  double dropout = 0.0;          // training only
  int64_t pad_id = 0;            // data::Vocab's specials
  int64_t bos_id = 2;
  int64_t eos_id = 3;

  // Throws attend::Error("[Seq2SeqConfig] ...") naming the offending field.
  void validate() const;
  // Every field as text, keyed by its name ("architecture" -> "luong", "dropout" -> "0.1", ...):
  // what a checkpoint stores in its metadata.
  std::map<std::string, std::string> to_map() const;
  // The inverse of to_map. Missing keys keep their defaults; unknown keys, unparsable values and
  // an invalid result throw attend::Error("[Seq2SeqConfig] key 'k': ...").
  static Seq2SeqConfig from_map(const std::map<std::string, std::string>& map);
};

struct ForwardOptions {
  bool need_attention = false;  // also return the attention weights (undefined for seq2seq)
};

struct ForwardResult {
  Tensor logits;     // [B, T, V]
  Tensor attention;  // [B, T, S] when requested (zero at padded source positions)
};

// The common face of the three architectures.
class Seq2SeqModel : public nn::Module, public StepDecoder {
 public:
  const Seq2SeqConfig& config() const { return config_; }

  // Teacher-forced forward: src [B, S], src_lengths [B] (each in [1, S]), tgt_in [B, T] (BOS then
  // the target, padded) -> logits [B, T, V]; logits[:, t] predict the token after tgt_in[:, t].
  // Errors "[<architecture>] ..." name the shapes.
  virtual ForwardResult forward(const Index& src, const std::vector<int64_t>& src_lengths, const Index& tgt_in,
                                const ForwardOptions& opt = {}) = 0;
  Tensor logits(const Index& src, const std::vector<int64_t>& src_lengths, const Index& tgt_in) {
    return forward(src, src_lengths, tgt_in).logits;
  }

  int64_t bos_id() const override { return config_.bos_id; }
  int64_t eos_id() const override { return config_.eos_id; }
  int64_t vocab_size() const override { return config_.tgt_vocab; }
  // The stream dropout draws from (seeded from the constructor's rng).
  Rng& dropout_rng() { return dropout_rng_; }

 protected:
  Seq2SeqModel(const Seq2SeqConfig& config, Rng& rng);
  Seq2SeqConfig config_;
  Rng dropout_rng_;
};

// Builds the architecture config.architecture (after config.validate()), parameters drawn from rng.
std::unique_ptr<Seq2SeqModel> make_model(const Seq2SeqConfig& config, Rng& rng);

// Decoder input and output of teacher forcing for a batch of targets.
struct DecoderIO {
  Index tgt_in;   // [B, T + 1]: BOS y_1 .. y_n, pad ...
  Index tgt_out;  // [B, T + 1]: y_1 .. y_n EOS, pad ...
};
// target [B, T] (ids, padded), target_lengths [B] in [0, T] -> DecoderIO with the config's
// bos/eos/pad ids. Errors "[decoder_io] ...".
DecoderIO decoder_io(const Index& target, const std::vector<int64_t>& target_lengths, const Seq2SeqConfig& config);

struct LossOptions {
  int64_t pad_id = 0;            // targets equal to pad_id count neither in the sum nor in the mean
  double label_smoothing = 0.0;  // PyTorch's: (1 - eps) one-hot + eps / V
};
// Mean token cross-entropy of logits [B, T, V] against tgt_out [B, T] (attend::cross_entropy with
// ignore_index = pad_id). Errors "[sequence_loss] ..." name the shapes.
Tensor sequence_loss(const Tensor& logits, const Index& tgt_out, const LossOptions& opt = {});

}  // namespace attend::models
