// data: length-bucketed batching (token/sentence limits, padding, lengths), per-epoch shuffles
// that depend only on (seed, epoch), and exact resume from a BatchPosition.
#include <gtest/gtest.h>

#include <set>

#include "attend/core/error.h"
#include "attend/core/rng.h"
#include "attend/data/batching.h"

namespace attend::data {
namespace {

std::vector<Example> random_examples(int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<Example> ex;
  for (int i = 0; i < n; ++i) {
    Example e;
    const auto ls = 1 + rng.next_u64() % 20, lt = 1 + rng.next_u64() % 20;
    for (uint64_t k = 0; k < ls; ++k) e.source.push_back(4 + static_cast<int64_t>(rng.next_u64() % 50));
    for (uint64_t k = 0; k < lt; ++k) e.target.push_back(4 + static_cast<int64_t>(rng.next_u64() % 50));
    ex.push_back(std::move(e));
  }
  return ex;
}

bool same(const Batch& a, const Batch& b) {
  return a.example_ids == b.example_ids && a.source.tokens.data == b.source.tokens.data && a.target.data == b.target.data &&
         a.source.tokens.shape == b.source.tokens.shape && a.source.lengths == b.source.lengths && a.target.shape == b.target.shape;
}

TEST(DataBatching, LimitsPaddingAndCoverage) {
  const auto ex = random_examples(300, 1);
  const BatchingOptions opt{.max_tokens = 200, .max_sentences = 16, .bucket_width = 2, .seed = 7};
  Batcher b(ex, opt);
  const auto plan = b.plan(0);
  std::multiset<int64_t> seen;
  for (const auto& ids : plan) {
    const Batch batch = b.make_batch(ids);
    const int64_t B = batch.size(), ts = batch.source.tokens.shape[1], tt = batch.target.shape[1];
    ASSERT_LE(B, 16);
    ASSERT_LE(B * std::max(ts, tt), 200);
    ASSERT_EQ(batch.source.tokens.shape, (Shape{B, ts}));
    for (int64_t r = 0; r < B; ++r) {
      const Example& e = ex[static_cast<size_t>(batch.example_ids[static_cast<size_t>(r)])];
      ASSERT_EQ(batch.source.lengths[static_cast<size_t>(r)], static_cast<int64_t>(e.source.size()));
      for (int64_t c = 0; c < ts; ++c) {
        const int64_t want = c < static_cast<int64_t>(e.source.size()) ? e.source[static_cast<size_t>(c)] : 0;
        ASSERT_EQ(batch.source.tokens.data[static_cast<size_t>(r * ts + c)], want);
      }
      for (int64_t c = 0; c < tt; ++c) {
        const int64_t want = c < static_cast<int64_t>(e.target.size()) ? e.target[static_cast<size_t>(c)] : 0;
        ASSERT_EQ(batch.target.data[static_cast<size_t>(r * tt + c)], want);
      }
    }
    seen.insert(ids.begin(), ids.end());
  }
  ASSERT_EQ(seen.size(), 300u);  // every example exactly once
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 300u);
}

TEST(DataBatching, BucketsGroupSimilarLengths) {
  const auto ex = random_examples(400, 2);
  Batcher b(ex, {.max_tokens = 100000, .max_sentences = 20, .bucket_width = 1, .seed = 3});
  int64_t padded = 0, real = 0;
  for (const auto& ids : b.plan(0)) {
    const Batch batch = b.make_batch(ids);
    padded += batch.size() * std::max(batch.source.tokens.shape[1], batch.target.shape[1]);
    for (int64_t r = 0; r < batch.size(); ++r)
      real += std::max(batch.source.lengths[static_cast<size_t>(r)], batch.target_lengths[static_cast<size_t>(r)]);
  }
  EXPECT_LT(static_cast<double>(padded) / static_cast<double>(real), 1.1);  // random batches would be ~1.5
}

TEST(DataBatching, ShuffleDependsOnlyOnSeedAndEpoch) {
  const auto ex = random_examples(200, 3);
  const BatchingOptions opt{.max_tokens = 300, .max_sentences = 8, .seed = 11};
  Batcher a(ex, opt), b(ex, opt);
  EXPECT_EQ(a.plan(0), b.plan(0));
  EXPECT_EQ(a.plan(5), b.plan(5));
  EXPECT_NE(a.plan(0), a.plan(1));
  auto other = opt;
  other.seed = 12;
  EXPECT_NE(Batcher(ex, other).plan(0), a.plan(0));
  auto ordered = opt;
  ordered.shuffle = false;
  Batcher c(ex, ordered);
  EXPECT_EQ(c.plan(0), c.plan(3));
}

TEST(DataBatching, ExactResumeFromPosition) {
  const auto ex = random_examples(120, 4);
  const BatchingOptions opt{.max_tokens = 150, .max_sentences = 8, .seed = 5};
  Batcher full(ex, opt);
  std::vector<Batch> stream;
  std::vector<BatchPosition> positions;
  for (int i = 0; i < 60; ++i) {  // crosses at least one epoch boundary
    positions.push_back(full.position());
    stream.push_back(full.next());
  }
  EXPECT_GE(full.position().epoch, 1);
  for (size_t k : {size_t{0}, size_t{7}, size_t{33}, size_t{59}}) {
    Batcher resumed(ex, opt);
    resumed.seek(positions[k]);
    for (size_t i = k; i < stream.size(); ++i) ASSERT_TRUE(same(resumed.next(), stream[i])) << "resume at " << k;
  }
}

TEST(DataBatching, LongExampleGetsItsOwnBatchAndBadOptionsThrow) {
  std::vector<Example> ex = {{std::vector<int64_t>(50, 5), {5}}, {{5, 6}, {7}}, {{5}, {6, 7}}};
  Batcher b(ex, {.max_tokens = 10, .max_sentences = 4, .shuffle = false});
  const auto plan = b.plan(0);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[1], (std::vector<int64_t>{0}));
  EXPECT_THROW(Batcher({}, {}), Error);
  EXPECT_THROW(Batcher(ex, {.max_tokens = 0}), Error);
  EXPECT_THROW(b.seek({.epoch = 0, .batch = 2}), Error);
  EXPECT_EQ(b.position(), (BatchPosition{0, 0}));
}

