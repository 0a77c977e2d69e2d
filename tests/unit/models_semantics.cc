// Semantics of the encoder-decoders: step-by-step decoding reproduces the teacher-forced
// log-probabilities and attention of every architecture and attention variant; source padding is
// invisible; DecoderState::select moves rows; the config round-trips through its text map; the
// loss and the teacher-forcing split follow their definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "attend/models/luong.h"
#include "attend/models/encoder_decoder.h"
#include "attend/models/registry.h"
#include "attend/train/objectives.h"
#include "attend/ops/ops.h"
#include "support/check.h"
#include "support/models.h"

namespace attend {
namespace {

using test::tokens;

std::shared_ptr<models::ModelConfig> tiny(const std::string& arch, std::map<std::string, std::string> more = {}) {
  std::map<std::string, std::string> m{{"src_vocab", "11"},    {"tgt_vocab", "9"},     {"embed_dim", "6"},
                                       {"hidden_dim", "7"},    {"attention_dim", "5"}, {"readout_dim", "4"},
                                       {"window", "2"},        {"max_source_len", "8"},
                                       {"d_model", "8"},       {"num_heads", "2"},     {"ffn_dim", "12"},
                                       {"encoder_layers", "2"}, {"decoder_layers", "2"}};
  for (const auto& [key, value] : more) m[key] = value;
  return test::model_config(arch, m);
}

struct Variant {
  std::string name;
  std::shared_ptr<models::ModelConfig> config;
  bool has_attention = true;
  bool global = true;  // attention rows sum to one
};

std::vector<Variant> variants() {
  std::vector<Variant> v{{"rnnsearch", tiny("rnnsearch")}};
  for (const char* s : {"dot", "general", "concat", "location"})
    for (const char* al : {"global", "local-m", "local-p"})
      v.push_back({std::string("luong-") + s + "-" + al,
                   tiny("luong", {{"score", s}, {"alignment", al}, {"num_layers", "2"}}), true,
                   std::string(al) == "global"});
  v.push_back({"seq2seq", tiny("seq2seq", {{"num_layers", "2"}}), false});
  v.push_back({"transformer", tiny("transformer")});
  v.push_back({"transformer-post-norm-gelu-learned",
               tiny("transformer", {{"norm_first", "0"}, {"activation", "gelu"}, {"positions", "learned"}})});
  return v;
}

// Random ids in [4, V) (no specials), source rows padded after their length.
Index random_ids(int64_t B, int64_t T, int64_t V, const std::vector<int64_t>& lengths, Rng& rng, int64_t first = -1) {
  std::vector<int64_t> ids(static_cast<size_t>(B * T), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const int64_t len = lengths.empty() ? T : lengths[static_cast<size_t>(b)];
      if (t < len) ids[static_cast<size_t>(b * T + t)] = 4 + static_cast<int64_t>(rng.uniform() * (V - 4));
    }
  if (first >= 0)
    for (int64_t b = 0; b < B; ++b) ids[static_cast<size_t>(b * T)] = first;
  return Index(ids, Shape{B, T});
}

std::vector<int64_t> column(const Index& x, int64_t t) {
  std::vector<int64_t> c;
  for (int64_t b = 0; b < x.shape[0]; ++b) c.push_back(x.data[static_cast<size_t>(b * x.shape[1] + t)]);
  return c;
}

Tensor at_step(const Tensor& x, int64_t t) { return squeeze(slice(x, 1, t, t + 1), 1); }

TEST(SemanticsModels, StepByStepDecodingReproducesTeacherForcedLogProbs) {
  for (const Variant& v : variants()) {
    SCOPED_TRACE(v.name);
    Rng rng(7);
    auto model = models::make_model_as<models::EncoderDecoder>(*v.config, rng);
    model->eval();
    const std::vector<int64_t> lengths{5, 3, 4};
    const Index src = random_ids(3, 5, test::seq2seq(*v.config).src_vocab, lengths, rng);
    const Index tgt_in = random_ids(3, 4, test::seq2seq(*v.config).tgt_vocab, {}, rng, test::seq2seq(*v.config).bos_id);
    const models::ForwardResult fr = model->forward(tokens(src, lengths), tgt_in, {.need_attention = true});
    ASSERT_EQ(fr.logits.shape(), Shape({3, 4, 9}));
    const Tensor lp = log_softmax(fr.logits, 2);  // [B, T, V]
    auto state = model->start(tokens(src, lengths));
    for (int64_t t = 0; t < 4; ++t) {
      const models::StepOutput o = model->step(*state, column(tgt_in, t));
      EXPECT_TRUE(test::all_close(o.log_probs, at_step(lp, t), 2e-5, 1e-5)) << "step " << t;
      if (!v.has_attention) {
        EXPECT_FALSE(o.attention.defined());
        EXPECT_FALSE(fr.attention.defined());
      } else {
        ASSERT_EQ(fr.attention.shape(), Shape({3, 4, 5}));
        EXPECT_TRUE(test::all_close(o.attention, at_step(fr.attention, t), 2e-6, 1e-5)) << "step " << t;
      }
    }
  }
}

TEST(SemanticsModels, PaddedSourcePositionsGetNoAttentionAndGlobalRowsSumToOne) {
  for (const Variant& v : variants()) {
    if (!v.has_attention) continue;
    SCOPED_TRACE(v.name);
    Rng rng(8);
    auto model = models::make_model_as<models::EncoderDecoder>(*v.config, rng);
    model->eval();
    const std::vector<int64_t> lengths{2, 5};
    const Index src = random_ids(2, 5, test::seq2seq(*v.config).src_vocab, lengths, rng);
    const Index tgt_in = random_ids(2, 3, test::seq2seq(*v.config).tgt_vocab, {}, rng, test::seq2seq(*v.config).bos_id);
    const Tensor w = model->forward(tokens(src, lengths), tgt_in, {.need_attention = true}).attention;  // [2, 3, 5]
    for (int64_t t = 0; t < 3; ++t) {
      for (int64_t s = 2; s < 5; ++s) EXPECT_EQ(w.at({0, t, s}), 0.0);
      if (v.global)
        for (int64_t b = 0; b < 2; ++b) {
          double sum = 0;
          for (int64_t s = 0; s < 5; ++s) sum += w.at({b, t, s});
          EXPECT_NEAR(sum, 1.0, 1e-5);
        }
    }
  }
}

TEST(SemanticsModels, SourcePaddingDoesNotChangeTheResult) {
  for (const Variant& v : variants()) {
    SCOPED_TRACE(v.name);
    Rng rng(9);
    auto model = models::make_model_as<models::EncoderDecoder>(*v.config, rng);
    model->eval();
    const Index both = random_ids(2, 6, test::seq2seq(*v.config).src_vocab, {3, 6}, rng);
    const Index alone(std::vector<int64_t>(both.data.begin(), both.data.begin() + 3), Shape{1, 3});
    const Index tgt_in = random_ids(2, 4, test::seq2seq(*v.config).tgt_vocab, {}, rng, test::seq2seq(*v.config).bos_id);
    const Index tgt_alone(std::vector<int64_t>(tgt_in.data.begin(), tgt_in.data.begin() + 4), Shape{1, 4});
    const Tensor batched = model->logits(tokens(both, {3, 6}), tgt_in);           // [2, 4, V]
    const Tensor single = model->logits(tokens(alone, {3}), tgt_alone);           // [1, 4, V]
    EXPECT_TRUE(test::all_close(slice(batched, 0, 0, 1), single, 1e-5, 1e-5));
  }
}

TEST(SemanticsModels, SelectMovesAndReplicatesRows) {
  for (const Variant& v : variants()) {
    SCOPED_TRACE(v.name);
    Rng rng(10);
    auto model = models::make_model_as<models::EncoderDecoder>(*v.config, rng);
    model->eval();
    const std::vector<int64_t> lengths{4, 2};
    const Index src = random_ids(2, 4, test::seq2seq(*v.config).src_vocab, lengths, rng);
    auto state = model->start(tokens(src, lengths));
    const models::StepOutput first = model->step(*state, {2, 2});
    auto swapped = state->select({1, 0, 1});
    ASSERT_EQ(swapped->rows(), 3);
    const models::StepOutput a = model->step(*state, {5, 6});
    const models::StepOutput b = model->step(*swapped, {6, 5, 6});
    EXPECT_TRUE(test::all_close(slice(b.log_probs, 0, 0, 1), slice(a.log_probs, 0, 1, 2), 1e-6, 1e-6));
    EXPECT_TRUE(test::all_close(slice(b.log_probs, 0, 1, 2), slice(a.log_probs, 0, 0, 1), 1e-6, 1e-6));
    EXPECT_TRUE(test::all_close(slice(b.log_probs, 0, 2, 3), slice(a.log_probs, 0, 1, 2), 1e-6, 1e-6));
    EXPECT_TRUE(first.log_probs.defined());
  }
}

TEST(SemanticsModels, ConfigRoundTripsThroughItsTextMap) {
  const auto c = tiny("luong", {{"score", "concat"}, {"alignment", "local-p"}, {"dropout", "0.1"}, {"num_layers", "3"}});
  const auto m = c->to_map();
  EXPECT_EQ(m.at("architecture"), "luong");
  EXPECT_EQ(m.at("alignment"), "local-p");
  EXPECT_EQ(m.count("readout_dim"), 0u);  // rnnsearch's field, not luong's
  const auto d = models::make_config("luong", m);
  EXPECT_EQ(d->to_map(), m);
  const auto& typed = dynamic_cast<const models::LuongConfig&>(*d);
  EXPECT_EQ(typed.dropout, 0.1);
  EXPECT_EQ(typed.alignment, models::Alignment::local_p);
  EXPECT_EQ(typed.num_layers, 3);
}

TEST(SemanticsModels, DecoderIOPutsBosBeforeAndEosAfterTheTarget) {
  const train::DecoderIO io = train::decoder_io(Index({5, 6, 7, 8, 0, 0}, Shape{2, 3}), {3, 1}, test::seq2seq(*tiny("rnnsearch")));
  EXPECT_EQ(io.tgt_in.shape, Shape({2, 4}));
  EXPECT_EQ(io.tgt_in.data, (std::vector<int64_t>{2, 5, 6, 7, 2, 8, 0, 0}));
  EXPECT_EQ(io.tgt_out.data, (std::vector<int64_t>{5, 6, 7, 3, 8, 3, 0, 0}));
}

TEST(SemanticsModels, SequenceLossIsTheMeanOverNonPadTokens) {
  Rng rng(11);
  const Tensor logits = Tensor::randn(Shape{2, 3, 5}, rng, DType::f64);
  const Index tgt({1, 2, 0, 4, 0, 0}, Shape{2, 3});
  const Tensor lp = log_softmax(logits, 2);
  const double expected = -(lp.at({0, 0, 1}) + lp.at({0, 1, 2}) + lp.at({1, 0, 4})) / 3.0;
  EXPECT_NEAR(train::sequence_loss(logits, tgt, {.pad_id = 0}).item(), expected, 1e-12);
  // Label smoothing eps: (1 - eps) NLL + eps * mean over classes of -log p.
  double smooth = 0;
  const int64_t rows[3][3] = {{0, 0, 1}, {0, 1, 2}, {1, 0, 4}};
  for (const auto& r : rows) {
    double u = 0;
    for (int64_t v = 0; v < 5; ++v) u -= lp.at({r[0], r[1], v});
    smooth += 0.9 * -lp.at({r[0], r[1], r[2]}) + 0.1 * u / 5.0;
  }
  EXPECT_NEAR(train::sequence_loss(logits, tgt, {.pad_id = 0, .label_smoothing = 0.1}).item(), smooth / 3.0, 1e-12);
}

TEST(SemanticsModels, ParametersHavePyTorchStyleNames) {
  Rng rng(12);
  auto model = models::make_model_as<models::EncoderDecoder>(*tiny("rnnsearch"), rng);
  std::vector<std::string> names;
  for (const auto& [name, p] : model->named_parameters()) names.push_back(name);
  for (const char* expected : {"src_embed.weight", "encoder.weight_ih_l0_reverse", "init_state.weight",
                               "attention.W_k", "decoder.weight_hh", "readout.bias", "output.weight"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
}

}  // namespace
}  // namespace attend
