// The search on the real encoder-decoders: a hypothesis' log-probability and attention are what
// the teacher-forced model gives its tokens, beam_size 1 is greedy, and batched beam search over
// padded sources equals one source at a time.
#include <gtest/gtest.h>

#include <vector>

#include "attend/decode/search.h"
#include "attend/models/encoder_decoder.h"
#include "attend/models/registry.h"
#include "attend/ops/ops.h"
#include "support/check.h"
#include "support/models.h"

namespace attend {
namespace {

using test::tokens;

std::vector<std::shared_ptr<models::ModelConfig>> configs() {
  const std::map<std::string, std::string> base{{"src_vocab", "12"},    {"tgt_vocab", "8"},    {"embed_dim", "8"},
                                                {"hidden_dim", "8"},    {"attention_dim", "8"}, {"readout_dim", "8"},
                                                {"window", "2"},        {"max_source_len", "8"}};
  std::map<std::string, std::string> luong{{"alignment", "local-p"}, {"num_layers", "2"}};
  luong.insert(base.begin(), base.end());
  return {test::model_config("rnnsearch", base), test::model_config("luong", luong),
          test::model_config("seq2seq", base)};
}

const std::vector<int64_t> kLengths{5, 2, 2};
const Source kSrc = tokens(Index({4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 11, 4, 0, 0, 0}, Shape{3, 5}), kLengths);
constexpr decode::LengthLimit kLimit{.max_len = 7};

// Source row b alone, without padding.
Source row_of(const Source& src, int64_t b) {
  const int64_t len = src.lengths[static_cast<size_t>(b)];
  const auto first = src.tokens.data.begin() + b * src.tokens.shape[1];
  return tokens(Index(std::vector<int64_t>(first, first + len), Shape{1, len}), {len});
}

TEST(E2EDecode, HypothesisLogProbAndAttentionMatchTheTeacherForcedModel) {
  for (const auto& config : configs()) {
    const models::ModelConfig& c = *config;
    SCOPED_TRACE(c.architecture());
    Rng rng(3);
    auto model = models::make_model_as<models::EncoderDecoder>(c, rng);
    model->eval();
    const auto beams = decode::beam_search(*model, kSrc, {.beam_size = 3, .nbest = 3, .limit = kLimit});
    for (int64_t b = 0; b < 3; ++b) {
      const int64_t n = kLengths[static_cast<size_t>(b)];
      for (const decode::Hypothesis& h : beams[static_cast<size_t>(b)]) {
        std::vector<int64_t> in{test::seq2seq(c).bos_id};
        in.insert(in.end(), h.tokens.begin(), h.tokens.end() - 1);
        const int64_t T = static_cast<int64_t>(h.tokens.size());
        const models::ForwardResult fr =
            model->forward(row_of(kSrc, b), Index(in, Shape{1, T}), {.need_attention = true});
        const Tensor lp = log_softmax(fr.logits, 2);
        double sum = 0;
        for (int64_t t = 0; t < T; ++t) sum += lp.at({0, t, h.tokens[static_cast<size_t>(t)]});
        EXPECT_NEAR(h.log_prob, sum, 1e-4);
        if (!models::architecture(c.architecture()).has_attention) {
          EXPECT_FALSE(h.attention.defined());
        } else {
          EXPECT_TRUE(test::all_close(h.attention, reshape(fr.attention, {T, n}), 1e-5, 1e-4));
        }
      }
    }
  }
}

TEST(E2EDecode, BeamOfOneIsGreedyAndBatchedEqualsOneByOne) {
  for (const auto& config : configs()) {
    const models::ModelConfig& c = *config;
    SCOPED_TRACE(c.architecture());
    Rng rng(4);
    auto model = models::make_model_as<models::EncoderDecoder>(c, rng);
    model->eval();
    const auto g = decode::greedy(*model, kSrc, {.limit = kLimit});
    const auto b1 = decode::beam_search(
        *model, kSrc, {.beam_size = 1, .length_penalty = decode::LengthPenalty::none, .limit = kLimit});
    const decode::BeamOptions opt{.beam_size = 4, .nbest = 2, .limit = kLimit};
    const auto batched = decode::beam_search(*model, kSrc, opt);
    for (int64_t b = 0; b < 3; ++b) {
      const size_t i = static_cast<size_t>(b);
      EXPECT_EQ(b1[i][0].tokens, g[i].tokens);
      EXPECT_NEAR(b1[i][0].log_prob, g[i].log_prob, 1e-5);
      const auto alone = decode::beam_search(*model, row_of(kSrc, b), opt).at(0);
      ASSERT_EQ(alone.size(), batched[i].size());
      for (size_t k = 0; k < alone.size(); ++k) {
        EXPECT_EQ(alone[k].tokens, batched[i][k].tokens);
        EXPECT_NEAR(alone[k].score, batched[i][k].score, 1e-4);
      }
    }
  }
}

}  // namespace
}  // namespace attend
