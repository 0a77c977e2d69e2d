// StepDecoder: the one contract between a model and the search (greedy, beam, sampling). A model
// makes a state of N rows (an encoder-decoder from its encoded sources, a language model empty),
// then advances any set of partial hypotheses by their next tokens. The search never sees the
// model's internals: it reorders and replicates rows of the state.
//
//   StepOutput o = model.step(*state, tokens);   // tokens [N] or [N, t] -> log_probs [N, V] after the last
//   state = state->select(rows);                  // beam bookkeeping: row r <- old row rows[r]
//
// A step may feed several tokens per row at once (a prompt, a forced prefix): tokens [N, t] with
// t >= 1 advance every row by t positions, and the output is the distribution after the last of
// them, as if fed one at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/tensor.h"

namespace attend::models {

// The decoder-side state of N partial hypotheses (recurrent states, attention caches, the encoded
// source each row attends to). Opaque to the search.
class DecoderState {
 public:
  virtual ~DecoderState() = default;
  virtual int64_t rows() const = 0;
  // A new state whose row r is a copy of this state's row rows[r] (rows may repeat: a beam of k
  // starts as k copies of one source's row).
  virtual std::unique_ptr<DecoderState> select(const std::vector<int64_t>& rows) const = 0;
  // The positions each row's attention reads, when they are not the source's (an image model
  // attends to R regions of a picture of S pixels); empty: the source's lengths.
  virtual std::vector<int64_t> attention_lengths() const { return {}; }
};

struct StepOutput {
  Tensor log_probs;  // [N, V] f32, log-softmax over the vocabulary after the last fed token
  Tensor attention;  // [N, S] weights over the (padded) source of each row at that position;
                     // undefined without attention over a source
};

class StepDecoder {
 public:
  virtual ~StepDecoder() = default;
  // Feeds tokens [N, t] (t >= 1) or [N] (t = 1) and advances `state` in place (inference: no
  // dropout, no gradient).
  virtual StepOutput step(DecoderState& state, const Index& tokens) = 0;
  // One token per row.
  StepOutput step(DecoderState& state, const std::vector<int64_t>& tokens) { return step(state, Index(tokens)); }
  // The token that ends a hypothesis.
  virtual int64_t eos_id() const = 0;
  virtual int64_t vocab_size() const = 0;
};

}  // namespace attend::models
