// Checkpoints: a round trip of weights, optimizer state and metadata, every BadInput case (with
// messages naming the file, the parameter and the shapes) and atomicity (a refused or failed save
// leaves the previous file intact).
#include <gtest/gtest.h>

#include "support/temp_dir.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "attend/io/atomic_file.h"
#include "attend/io/safetensors.h"
#include "attend/train/checkpoint.h"
#include "support/check.h"
#include "train_tiny_model.h"

namespace attend::train {
namespace {

namespace fs = std::filesystem;
using test::TinyTagger;

class TrainCheckpoint : public test::TempDirTest {};

using test::error_of;

CheckpointInfo sample_info() {
  CheckpointInfo info;
  info.model_config = R"({"kind": "tiny", "vocab": 12, "width": 4})";
  info.vocabs["src"] = data::Vocab::build(std::vector<std::vector<std::string>>{{"a", "b", "b"}, {"tab\there"}});
  info.vocabs["tgt"] = data::Vocab();
  info.extra["note"] = "line one\nline two";
  TrainerState& s = info.trainer;
  s.epoch = 2;
  s.batch_in_epoch = 7;
  s.global_step = 123;
  s.updates = 120;
  s.skipped_steps = 3;
  s.nonfinite_streak = 1;
  s.best_metric = 0.1 + 0.2;  // not exactly representable in decimal: must round-trip bit for bit
  s.plateau = PlateauState{.best = std::numeric_limits<double>::infinity(), .num_bad_epochs = 2,
                           .cooldown_counter = 1, .last_epoch = 2};
  s.early_stopping = EarlyStoppingState{.best = std::numeric_limits<double>::quiet_NaN(), .bad_epochs = 1};
  s.rng_seed = 0xFEEDFACECAFEBEEFull;  // above 2^63
  s.rng_offset = 987654321;
  s.epoch_loss_sum = 1.0 / 3.0;
  s.epoch_tokens = 77;
  s.epoch_steps = 7;
  return info;
}

// A model and an Adam that has taken two steps (so it has state).
struct Trained {
  Rng rng;
  TinyTagger model;
  Adam adam;
  explicit Trained(uint64_t seed, int64_t vocab = 12, int64_t width = 4)
      : rng(seed), model(vocab, width, rng), adam(model.named_parameters(), AdamOptions{.lr = 0.01}) {
    data::Batcher batches(test::tiny_examples(8, vocab, seed), data::BatchingOptions{.max_sentences = 4});
    for (int s = 0; s < 2; ++s) {
      adam.zero_grad();
      test::tiny_loss(model, batches.next(), rng).loss.backward();
      adam.step();
    }
  }
};

TEST_F(TrainCheckpoint, RoundTripWeightsOptimizerAndMetadata) {
  Trained a(1);
  const CheckpointInfo info = sample_info();
  save_checkpoint(path("ck.safetensors"), a.model, &a.adam, info);

  Trained b(2);  // different weights and optimizer state
  b.adam.set_lr(0.5);
  const CheckpointInfo got = load_checkpoint(path("ck.safetensors"), b.model, &b.adam);
  const auto pa = a.model.named_parameters(), pb = b.model.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_EQ(pa[i].second.to_vector<float>(), pb[i].second.to_vector<float>()) << pa[i].first;
  const OptimizerState sa = a.adam.state_dict(), sb = b.adam.state_dict();
  EXPECT_EQ(sb.lr, 0.01);
  ASSERT_EQ(sa.tensors.size(), sb.tensors.size());
  for (const auto& [k, t] : sa.tensors) EXPECT_EQ(t.to_vector<double>(), sb.tensors.at(k).to_vector<double>()) << k;
  EXPECT_EQ(got.model_config, info.model_config);
  EXPECT_EQ(got.vocabs, info.vocabs);
  EXPECT_EQ(got.extra, info.extra);
  EXPECT_EQ(got.trainer, info.trainer);
  EXPECT_TRUE(got.has_optimizer);
  EXPECT_EQ(got.optimizer_kind, "adam");

  const CheckpointInfo meta = read_checkpoint_info(path("ck.safetensors"));
  EXPECT_EQ(meta.trainer, info.trainer);
  // The file is plain safetensors with the documented names.
  const io::SafetensorsContents raw = io::load_safetensors(path("ck.safetensors"));
  EXPECT_EQ(raw.tensors.count("model.emb"), 1u);
  EXPECT_EQ(raw.tensors.count("model.proj.weight"), 1u);
  EXPECT_EQ(raw.tensors.count("optim.proj.bias.exp_avg_sq"), 1u);
  EXPECT_EQ(raw.metadata.at("format"), "attend-checkpoint/1");

  // Weights only: loads into a model, refuses to restore an optimizer.
  save_checkpoint(path("w.safetensors"), a.model, nullptr, info);
  EXPECT_FALSE(read_checkpoint_info(path("w.safetensors")).has_optimizer);
  EXPECT_NO_THROW(load_checkpoint(path("w.safetensors"), b.model));
  EXPECT_NE(error_of([&] { load_checkpoint(path("w.safetensors"), b.model, &b.adam); }).find("no optimizer state"),
            std::string::npos);
}

TEST_F(TrainCheckpoint, BadInputMissingAndTruncatedFile) {
  Trained a(1);
  const std::string missing = path("nope.safetensors");
  std::string e = error_of([&] { load_checkpoint(missing, a.model); });
  EXPECT_NE(e.find("[load_checkpoint]"), std::string::npos) << e;
  EXPECT_NE(e.find(missing), std::string::npos) << e;

  save_checkpoint(path("ck.safetensors"), a.model, &a.adam, sample_info());
  const std::string bytes = io::read_file(path("ck.safetensors"));
  for (const size_t keep : {size_t{3}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    io::write_file_atomic(path("cut.safetensors"), std::string_view(bytes).substr(0, keep));
    e = error_of([&] { load_checkpoint(path("cut.safetensors"), a.model); });
    EXPECT_NE(e.find("[load_checkpoint]"), std::string::npos) << keep << ": " << e;
    EXPECT_NE(e.find(path("cut.safetensors")), std::string::npos) << keep << ": " << e;
  }
}

TEST_F(TrainCheckpoint, BadInputShapeMismatchNamesParameterShapesAndFile) {
  Trained a(1, 12, 4);
  save_checkpoint(path("ck.safetensors"), a.model, &a.adam, sample_info());
  Trained wider(1, 12, 6);
  const std::vector<float> before = wider.model.emb.to_vector<float>();
  const std::string e = error_of([&] { load_checkpoint(path("ck.safetensors"), wider.model, &wider.adam); });
  EXPECT_NE(e.find(path("ck.safetensors")), std::string::npos) << e;
  EXPECT_NE(e.find("parameter 'emb' has shape [12, 4] in the checkpoint, the model expects [12, 6]"),
            std::string::npos)
      << e;
  EXPECT_EQ(wider.model.emb.to_vector<float>(), before);  // nothing loaded
}

// The tagger without its projection bias: one parameter fewer.
class NoBiasTagger : public nn::Module {
 public:
  explicit NoBiasTagger(Rng& rng) : emb(Tensor::randn(Shape{12, 4}, rng)), proj(4, 12, rng, {.bias = false}) {
    register_parameter("emb", emb);
    register_module("proj", proj);
  }
  Tensor emb;
  nn::Linear proj;
};

TEST_F(TrainCheckpoint, BadInputMissingOrExtraParameter) {
  Rng rng(5);
  NoBiasTagger small(rng);
  save_checkpoint(path("small.safetensors"), small, nullptr, sample_info());
  Trained full(1);
  std::string e = error_of([&] { load_checkpoint(path("small.safetensors"), full.model); });
  EXPECT_NE(e.find(path("small.safetensors")), std::string::npos) << e;
  EXPECT_NE(e.find("parameter 'proj.bias' (expected shape [12]) is missing"), std::string::npos) << e;

  save_checkpoint(path("full.safetensors"), full.model, nullptr, sample_info());
  e = error_of([&] { load_checkpoint(path("full.safetensors"), small); });
  EXPECT_NE(e.find("the checkpoint has parameter 'proj.bias' [12] that the model does not have"), std::string::npos)
      << e;
}

TEST_F(TrainCheckpoint, BadInputUnknownOptimizerKeysAndKind) {
  Trained a(1);
  save_checkpoint(path("ck.safetensors"), a.model, &a.adam, sample_info());
  io::SafetensorsContents c = io::load_safetensors(path("ck.safetensors"));
  c.tensors["optim.decoder.weight.exp_avg"] = Tensor::zeros(Shape{2});
  io::save_safetensors(path("extra.safetensors"), c.tensors, c.metadata);
  std::string e = error_of([&] { load_checkpoint(path("extra.safetensors"), a.model, &a.adam); });
  EXPECT_NE(e.find(path("extra.safetensors")), std::string::npos) << e;
  EXPECT_NE(e.find("unknown optimizer key 'decoder.weight.exp_avg'"), std::string::npos) << e;

  SGD sgd(a.model.named_parameters(), SgdOptions{.momentum = 0.9});
  e = error_of([&] { load_checkpoint(path("ck.safetensors"), a.model, &sgd); });
  EXPECT_NE(e.find("the state is of optimizer 'adam', this is 'sgd'"), std::string::npos) << e;

  c = io::load_safetensors(path("ck.safetensors"));
  c.tensors["stray"] = Tensor::zeros(Shape{1});
  io::save_safetensors(path("stray.safetensors"), c.tensors, c.metadata);
  e = error_of([&] { load_checkpoint(path("stray.safetensors"), a.model); });
  EXPECT_NE(e.find("unknown tensor 'stray'"), std::string::npos) << e;

  c = io::load_safetensors(path("ck.safetensors"));
  c.metadata.erase("trainer");
  io::save_safetensors(path("notrainer.safetensors"), c.tensors, c.metadata);
  e = error_of([&] { read_checkpoint_info(path("notrainer.safetensors")); });
  EXPECT_NE(e.find("no 'trainer' in the metadata"), std::string::npos) << e;
}

TEST_F(TrainCheckpoint, NanWeightsRefusedAndPreviousFileIntact) {
  Trained a(1);
  const std::string ck = path("ck.safetensors");
  save_checkpoint(ck, a.model, &a.adam, sample_info());
  const std::string good = io::read_file(ck);
  a.model.proj.weight.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  const std::string e = error_of([&] { save_checkpoint(ck, a.model, &a.adam, sample_info()); });
  EXPECT_NE(e.find("[save_checkpoint] " + ck + ": parameter 'proj.weight' holds NaN or Inf"), std::string::npos) << e;
  EXPECT_EQ(io::read_file(ck), good);
  EXPECT_FALSE(fs::exists(path("other.safetensors")));
  EXPECT_THROW(save_checkpoint(path("other.safetensors"), a.model, nullptr, sample_info()), Error);
  EXPECT_FALSE(fs::exists(path("other.safetensors")));
}

TEST_F(TrainCheckpoint, BadInputNonFiniteWeightsRefusedAtLoad) {
  // A file written by another tool (or corrupted) whose weights hold NaN or Inf: save refuses
  // such weights, so load refuses them too, naming the tensor and the file, before changing the
  // model or the optimizer.
  Trained a(1);
  const std::string ck = path("ck.safetensors");
  save_checkpoint(ck, a.model, &a.adam, sample_info());
  const auto poison = [&](const std::string& name, size_t i, float v, const std::string& out) {
    io::SafetensorsContents c = io::load_safetensors(ck);
    c.tensors.at(name).data<float>()[i] = v;
    io::save_safetensors(out, c.tensors, c.metadata);
  };
  poison("model.proj.weight", 3, std::numeric_limits<float>::quiet_NaN(), path("nan.safetensors"));
  poison("optim.emb.exp_avg_sq", 0, std::numeric_limits<float>::infinity(), path("inf.safetensors"));
  Trained b(5);
  const std::vector<float> before = b.model.proj.weight.to_vector<float>();
  std::string e = error_of([&] { load_checkpoint(path("nan.safetensors"), b.model, &b.adam); });
  EXPECT_EQ(e.rfind("[load_checkpoint] " + path("nan.safetensors") + ": ", 0), 0u) << e;
  EXPECT_NE(e.find("'model.proj.weight' holds NaN or Inf"), std::string::npos) << e;
  e = error_of([&] { load_checkpoint(path("inf.safetensors"), b.model, &b.adam); });
  EXPECT_NE(e.find(path("inf.safetensors") + ": tensor 'optim.emb.exp_avg_sq' holds NaN or Inf"), std::string::npos)
      << e;
  EXPECT_EQ(b.model.proj.weight.to_vector<float>(), before);
  // Loading only the weights still reads (and refuses) the whole file.
  e = error_of([&] { load_checkpoint(path("inf.safetensors"), b.model); });
  EXPECT_NE(e.find("'optim.emb.exp_avg_sq' holds NaN or Inf"), std::string::npos) << e;
}

TEST_F(TrainCheckpoint, BadInputTrainerAndOptimizerJsonNumbers) {
  // Every value of the trainer and optimizer JSON is range-checked: numbers beyond int64 (which
  // nlohmann stores as unsigned and would wrap to negative), negative counts, floats where
  // integers belong, numbers that overflow a double; each an error naming the file and the key.
  Trained a(1);
  save_checkpoint(path("ck.safetensors"), a.model, &a.adam, sample_info());
  const io::SafetensorsContents good = io::load_safetensors(path("ck.safetensors"));
  const std::string trainer = good.metadata.at("trainer");
  const auto with = [&](const std::string& key, const std::string& text) {
    io::SafetensorsContents c = good;
    c.metadata[key] = text;
    const std::string p = path("edited.safetensors");
    io::save_safetensors(p, c.tensors, c.metadata);
    return p;
  };
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string t = trainer;
    const size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from << " not in " << t;
    return t.replace(at, from.size(), to);
  };
  struct Case {
    std::string from, to, expect;
  };
  const std::vector<Case> cases{
      {"\"updates\":120", "\"updates\":18446744073709551615", "'updates' is not an integer in [0, 2^63)"},
      {"\"updates\":120", "\"updates\":-120", "'updates' is not an integer in [0, 2^63)"},
      {"\"epoch_tokens\":77", "\"epoch_tokens\":77.5", "'epoch_tokens' is not an integer"},
      {"\"num_bad_epochs\":2", "\"num_bad_epochs\":-2", "'plateau.num_bad_epochs' is not an integer in [0, 2^63)"},
      {"\"epoch_steps\":7", "\"epoch_steps\":1e400", "metadata 'trainer' is not JSON"},
      {"\"seed\":", "\"seed\":1.5,\"x\":", "'rng.seed' is not an unsigned integer"},
      {"\"epoch_loss_sum\":", "\"epoch_loss_sum\":[1],\"y\":", "'epoch_loss_sum' is not a number"},
  };
  for (const Case& c : cases) {
    const std::string p = with("trainer", replaced(c.from, c.to));
    const std::string e = error_of([&] { read_checkpoint_info(p); });
    EXPECT_EQ(e.rfind("[load_checkpoint] " + p + ": ", 0), 0u) << c.to << ": " << e;
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.to << ": " << e;
  }
  // 200,000 nested arrays where an integer belongs: the message used to dump the value, and
  // nlohmann's dump() recursing once per level overflowed the stack.
  const size_t depth = 200000;
  const std::string deep = with("trainer", replaced("\"updates\":120", "\"updates\":" + std::string(depth, '[') +
                                                                          std::string(depth, ']')));
  const std::string deep_error = error_of([&] { read_checkpoint_info(deep); });
  EXPECT_NE(deep_error.find("'updates' is not an integer in [0, 2^63): an array of 1 elements"), std::string::npos)
      << deep_error.substr(0, 300);
  std::string p = with("optimizer", R"({"kind": "adam", "lr": 1e400})");
  std::string e = error_of([&] { load_checkpoint(p, a.model, &a.adam); });
  EXPECT_NE(e.find(p + ": metadata 'optimizer' is not JSON"), std::string::npos) << e;
  p = with("optimizer", R"({"kind": "adam", "lr": "fast"})");
  e = error_of([&] { load_checkpoint(p, a.model, &a.adam); });
  EXPECT_NE(e.find(p + ": optimizer 'lr' is not a number"), std::string::npos) << e;
  p = with("optimizer", R"([1, 2])");
  e = error_of([&] { read_checkpoint_info(p); });
  EXPECT_NE(e.find(p + ": metadata 'optimizer' lacks its 'kind'"), std::string::npos) << e;
}

TEST_F(TrainCheckpoint, DecodeCheckpointInfoFromBytesMatchesTheFile) {
  // The from-bytes entry point (used by the fuzz harness) reads what read_checkpoint_info reads.
  Trained a(1);
  save_checkpoint(path("ck.safetensors"), a.model, &a.adam, sample_info());
  const CheckpointInfo from_file = read_checkpoint_info(path("ck.safetensors"));
  const CheckpointInfo from_bytes = decode_checkpoint_info(io::read_file(path("ck.safetensors")), "mem.ckpt");
  EXPECT_EQ(from_bytes.trainer, from_file.trainer);
  EXPECT_EQ(from_bytes.vocabs, from_file.vocabs);
  EXPECT_EQ(from_bytes.model_config, from_file.model_config);
  EXPECT_EQ(from_bytes.optimizer_kind, "adam");
  const std::string e = error_of([] { decode_checkpoint_info("short", "mem.ckpt"); });
  EXPECT_EQ(e.rfind("[load_checkpoint] ", 0), 0u) << e;
  EXPECT_NE(e.find("mem.ckpt: truncated file"), std::string::npos) << e;
}

TEST_F(TrainCheckpoint, FailedWriteLeavesPreviousCheckpointAndNoTemporaryFile) {
  Trained a(1);
  const std::string ck = path("ck.safetensors");
  save_checkpoint(ck, a.model, &a.adam, sample_info());
  const std::string good = io::read_file(ck);
  // A target that is a directory cannot be replaced by rename: the write fails after the
  // temporary file was written, which must then be removed.
  const std::string as_dir = path("dir.safetensors");
  fs::create_directories(fs::path(as_dir) / "inside");
  EXPECT_THROW(save_checkpoint(as_dir, a.model, &a.adam, sample_info()), Error);
  // Overwrite the good checkpoint with newer weights: the file changes only as a whole.
  Trained b(3);
  save_checkpoint(ck, b.model, &b.adam, sample_info());
  EXPECT_NE(io::read_file(ck), good);
  Trained c(4);
  load_checkpoint(ck, c.model, &c.adam);
  EXPECT_EQ(c.model.emb.to_vector<float>(), b.model.emb.to_vector<float>());
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

}  // namespace
}  // namespace attend::train
