// Subword models end to end through attend::app, no CLI linked: train a joint SentencePiece model
// on a small corpus (dates pairs written out as files), train a tiny rnnsearch with spm tokens on
// both sides, save, delete the .model file, load the checkpoint and translate: the checkpoint holds
// the model, the vocabularies are the model's pieces id for id, translations are detokenized text.
// Bad input: missing and corrupt .model files name the file, corrupt embedded bytes name the
// checkpoint, spm tokens without a model (and a model for word tokens) are refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "attend/app/evaluation.h"
#include "attend/app/subwords.h"
#include "attend/app/training.h"
#include "attend/app/translator.h"
#include "attend/core/threads.h"
#include "attend/data/tasks.h"
#include "attend/io/safetensors.h"
#include "attend/train/checkpoint.h"
#include "support/check.h"
#include "support/temp_dir.h"

namespace attend {
namespace {

using test::expect_error;

class AppSubwords : public test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    set_num_threads(1);
    pairs_ = data::generate_task(data::Task::dates, {.count = 300, .seed = 5});
    std::ofstream src(path("train.src")), tgt(path("train.tgt"));
    for (const auto& p : pairs_) src << p.source << "\n", tgt << p.target << "\n";
  }
  // A joint BPE model of both files, through the library call `attend vocab` makes.
  std::string joint_model(const std::string& prefix, std::ostream& log) const {
    const auto written = app::train_subwords({.inputs = {path("train.src"), path("train.tgt")},
                                              .out = path(prefix),
                                              .options = {.type = data::SentencePieceType::bpe, .vocab_size = 80}},
                                             log);
    EXPECT_EQ(written, std::vector<std::string>{path(prefix + ".model")});
    return written.at(0);
  }
  app::TrainRecipe recipe() const {
    return {.train_src = path("train.src"), .train_tgt = path("train.tgt"), .arch = "rnnsearch",
            .model = {{"embed_dim", "8"}, {"hidden_dim", "12"}, {"attention_dim", "8"}, {"readout_dim", "8"}},
            .batch = 32, .epochs = 1, .max_steps = 6, .out = path("spm.ckpt"), .valid_decode = 4,
            .show_examples = 0, .seed = 2};
  }
  std::vector<data::Pair> pairs_;
};

bool has_marker(const std::string& s) { return s.find("\xE2\x96\x81") != std::string::npos; }  // U+2581

TEST_F(AppSubwords, JointSpmModelTrainsSavesAndTranslatesWithoutTheModelFile) {
  std::ostringstream vocab_log, log, out;
  const std::string model = joint_model("joint", vocab_log);
  EXPECT_NE(vocab_log.str().find("wrote " + path("joint") + ".model and "), std::string::npos) << vocab_log.str();
  EXPECT_NE(vocab_log.str().find("pieces per line, 0.000% unknown"), std::string::npos) << vocab_log.str();
  const data::SentencePiece sp = data::SentencePiece::load(model);

  app::TrainRecipe r = recipe();
  r.spm = model;  // tokens "auto" with a model: spm on both sides
  const app::TrainResult trained = app::train(r, log, out);
  EXPECT_NE(log.str().find("vocabularies 80 / 80 (spm / spm)"), std::string::npos) << log.str();
  const app::Translator& tr = trained.translator;
  EXPECT_EQ(tr.spec().source_tokens, data::TokenizerKind::sentencepiece);
  EXPECT_EQ(tr.spec().source_spm, tr.spec().target_spm);  // one joint model
  // The vocabularies are the model's pieces in its order: the network sees SentencePiece's ids.
  ASSERT_EQ(tr.source_vocab().size(), sp.vocab_size());
  EXPECT_EQ(tr.source_vocab(), tr.target_vocab());
  for (int64_t i = 0; i < sp.vocab_size(); ++i) EXPECT_EQ(tr.target_vocab().token(i), sp.id_to_piece(i));
  EXPECT_EQ(tr.encode_source(pairs_[0].source), sp.encode_ids(pairs_[0].source));

  const std::vector<std::string> sources{"3 march 2015", "1/2/99", "the 4th of july 1976"};
  const auto before = tr.translate(sources, {.beam = 2});
  tr.save(path("saved.ckpt"));
  std::filesystem::remove(model);
  for (const std::string& file : {path("spm.ckpt"), path("saved.ckpt")}) {
    SCOPED_TRACE(file);
    // The model is stored once (joint) beside the weights.
    const train::CheckpointInfo info = train::read_checkpoint_info(file);
    EXPECT_EQ(info.extra.count("sentencepiece.source"), 1u);
    EXPECT_EQ(info.extra.count("sentencepiece.target"), 0u);
    EXPECT_NE(info.model_config.find("\"joint_spm\":true"), std::string::npos);
    const app::Translator loaded = app::Translator::load(file);
    EXPECT_EQ(loaded.spec().source_spm->serialized(), sp.serialized());
    const auto after = loaded.translate(sources, {.beam = 2});
    for (size_t i = 0; i < sources.size(); ++i) {
      EXPECT_EQ(after[i].text, before[i].text);
      EXPECT_FALSE(has_marker(after[i].text[0])) << after[i].text[0];
      // Alignments and labels are over pieces.
      EXPECT_EQ(after[i].source_tokens, sp.encode_pieces(sources[i]));
      EXPECT_EQ(after[i].nbest[0].attention.size(1), static_cast<int64_t>(after[i].source_tokens.size()));
      EXPECT_EQ(loaded.spec().target_tokenizer().detokenize(after[i].target_tokens[0]), after[i].text[0]);
    }
  }
  // Evaluation scores detokenized text against the raw references.
  const app::EvalReport report = app::evaluate(app::Translator::load(path("spm.ckpt")),
                                               {pairs_.begin(), pairs_.begin() + 10}, {.beam = 1});
  EXPECT_EQ(report.pairs, 10);
  EXPECT_EQ(report.source_tokens, "spm");
}

