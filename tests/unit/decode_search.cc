// Greedy and beam search on a hand-built StepDecoder whose next-token distribution is a known
// function of (source, prefix), and whose attention row is another known function of them, so
// every property can be checked exactly: beam finds the optimum that greedy misses, beam_size 1 is
// greedy, n-best lists are sorted, length normalization changes the winner as documented, batched
// search equals one sentence at a time, attention matrices follow hypotheses through reorderings,
// and a beam wide enough finds the exhaustive optimum.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "attend/decode/search.h"
#include "support/check.h"

namespace attend {
namespace {

using decode::BeamOptions;
using decode::Hypothesis;
using decode::LengthPenalty;

constexpr int64_t kBos = 2, kEos = 3, kV = 7;  // 0 pad, 1 unk, 2 bos, 3 eos, 4..6 symbols
using Seq = std::vector<int64_t>;
// Probabilities over the kV tokens after `prefix`, for the source `src` (its real tokens).
using Table = std::function<std::vector<double>(const Seq& src, const Seq& prefix)>;

// The attention row the toy emits after `prefix`: positive over the real source, a function of
// the prefix's contents (so a row copied from the wrong hypothesis shows).
std::vector<double> toy_attention(const Seq& src, const Seq& prefix) {
  int64_t h = static_cast<int64_t>(prefix.size()) * 7;
  for (const int64_t y : prefix) h = h * 31 + y;
  std::vector<double> w(src.size());
  double z = 0;
  for (size_t s = 0; s < w.size(); ++s) z += w[s] = 1.0 + static_cast<double>((h + static_cast<int64_t>(s) * 5) % 11);
  for (double& x : w) x /= z;
  return w;
}

// A token source as the search receives it, unchecked (the search's own checks are under test).
Source tok(Index ids, std::vector<int64_t> lengths) {
  Source s;
  s.tokens = std::move(ids);
  s.lengths = std::move(lengths);
  return s;
}

class ToyState : public models::DecoderState {
 public:
  int64_t rows() const override { return static_cast<int64_t>(src.size()); }
  std::unique_ptr<models::DecoderState> select(const std::vector<int64_t>& rows) const override {
    auto out = std::make_unique<ToyState>();
    for (const int64_t r : rows) {
      out->src.push_back(src.at(static_cast<size_t>(r)));
      out->prefix.push_back(prefix.at(static_cast<size_t>(r)));
      out->started.push_back(started.at(static_cast<size_t>(r)));
    }
    return out;
  }
  std::vector<Seq> src, prefix;
  std::vector<bool> started;
};

class ToyDecoder : public models::StepDecoder {
 public:
  explicit ToyDecoder(Table table) : table_(std::move(table)) {}
  std::unique_ptr<models::DecoderState> start(const Source& source) {
    auto st = std::make_unique<ToyState>();
    const Index& src = source.tokens;
    S_ = src.shape[1];
    for (int64_t b = 0; b < src.shape[0]; ++b) {
      const auto first = src.data.begin() + b * S_;
      st->src.emplace_back(first, first + source.lengths[static_cast<size_t>(b)]);
      st->prefix.emplace_back();
      st->started.push_back(false);
    }
    return st;
  }
  models::StepOutput step(models::DecoderState& base, const Index& tokens) override {
    auto& st = dynamic_cast<ToyState&>(base);
    EXPECT_EQ(tokens.numel(), tokens.shape[0]);  // BOS prefixes: one token per row and step
    const std::vector<int64_t>& prev = tokens.data;
    ++steps;
    rows_seen += st.rows();
    const int64_t N = st.rows();
    std::vector<double> lp(static_cast<size_t>(N * kV)), att(static_cast<size_t>(N * S_), 0.0);
    for (int64_t r = 0; r < N; ++r) {
      const size_t i = static_cast<size_t>(r);
      if (!st.started[i]) {
        EXPECT_EQ(prev[i], kBos);
        st.started[i] = true;
      } else {
        st.prefix[i].push_back(prev[i]);
      }
      const std::vector<double> p = table_(st.src[i], st.prefix[i]);
      for (int64_t v = 0; v < kV; ++v) lp[i * kV + static_cast<size_t>(v)] = std::log(p[static_cast<size_t>(v)]);
      const std::vector<double> w = toy_attention(st.src[i], st.prefix[i]);
      for (size_t s = 0; s < w.size(); ++s) att[i * static_cast<size_t>(S_) + s] = w[s];
    }
    return {Tensor::from_vector(lp, Shape{N, kV}, DType::f32), Tensor::from_vector(att, Shape{N, S_}, DType::f32)};
  }
  int64_t bos_id() const { return kBos; }
  int64_t eos_id() const override { return kEos; }
  int64_t vocab_size() const override { return kV; }
  int64_t steps = 0, rows_seen = 0;

