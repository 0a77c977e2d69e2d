// EncoderDecoder: the common face of every sequence-to-sequence model (the recurrent ones of
// rnnsearch.h, luong.h and seq2seq.h; later the Transformer and the image captioner). Encoding is
// split from decoding so that any source (token ids or region features, attend/core/source.h)
// meets any decoder through one type, Memory:
//
//   memory = model.encode(src)                   // src [B, S] ids or [B, R, C] features, lengths [B]
//   out    = model.decode(*memory, tgt_in)       // teacher forcing: logits [B, T, V]
//   state  = model.init_state(memory)            // or the search's model.start(src)
//   step   = model.step(*state, prev_tokens)     // StepDecoder (step_decoder.h)
//
// forward(src, tgt_in) = decode(*encode(src), tgt_in). In training mode encode and decode build
// the autograd graph and apply dropout; start() and step() always run as inference.
//
// Shapes: B batch, S padded source length, T target length, V target vocabulary. tgt_in [B, T]
// (BOS then the target, padded with pad_id on the right); logits[:, t] predict the token after
// tgt_in[:, t]. Target padding needs no mask: step t only reads tokens <= t, and sequence_loss
// ignores pad targets. Source padding is masked out of every attention.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/rng.h"
#include "attend/core/source.h"
#include "attend/core/tensor.h"
#include "attend/models/config.h"
#include "attend/models/step_decoder.h"
#include "attend/nn/module.h"

namespace attend::models {

// What an encoder made of a batch of sources: opaque to the search and the trainer, each model
// derives its own (encoder states, projected keys, initial decoder states). rows() = B.
class Memory {
 public:
  virtual ~Memory() = default;
  std::vector<int64_t> lengths;  // [B] real source lengths (the padding mask of every attention)
  int64_t rows() const { return static_cast<int64_t>(lengths.size()); }
};

struct ForwardOptions {
  bool need_attention = false;  // also return the attention weights (undefined without attention)
};

struct ForwardResult {
  Tensor logits;     // [B, T, V]
  Tensor attention;  // [B, T, S] when requested (zero at padded source positions)
};

// One attention of a model, per head, for pictures (attend show) and alignments.
enum class AttentionKind { encoder_self, decoder_self, cross };
const char* to_string(AttentionKind kind);  // "encoder", "decoder", "cross"

struct AttentionMap {
  AttentionKind kind = AttentionKind::cross;
  int64_t layer = 0;  // 0-based
  // [B, H, Tq, Tk]: queries are target positions (decoder, cross) or source positions (encoder);
  // keys are source positions (encoder, cross) or decoder inputs (BOS, y_1, ...; decoder). Zero
  // at masked keys.
  Tensor weights;
};

class EncoderDecoder : public nn::Module, public StepDecoder {
 public:
  const ModelConfig& config() const { return *config_; }

  // src -> Memory; errors "[<architecture>] ..." name the shapes (and a source kind the model does
  // not read).
  virtual std::shared_ptr<const Memory> encode(const Source& src) = 0;
  // Teacher-forced decoding of tgt_in [B, T] against memory (B rows).
  virtual ForwardResult decode(const Memory& memory, const Index& tgt_in, const ForwardOptions& opt = {}) = 0;
  // The decoder state of the first step over memory (B rows), for greedy and beam search.
  virtual std::unique_ptr<DecoderState> init_state(std::shared_ptr<const Memory> memory) = 0;

  ForwardResult forward(const Source& src, const Index& tgt_in, const ForwardOptions& opt = {}) {
    return decode(*encode(src), tgt_in, opt);
  }
  Tensor logits(const Source& src, const Index& tgt_in) { return forward(src, tgt_in).logits; }

  // Every attention of a teacher-forced pass over tgt_in, in inference mode without autograd:
  // encoder self-attention per layer, then decoder self-attention and cross-attention per layer.
  // Models with one attention return their cross-attention as layer 0, head 0 (the default).
  virtual std::vector<AttentionMap> attention_maps(const Source& src, const Index& tgt_in);
  // The decoder layer (0-based) whose cross-attention decode() and step() return, averaged over
  // heads (the alignment layer; 0 for models with one attention).
  virtual int64_t alignment_layer() const { return 0; }

  // StepDecoder: encode in inference mode, then init_state.
  std::unique_ptr<DecoderState> start(const Source& src) override;
  int64_t bos_id() const override { return config_->bos_id; }
  int64_t eos_id() const override { return config_->eos_id; }
  int64_t vocab_size() const override { return config_->tgt_vocab; }
  // The stream dropout draws from (seeded from the constructor's rng).
  Rng& dropout_rng() { return dropout_rng_; }

 protected:
  EncoderDecoder(const ModelConfig& config, Rng& rng);
  std::unique_ptr<ModelConfig> config_;
  Rng dropout_rng_;
};

// Decoder input and output of teacher forcing for a batch of targets.
struct DecoderIO {
  Index tgt_in;   // [B, T + 1]: BOS y_1 .. y_n, pad ...
  Index tgt_out;  // [B, T + 1]: y_1 .. y_n EOS, pad ...
};
// target [B, T] (ids, padded), target_lengths [B] in [0, T] -> DecoderIO with the config's
// bos/eos/pad ids. Errors "[decoder_io] ...".
DecoderIO decoder_io(const Index& target, const std::vector<int64_t>& target_lengths, const ModelConfig& config);

struct LossOptions {
  int64_t pad_id = 0;            // targets equal to pad_id count neither in the sum nor in the mean
  double label_smoothing = 0.0;  // PyTorch's: (1 - eps) one-hot + eps / V
};
// Mean token cross-entropy of logits [B, T, V] against tgt_out [B, T] (attend::cross_entropy with
// ignore_index = pad_id). Errors "[sequence_loss] ..." name the shapes.
Tensor sequence_loss(const Tensor& logits, const Index& tgt_out, const LossOptions& opt = {});

}  // namespace attend::models
