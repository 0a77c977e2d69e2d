// Batch streams: what the trainer reads. A BatchStream serves batches in a plan that depends only
// on (seed, epoch), with a position that resumes exactly (next, position, seek). A Batch carries
// what its task needs:
//   sequence-to-sequence  source + target (+ target_lengths)        Batcher over pairs
//   classification        source + labels                           Batcher over labelled sources
//   language modelling    tokens: windows of a token stream         TokenWindows
//
// Batcher: length-bucketed batching of encoded examples into padded id matrices. Each epoch: the examples are grouped into buckets of similar length (bucket = max(source
// length, target length) / bucket_width), shuffled inside each bucket by the Rng, cut greedily
// into batches of at most max_sentences pairs and at most max_tokens padded tokens
// (B * max(Ts, Tt) <= max_tokens; one pair longer than max_tokens gets a batch of its own), and
// the batch order is shuffled. The plan of epoch e depends only on (seed, e), so training resumes
// exactly from a BatchPosition {epoch, batch}. With shuffle = false the order is by length, then
// by example index, every epoch.
//
//   Batch.source  a token Source: ids [B, Ts] padded with Vocab::kPad (0) on the right, lengths [B]
//   Batch.target  [B, Tt], target_lengths [B];  labels [B] when the examples have labels;
//   example_ids [B]  indices into the input
//
// TokenWindows: a token stream (documents joined by an end-of-text token) cut into n windows of
// context + 1 tokens, window i = stream[i * context .. i * context + context] (consecutive windows
// share one token, so every token after the first is predicted exactly once); each epoch serves
// them in an order shuffled by (seed, epoch), `batch` windows per batch. Batch.tokens [B, context +
// 1]: inputs tokens[:, :-1], next tokens tokens[:, 1:]. The last window may be shorter (the stream's
// rest); its row is padded with pad_id, which the objective does not count.
#pragma once

#include <cstdint>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/source.h"

namespace attend::data {

struct Example {
  std::vector<int64_t> source;
  std::vector<int64_t> target;  // empty for classification
  int64_t label = -1;           // a class in [0, K) for classification; -1: none
};

struct BatchingOptions {
  int64_t max_tokens = 4096;    // padded tokens per batch: B * max(Ts, Tt)
  int64_t max_sentences = 128;  // pairs per batch
  int64_t bucket_width = 1;     // lengths per bucket
  bool shuffle = true;
  uint64_t seed = 1;
  int64_t pad_id = 0;
};

// One batch of any task: the parts its task reads are set (see the header comment).
struct Batch {
  Source source;                        // tokens [B, Ts], lengths [B]
  Index target;                         // [B, Tt]
  std::vector<int64_t> target_lengths;  // [B]
  std::vector<int64_t> labels;          // [B] classes, when the examples have labels
  Index tokens;                         // [B, T + 1] language-model windows
  std::vector<int64_t> example_ids;     // [B] examples or windows
  int64_t size() const { return static_cast<int64_t>(example_ids.size()); }
};

struct BatchPosition {
  int64_t epoch = 0;
  int64_t batch = 0;  // next batch to return within the epoch
  bool operator==(const BatchPosition&) const = default;
};

// What a trainer reads: batches in a resumable order.
class BatchStream {
 public:
  virtual ~BatchStream() = default;
  // The batch at position() ; advances to the next (after the last batch of an epoch: {epoch + 1, 0}).
  virtual Batch next() = 0;
  virtual BatchPosition position() const = 0;
  // Error "[<stream>] ..." for a position outside the plan of its epoch.
  virtual void seek(const BatchPosition& pos) = 0;
  // Batches in the epoch of the current position.
  virtual int64_t batches_in_epoch() = 0;
  // Every batch of `epoch` in order, without moving the position (validation reads a whole split).
  virtual std::vector<Batch> epoch_batches(int64_t epoch) const = 0;
};

// A stream served from a plan: each epoch's batches are lists of item indices (plan) made into
// batches (make_batch); what the two streams below share.
class PlannedStream : public BatchStream {
 public:
  // The item indices of every batch of `epoch`, in the order they are served.
  virtual std::vector<std::vector<int64_t>> plan(int64_t epoch) const = 0;
  // The batch of the items `ids`.
  virtual Batch make_batch(const std::vector<int64_t>& ids) const = 0;
  // The batch of `ids` as epoch `epoch` serves it: what next() and epoch_batches() call. The
  // same as make_batch unless a stream varies its items by epoch (ImageBatches' augmentation).
  virtual Batch batch_of_epoch(const std::vector<int64_t>& ids, int64_t epoch) const {
    (void)epoch;
    return make_batch(ids);
  }

  Batch next() override;
  BatchPosition position() const override { return pos_; }
  void seek(const BatchPosition& pos) override;
  int64_t batches_in_epoch() override { return static_cast<int64_t>(current_plan().size()); }
  std::vector<Batch> epoch_batches(int64_t epoch) const override;

 protected:
  // `name` prefixes errors ("Batcher").
  explicit PlannedStream(const char* name) : name_(name) {}

 private:
  const std::vector<std::vector<int64_t>>& current_plan();
  const char* name_;
  BatchPosition pos_;
  int64_t cached_epoch_ = -1;
  std::vector<std::vector<int64_t>> cached_plan_;
};

class Batcher : public PlannedStream {
 public:
  // Throws attend::Error("[Batcher] ...") if there are no examples or options are not positive.
  Batcher(std::vector<Example> examples, const BatchingOptions& options);

  // The example indices of every batch of `epoch`, in the order they are served.
  std::vector<std::vector<int64_t>> plan(int64_t epoch) const override;
  // Builds the padded batch for a list of example indices.
  Batch make_batch(const std::vector<int64_t>& ids) const override;

  int64_t num_examples() const { return static_cast<int64_t>(examples_.size()); }

 private:
  std::vector<Example> examples_;
  BatchingOptions options_;
};

struct WindowOptions {
  int64_t context = 256;  // T: positions a window predicts
  int64_t batch = 16;     // windows per batch
  bool shuffle = true;
  uint64_t seed = 1;
  int64_t pad_id = 0;  // pads the last window when it is shorter
};

class TokenWindows : public PlannedStream {
 public:
  // Errors "[TokenWindows] ..." for a stream of fewer than 2 tokens or non-positive options.
  TokenWindows(std::vector<int64_t> stream, const WindowOptions& options);

  // The window indices of every batch of `epoch`, in the order they are served.
  std::vector<std::vector<int64_t>> plan(int64_t epoch) const override;
  // The batch of windows `ids`: tokens [B, T + 1] (the last window may be shorter when the stream is).
  Batch make_batch(const std::vector<int64_t>& ids) const override;
  int64_t num_windows() const { return windows_; }
  // Tokens predicted over one pass: stream length - 1.
  int64_t predicted_tokens() const { return static_cast<int64_t>(stream_.size()) - 1; }

 private:
  std::vector<int64_t> stream_;
  WindowOptions options_;
  int64_t windows_ = 0;
};

}  // namespace attend::data
