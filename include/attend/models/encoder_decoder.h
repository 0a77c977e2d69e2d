// EncoderDecoder: the skeleton of the sequence-to-sequence models that split encoding from
// decoding (the recurrent ones of rnnsearch.h, luong.h and seq2seq.h, the Transformer; later the
// image captioner). Any source (token ids or region features, attend/core/source.h) meets any
// decoder through one type, Memory:
//
//   memory = model.encode(src)                   // src [B, S] ids or [B, R, C] features, lengths [B]
//   out    = model.decode(*memory, tgt_in)       // teacher forcing: logits [B, T, V]
//   state  = model.init_state(memory)            // or the search's model.start(src)
//   step   = model.step(*state, prev_tokens)     // StepDecoder (step_decoder.h)
//
// forward(src, tgt_in) = decode(*encode(src), tgt_in) and start(src) = init_state(encode(src))
// (inference); the task's contract is SequenceToSequence's (tasks.h). In training mode encode and
// decode build the autograd graph and apply dropout; start() and step() always run as inference.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/rng.h"
#include "attend/core/source.h"
#include "attend/core/tensor.h"
#include "attend/models/tasks.h"

namespace attend::models {

// What an encoder made of a batch of sources: opaque to the search and the trainer, each model
// derives its own (encoder states, projected keys, initial decoder states). rows() = B.
class Memory {
 public:
  virtual ~Memory() = default;
  std::vector<int64_t> lengths;  // [B] real source lengths (the padding mask of every attention)
  int64_t rows() const { return static_cast<int64_t>(lengths.size()); }
};

class EncoderDecoder : public SequenceToSequence {
 public:
  // src -> Memory; errors "[<architecture>] ..." name the shapes (and a source kind the model does
  // not read).
  virtual std::shared_ptr<const Memory> encode(const Source& src) = 0;
  // Teacher-forced decoding of tgt_in [B, T] against memory (B rows).
  virtual ForwardResult decode(const Memory& memory, const Index& tgt_in, const ForwardOptions& opt = {}) = 0;
  // The decoder state of the first step over memory (B rows), for greedy and beam search.
  virtual std::unique_ptr<DecoderState> init_state(std::shared_ptr<const Memory> memory) = 0;

  ForwardResult forward(const Source& src, const Index& tgt_in, const ForwardOptions& opt = {}) override {
    return decode(*encode(src), tgt_in, opt);
  }
  // Encodes in inference mode, then init_state.
  std::unique_ptr<DecoderState> start(const Source& src) override;

 protected:
  EncoderDecoder(const SequenceToSequenceConfig& config, Rng& rng) : SequenceToSequence(config, rng) {}
};

}  // namespace attend::models
