// StepDecoder: the one contract between a model and the search (greedy, beam). A model encodes a
// batch of sources once, then advances any set of partial hypotheses one token at a time. The
// search never sees the model's internals: it reorders and replicates rows of the state.
//
//   auto state = model.start(src);                      // src: tokens or features, rows = B sources
//   StepOutput o = model.step(*state, prev_tokens);    // prev_tokens [N] -> log_probs [N, V]
//   state = state->select(rows);                        // beam bookkeeping: row r <- old row rows[r]
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/source.h"
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
};

struct StepOutput {
  Tensor log_probs;  // [N, V] f32, log-softmax over the target vocabulary
  Tensor attention;  // [N, S] weights over the (padded) source of each row; undefined without attention
};

class StepDecoder {
 public:
  virtual ~StepDecoder() = default;
  // Encodes src (B rows; inference: no dropout, no gradient) -> a state with B rows, ready for the
  // first step.
  virtual std::unique_ptr<DecoderState> start(const Source& src) = 0;
  // Feeds prev_tokens [N] (the BOS id at the first step) and advances `state` in place.
  virtual StepOutput step(DecoderState& state, const std::vector<int64_t>& prev_tokens) = 0;
  virtual int64_t bos_id() const = 0;
  virtual int64_t eos_id() const = 0;
  virtual int64_t vocab_size() const = 0;
};

}  // namespace attend::models
