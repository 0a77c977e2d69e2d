// The transformer architecture: incremental decoding (self-attention caches, cross-attention keys
// projected once, rows reordered by select) against a reference that re-encodes the source and
// recomputes decode(memory, prefix) at every step: per-step log-probabilities agree, and greedy
// and beam-5 search return the same hypotheses and scores. Plus source padding invariance, the
// options (pre/post-norm, GELU, learned positions, shared and untied embeddings), the alignment
// layer, PyTorch-style parameter names, and bad input.
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "attend/decode/search.h"
#include "attend/models/encoder_decoder.h"
#include "attend/models/registry.h"
#include "attend/train/objectives.h"
#include "attend/models/transformer.h"
#include "attend/ops/ops.h"
#include "support/check.h"
#include "support/models.h"

namespace attend {
namespace {

using Values = std::map<std::string, std::string>;

std::unique_ptr<models::EncoderDecoder> make(Values more = {}, uint64_t seed = 7) {
  Values v{{"src_vocab", "13"},     {"tgt_vocab", "11"},     {"d_model", "16"},  {"num_heads", "4"},
           {"ffn_dim", "24"},       {"encoder_layers", "2"}, {"decoder_layers", "3"}, {"dropout", "0.1"}};
  for (const auto& [k, x] : more) v[k] = x;
  Rng rng(seed);
  auto m = models::make_model_as<models::EncoderDecoder>(*test::model_config("transformer", v), rng);
  // Larger output weights than the default init so that the search's choices are not near-ties.
  for (auto& [name, p] : m->named_parameters())
    if (name == "tgt_embed.weight") m->load_parameter(name, mul(p, 4.0));
  m->eval();
  return m;
}

Source source(Rng& rng, int64_t B, int64_t S, std::vector<int64_t> lengths, int64_t V = 13) {
  std::vector<int64_t> ids(static_cast<size_t>(B * S), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < lengths[static_cast<size_t>(b)]; ++t)
      ids[static_cast<size_t>(b * S + t)] = 4 + static_cast<int64_t>(rng.uniform() * (V - 4));
  return Source::of_tokens(Index(ids, Shape{B, S}), lengths);
}

// The reference decoder: no cache at all. Its state is the source rows and the prefix of each
// row; every step re-encodes the source and runs teacher-forced decode over the whole prefix.
class Recompute : public models::StepDecoder {
 public:
  explicit Recompute(models::EncoderDecoder& m) : m_(m) {}
  struct State : models::DecoderState {
    Source src;
    std::vector<std::vector<int64_t>> prefix;  // per row, BOS first
    int64_t rows() const override { return src.batch(); }
    std::unique_ptr<models::DecoderState> select(const std::vector<int64_t>& rows) const override {
      auto out = std::make_unique<State>();
      const int64_t S = src.length();
      std::vector<int64_t> ids, lengths;
      for (const int64_t r : rows) {
        ids.insert(ids.end(), src.tokens.data.begin() + r * S, src.tokens.data.begin() + (r + 1) * S);
        lengths.push_back(src.lengths[static_cast<size_t>(r)]);
        out->prefix.push_back(prefix[static_cast<size_t>(r)]);
      }
      out->src = Source::of_tokens(Index(ids, Shape{static_cast<int64_t>(rows.size()), S}), lengths);
      return out;
    }
  };
  using models::StepDecoder::step;
  std::unique_ptr<models::DecoderState> start(const Source& src) {
    auto s = std::make_unique<State>();
    s->src = src;
    s->prefix.resize(static_cast<size_t>(src.batch()));
    return s;
  }
  models::StepOutput step(models::DecoderState& base, const Index& tokens) override {
    EXPECT_EQ(tokens.numel(), tokens.shape[0]);  // one token per row and step
    const std::vector<int64_t>& prev = tokens.data;
    auto& s = dynamic_cast<State&>(base);
    NoGrad no_grad;
    std::vector<int64_t> ids;
    for (size_t r = 0; r < prev.size(); ++r) {
      s.prefix[r].push_back(prev[r]);
      ids.insert(ids.end(), s.prefix[r].begin(), s.prefix[r].end());
    }
    const int64_t N = s.rows(), T = static_cast<int64_t>(s.prefix[0].size());
    const models::ForwardResult fr = m_.forward(s.src, Index(ids, Shape{N, T}), {.need_attention = true});
    const Tensor last = squeeze(slice(fr.logits, 1, T - 1, T), 1);  // [N, V]
    return {log_softmax(last, 1), squeeze(slice(fr.attention, 1, T - 1, T), 1)};
  }
  int64_t bos_id() const { return m_.bos_id(); }
  int64_t eos_id() const override { return m_.eos_id(); }
  int64_t vocab_size() const override { return m_.vocab_size(); }

