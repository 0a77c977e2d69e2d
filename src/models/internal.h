// Pieces the three encoder-decoders share (internal to src/models): the embedding table, input
// checks, and the encoder memory that the rows of a decoder state attend to.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/rng.h"
#include "attend/core/tensor.h"
#include "attend/models/seq2seq.h"
#include "attend/nn/module.h"

namespace attend::models::internal {

// nn.Embedding: weight [V, E] ~ N(0, 1), the padding row zero and without gradient.
class Embedding : public nn::Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim, int64_t padding_idx, Rng& rng);
  // ids [...] -> [..., E]
  Tensor forward(const Index& ids) const;
  Tensor weight;  // [V, E]

 private:
  int64_t padding_idx_;
};

// Validates a batch for the model called `op`: src [B, S] with ids in [0, src_vocab), lengths [B]
// in [1, S], and (when given) tgt [B, T] with ids in [0, tgt_vocab).
void check_source(const char* op, const Seq2SeqConfig& config, const Index& src, const std::vector<int64_t>& lengths);
void check_target(const char* op, const Seq2SeqConfig& config, const Index& src, const Index& tgt);
// prev_tokens [N] of a step: N = state rows, ids in [0, tgt_vocab).
void check_step_tokens(const char* op, const Seq2SeqConfig& config, int64_t rows,
                       const std::vector<int64_t>& prev_tokens);

// What the decoder attends to, one row per source.
struct Memory {
  Tensor keys;                   // [N, S, Dk]: the encoder states (keys and values)
  Tensor projected;              // [N, S, A]: keys projected once by the score, or undefined
  std::vector<int64_t> lengths;  // [N] real source lengths (the padding mask)
};

// The memory rows of a decoder state: row r reads source src_index[r]. Selecting rows that read
// the same sources as before (the usual beam step: hypotheses reorder within their sentence)
// shares the gathered memory instead of copying it.
class MemoryRows {
 public:
  MemoryRows() = default;
  explicit MemoryRows(std::shared_ptr<const Memory> base);
  MemoryRows select(const std::vector<int64_t>& rows) const;
  const Memory& get() const { return *rows_; }

 private:
  std::shared_ptr<const Memory> base_;  // one row per source
  std::vector<int64_t> src_index_;      // [N]
  std::shared_ptr<const Memory> rows_;  // base_ gathered at src_index_
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
