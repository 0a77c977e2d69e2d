// Length-bucketed batching of encoded sentence pairs into padded id matrices.
//
// Each epoch: the examples are grouped into buckets of similar length (bucket = max(source
// length, target length) / bucket_width), shuffled inside each bucket by the Rng, cut greedily
// into batches of at most max_sentences pairs and at most max_tokens padded tokens
// (B * max(Ts, Tt) <= max_tokens; one pair longer than max_tokens gets a batch of its own), and
// the batch order is shuffled. The plan of epoch e depends only on (seed, e), so training resumes
// exactly from a BatchPosition {epoch, batch}. With shuffle = false the order is by length, then
// by example index, every epoch.
//
//   Batch.source  a token Source: ids [B, Ts] padded with Vocab::kPad (0) on the right, lengths [B]
//   Batch.target  [B, Tt], target_lengths [B];  example_ids [B]  indices into the input
#pragma once

#include <cstdint>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/source.h"

namespace attend::data {

struct Example {
  std::vector<int64_t> source;
  std::vector<int64_t> target;
};

struct BatchingOptions {
  int64_t max_tokens = 4096;    // padded tokens per batch: B * max(Ts, Tt)
  int64_t max_sentences = 128;  // pairs per batch
  int64_t bucket_width = 1;     // lengths per bucket
  bool shuffle = true;
  uint64_t seed = 1;
  int64_t pad_id = 0;
};

// A source plus a target.
struct Batch {
  Source source;                        // tokens [B, Ts], lengths [B]
  Index target;                         // [B, Tt]
  std::vector<int64_t> target_lengths;  // [B]
  std::vector<int64_t> example_ids;     // [B]
  int64_t size() const { return static_cast<int64_t>(example_ids.size()); }
};

struct BatchPosition {
  int64_t epoch = 0;
  int64_t batch = 0;  // next batch to return within the epoch
  bool operator==(const BatchPosition&) const = default;
};

class Batcher {
 public:
  // Throws attend::Error("[Batcher] ...") if there are no examples or options are not positive.
  Batcher(std::vector<Example> examples, const BatchingOptions& options);

  // The example indices of every batch of `epoch`, in the order they are served.
  std::vector<std::vector<int64_t>> plan(int64_t epoch) const;
  // Builds the padded batch for a list of example indices.
  Batch make_batch(const std::vector<int64_t>& ids) const;

  // Sequential access with a resumable position: next() returns the batch at position() and
  // advances; after the last batch of an epoch the position moves to {epoch + 1, 0}.
  Batch next();
  BatchPosition position() const { return pos_; }
  void seek(const BatchPosition& pos);
  // Batches in the epoch of the current position.
  int64_t batches_in_epoch();

  int64_t num_examples() const { return static_cast<int64_t>(examples_.size()); }

 private:
  const std::vector<std::vector<int64_t>>& current_plan();
  std::vector<Example> examples_;
  BatchingOptions options_;
  BatchPosition pos_;
  int64_t cached_epoch_ = -1;
  std::vector<std::vector<int64_t>> cached_plan_;
};

}  // namespace attend::data
