// Bad configs and bad batches fail with "[op] ..." messages that name the key or the shapes.
#include <gtest/gtest.h>

#include <string>

#include "attend/models/encoder_decoder.h"
#include "attend/models/luong.h"
#include "attend/models/registry.h"
#include "attend/train/objectives.h"
#include "attend/models/rnnsearch.h"
#include "support/check.h"
#include "support/models.h"

namespace attend {
namespace {

using test::expect_error;
using test::tokens;

const std::map<std::string, std::string> kSmall = {{"src_vocab", "10"},    {"tgt_vocab", "10"},
                                                   {"embed_dim", "4"},     {"hidden_dim", "4"},
                                                   {"attention_dim", "4"}, {"readout_dim", "4"}};

models::RnnsearchConfig small() {
  models::RnnsearchConfig c;
  c.set(kSmall);
  return c;
}

TEST(BadInputModels, UnknownArchitectureScoreAlignmentNameTheKey) {
  expect_error([&] { models::make_config("transformer-xl", kSmall); },
               {"[models]", "unknown architecture 'transformer-xl'", "rnnsearch", "luong", "seq2seq"});
  auto with = [](const char* arch, const char* key, const char* value) {
    return [arch, key, value] { test::model_config(arch, kSmall)->set({{key, value}}); };
  };
  expect_error(with("luong", "score", "cosine"), {"[luong config]", "key 'score'", "'cosine'", "general"});
  expect_error(with("luong", "alignment", "local"), {"[luong config]", "key 'alignment'", "local-p"});
  expect_error(with("rnnsearch", "hidden", "3"), {"[rnnsearch config]", "key 'hidden'", "unknown key"});
  expect_error(with("rnnsearch", "dropout", "lots"), {"[rnnsearch config]", "key 'dropout'", "'lots'"});
  expect_error(with("luong", "window", "3x"), {"[luong config]", "key 'window'", "not an integer"});
  expect_error(with("rnnsearch", "num_layers", "2"), {"[rnnsearch config]", "key 'num_layers'", "no such field"});
  expect_error(with("rnnsearch", "architecture", "luong"), {"[rnnsearch config]", "'luong' given to a rnnsearch"});
}

TEST(BadInputModels, VocabularySizeZeroAndOtherInvalidFields) {
  Rng rng(1);
  models::RnnsearchConfig c = small();
  c.tgt_vocab = 0;
  expect_error([&] { models::make_model_as<models::EncoderDecoder>(c, rng); }, {"[rnnsearch config]", "key 'tgt_vocab'", "outside [1,"});
  c = small();
  c.src_vocab = 0;
  expect_error([&] { models::make_model_as<models::EncoderDecoder>(c, rng); }, {"key 'src_vocab'", "reads token ids"});
  c = small();
  c.dropout = 1.0;
  expect_error([&] { models::make_model_as<models::EncoderDecoder>(c, rng); }, {"key 'dropout'"});
  c = small();
  c.hidden_dim = -2;
  expect_error([&] { models::make_model_as<models::EncoderDecoder>(c, rng); }, {"key 'hidden_dim'", "-2"});
  c = small();
  c.eos_id = 10;
  expect_error([&] { models::make_model_as<models::EncoderDecoder>(c, rng); }, {"key 'eos_id'", "[0, 10)"});
  c = small();
  c.bos_id = c.eos_id;
  expect_error([&] { models::make_model_as<models::EncoderDecoder>(c, rng); }, {"must differ"});
}

TEST(BadInputModels, SourceAndTargetShapeMismatchesNameTheShapes) {
  Rng rng(2);
  for (const std::string arch : {"rnnsearch", "luong", "seq2seq"}) {
    auto model = models::make_model_as<models::EncoderDecoder>(*test::model_config(arch, kSmall), rng);
    const std::string op = "[" + arch + "]";
    const Index src({4, 5, 6, 4, 5, 0}, Shape{2, 3});
    const Index tgt({2, 4, 2, 5}, Shape{2, 2});
    expect_error([&] { model->logits(tokens(src, {3, 2}), Index({2, 4, 5}, Shape{1, 3})); },
                 {op.c_str(), "batch sizes differ", "2 rows", "tgt_in [1, 3]"});
    expect_error([&] { model->logits(tokens(src, {3}), tgt); }, {op.c_str(), "src_lengths has 1 entries", "[2, 3]"});
    expect_error([&] { model->logits(tokens(src, {3, 4}), tgt); }, {op.c_str(), "src_lengths[1] = 4", "[1, S = 3]"});
    expect_error([&] { model->logits(tokens(Index({4, 5, 6}, Shape{3}), {3}), tgt); },
                 {op.c_str(), "src [3]", "[B, S]"});
    expect_error([&] { model->logits(tokens(Index({4, 50, 6, 4, 5, 0}, Shape{2, 3}), {3, 2}), tgt); },
                 {op.c_str(), "src id 50 at [0, 1]", "[0, 10)"});
    expect_error([&] { model->logits(tokens(src, {3, 2}), Index({2, 4, 2, 10}, Shape{2, 2})); },
                 {op.c_str(), "tgt_in id 10 at [1, 1]"});
    expect_error([&] { model->encode(Source::of_features(Tensor::zeros(Shape{2, 3, 4}), {3, 2})); },
                 {op.c_str(), "reads token ids, not a features source", "[2, 3, 4]"});
    auto state = model->start(tokens(src, {3, 2}));
    expect_error([&] { model->step(*state, {2}); }, {op.c_str(), "1 tokens for a state of 2 rows"});
    expect_error([&] { state->select({0, 2}); }, {"[DecoderState::select]", "row 2"});
    const std::string other = arch == "seq2seq" ? "rnnsearch" : "seq2seq";
    auto foreign_model = models::make_model_as<models::EncoderDecoder>(*test::model_config(other, kSmall), rng);
    auto foreign = foreign_model->start(tokens(src, {3, 2}));
    expect_error([&] { model->step(*foreign, {2, 2}); }, {op.c_str(), "did not make"});
    const auto foreign_memory = foreign_model->encode(tokens(src, {3, 2}));
    expect_error([&] { model->decode(*foreign_memory, tgt); }, {op.c_str(), "Memory", "did not make"});
    expect_error([&] { model->init_state(foreign_memory); }, {op.c_str(), "Memory", "did not make"});
  }
}

TEST(BadInputModels, LossAndDecoderIOCheckShapes) {
  Rng rng(3);
  const Tensor logits = Tensor::randn(Shape{2, 3, 5}, rng);
  expect_error([&] { train::sequence_loss(logits, Index({1, 2, 3}, Shape{1, 3})); },
               {"[sequence_loss]", "targets [1, 3]", "logits [2, 3, 5]"});
  expect_error([&] { train::sequence_loss(Tensor::randn(Shape{6, 5}, rng), Index({1, 2}, Shape{1, 2})); },
               {"[sequence_loss]", "[B, T, V]", "[6, 5]"});
  expect_error([&] { train::decoder_io(Index({5, 6}, Shape{1, 2}), {3}, small()); },
               {"[decoder_io]", "target_lengths[0] = 3", "[1, 2]"});
}

TEST(BadInputModels, LocationScoreRejectsSourcesLongerThanItsMaximum) {
  Rng rng(4);
  auto c = test::model_config("luong", kSmall);
  c->set({{"score", "location"}, {"max_source_len", "2"}});
  auto model = models::make_model_as<models::EncoderDecoder>(*c, rng);
  expect_error([&] { model->logits(tokens(Index({4, 5, 6}, Shape{1, 3}), {3}), Index({2}, Shape{1, 1})); },
               {"[luong]", "source length 3", "max_source_len 2"});
}

}  // namespace
}  // namespace attend
