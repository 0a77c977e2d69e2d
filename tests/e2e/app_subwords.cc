// Subword models end to end through attend::app, no CLI linked: train a joint SentencePiece model
// on a small corpus (dates pairs written out as files), train a tiny rnnsearch with spm tokens on
// both sides, save, delete the .model file, load the checkpoint and translate: the checkpoint holds
// the model, the vocabularies are the model's pieces id for id, translations are detokenized text.
// Bad input: missing and corrupt .model files name the file, corrupt embedded bytes name the
// checkpoint, spm tokens without a model (and a model for word tokens) are refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <iterator>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "attend/app/attention_view.h"
#include "attend/app/evaluation.h"
#include "attend/app/subwords.h"
#include "attend/app/training.h"
#include "attend/app/translator.h"
#include "attend/core/threads.h"
#include "attend/data/tasks.h"
#include "attend/io/safetensors.h"
#include "attend/ops/ops.h"
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
  app::TrainResult trained = app::train(r, log, out);
  EXPECT_NE(log.str().find("vocabularies 80 / 80 (spm / spm)"), std::string::npos) << log.str();
  const app::Translator tr(std::move(trained.model));
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

// Every attention of a transformer with SentencePiece on both sides: the maps' shapes and masks,
// the alignment layer's mean over heads equal to what beam search recorded with its caches, and
// alignments mapped from pieces to the words of the detokenized text.
TEST_F(AppSubwords, TransformerAttentionViewAndWordAlignments) {
  std::ostringstream log, out;
  app::TrainRecipe r = recipe();
  r.spm = joint_model("joint", log);
  r.arch = "transformer";
  r.model = {{"d_model", "16"}, {"num_heads", "2"}, {"ffn_dim", "24"}, {"encoder_layers", "2"},
             {"decoder_layers", "3"}};
  r.epochs = 12;
  r.max_steps = 120;
  app::TrainResult trained = app::train(r, log, out);
  const app::Translator tr(std::move(trained.model));
  for (const std::string& sentence : {std::string("the 4th of july 1976"), std::string("3 march 2015")}) {
    SCOPED_TRACE(sentence);
    const app::Translation t = tr.translate({sentence}, {.beam = 3}).at(0);
    const decode::Hypothesis& h = t.nbest.at(0);
    const app::AttentionView v = app::attention_view(tr, t);
    const auto S = static_cast<int64_t>(t.source_tokens.size()), T = static_cast<int64_t>(h.tokens.size());
    ASSERT_GE(T, 3) << "too short a hypothesis to test: " << t.text[0];
    ASSERT_EQ(v.maps.size(), 2u + 3u + 3u);
    EXPECT_EQ(v.alignment_layer, 1);  // the penultimate of 3
    EXPECT_EQ(static_cast<int64_t>(v.target_tokens.size()), T);
    EXPECT_EQ(v.decoder_inputs.front(), "<s>");
    for (const models::AttentionMap& m : v.maps) {
      SCOPED_TRACE(std::string(models::to_string(m.kind)) + " layer " + std::to_string(m.layer));
      const int64_t Tq = m.kind == models::AttentionKind::encoder_self ? S : T;
      const int64_t Tk = m.kind == models::AttentionKind::decoder_self ? T : S;
      ASSERT_EQ(m.weights.shape(), Shape({2, Tq, Tk}));
      for (int64_t hd = 0; hd < 2; ++hd)
        for (int64_t q = 0; q < Tq; ++q) {
          double sum = 0.0;
          for (int64_t k = 0; k < Tk; ++k) {
            sum += m.weights.at({hd, q, k});
            if (m.kind == models::AttentionKind::decoder_self && k > q) {
              EXPECT_EQ(m.weights.at({hd, q, k}), 0.0);
            }
          }
          EXPECT_NEAR(sum, 1.0, 1e-5);
        }
      if (m.kind == models::AttentionKind::cross && m.layer == v.alignment_layer) {
        EXPECT_TRUE(test::all_close(mean(m.weights, {0}), h.attention, 1e-5, 1e-5));
      }
    }
    // Word alignments: one row per word of the detokenized output, one column per source word.
    const auto words = [](const std::string& s) {
      std::istringstream in(s);
      return static_cast<int64_t>(std::distance(std::istream_iterator<std::string>(in), {}));
    };
    for (int64_t layer : {-1, 0, 2}) {
      const Tensor w = app::alignment_weights(tr, t, 0, {.layer = layer});
      ASSERT_EQ(w.shape(), Shape({words(t.text[0]), words(sentence)})) << t.text[0];
      for (int64_t j = 0; j < w.size(0); ++j) {
        double sum = 0.0;
        for (int64_t i = 0; i < w.size(1); ++i) sum += w.at({j, i});
        EXPECT_NEAR(sum, 1.0, 1e-5);
      }
    }
    expect_error([&] { app::alignment_weights(tr, t, 0, {.layer = 3}); }, "[alignment]",
                 {"--alignment-layer 4: the model has 3 decoder layer(s)"});
  }
}

TEST(AttentionViewWords, PiecesJoinIntoWordsAndWeightsFollow) {
  EXPECT_EQ(app::piece_words({"\u2581Ein", "\u2581Mann", "s", "\u2581", "."}), (std::vector<int64_t>{0, 1, 1, 2, 2}));
  EXPECT_EQ(app::piece_words({"er", "\u2581geht"}), (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(app::piece_words({}).empty());
  // Target words {0, 0, 1}, source words {0, 1, 1}: columns of a word summed, rows averaged.
  const Tensor w = Tensor::from_vector(std::vector<double>{0.5, 0.25, 0.25, 0.1, 0.6, 0.3, 1.0, 0.0, 0.0}, Shape{3, 3});
  const Tensor ww = app::word_weights(w, {0, 0, 1}, {0, 1, 1});
  ASSERT_EQ(ww.shape(), Shape({2, 2}));
  EXPECT_NEAR(ww.at({0, 0}), 0.3, 1e-6);
  EXPECT_NEAR(ww.at({0, 1}), 0.7, 1e-6);
  EXPECT_NEAR(ww.at({1, 0}), 1.0, 1e-6);
  EXPECT_NEAR(ww.at({1, 1}), 0.0, 1e-6);
  expect_error([&] { app::word_weights(w, {0, 1}, {0, 1, 1}); }, "[word_weights]", {"2 target and 3 source pieces"});
}

}  // namespace
}  // namespace attend