 private:
  models::EncoderDecoder& m_;
};

void expect_same(const std::vector<decode::Hypothesis>& a, const std::vector<decode::Hypothesis>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens) << "hypothesis " << i;
    EXPECT_NEAR(a[i].log_prob, b[i].log_prob, 1e-4) << "hypothesis " << i;
    EXPECT_NEAR(a[i].score, b[i].score, 1e-4) << "hypothesis " << i;
    ASSERT_TRUE(a[i].attention.defined() && b[i].attention.defined());
    EXPECT_TRUE(test::all_close(a[i].attention, b[i].attention, 1e-5, 1e-4)) << "hypothesis " << i;
  }
}

TEST(SemanticsTransformer, CachedStepsEqualRecomputingThePrefix) {
  for (const Values& v : {Values{}, Values{{"norm_first", "0"}, {"activation", "gelu"}, {"positions", "learned"}},
                          Values{{"tie_output", "0"}, {"alignment_layer", "3"}}}) {
    auto m = make(v);
    Recompute ref(*m);
    Rng rng(3);
    const Source src = source(rng, 3, 6, {6, 2, 4});
    auto a = m->start(src);
    auto b = ref.start(src);
    std::vector<int64_t> prev(3, m->bos_id());
    for (int64_t t = 0; t < 6; ++t) {
      const models::StepOutput x = m->step(*a, prev), y = ref.step(*b, prev);
      EXPECT_TRUE(test::all_close(x.log_probs, y.log_probs, 2e-5, 1e-5)) << "step " << t;
      EXPECT_TRUE(test::all_close(x.attention, y.attention, 1e-6, 1e-5)) << "step " << t;
      for (int64_t r = 0; r < 3; ++r) prev[static_cast<size_t>(r)] = 4 + (t * 3 + r) % 7;
      if (t == 2) {  // reorder and replicate rows mid-sequence, as a beam does
        a = a->select({2, 0, 0});
        b = b->select({2, 0, 0});
      }
    }
  }
}

TEST(SemanticsTransformer, GreedyAndBeamMatchTheUncachedReference) {
  auto m = make();
  Recompute ref(*m);
  Rng rng(4);
  const Source src = source(rng, 4, 7, {7, 3, 5, 1});
  const decode::GreedyOptions g{.limit = {.max_len = 8}};
  const auto ref_start = [&](const decode::LengthLimit& limit) {
    return decode::start_of(src, ref.bos_id(), limit, "search", [&](const Source& s) { return ref.start(s); });
  };
  expect_same(decode::greedy(*m, src, g), decode::greedy(ref, ref_start(g.limit)));
  const decode::BeamOptions beam{.beam_size = 5, .nbest = 3, .limit = {.max_len = 8}};
  const auto x = decode::beam_search(*m, src, beam), y = decode::beam_search(ref, ref_start(beam.limit), beam);
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) expect_same(x[i], y[i]);
}

TEST(SemanticsTransformer, SourcePaddingDoesNotChangeTheResult) {
  auto m = make({{"positions", "learned"}});
  Rng rng(5);
  const Source both = source(rng, 2, 6, {3, 6});
  const Source alone = Source::of_tokens(Index({both.tokens.data[0], both.tokens.data[1], both.tokens.data[2]},
                                               Shape{1, 3}), {3});
  const Index tgt({2, 5, 6, 7, 2, 8, 9, 4}, Shape{2, 4});
  const models::ForwardResult fb = m->forward(both, tgt, {.need_attention = true});
  const models::ForwardResult fa = m->forward(alone, Index({2, 5, 6, 7}, Shape{1, 4}), {.need_attention = true});
  EXPECT_TRUE(test::all_close(slice(fb.logits, 0, 0, 1), fa.logits, 1e-5, 1e-5));
  EXPECT_TRUE(test::all_close(slice(slice(fb.attention, 0, 0, 1), 2, 0, 3), fa.attention, 1e-6, 1e-5));
  for (int64_t s = 3; s < 6; ++s) EXPECT_EQ(fb.attention.at({0, 1, s}), 0.0);
}

