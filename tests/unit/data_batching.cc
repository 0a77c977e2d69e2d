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

}  // namespace
}  // namespace attend::data
