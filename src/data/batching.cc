#include "attend/data/batching.h"

#include <algorithm>
#include <numeric>

#include "attend/core/error.h"
#include "attend/core/rng.h"

namespace attend::data {
namespace {

int64_t len_of(const Example& e) {
  return static_cast<int64_t>(std::max(e.source.size(), e.target.size()));
}

// Uniform integer in [0, n) from the stream.
uint64_t below(Rng& rng, uint64_t n) { return rng.next_u64() % n; }

}  // namespace

Batcher::Batcher(std::vector<Example> examples, const BatchingOptions& options)
    : examples_(std::move(examples)), options_(options) {
  ATTEND_CHECK(!examples_.empty(), "Batcher", "no examples");
  ATTEND_CHECK(options_.max_tokens > 0 && options_.max_sentences > 0 && options_.bucket_width > 0, "Batcher",
               "max_tokens, max_sentences and bucket_width must be positive, got ", options_.max_tokens, ", ",
               options_.max_sentences, ", ", options_.bucket_width);
}

std::vector<std::vector<int64_t>> Batcher::plan(int64_t epoch) const {
  ATTEND_CHECK(epoch >= 0, "Batcher", "epoch must be >= 0, got ", epoch);
  const size_t n = examples_.size();
  // One stream per epoch: counters [epoch * 2^40, (epoch + 1) * 2^40).
  Rng rng(options_.seed);
  rng.set_state(options_.seed, static_cast<uint64_t>(epoch) << 40);

  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) {
    for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[below(rng, i + 1)]);
  }
  // Stable sort by bucket: within a bucket the (shuffled or index) order is kept.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return len_of(examples_[static_cast<size_t>(a)]) / options_.bucket_width <
           len_of(examples_[static_cast<size_t>(b)]) / options_.bucket_width;
  });

  std::vector<std::vector<int64_t>> batches;
  std::vector<int64_t> cur;
  int64_t cur_max = 0;
  for (int64_t id : order) {
    const int64_t l = len_of(examples_[static_cast<size_t>(id)]);
    const int64_t new_max = std::max(cur_max, l);
    const int64_t count = static_cast<int64_t>(cur.size()) + 1;
    if (!cur.empty() && (count > options_.max_sentences || count * new_max > options_.max_tokens)) {
      batches.push_back(std::move(cur));
      cur.clear();
      cur_max = 0;
    }
    cur.push_back(id);
    cur_max = std::max(cur_max, l);
  }
  if (!cur.empty()) batches.push_back(std::move(cur));

  if (options_.shuffle) {
    for (size_t i = batches.size() - 1; i > 0; --i) std::swap(batches[i], batches[below(rng, i + 1)]);
  }
  return batches;
}

Batch Batcher::make_batch(const std::vector<int64_t>& ids) const {
  Batch b;
  const int64_t B = static_cast<int64_t>(ids.size());
  int64_t ts = 0, tt = 0;
  for (int64_t id : ids) {
    ATTEND_CHECK(id >= 0 && id < num_examples(), "Batcher", "example id ", id, " out of range [0, ", num_examples(),
                 ")");
    const Example& e = examples_[static_cast<size_t>(id)];
    ts = std::max<int64_t>(ts, static_cast<int64_t>(e.source.size()));
    tt = std::max<int64_t>(tt, static_cast<int64_t>(e.target.size()));
  }
  std::vector<int64_t> src(static_cast<size_t>(B * ts), options_.pad_id);  // [B, Ts]
  std::vector<int64_t> tgt(static_cast<size_t>(B * tt), options_.pad_id);  // [B, Tt]
  for (int64_t r = 0; r < B; ++r) {
    const Example& e = examples_[static_cast<size_t>(ids[static_cast<size_t>(r)])];
    std::copy(e.source.begin(), e.source.end(), src.begin() + r * ts);
    std::copy(e.target.begin(), e.target.end(), tgt.begin() + r * tt);
    b.source.lengths.push_back(static_cast<int64_t>(e.source.size()));
    b.target_lengths.push_back(static_cast<int64_t>(e.target.size()));
  }
  b.source.tokens = Index(std::move(src), Shape{B, ts});  // unchecked: the model checks what it reads
  b.target = Index(std::move(tgt), Shape{B, tt});
  b.example_ids = ids;
  return b;
}

const std::vector<std::vector<int64_t>>& Batcher::current_plan() {
  if (cached_epoch_ != pos_.epoch) {
    cached_plan_ = plan(pos_.epoch);
    cached_epoch_ = pos_.epoch;
  }
  return cached_plan_;
}

int64_t Batcher::batches_in_epoch() { return static_cast<int64_t>(current_plan().size()); }

Batch Batcher::next() {
  const auto& p = current_plan();
  Batch b = make_batch(p[static_cast<size_t>(pos_.batch)]);
  if (++pos_.batch == static_cast<int64_t>(p.size())) pos_ = {pos_.epoch + 1, 0};
  return b;
}

void Batcher::seek(const BatchPosition& pos) {
  ATTEND_CHECK(pos.epoch >= 0 && pos.batch >= 0, "Batcher", "invalid position {epoch ", pos.epoch, ", batch ",
               pos.batch, "}");
  const int64_t saved = pos_.epoch;
  pos_.epoch = pos.epoch;
  const int64_t nb = batches_in_epoch();
  if (pos.batch >= nb) {
    pos_.epoch = saved;
    throw Error("Batcher", detail::concat("position {epoch ", pos.epoch, ", batch ", pos.batch, "} is beyond the ", nb,
                                          " batches of that epoch"));
  }
  pos_ = pos;
}

}  // namespace attend::data
