// Pieces the encoder-decoders share (internal to src/models): input checks, the attention memory
// that the rows of a decoder state read, and inference-mode guards.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/source.h"
#include "attend/core/tensor.h"
#include "attend/models/encoder_decoder.h"
#include "attend/nn/module.h"

namespace attend::models::internal {

// Validates a token source for the model called `op`: src.check(op), then ids in [0, src_vocab).
// A feature source is an error naming the model (it reads token ids).
void check_token_source(const char* op, const ModelConfig& config, const Source& src);
// tgt [B, T] with T > 0, ids in [0, tgt_vocab), B = memory rows.
void check_target(const char* op, const ModelConfig& config, int64_t rows, const Index& tgt);
// prev_tokens [N] of a step: N = state rows, ids in [0, tgt_vocab).
void check_step_tokens(const char* op, const ModelConfig& config, int64_t rows,
                       const std::vector<int64_t>& prev_tokens);
// The memory a model's encode() made, as its own type; error naming `op` otherwise.
template <typename M>
const M& memory_as(const char* op, const Memory& m) {
  const auto* typed = dynamic_cast<const M*>(&m);
  ATTEND_CHECK(typed != nullptr, op, "got a Memory that this model's encode() did not make");
  return *typed;
}
template <typename M>
std::shared_ptr<const M> memory_as(const char* op, std::shared_ptr<const Memory> m) {
  memory_as<M>(op, *m);
  return std::static_pointer_cast<const M>(std::move(m));
}

// The state a step received, as the model's own type, after checking the step's tokens (one per
// row, ids in [0, tgt_vocab)); errors name `op`.
template <typename S>
S& step_state(const char* op, const ModelConfig& config, DecoderState& base, const std::vector<int64_t>& prev_tokens) {
  auto* typed = dynamic_cast<S*>(&base);
  ATTEND_CHECK(typed != nullptr, op, "step got a DecoderState that this model's start() did not make");
  check_step_tokens(op, config, typed->rows(), prev_tokens);
  return *typed;
}

// The config a model's factory got, as its architecture's type; error naming `op` otherwise.
template <typename C>
const C& config_as(const char* op, const ModelConfig& c) {
  const auto* typed = dynamic_cast<const C*>(&c);
  ATTEND_CHECK(typed != nullptr, op, "got a ", c.architecture(), " config");
  return *typed;
}

// Encoder states that a decoder attends to, one row per source.
struct AttentionMemory : Memory {
  Tensor keys;       // [N, S, Dk]: the encoder states (keys and values)
  Tensor projected;  // [N, S, A]: keys projected once by the score, or undefined
};

// The memory rows of a decoder state: row r reads source src_index[r]. Selecting rows that read
// the same sources as before (the usual beam step: hypotheses reorder within their sentence)
// shares the gathered memory instead of copying it.
class MemoryRows {
 public:
  MemoryRows() = default;
  explicit MemoryRows(std::shared_ptr<const AttentionMemory> base);
  MemoryRows select(const std::vector<int64_t>& rows) const;
  const AttentionMemory& get() const { return *rows_; }

 private:
  std::shared_ptr<const AttentionMemory> base_;  // one row per source
  std::vector<int64_t> src_index_;               // [N]
  std::shared_ptr<const AttentionMemory> rows_;  // base_ gathered at src_index_
};

// x with its `axis` entries picked at rows (no gradient needed: decoding).
Tensor select_rows(const Tensor& x, int axis, const std::vector<int64_t>& rows);

// Inference mode for the lifetime of the guard (StepDecoder calls run without dropout whatever
// the module's mode); restores the previous mode.
class EvalGuard {
 public:
  explicit EvalGuard(nn::Module& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalGuard() { m_.train(was_training_); }
  EvalGuard(const EvalGuard&) = delete;
  EvalGuard& operator=(const EvalGuard&) = delete;

 private:
  nn::Module& m_;
  bool was_training_;
};

// A [N, V] log-softmax of logits [N, V] (step outputs).
Tensor step_log_probs(const Tensor& logits);

}  // namespace attend::models::internal
