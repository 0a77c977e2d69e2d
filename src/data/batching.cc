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

// The stream of epoch `epoch`'s shuffles: counters [epoch * 2^40, (epoch + 1) * 2^40).
Rng epoch_rng(uint64_t seed, int64_t epoch) {
  Rng rng(seed);
  rng.set_state(seed, static_cast<uint64_t>(epoch) << 40);
  return rng;
}

// Fisher-Yates with `rng`.
template <typename T>
void shuffle(std::vector<T>& items, Rng& rng) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(rng, i)]);
}

// Checks a position against the epoch's batch count; `op` names the stream.
void check_position(const char* op, const BatchPosition& pos, int64_t batches) {
  ATTEND_CHECK(pos.epoch >= 0 && pos.batch >= 0, op, "invalid position {epoch ", pos.epoch, ", batch ", pos.batch,
               "}");
  ATTEND_CHECK(pos.batch < batches, op, "position {epoch ", pos.epoch, ", batch ", pos.batch, "} is beyond the ",
               batches, " batches of that epoch");
}

}  // namespace

Batch PlannedStream::next() {
  const auto& p = current_plan();
  Batch b = batch_of_epoch(p[static_cast<size_t>(pos_.batch)], pos_.epoch);
  if (++pos_.batch == static_cast<int64_t>(p.size())) pos_ = {pos_.epoch + 1, 0};
  return b;
}

void PlannedStream::seek(const BatchPosition& pos) {
  check_position(name_, pos, pos.epoch >= 0 ? static_cast<int64_t>(plan(pos.epoch).size()) : 0);
  pos_ = pos;
}

std::vector<Batch> PlannedStream::epoch_batches(int64_t epoch) const {
  std::vector<Batch> out;
  for (const auto& ids : plan(epoch)) out.push_back(batch_of_epoch(ids, epoch));
  return out;
}

const std::vector<std::vector<int64_t>>& PlannedStream::current_plan() {
  if (cached_epoch_ != pos_.epoch) {
    cached_plan_ = plan(pos_.epoch);
    cached_epoch_ = pos_.epoch;
  }
  return cached_plan_;
}

Batcher::Batcher(std::vector<Example> examples, const BatchingOptions& options)
    : PlannedStream("Batcher"), examples_(std::move(examples)), options_(options) {
  ATTEND_CHECK(!examples_.empty(), "Batcher", "no examples");
  ATTEND_CHECK(options_.max_tokens > 0 && options_.max_sentences > 0 && options_.bucket_width > 0, "Batcher",
               "max_tokens, max_sentences and bucket_width must be positive, got ", options_.max_tokens, ", ",
               options_.max_sentences, ", ", options_.bucket_width);
}

std::vector<std::vector<int64_t>> Batcher::plan(int64_t epoch) const {
  ATTEND_CHECK(epoch >= 0, "Batcher", "epoch must be >= 0, got ", epoch);
  const size_t n = examples_.size();
  Rng rng = epoch_rng(options_.seed, epoch);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) shuffle(order, rng);
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

  if (options_.shuffle) shuffle(batches, rng);
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
  bool labelled = true;
  for (int64_t r = 0; r < B; ++r) {
    const Example& e = examples_[static_cast<size_t>(ids[static_cast<size_t>(r)])];
    std::copy(e.source.begin(), e.source.end(), src.begin() + r * ts);
    std::copy(e.target.begin(), e.target.end(), tgt.begin() + r * tt);
    b.source.lengths.push_back(static_cast<int64_t>(e.source.size()));
    b.target_lengths.push_back(static_cast<int64_t>(e.target.size()));
    b.labels.push_back(e.label);
    labelled = labelled && e.label >= 0;
  }
  if (!labelled) b.labels.clear();
  b.source.tokens = Index(std::move(src), Shape{B, ts});  // unchecked: the model checks what it reads
  b.target = Index(std::move(tgt), Shape{B, tt});
  b.example_ids = ids;
  return b;
}






TokenWindows::TokenWindows(std::vector<int64_t> stream, const WindowOptions& options)
    : PlannedStream("TokenWindows"), stream_(std::move(stream)), options_(options) {
  constexpr const char* op = "TokenWindows";
  ATTEND_CHECK(options_.context >= 1 && options_.batch >= 1, op, "context ", options_.context, " and batch ",
               options_.batch, " must be positive");
  ATTEND_CHECK(stream_.size() >= 2, op, "the token stream has ", stream_.size(),
               " tokens; a window needs at least 2 (one to read, one to predict)");
  const auto predicted = static_cast<int64_t>(stream_.size()) - 1;
  windows_ = (predicted + options_.context - 1) / options_.context;
}

std::vector<std::vector<int64_t>> TokenWindows::plan(int64_t epoch) const {
  ATTEND_CHECK(epoch >= 0, "TokenWindows", "epoch must be >= 0, got ", epoch);
  std::vector<int64_t> order(static_cast<size_t>(windows_));
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) {
    Rng rng = epoch_rng(options_.seed, epoch);
    shuffle(order, rng);
  }
  std::vector<std::vector<int64_t>> batches;
  for (size_t i = 0; i < order.size(); i += static_cast<size_t>(options_.batch))
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), i + static_cast<size_t>(options_.batch))));
  return batches;
}

Batch TokenWindows::make_batch(const std::vector<int64_t>& ids) const {
  const int64_t B = static_cast<int64_t>(ids.size()), T = options_.context;
  const auto n = static_cast<int64_t>(stream_.size());
  int64_t width = 0;  // T + 1, or less when every window of the batch is the stream's short last one
  for (const int64_t w : ids) {
    ATTEND_CHECK(w >= 0 && w < windows_, "TokenWindows", "window ", w, " out of range [0, ", windows_, ")");
    width = std::max(width, std::min(T + 1, n - w * T));
  }
  std::vector<int64_t> tokens(static_cast<size_t>(B * width), options_.pad_id);  // [B, T + 1]
  for (int64_t r = 0; r < B; ++r) {
    const int64_t first = ids[static_cast<size_t>(r)] * T, len = std::min(T + 1, n - first);
    std::copy(stream_.begin() + first, stream_.begin() + first + len, tokens.begin() + r * width);
  }
  Batch b;
  b.tokens = Index(std::move(tokens), Shape{B, width});
  b.example_ids = ids;
  return b;
}




}  // namespace attend::data
