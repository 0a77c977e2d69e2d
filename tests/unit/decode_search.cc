// Greedy and beam search on a hand-built StepDecoder whose next-token distribution is a known
// function of (source, prefix), and whose attention row is another known function of them, so
// every property can be checked exactly: beam finds the optimum that greedy misses, beam_size 1 is
// greedy, n-best lists are sorted, length normalization changes the winner as documented, batched
// search equals one sentence at a time, attention matrices follow hypotheses through reorderings,
// and a beam wide enough finds the exhaustive optimum.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <algorithm>
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

// ---- searches from a state: prefixes, sampling

using test::expect_error;

// A decoder with no source: each row's next-token distribution is a function of every token it
// was fed (prefix included), so a forced prefix, a multi-token step and a reordering all show.
class StreamToy : public models::StepDecoder {
 public:
  explicit StreamToy(std::function<std::vector<double>(const Seq& fed)> table) : table_(std::move(table)) {}
  struct State : models::DecoderState {
    std::vector<Seq> fed;
    int64_t rows() const override { return static_cast<int64_t>(fed.size()); }
    std::unique_ptr<models::DecoderState> select(const std::vector<int64_t>& rows) const override {
      auto out = std::make_unique<State>();
      for (const int64_t r : rows) out->fed.push_back(fed.at(static_cast<size_t>(r)));
      return out;
    }
  };
  models::StepOutput step(models::DecoderState& base, const Index& tokens) override {
    auto& st = dynamic_cast<State&>(base);
    const int64_t N = st.rows(), t = tokens.shape.rank() == 1 ? 1 : tokens.shape[1];
    feeds.push_back(t);
    std::vector<double> lp(static_cast<size_t>(N * kV));
    for (int64_t r = 0; r < N; ++r) {
      Seq& fed = st.fed[static_cast<size_t>(r)];
      for (int64_t c = 0; c < t; ++c) fed.push_back(tokens.data[static_cast<size_t>(r * t + c)]);
      const std::vector<double> p = table_(fed);
      for (int64_t v = 0; v < kV; ++v) lp[static_cast<size_t>(r * kV + v)] = std::log(p[static_cast<size_t>(v)]);
    }
    return {Tensor::from_vector(lp, Shape{N, kV}, DType::f32), Tensor()};
  }
  int64_t eos_id() const override { return kEos; }
  int64_t vocab_size() const override { return kV; }
  decode::SearchStart start(std::vector<Seq> prefixes, int64_t max_new) {
    decode::SearchStart s;
    auto st = std::make_unique<State>();
    st->fed.resize(prefixes.size());
    s.state = std::move(st);
    s.max_new.assign(prefixes.size(), max_new);
    s.prefix = std::move(prefixes);
    return s;
  }
  std::vector<int64_t> feeds;  // tokens per row of each step

 private:
  std::function<std::vector<double>(const Seq&)> table_;
};

// The next token is the sum of the fed tokens modulo 3, plus 4 (deterministic under greedy).
std::vector<double> sum_table(const Seq& fed) {
  int64_t sum = 0;
  for (const int64_t x : fed) sum += x;
  std::vector<double> d(kV, 0.02);
  d[static_cast<size_t>(4 + sum % 3)] = 1.0 - 0.02 * (kV - 1);
  return d;
}

