// attend::app as a library, with no CLI code linked: train a tiny model, save it, load it and
// translate through the same calls the CLI and the Python bindings make; checkpoints written
// before the typed configs (format 1) still load and translate exactly as they did; evaluation
// and the recipe's checks.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "attend/app/evaluation.h"
#include "attend/app/training.h"
#include "attend/app/translator.h"
#include "attend/core/threads.h"
#include "attend/data/corpus.h"
#include "attend/io/safetensors.h"
#include "attend/train/checkpoint.h"
#include "attend/viz/alignment.h"
#include "support/check.h"
#include "support/temp_dir.h"

namespace attend {
namespace {

using test::expect_error;

const std::string kLegacy = std::string(ATTEND_TEST_DATA_DIR) + "/legacy/";

class AppLibrary : public test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    set_num_threads(1);
  }
  app::TrainRecipe tiny_dates(const std::string& arch) const {
    std::map<std::string, std::string> model{{"embed_dim", "8"}, {"hidden_dim", "12"}};
    if (arch != "seq2seq") model["attention_dim"] = "8";
    if (arch == "rnnsearch") model["readout_dim"] = "8";
    return {.task = "dates", .train_size = 600, .valid_size = 20, .arch = arch, .model = model,
            .epochs = 1, .out = path(arch + ".ckpt"), .valid_decode = 5, .show_examples = 0, .seed = 3};
  }
};

TEST_F(AppLibrary, TrainSaveLoadTranslateWithoutTheCli) {
  std::ostringstream log, out;
  for (const char* arch : {"rnnsearch", "luong", "seq2seq"}) {
    SCOPED_TRACE(arch);
    app::TrainResult trained = app::train(tiny_dates(arch), log, out);
    EXPECT_GT(trained.fit.state.global_step, 0);
    const app::Translator translator(std::move(trained.model));
    const std::vector<std::string> sources{"3 march 2015", "1/2/99", "the 4th of july 1976"};
    const auto before = translator.translate(sources, {.beam = 3});
    // The trainer's checkpoint and a weights-only save both load back to the same translations.
    translator.save(path("saved.ckpt"));
    for (const std::string& file : {path(std::string(arch) + ".ckpt"), path("saved.ckpt")}) {
      const app::Translator loaded = app::Translator::load(file);
      EXPECT_EQ(loaded.spec().model->architecture(), std::string(arch));
      EXPECT_EQ(loaded.spec().model->to_map(), translator.spec().model->to_map());
      const auto after = loaded.translate(sources, {.beam = 3});
      ASSERT_EQ(after.size(), sources.size());
      for (size_t i = 0; i < sources.size(); ++i) {
        EXPECT_EQ(after[i].text, before[i].text);
        EXPECT_NEAR(after[i].nbest[0].score, before[i].nbest[0].score, 1e-6);
      }
    }
  }
  EXPECT_NE(log.str().find("attend train: seq2seq"), std::string::npos);
}