TEST_F(AppSubwords, SeparateModelsPerSideAndMixedKinds) {
  std::ostringstream log, out;
  for (const auto& [side, size] : {std::pair{"src", 100}, std::pair{"tgt", 40}})
    app::train_subwords({.inputs = {path(std::string("train.") + side)}, .out = path(side),
                         .options = {.type = data::SentencePieceType::bpe, .vocab_size = size}},
                        log);
  app::TrainRecipe r = recipe();
  r.source_spm = path("src.model");
  r.target_spm = path("tgt.model");
  app::train(r, log, out);
  EXPECT_NE(log.str().find("vocabularies 100 / 40 (spm / spm)"), std::string::npos) << log.str();
  const train::CheckpointInfo info = train::read_checkpoint_info(path("spm.ckpt"));
  EXPECT_EQ(info.extra.count("sentencepiece.target"), 1u);
  EXPECT_EQ(info.model_config.find("joint_spm"), std::string::npos);
  // spm source, char target: only the source model is stored.
  r.target_spm.clear();
  r.target_tokens = "char";
  app::train(r, log, out);
  std::filesystem::remove(path("src.model"));
  const app::Translator tr = app::Translator::load(path("spm.ckpt"));
  EXPECT_EQ(tr.spec().target_tokens, data::TokenizerKind::character);
  EXPECT_EQ(tr.spec().target_spm, nullptr);
  EXPECT_EQ(tr.translate({"1/2/99"}, {.beam = 1}).size(), 1u);
  EXPECT_EQ(train::read_checkpoint_info(path("spm.ckpt")).extra.count("sentencepiece.target"), 0u);
}

TEST_F(AppSubwords, MissingOrCorruptModelsNameTheFileOrCheckpoint) {
  std::ostringstream log, out;
  app::TrainRecipe r = recipe();
  r.spm = path("missing.model");
  expect_error([&] { app::train(r, log, out); }, "[sentencepiece]", {"missing.model", "cannot open"});
  std::ofstream(path("bad.model")) << "not a model";
  r.spm = path("bad.model");
  expect_error([&] { app::train(r, log, out); }, "[sentencepiece]", {"bad.model", "not a valid SentencePiece model"});
  r.spm.clear();
  r.source_tokens = "spm";
  expect_error([&] { app::train(r, log, out); }, "[train]", {"--source-tokens spm needs a SentencePiece model"});
  r.source_tokens = "word";
  r.target_tokens = "word";
  r.target_spm = path("bad.model");
  expect_error([&] { app::train(r, log, out); }, "[train]", {"--target-spm", "is for spm tokens"});

  // Corrupt, undecodable or missing embedded bytes: errors name the checkpoint and the key.
  r = recipe();
  r.spm = joint_model("joint", log);
  app::train(r, log, out);
  const io::SafetensorsContents c = io::load_safetensors(path("spm.ckpt"));
  const std::string key = "extra.sentencepiece.source";
  ASSERT_EQ(c.metadata.count(key), 1u);
  for (const auto& [value, expected] :
       std::vector<std::pair<std::string, std::string>>{{"bm90IGEgbW9kZWw=", "not a valid SentencePiece model"},
                                                        {"not base64!", "not base64"},
                                                        {"", "not a valid SentencePiece model (empty)"},
                                                        {"-", "holds no SentencePiece model"}}) {
    SCOPED_TRACE(expected);
    io::Metadata metadata = c.metadata;
    if (value == "-") metadata.erase(key);
    else metadata[key] = value;
    io::save_safetensors(path("edited.ckpt"), c.tensors, metadata);
    expect_error([&] { app::Translator::load(path("edited.ckpt")); }, "[checkpoint]",
                 {"edited.ckpt", "sentencepiece.source", expected});
  }
  // Another valid model whose pieces are not the stored vocabulary.
  app::train_subwords({.inputs = {path("train.tgt")}, .out = path("other"),
                       .options = {.type = data::SentencePieceType::bpe, .vocab_size = 80}},
                      log);
  io::Metadata metadata = c.metadata;
  {
    // Base64 through a checkpoint the library writes: a source-only spm model trained on other data.
    app::TrainRecipe other = recipe();
    other.source_spm = path("other.model");
    other.target_tokens = "char";
    other.out = path("other.ckpt");
    app::train(other, log, out);
  }
  metadata[key] = io::load_safetensors(path("other.ckpt")).metadata.at(key);
  io::save_safetensors(path("edited.ckpt"), c.tensors, metadata);
  expect_error([&] { app::Translator::load(path("edited.ckpt")); }, "[checkpoint]",
               {"edited.ckpt", "source vocabulary is not the pieces of its SentencePiece model"});
}

}  // namespace
}  // namespace attend