TEST(SemanticsTransformer, TrainingModeAppliesDropoutAndTheLossLearns) {
  auto m = make({{"dropout", "0.3"}});
  Rng rng(6);
  const Source src = source(rng, 2, 4, {4, 2});
  const Index tgt({2, 5, 6, 2, 7, 0}, Shape{2, 3});
  const Tensor eval_logits = m->logits(src, tgt);
  m->train();
  EXPECT_GT(test::max_abs_diff(m->logits(src, tgt), eval_logits), 1e-4);
  const Tensor loss = train::sequence_loss(m->logits(src, tgt), Index({5, 6, 3, 7, 3, 0}, Shape{2, 3}));
  loss.backward();
  for (const auto& [name, p] : m->named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
}

TEST(SemanticsTransformer, ParameterNamesFollowPyTorch) {
  auto m = make({{"share_embeddings", "1"}, {"src_vocab", "11"}, {"positions", "learned"}, {"tie_output", "0"}});
  std::vector<std::string> names;
  for (const auto& [name, p] : m->named_parameters()) names.push_back(name + p.shape().str());
  for (const char* expected :
       {"tgt_embed.weight[11, 16]", "src_positions.weight[1024, 16]", "encoder.layers.1.self_attn.in_proj_weight[48, 16]",
        "encoder.layers.0.linear1.weight[24, 16]", "encoder.norm.weight[16]",
        "decoder.layers.2.multihead_attn.out_proj.bias[16]", "decoder.layers.0.norm3.bias[16]",
        "decoder.norm.bias[16]", "output.weight[11, 16]"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  for (const std::string& n : names) EXPECT_EQ(n.rfind("src_embed", 0), std::string::npos) << n;
  auto post = make({{"norm_first", "0"}});
  for (const auto& [name, p] : post->named_parameters()) EXPECT_EQ(name.find("encoder.norm"), std::string::npos);
}

TEST(BadInputTransformer, ConfigSourcesAndPositionsNameTheProblem) {
  using test::expect_error;
  expect_error([] { make({{"num_heads", "3"}}); }, {"[transformer config]", "d_model", "16", "num_heads 3"});
  expect_error([] { make({{"alignment_layer", "4"}}); }, {"[transformer config]", "alignment_layer", "4"});
  expect_error([] { make({{"share_embeddings", "1"}}); }, {"[transformer config]", "src_vocab 13", "tgt_vocab 11"});
  expect_error([] { make({{"activation", "swish"}}); }, {"[transformer config]", "'swish'", "relu, gelu"});
  expect_error([] { make({{"norm_first", "2"}}); }, {"[transformer config]", "norm_first"});
  auto m = make({{"max_positions", "5"}});
  Rng rng(8);
  expect_error([&] { m->encode(source(rng, 1, 6, {6})); }, "[transformer]", {"source", "length 6", "max_positions 5"});
  const Source ok = source(rng, 1, 5, {5});
  expect_error([&] { m->forward(ok, Index(std::vector<int64_t>(6, 2), Shape{1, 6})); }, "[transformer]",
               {"target", "length 6", "max_positions 5"});
  auto state = m->start(ok);
  for (int i = 0; i < 5; ++i) m->step(*state, {2});
  expect_error([&] { m->step(*state, {2, 2}); }, "[transformer]", {"2 tokens", "1 rows"});
  // A search step with no position left ends every hypothesis: all mass on EOS.
  const models::StepOutput last = m->step(*state, {2});
  EXPECT_EQ(last.log_probs.at({0, m->eos_id()}), 0.0);
  EXPECT_EQ(last.log_probs.at({0, 4}), -std::numeric_limits<double>::infinity());
  const auto hyps = decode::greedy(*m, ok, {.limit = {.max_len = 20}});
  EXPECT_LE(hyps[0].tokens.size(), 6u);
  EXPECT_EQ(hyps[0].tokens.back(), m->eos_id());
  expect_error([&] { m->encode(Source::of_tokens(Index({4, 99}, Shape{1, 2}), {2})); }, "[transformer]",
               {"src id 99"});
  expect_error([&] { m->decode(*m->encode(ok), Index({2, 2}, Shape{2, 1})); }, "[transformer]",
               {"batch sizes differ"});
}

}  // namespace
}  // namespace attend