// Progress and summaries go to the stream the caller gives app::train (training.h), the trainer's
// progress and stop lines included: a library caller's std::cerr stays quiet.
TEST_F(AppLibrary, TrainWritesItsProgressToTheGivenLogOnly) {
  app::TrainRecipe r = tiny_dates("seq2seq");
  r.train_size = 40;
  r.valid_size = 4;
  std::ostringstream log, out, err;
  std::streambuf* const cerr_buffer = std::cerr.rdbuf(err.rdbuf());
  try {
    app::train(r, log, out);
  } catch (...) {
    std::cerr.rdbuf(cerr_buffer);
    throw;
  }
  std::cerr.rdbuf(cerr_buffer);
  EXPECT_EQ(err.str(), "");
  EXPECT_NE(log.str().find("attend train: seq2seq"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("epoch 1/1"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("training stopped"), std::string::npos) << log.str();
}

// Checkpoints of the first format (rnnsearch_v1, luong_v1: string values, every architecture's
// keys in one map) and of the second (transformer_v2: no task, booleans as 0 and 1, written by
// attend at 72dad19) translate as the attend that wrote them did, with its search (beam search's
// early stop was then always on).
TEST_F(AppLibrary, FirstAndSecondFormatCheckpointsLoadAndTranslateAsBefore) {
  const std::vector<std::string> sources = data::read_lines(kLegacy + "in.txt");
  for (const char* name : {"rnnsearch_v1", "luong_v1", "transformer_v2"}) {
    SCOPED_TRACE(name);
    const std::string file = kLegacy + name + ".ckpt";
    const std::string config = train::read_checkpoint_info(file).model_config;
    if (std::string(name).ends_with("_v1")) EXPECT_EQ(config.find("\"format\""), std::string::npos);
    else EXPECT_NE(config.find("\"format\":2"), std::string::npos);
    const app::Translator tr = app::Translator::load(file);
    const auto t = tr.translate(sources, {.beam = 3, .early_stop = true});
    // What `attend translate --beam 3 --scores --alignment hard` printed with the attend that
    // wrote the file: TEXT ||| ALIGNMENT ||| SCORE. Text and alignment must be the same byte for
    // byte; the score (a sum of float log-probabilities) within 1e-5, since the float kernels
    // under it may round differently from release to release.
    const std::vector<std::string> expected = data::read_lines(kLegacy + name + ".expected");
    ASSERT_EQ(expected.size(), sources.size());
    for (size_t i = 0; i < sources.size(); ++i) {
      const decode::Hypothesis& h = t[i].nbest[0];
      const Tensor rows = h.attention.as_strided(Shape{h.attention.size(0) - 1, h.attention.size(1)},
                                                 h.attention.strides(), h.attention.offset());
      const size_t cut = expected[i].rfind(" ||| ");
      ASSERT_NE(cut, std::string::npos) << expected[i];
      EXPECT_EQ(t[i].text[0] + " ||| " + viz::format_pharaoh(viz::hard_alignment(rows.contiguous())),
                expected[i].substr(0, cut));
      EXPECT_NEAR(h.score, std::stod(expected[i].substr(cut + 5)), 1e-5) << expected[i];
    }
    // Saved again, it is written in the current format and reads back the same.
    tr.save(path("resaved.ckpt"));
    const std::string resaved = train::read_checkpoint_info(path("resaved.ckpt")).model_config;
    EXPECT_NE(resaved.find("\"format\":3"), std::string::npos) << resaved;
    EXPECT_NE(resaved.find("\"task\":\"sequence-to-sequence\""), std::string::npos) << resaved;
    EXPECT_EQ(app::Translator::load(path("resaved.ckpt")).translate(sources, {.beam = 3, .early_stop = true})[1].text,
              t[1].text);
  }
}

// A hand-edited config is checked against the file before it can allocate: hidden_dim 200000
// would need gigabytes (std::bad_alloc before), 33 instead of 32 fits in memory but not the file.
TEST_F(AppLibrary, ConfigsThatDisagreeWithTheWeightsAreRefused) {
  io::SafetensorsContents c = io::load_safetensors(kLegacy + "rnnsearch_v1.ckpt");
  std::string& config = c.metadata.at("model_config");
  const std::string key = "\"hidden_dim\":\"32\"";
  ASSERT_NE(config.find(key), std::string::npos) << config;
  for (const auto& [value, expected] : {std::pair<std::string, std::string>{"200000", "larger than the file's weights"},
                                        {"33", "shape"}}) {
    SCOPED_TRACE(value);
    std::string edited = c.metadata.at("model_config");
    edited.replace(edited.find(key), key.size(), "\"hidden_dim\":\"" + value + "\"");
    io::Metadata metadata = c.metadata;
    metadata["model_config"] = edited;
    io::save_safetensors(path("edited.ckpt"), c.tensors, metadata);
    expect_error([&] { app::Translator::load(path("edited.ckpt")); }, {"edited.ckpt", expected.c_str()});
  }
}

TEST_F(AppLibrary, ModelConfigFormatIsComparedWithoutNarrowing) {
  const std::string base = R"({"model": {"architecture": "seq2seq", "src_vocab": 9, "tgt_vocab": 9},
                               "source_tokens": "char", "target_tokens": "char", "format": )";
  EXPECT_EQ(app::ModelSpec::from_json(base + "2}", "m").model->architecture(), std::string("seq2seq"));
  expect_error([&] { app::ModelSpec::from_json(base + "4294967297}", "m.ckpt"); },
               {"[checkpoint]", "m.ckpt", "format 4294967297 is not one this attend reads"});
  expect_error([&] { app::ModelSpec::from_json(base + "[1]}", "m.ckpt"); }, {"format of type array"});
}

TEST_F(AppLibrary, EvaluateScoresHeldOutTaskPairs) {
  std::ostringstream log, out;
  app::TrainResult trained = app::train(tiny_dates("rnnsearch"), log, out);
  const auto pairs = app::held_out_task_pairs(path("rnnsearch.ckpt"), 30);
  ASSERT_EQ(pairs.size(), 30u);
  const app::EvalReport r = app::evaluate(app::Translator(std::move(trained.model)), pairs, {.beam = 1});
  EXPECT_EQ(r.pairs, 30);
  EXPECT_GE(r.exact_match, 0.0);
  EXPECT_LE(r.exact_match, r.token_accuracy + 1e-12);  // an exact match is all tokens right
  EXPECT_NE(r.text().find("exact match"), std::string::npos);
  EXPECT_NE(r.json("m").find("\"by_source_length\""), std::string::npos);
}

TEST_F(AppLibrary, RecipeErrorsNameWhatIsWrong) {
  app::TrainRecipe r = tiny_dates("rnnsearch");
  r.arch = "transformer-xl";
  expect_error([&] { app::train(r); }, {"unknown architecture 'transformer-xl'"});
  r = tiny_dates("rnnsearch");
  r.model["score"] = "dot";
  expect_error([&] { app::train(r); }, {"[rnnsearch config]", "key 'score'", "no such field"});
  r = tiny_dates("rnnsearch");
  r.out = path("missing/dir/m.ckpt");
  expect_error([&] { app::train(r); }, {"[train]", "--out", "does not exist"});
  // A corpus of blank lines says so, not that the pairs are too long.
  {
    std::ofstream(path("blank.src")) << "\n\n\n";
    std::ofstream(path("blank.tgt")) << "\n\n\n";
  }
  r = tiny_dates("rnnsearch");
  r.task.clear();
  r.train_src = path("blank.src");
  r.train_tgt = path("blank.tgt");
  expect_error([&] { app::train(r); }, {"[train]", "every one of the 3 training pairs has an empty source"});
  expect_error([&] { app::Translator::load(dir_.string()); }, {dir_.string().c_str(), "directory"});
}

}  // namespace
}  // namespace attend