 private:
  Table table_;
  int64_t S_ = 0;
};

// The searches from sources, as an encoder-decoder's (decode::start_of with the toy's state).
decode::SearchStart toy_start(ToyDecoder& toy, const Source& src, const decode::LengthLimit& limit, const char* op) {
  return decode::start_of(src, toy.bos_id(), limit, op, [&toy](const Source& s) { return toy.start(s); });
}
std::vector<Hypothesis> greedy(ToyDecoder& toy, const Source& src, const decode::GreedyOptions& opt = {}) {
  return decode::greedy(toy, toy_start(toy, src, opt.limit, "greedy"));
}
std::vector<std::vector<Hypothesis>> beam_search(ToyDecoder& toy, const Source& src, const BeamOptions& opt = {}) {
  return decode::beam_search(toy, toy_start(toy, src, opt.limit, "beam_search"), opt);
}

// A distribution from named probabilities; everything else gets 1e-9.
std::vector<double> dist(const std::map<int64_t, double>& p) {
  std::vector<double> d(kV, 1e-9);
  for (const auto& [v, x] : p) d[static_cast<size_t>(v)] = x;
  return d;
}

// A pseudo-random table: a function of (source, prefix), EOS likelier as the prefix grows.
std::vector<double> random_table(const Seq& src, const Seq& prefix) {
  uint64_t h = 1469598103934665603ull;
  for (const int64_t x : src) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ull;
  h = (h ^ 0xabcdu) * 1099511628211ull;
  for (const int64_t x : prefix) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ull;
  Rng rng(h);
  std::vector<double> d(kV, 1e-9);
  double z = 0;
  for (int64_t v = kEos; v < kV; ++v) {
    double logit = 2.0 * rng.normal();
    if (v == kEos) logit += 0.8 * static_cast<double>(prefix.size()) - 1.5;
    z += d[static_cast<size_t>(v)] = std::exp(logit);
  }
  for (int64_t v = kEos; v < kV; ++v) d[static_cast<size_t>(v)] /= z;
  return d;
}

Index one_source(const Seq& s) { return Index(s, Shape{1, static_cast<int64_t>(s.size())}); }

double table_log_prob(const Table& t, const Seq& src, const Seq& tokens) {
  double lp = 0;
  for (size_t i = 0; i < tokens.size(); ++i)
    lp += std::log(t(src, Seq(tokens.begin(), tokens.begin() + static_cast<int64_t>(i)))[static_cast<size_t>(tokens[i])]);
  return lp;
}

// The attention matrix a hypothesis must carry: row t from the prefix tokens[0:t].
Tensor expected_attention(const Seq& src, const Seq& tokens) {
  std::vector<double> m;
  for (size_t t = 0; t < tokens.size(); ++t) {
    const auto w = toy_attention(src, Seq(tokens.begin(), tokens.begin() + static_cast<int64_t>(t)));
    m.insert(m.end(), w.begin(), w.end());
  }
  return Tensor::from_vector(m, Shape{static_cast<int64_t>(tokens.size()), static_cast<int64_t>(src.size())}, DType::f32);
}

// Greedy takes "a" (0.6) and then EOS: 0.6 * 0.35 = 0.21; the optimum is "b EOS": 0.4 * 0.9 = 0.36.
std::vector<double> garden_path(const Seq&, const Seq& prefix) {
  if (prefix.empty()) return dist({{4, 0.6}, {5, 0.4}});
  if (prefix == Seq{4}) return dist({{kEos, 0.35}, {4, 0.33}, {5, 0.32}});
  if (prefix == Seq{5}) return dist({{kEos, 0.9}, {4, 0.05}, {5, 0.05}});
  return dist({{kEos, 0.9}, {4, 0.05}, {5, 0.05}});
}

TEST(SearchDecode, BeamFindsTheOptimumThatGreedyMisses) {
  ToyDecoder toy(garden_path);
  const Index src = one_source({4, 5});
  const Hypothesis g = greedy(toy, tok(src, {2})).at(0);
  EXPECT_EQ(g.tokens, (Seq{4, kEos}));
  EXPECT_NEAR(g.log_prob, std::log(0.21), 1e-6);
  EXPECT_TRUE(g.finished);
  const auto beam = beam_search(toy, tok(src, {2}), {.beam_size = 2, .length_penalty = LengthPenalty::none});
  ASSERT_EQ(beam.size(), 1u);
  ASSERT_EQ(beam[0].size(), 1u);
  EXPECT_EQ(beam[0][0].tokens, (Seq{5, kEos}));
  EXPECT_NEAR(beam[0][0].log_prob, std::log(0.36), 1e-6);
  EXPECT_NEAR(beam[0][0].score, std::log(0.36), 1e-6);
}

TEST(SearchDecode, BeamSizeOneIsGreedy) {
  ToyDecoder toy(random_table);
  const Index src({4, 5, 6, 4, 6, 6, 0, 0, 5, 0, 0, 0, 4, 4, 5, 6}, Shape{4, 4});
  const std::vector<int64_t> lengths{4, 2, 1, 4};
  const auto g = greedy(toy, tok(src, lengths));
  const auto b = beam_search(toy, tok(src, lengths), {.beam_size = 1, .length_penalty = LengthPenalty::none});
  ASSERT_EQ(g.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(b[i].size(), 1u);
    EXPECT_EQ(b[i][0].tokens, g[i].tokens);
    EXPECT_DOUBLE_EQ(b[i][0].log_prob, g[i].log_prob);
    EXPECT_TRUE(test::all_close(b[i][0].attention, g[i].attention, 0.0));
  }
}

TEST(SearchDecode, NbestIsSortedAndScoresFollowTheDocumentedFormulas) {
  const Seq src{4, 6, 5};
  for (const LengthPenalty lp : {LengthPenalty::none, LengthPenalty::average, LengthPenalty::gnmt}) {
    ToyDecoder toy(random_table);
    const auto r = beam_search(toy, tok(one_source(src), {3}),
                                       {.beam_size = 5, .length_penalty = lp, .alpha = 0.7, .nbest = 5});
    ASSERT_EQ(r[0].size(), 5u);
    for (size_t i = 0; i < r[0].size(); ++i) {
      const Hypothesis& h = r[0][i];
      if (i > 0) {
        EXPECT_GE(r[0][i - 1].score, h.score);
      }
      const double n = static_cast<double>(h.tokens.size());
      const double expected = lp == LengthPenalty::none      ? h.log_prob
                              : lp == LengthPenalty::average ? h.log_prob / n
                                                             : h.log_prob / std::pow((5.0 + n) / 6.0, 0.7);
      EXPECT_NEAR(h.score, expected, 1e-9);
      EXPECT_NEAR(h.log_prob, table_log_prob(random_table, src, h.tokens), 1e-4);
      EXPECT_EQ(h.finished, h.tokens.back() == kEos);
    }
  }
}

// "EOS" at once has probability 0.5 (log -0.69, 1 token); "a a EOS" has 0.456 (log -0.79, 3 tokens).
std::vector<double> short_or_long(const Seq&, const Seq& prefix) {
  if (prefix.empty()) return dist({{kEos, 0.5}, {4, 0.5}});
  if (prefix == Seq{4}) return dist({{4, 0.96}, {kEos, 0.02}, {5, 0.02}});
  return dist({{kEos, 0.95}, {4, 0.025}, {5, 0.025}});
}

TEST(SearchDecode, LengthNormalizationChangesTheWinnerAsDocumented) {
  const Index src = one_source({4});
  const auto run = [&](LengthPenalty lp, double alpha) {
    ToyDecoder toy(short_or_long);
    return beam_search(toy, tok(src, {1}), {.beam_size = 3, .length_penalty = lp, .alpha = alpha}).at(0).at(0);
  };
  // Unnormalized, every token costs probability: the empty translation wins.
  EXPECT_EQ(run(LengthPenalty::none, 0.0).tokens, (Seq{kEos}));
  // Per-token average: -0.79 / 3 > -0.69 / 1.
  const Hypothesis avg = run(LengthPenalty::average, 0.0);
  EXPECT_EQ(avg.tokens, (Seq{4, 4, kEos}));
  EXPECT_NEAR(avg.score, std::log(0.5 * 0.96 * 0.95) / 3.0, 1e-6);
  // GNMT with alpha = 1: lp(3) = 8/6, -0.79 / 1.33 > -0.69 / 1; with alpha = 0 it is no penalty.
  EXPECT_EQ(run(LengthPenalty::gnmt, 1.0).tokens, (Seq{4, 4, kEos}));
  EXPECT_EQ(run(LengthPenalty::gnmt, 0.0).tokens, (Seq{kEos}));
}

TEST(SearchDecode, BatchedSearchEqualsOneSentenceAtATime) {
  const std::vector<Seq> sources{{4, 5, 6, 4, 5}, {6}, {5, 5, 4}, {4, 6, 6, 5}};
  std::vector<int64_t> padded, lengths;
  for (const Seq& s : sources) {
    for (int64_t i = 0; i < 5; ++i) padded.push_back(i < static_cast<int64_t>(s.size()) ? s[static_cast<size_t>(i)] : 0);
    lengths.push_back(static_cast<int64_t>(s.size()));
  }
  const BeamOptions opt{.beam_size = 3, .length_penalty = LengthPenalty::gnmt, .nbest = 3};
  ToyDecoder batched_toy(random_table);
  const auto batched = beam_search(batched_toy, tok(Index(padded, Shape{4, 5}), lengths), opt);
  const auto greedy_batched = greedy(batched_toy, tok(Index(padded, Shape{4, 5}), lengths));
  ASSERT_EQ(batched.size(), 4u);
  for (size_t b = 0; b < sources.size(); ++b) {
    SCOPED_TRACE(b);
    ToyDecoder toy(random_table);
    const auto alone = beam_search(toy, tok(one_source(sources[b]), {lengths[b]}), opt).at(0);
    ASSERT_EQ(batched[b].size(), alone.size());
    for (size_t i = 0; i < alone.size(); ++i) {
      EXPECT_EQ(batched[b][i].tokens, alone[i].tokens);
      EXPECT_DOUBLE_EQ(batched[b][i].score, alone[i].score);
      EXPECT_TRUE(test::all_close(batched[b][i].attention, alone[i].attention, 0.0));
    }
    const Hypothesis g = greedy(toy, tok(one_source(sources[b]), {lengths[b]})).at(0);
    EXPECT_EQ(greedy_batched[b].tokens, g.tokens);
    EXPECT_DOUBLE_EQ(greedy_batched[b].log_prob, g.log_prob);
  }
}

TEST(SearchDecode, AttentionMatricesFollowEachHypothesisThroughReorderings) {
  const Index src({4, 5, 6, 5, 4, 6, 6, 0}, Shape{2, 4});
  const std::vector<int64_t> lengths{4, 3};
  ToyDecoder toy(random_table);
  const auto r = beam_search(toy, tok(src, lengths), {.beam_size = 6, .nbest = 6});
  for (size_t b = 0; b < 2; ++b) {
    const Seq s(src.data.begin() + static_cast<int64_t>(b) * 4, src.data.begin() + static_cast<int64_t>(b) * 4 + lengths[b]);
    ASSERT_EQ(r[b].size(), 6u);
    for (const Hypothesis& h : r[b]) {
      ASSERT_EQ(h.attention.shape(), Shape({static_cast<int64_t>(h.tokens.size()), lengths[b]}));
      EXPECT_TRUE(test::all_close(h.attention, expected_attention(s, h.tokens), 1e-6));
    }
  }
  const auto g = greedy(toy, tok(src, lengths));
  for (size_t b = 0; b < 2; ++b) {
    const Seq s(src.data.begin() + static_cast<int64_t>(b) * 4, src.data.begin() + static_cast<int64_t>(b) * 4 + lengths[b]);
    EXPECT_TRUE(test::all_close(g[b].attention, expected_attention(s, g[b].tokens), 1e-6));
  }
}

// Every sequence over {4, 5, 6} of up to max_len - 1 symbols, then EOS (or cut at max_len).
void enumerate(const Seq& src, Seq& prefix, double lp, int64_t max_len, double& best, Seq& arg) {
  const auto p = random_table(src, prefix);
  for (int64_t v = kEos; v < kV; ++v) {
    const double l = lp + std::log(p[static_cast<size_t>(v)]);
    prefix.push_back(v);
    if (v == kEos || static_cast<int64_t>(prefix.size()) == max_len) {
      if (l > best) {
        best = l;
        arg = prefix;
      }
    } else {
      enumerate(src, prefix, l, max_len, best, arg);
    }
    prefix.pop_back();
  }
}

TEST(SearchDecode, AWideEnoughBeamFindsTheExhaustiveOptimum) {
  for (const Seq& src : {Seq{4, 5}, Seq{6, 6, 4}, Seq{5}}) {
    double best = -1e300;
    Seq arg, prefix;
    enumerate(src, prefix, 0.0, 4, best, arg);
    ToyDecoder toy(random_table);
    const Hypothesis h = beam_search(toy, tok(one_source(src), {static_cast<int64_t>(src.size())}),
                                             {.beam_size = 64, .length_penalty = LengthPenalty::none,
                                              .limit = {.max_len = 4}})
                             .at(0)
                             .at(0);
    EXPECT_EQ(h.tokens, arg);
    EXPECT_NEAR(h.log_prob, best, 1e-4);
  }
}

// With a length-normalized score, hypotheses that end early can fill the beam_size quota of
// finished ones while a better, longer one is still in the beam: "EOS" (0.4, average -0.92) and
// "a EOS" (0.15, -0.95) finish by step 2, but "a a EOS" (0.3325, -0.37) wins once searched for.
std::vector<double> early_enders(const Seq&, const Seq& prefix) {
  if (prefix.empty()) return dist({{4, 0.5}, {kEos, 0.4}, {5, 0.1}});
  if (prefix == Seq{4}) return dist({{4, 0.7}, {kEos, 0.3}});
  if (prefix == Seq{4, 4}) return dist({{kEos, 0.95}, {4, 0.05}});
  return dist({{kEos, 0.9}, {4, 0.1}});
}

TEST(SearchDecode, TheSoundRuleSearchesOnWhileAPartialHypothesisCanWin) {
  const Index src = one_source({4, 5});
  const BeamOptions opt{.beam_size = 2, .length_penalty = LengthPenalty::average, .early_stop = true};
  ToyDecoder early(early_enders);
  const Hypothesis e = beam_search(early, tok(src, {2}), opt).at(0).at(0);
  EXPECT_EQ(e.tokens, (Seq{kEos}));
  EXPECT_NEAR(e.score, std::log(0.4), 1e-6);
  const BeamOptions full{.beam_size = 2, .length_penalty = LengthPenalty::average};  // the default rule
  ToyDecoder on(early_enders);
  const Hypothesis h = beam_search(on, tok(src, {2}), full).at(0).at(0);
  EXPECT_EQ(h.tokens, (Seq{4, 4, kEos}));
  EXPECT_NEAR(h.score, std::log(0.5 * 0.7 * 0.95) / 3, 1e-6);
  EXPECT_GT(on.steps, early.steps);
  // The bound still ends it long before the maximum length (14 tokens here).
  EXPECT_LT(on.steps, 14);
}

TEST(SearchDecode, HypothesesAreCutAtTheMaximumLength) {
  const Table never_ends = [](const Seq&, const Seq&) { return dist({{4, 0.5}, {5, 0.5}}); };
  ToyDecoder toy(never_ends);
  const Index src = one_source({4, 4});
  // ceil(1.5 * 2) + 1 = 4 tokens.
  const decode::LengthLimit limit{.max_len_ratio = 1.5, .max_len_offset = 1};
  EXPECT_EQ(decode::max_target_length(2, limit), 4);
  const Hypothesis g = greedy(toy, tok(src, {2}), {.limit = limit}).at(0);
  EXPECT_EQ(g.tokens.size(), 4u);
  EXPECT_FALSE(g.finished);
  const auto b = beam_search(toy, tok(src, {2}), {.beam_size = 2, .nbest = 2, .limit = limit}).at(0);
  ASSERT_EQ(b.size(), 2u);
  for (const Hypothesis& h : b) {
    EXPECT_EQ(h.tokens.size(), 4u);
    EXPECT_FALSE(h.finished);
  }
  EXPECT_EQ(decode::max_target_length(10, {.max_len_ratio = 2.0, .max_len_offset = 10, .max_len = 25}), 25);
}

TEST(SearchDecode, FinishedSentencesLeaveTheBatch) {
  // Sentence 0 ends at once, sentence 1 never: after the first step only sentence 1's rows remain.
  const Table t = [](const Seq& src, const Seq&) {
    return src.size() == 1 ? dist({{kEos, 0.99}, {4, 0.01}}) : dist({{4, 0.5}, {5, 0.5}});
  };
  ToyDecoder toy(t);
  const Index src({4, 0, 0, 5, 5, 5}, Shape{2, 3});
  const auto r = greedy(toy, tok(src, {1, 3}), {.limit = {.max_len = 5}});
  EXPECT_EQ(r[0].tokens, (Seq{kEos}));
  EXPECT_EQ(r[1].tokens.size(), 5u);
  EXPECT_EQ(toy.steps, 5);
  EXPECT_EQ(toy.rows_seen, 2 + 4);
}

using test::expect_error;

TEST(BadInputDecode, OptionsAndShapesAreChecked) {
  ToyDecoder toy(random_table);
  const Index src = one_source({4, 5});
  expect_error([&] { beam_search(toy, tok(src, {2}), {.beam_size = 0}); }, {"[beam_search]", "beam_size 0"});
  expect_error([&] { beam_search(toy, tok(src, {2}), {.beam_size = 2, .nbest = 3}); }, {"[beam_search]", "nbest 3"});
  expect_error([&] { beam_search(toy, tok(src, {2}), {.alpha = -1.0}); }, {"[beam_search]", "alpha -1"});
  expect_error([&] { beam_search(toy, tok(src, {2, 2})); }, {"[beam_search]", "src_lengths has 2", "[1, 2]"});
  expect_error([&] { greedy(toy, tok(src, {3})); }, {"[greedy]", "src_lengths[0] = 3", "[1, S = 2]"});
  expect_error([&] { greedy(toy, tok(Index({4, 5}, Shape{2}), {1, 1})); }, {"[greedy]", "src [2]"});
  expect_error([&] { greedy(toy, tok(src, {2}), {.limit = {.max_len_ratio = -1.0}}); }, {"[greedy]", "length limit"});
}

}  // namespace
}  // namespace attend