TEST(SearchDecode, PrefixesAreFedFirstAndAreNotPartOfTheHypothesis) {
  StreamToy toy(sum_table);
  // Prefixes of 3, 1 and 2 tokens: the first step feeds each row's first token (the shortest
  // prefix), then the longer prefixes one token per step while the first row already produces.
  const std::vector<Seq> prefixes{{kEos, 4, 5}, {kEos}, {kEos, 6}};
  const auto hyps = decode::greedy(toy, toy.start(prefixes, 4));
  ASSERT_EQ(hyps.size(), 3u);
  EXPECT_EQ(toy.feeds.front(), 1);
  for (size_t r = 0; r < 3; ++r) {
    SCOPED_TRACE(r);
    // What greedy must produce from each prefix: token after token of sum_table.
    Seq fed = prefixes[r], want;
    for (int i = 0; i < 4; ++i) {
      const std::vector<double> p = sum_table(fed);
      const int64_t v = std::max_element(p.begin(), p.end()) - p.begin();
      want.push_back(v);
      fed.push_back(v);
    }
    EXPECT_EQ(hyps[r].tokens, want);
    double lp = 0;
    fed = prefixes[r];
    for (const int64_t v : want) lp += std::log(static_cast<float>(sum_table(fed)[static_cast<size_t>(v)])), fed.push_back(v);
    EXPECT_NEAR(hyps[r].log_prob, lp, 1e-5);  // the generated tokens only
    EXPECT_FALSE(hyps[r].finished);
  }
  // A common prefix is fed in one step of several tokens.
  StreamToy at_once(sum_table);
  const auto same = decode::greedy(at_once, at_once.start({{kEos, 4, 5}, {kEos, 4, 5}}, 4));
  EXPECT_EQ(at_once.feeds.front(), 3);
  EXPECT_EQ(same[0].tokens, hyps[0].tokens);
  // Beam search starts from prefixes the same way.
  StreamToy beam_toy(sum_table);
  const auto beams = decode::beam_search(beam_toy, beam_toy.start(prefixes, 4), {.beam_size = 3});
  for (size_t r = 0; r < 3; ++r) EXPECT_EQ(beams[r].at(0).tokens, hyps[r].tokens) << r;
}

// The tokens top-k and top-p keep, on a hand-built distribution: p = 0.05, 0.4, 0.1, 0.3, 0.15.
TEST(SearchDecode, TopKAndTopPKeepExactlyTheTokensTheyShould) {
  const std::vector<double> p{0.05, 0.4, 0.1, 0.3, 0.15};
  using V = std::vector<int64_t>;
  EXPECT_EQ(decode::filter_tokens(p, 0, 1.0), (V{0, 1, 2, 3, 4}));
  EXPECT_EQ(decode::filter_tokens(p, 7, 1.0), (V{0, 1, 2, 3, 4}));
  EXPECT_EQ(decode::filter_tokens(p, 1, 1.0), (V{1}));
  EXPECT_EQ(decode::filter_tokens(p, 2, 1.0), (V{1, 3}));
  EXPECT_EQ(decode::filter_tokens(p, 0, 0.4), (V{1}));            // 0.4 reaches 0.4
  EXPECT_EQ(decode::filter_tokens(p, 0, 0.41), (V{1, 3}));        // 0.7
  EXPECT_EQ(decode::filter_tokens(p, 0, 0.7), (V{1, 3}));
  EXPECT_EQ(decode::filter_tokens(p, 0, 0.71), (V{1, 3, 4}));     // 0.85
  EXPECT_EQ(decode::filter_tokens(p, 0, 0.9), (V{1, 2, 3, 4}));   // 0.95
  EXPECT_EQ(decode::filter_tokens(p, 0, 0.96), (V{0, 1, 2, 3, 4}));
  EXPECT_EQ(decode::filter_tokens(p, 0, 0.01), (V{1}));           // always at least one
  // top-p after top-k is over the kept mass: the top 3 hold 0.85; 0.8 of that is 0.68 <= 0.7.
  EXPECT_EQ(decode::filter_tokens(p, 3, 0.8), (V{1, 3}));
  EXPECT_EQ(decode::filter_tokens(p, 3, 0.83), (V{1, 3, 4}));     // 0.7 < 0.7055
  // Ties: the lower id first.
  EXPECT_EQ(decode::filter_tokens({0.25, 0.25, 0.25, 0.25}, 2, 1.0), (V{0, 1}));
  expect_error([&] { decode::filter_tokens(p, -1, 1.0); }, {"[sample]", "top_k -1"});
  expect_error([&] { decode::filter_tokens(p, 0, 0.0); }, {"[sample]", "top_p 0", "(0, 1]"});
  expect_error([&] { decode::filter_tokens(p, 0, 1.5); }, {"[sample]", "top_p 1.5"});
}

