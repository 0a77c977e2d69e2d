// Bad configs and bad batches fail with "[op] ..." messages that name the key or the shapes.
#include <gtest/gtest.h>

#include <string>

#include "attend/models/seq2seq.h"
#include "support/check.h"

namespace attend {
namespace {

using models::Architecture;
using models::Seq2SeqConfig;

using test::expect_error;

Seq2SeqConfig small() {
  return {.src_vocab = 10, .tgt_vocab = 10, .embed_dim = 4, .hidden_dim = 4, .attention_dim = 4, .readout_dim = 4};
}

TEST(BadInputModels, UnknownArchitectureScoreAlignmentNameTheKey) {
  auto m = small().to_map();
  m["architecture"] = "transformer";
  expect_error([&] { Seq2SeqConfig::from_map(m); },
               {"[Seq2SeqConfig]", "key 'architecture'", "unknown architecture 'transformer'", "rnnsearch"});
  m = small().to_map();
  m["score"] = "cosine";
  expect_error([&] { Seq2SeqConfig::from_map(m); }, {"[Seq2SeqConfig]", "key 'score'", "'cosine'", "general"});
  m = small().to_map();
  m["alignment"] = "local";
  expect_error([&] { Seq2SeqConfig::from_map(m); }, {"[Seq2SeqConfig]", "key 'alignment'", "local-p"});
  m = small().to_map();
  m["hidden"] = "3";
  expect_error([&] { Seq2SeqConfig::from_map(m); }, {"[Seq2SeqConfig]", "key 'hidden'", "unknown key"});
  m = small().to_map();
  m["dropout"] = "lots";
  expect_error([&] { Seq2SeqConfig::from_map(m); }, {"[Seq2SeqConfig]", "key 'dropout'", "'lots'"});
  m = small().to_map();
  m["window"] = "3x";
  expect_error([&] { Seq2SeqConfig::from_map(m); }, {"[Seq2SeqConfig]", "key 'window'", "not an integer"});
}

TEST(BadInputModels, VocabularySizeZeroAndOtherInvalidFields) {
  Rng rng(1);
  Seq2SeqConfig c = small();
  c.tgt_vocab = 0;
  expect_error([&] { models::make_model(c, rng); }, {"[Seq2SeqConfig]", "key 'tgt_vocab'", "must be positive"});
  c = small();
  c.src_vocab = 0;
  expect_error([&] { models::make_model(c, rng); }, {"key 'src_vocab'"});
  c = small();
  c.dropout = 1.0;
  expect_error([&] { models::make_model(c, rng); }, {"key 'dropout'"});
  c = small();
  c.num_layers = 2;
  expect_error([&] { models::make_model(c, rng); }, {"key 'num_layers'", "rnnsearch"});
  c = small();
  c.eos_id = 10;
  expect_error([&] { models::make_model(c, rng); }, {"key 'eos_id'", "[0, 10)"});
  c = small();
  c.bos_id = c.eos_id;
  expect_error([&] { models::make_model(c, rng); }, {"must differ"});
}

TEST(BadInputModels, SourceAndTargetShapeMismatchesNameTheShapes) {
  Rng rng(2);
  for (const Architecture a : {Architecture::rnnsearch, Architecture::luong, Architecture::seq2seq}) {
    Seq2SeqConfig c = small();
    c.architecture = a;
    auto model = models::make_model(c, rng);
    const std::string op = std::string("[") + models::architecture_name(a) + "]";
    const Index src({4, 5, 6, 4, 5, 0}, Shape{2, 3});
    const Index tgt({2, 4, 2, 5}, Shape{2, 2});
    expect_error([&] { model->logits(src, {3, 2}, Index({2, 4, 5}, Shape{1, 3})); },
                 {op.c_str(), "batch sizes differ", "src [2, 3]", "tgt_in [1, 3]"});
    expect_error([&] { model->logits(src, {3}, tgt); }, {op.c_str(), "src_lengths has 1 entries", "[2, 3]"});
    expect_error([&] { model->logits(src, {3, 4}, tgt); }, {op.c_str(), "src_lengths[1] = 4", "[1, S = 3]"});
    expect_error([&] { model->logits(Index({4, 5, 6}, Shape{3}), {3}, tgt); }, {op.c_str(), "src [3]", "[B, S]"});
    expect_error([&] { model->logits(Index({4, 50, 6, 4, 5, 0}, Shape{2, 3}), {3, 2}, tgt); },
                 {op.c_str(), "src id 50 at [0, 1]", "[0, 10)"});
    expect_error([&] { model->logits(src, {3, 2}, Index({2, 4, 2, 10}, Shape{2, 2})); },
                 {op.c_str(), "tgt_in id 10 at [1, 1]"});
    auto state = model->start(src, {3, 2});
    expect_error([&] { model->step(*state, {2}); }, {op.c_str(), "1 tokens for a state of 2 rows"});
    expect_error([&] { state->select({0, 2}); }, {"[DecoderState::select]", "row 2"});
    Seq2SeqConfig other = c;
    other.architecture = a == Architecture::seq2seq ? Architecture::rnnsearch : Architecture::seq2seq;
    auto foreign = models::make_model(other, rng)->start(src, {3, 2});
    expect_error([&] { model->step(*foreign, {2, 2}); }, {op.c_str(), "did not make"});
  }
}

TEST(BadInputModels, LossAndDecoderIOCheckShapes) {
  Rng rng(3);
  const Tensor logits = Tensor::randn(Shape{2, 3, 5}, rng);
  expect_error([&] { models::sequence_loss(logits, Index({1, 2, 3}, Shape{1, 3})); },
               {"[sequence_loss]", "tgt_out [1, 3]", "logits [2, 3, 5]"});
  expect_error([&] { models::sequence_loss(Tensor::randn(Shape{6, 5}, rng), Index({1, 2}, Shape{1, 2})); },
               {"[sequence_loss]", "[B, T, V]", "[6, 5]"});
  expect_error([&] { models::decoder_io(Index({5, 6}, Shape{1, 2}), {3}, small()); },
               {"[decoder_io]", "target_lengths[0] = 3", "[1, 2]"});
}

TEST(BadInputModels, LocationScoreRejectsSourcesLongerThanItsMaximum) {
  Rng rng(4);
  Seq2SeqConfig c = small();
  c.architecture = Architecture::luong;
  c.score = models::Score::location;
  c.max_source_len = 2;
  auto model = models::make_model(c, rng);
  expect_error([&] { model->logits(Index({4, 5, 6}, Shape{1, 3}), {3}, Index({2}, Shape{1, 1})); },
               {"[luong]", "source length 3", "max_source_len 2"});
}

}  // namespace
}  // namespace attend