// Language-model windows: T + 1 tokens each, consecutive windows sharing one token, so that every
// token after the first is predicted exactly once per epoch; the last window may be shorter and is
// padded; the order depends only on (seed, epoch) and resumes from a position.
TEST(DataBatching, TokenWindowsPredictEveryTokenOnce) {
  std::vector<int64_t> stream;
  for (int64_t i = 0; i < 103; ++i) stream.push_back(4 + i % 97);
  const WindowOptions opt{.context = 10, .batch = 4, .seed = 3, .pad_id = 0};
  TokenWindows w(stream, opt);
  EXPECT_EQ(w.num_windows(), 11);  // ceil(102 / 10)
  EXPECT_EQ(w.predicted_tokens(), 102);
  std::vector<int64_t> predicted(103, 0);  // how often each stream position is a target
  int64_t batches = 0;
  for (const auto& ids : w.plan(0)) {
    const Batch b = w.make_batch(ids);
    ++batches;
    ASSERT_LE(b.size(), 4);
    ASSERT_EQ(b.tokens.shape, (Shape{b.size(), 11}));
    EXPECT_TRUE(b.target.data.empty() && b.source.lengths.empty() && b.labels.empty());
    for (int64_t r = 0; r < b.size(); ++r) {
      const int64_t first = b.example_ids[static_cast<size_t>(r)] * 10;
      for (int64_t c = 0; c < 11; ++c) {
        const int64_t pos = first + c, got = b.tokens.data[static_cast<size_t>(r * 11 + c)];
        if (pos < 103) {
          ASSERT_EQ(got, stream[static_cast<size_t>(pos)]) << "window " << first / 10 << " column " << c;
          if (c > 0) ++predicted[static_cast<size_t>(pos)];
        } else {
          ASSERT_EQ(got, 0) << "padding of the short last window";
        }
      }
    }
  }
  EXPECT_EQ(batches, 3);  // 11 windows in batches of 4
  EXPECT_EQ(predicted[0], 0);
  for (size_t i = 1; i < predicted.size(); ++i) ASSERT_EQ(predicted[i], 1) << "position " << i;

  // The plan: a permutation of the windows that depends only on (seed, epoch).
  TokenWindows again(stream, opt);
  EXPECT_EQ(w.plan(0), again.plan(0));
  EXPECT_NE(w.plan(0), w.plan(1));
  EXPECT_NE(w.plan(0), TokenWindows(stream, {.context = 10, .batch = 4, .seed = 4}).plan(0));
  std::vector<std::vector<int64_t>> in_order{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10}};
  EXPECT_EQ(TokenWindows(stream, {.context = 10, .batch = 4, .shuffle = false}).plan(5), in_order);

  // Resume: a stream seeked to a position serves what the first one served from there.
  std::vector<Batch> served;
  std::vector<BatchPosition> positions;
  for (int i = 0; i < 8; ++i) {  // crosses two epoch boundaries
    positions.push_back(w.position());
    served.push_back(w.next());
  }
  EXPECT_EQ(w.position(), (BatchPosition{2, 2}));
  TokenWindows resumed(stream, opt);
  resumed.seek(positions[4]);
  for (size_t i = 4; i < served.size(); ++i) {
    const Batch b = resumed.next();
    ASSERT_EQ(b.example_ids, served[i].example_ids) << i;
    ASSERT_EQ(b.tokens.data, served[i].tokens.data) << i;
  }
  EXPECT_EQ(resumed.epoch_batches(0).size(), 3u);
  EXPECT_THROW(resumed.seek({.epoch = 0, .batch = 3}), Error);
}

TEST(DataBatching, TokenWindowsOfAShortStreamAndBadOptions) {
  TokenWindows w({3, 5, 6}, {.context = 8, .batch = 2});
  ASSERT_EQ(w.num_windows(), 1);
  const Batch b = w.next();
  EXPECT_EQ(b.tokens.shape, (Shape{1, 3}));  // the whole stream, no padding needed
  EXPECT_EQ(w.position(), (BatchPosition{1, 0}));
  EXPECT_THROW(TokenWindows({3}, {}), Error);
  EXPECT_THROW(TokenWindows({3, 4}, {.context = 0}), Error);
  EXPECT_THROW(TokenWindows({3, 4}, {.batch = 0}), Error);
}

// Labelled examples give the batch their labels (classification); unlabelled ones none.
TEST(DataBatching, LabelsTravelWithTheirExamples) {
  std::vector<Example> ex;
  for (int64_t i = 0; i < 30; ++i) ex.push_back({.source = std::vector<int64_t>(1 + i % 5, 4 + i), .label = i % 3});
  Batcher b(ex, {.max_sentences = 7, .seed = 2});
  for (const auto& ids : b.plan(0)) {
    const Batch batch = b.make_batch(ids);
    ASSERT_EQ(batch.labels.size(), ids.size());
    for (size_t r = 0; r < ids.size(); ++r) EXPECT_EQ(batch.labels[r], ids[r] % 3);
  }
  EXPECT_TRUE(Batcher(random_examples(5, 1), {}).next().labels.empty());
}

}  // namespace
}  // namespace attend::data