// A fixed next-token distribution: p(4) 0.5, p(5) 0.3, p(6) 0.15, p(EOS) 0.05.
std::vector<double> fixed_table(const Seq&) { return dist({{4, 0.5}, {5, 0.3}, {6, 0.15}, {kEos, 0.05}}); }

TEST(SearchDecode, SamplingIsSeededPerRowAndDrawsFromTheFilteredDistribution) {
  const auto run = [](const decode::SamplingOptions& o, int64_t rows, int64_t max_new = 6) {
    StreamToy toy(fixed_table);
    return decode::sample(toy, toy.start(std::vector<Seq>(static_cast<size_t>(rows), Seq{kEos}), max_new), o);
  };
  const auto a = run({.seed = 7}, 3), b = run({.seed = 7}, 3), c = run({.seed = 8}, 3);
  for (size_t r = 0; r < 3; ++r) EXPECT_EQ(a[r].tokens, b[r].tokens) << r;  // the same seed, the same text
  bool differs = false;
  for (size_t r = 0; r < 3; ++r) differs = differs || a[r].tokens != c[r].tokens;
  EXPECT_TRUE(differs);
  // A row's tokens depend on its stream, not on its row or batch: row 2 of the batch alone.
  const auto alone = run({.seed = 7, .streams = {2}}, 1);
  EXPECT_EQ(alone[0].tokens, a[2].tokens);

  // The first token's frequencies over 4000 streams: p within 4 standard deviations.
  const int64_t n = 4000;
  const auto first_tokens = [&](const decode::SamplingOptions& o) {
    std::map<int64_t, double> f;
    for (const Hypothesis& h : run(o, n, 1)) f[h.tokens.at(0)] += 1.0 / static_cast<double>(n);
    return f;
  };
  const auto check = [&](const std::map<int64_t, double>& f, const std::map<int64_t, double>& p) {
    for (int64_t v = 0; v < kV; ++v) {
      const double want = p.count(v) ? p.at(v) : 0.0, got = f.count(v) ? f.at(v) : 0.0;
      EXPECT_NEAR(got, want, 4 * std::sqrt(std::max(want * (1 - want), 1e-9) / static_cast<double>(n)) + 1e-9)
          << "token " << v;
    }
  };
  check(first_tokens({.seed = 3}), {{4, 0.5}, {5, 0.3}, {6, 0.15}, {kEos, 0.05}});
  check(first_tokens({.top_k = 2, .seed = 3}), {{4, 0.5 / 0.8}, {5, 0.3 / 0.8}});
  check(first_tokens({.top_p = 0.9, .seed = 3}), {{4, 0.5 / 0.95}, {5, 0.3 / 0.95}, {6, 0.15 / 0.95}});
  // Temperature 0.5 squares the probabilities before renormalizing.
  const double z = 0.25 + 0.09 + 0.0225 + 0.0025;
  check(first_tokens({.temperature = 0.5, .seed = 3}), {{4, 0.25 / z}, {5, 0.09 / z}, {6, 0.0225 / z}, {kEos, 0.0025 / z}});
  // top_k 1 is greedy search.
  EXPECT_EQ(run({.top_k = 1, .seed = 5}, 1)[0].tokens, (Seq{4, 4, 4, 4, 4, 4}));

  // Streaming: the callback sees each row's tokens in order.
  std::map<int64_t, Seq> streamed;
  const auto s = run({.seed = 7, .on_token = [&](int64_t row, int64_t v) { streamed[row].push_back(v); }}, 3);
  for (size_t r = 0; r < 3; ++r) EXPECT_EQ(streamed[static_cast<int64_t>(r)], s[r].tokens);
  expect_error([&] { run({.temperature = 0.0}, 1); }, {"[sample]", "temperature 0"});
  expect_error([&] { run({.top_p = 1.5}, 1); }, {"[sample]", "top_p 1.5"});
  expect_error([&] { run({.streams = {1, 2}}, 3); }, {"[sample]", "streams has 2 entries for 3 rows"});
}

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
