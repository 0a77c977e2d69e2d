// Checkpoints: ONE safetensors file (attend/io/safetensors.h) with everything needed to use a
// model or to resume training exactly where it stopped.
//
//   tensors   "model.<parameter name>"          the weights (PyTorch state_dict names)
//             "optim.<parameter name>.<slot>"   the optimizer state (optimizer.h)
//   __metadata__ (strings)
//             "format"        "attend-checkpoint/1"
//             "model_config"  the caller's model configuration, opaque (usually JSON)
//             "vocab.<name>"  each vocabulary in data::Vocab's text format
//             "optimizer"     JSON {"kind", "lr"}            (absent when saved without optimizer)
//             "trainer"       JSON of TrainerState (below)
//             "extra.<key>"   free-form strings of the caller
//
// Writing goes through io::write_file_atomic (temporary file, fsync, rename, directory fsync):
// a failed or interrupted save leaves the previous file intact. A model whose weights (or an
// optimizer whose state) hold NaN or Inf is refused with an error naming the parameter.
//
// Loading validates before changing anything: a missing, truncated or corrupt file, a missing
// "format", a parameter of the model absent from the file, an extra "model.*" tensor, a shape
// that differs, unknown optimizer keys or an optimizer of another kind, a model or optimizer
// tensor holding NaN or Inf (save refuses those, so such a file is corrupt or foreign), a
// trainer-state value that is not a non-negative integer below 2^63 where one belongs, or any
// JSON the library cannot represent (1e400) are errors "[load_checkpoint] <file>: ..." that name
// the parameter or key, the expected and the found shapes. Nothing else escapes: the loaders are
// fuzzed (tests/fuzz, docs/robustness.md).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "attend/data/vocab.h"
#include "attend/nn/module.h"
#include "attend/train/optimizer.h"
#include "attend/train/schedule.h"

namespace attend::train {

// Where training stands; what Trainer needs to continue bit for bit.
struct TrainerState {
  int64_t epoch = 0;           // position of the next batch (data::BatchPosition)
  int64_t batch_in_epoch = 0;
  int64_t global_step = 0;     // steps taken (optimizer updates plus skipped non-finite steps)
  int64_t updates = 0;         // optimizer updates
  int64_t skipped_steps = 0;   // steps skipped for a non-finite loss or gradient, in total
  int64_t nonfinite_streak = 0;  // ... in a row, up to now
  double best_metric = std::numeric_limits<double>::quiet_NaN();  // best validation metric so far
  PlateauState plateau;
  EarlyStoppingState early_stopping;
  uint64_t rng_seed = 0;       // the training Rng (dropout): Rng::set_state(seed, offset)
  uint64_t rng_offset = 0;
  // Running sums of the current epoch (the progress line's mean loss and the epoch summary).
  double epoch_loss_sum = 0.0;  // sum over steps of loss * tokens
  int64_t epoch_tokens = 0;
  int64_t epoch_steps = 0;
  bool operator==(const TrainerState& o) const;
};

struct CheckpointInfo {
  std::string model_config;
  std::map<std::string, data::Vocab> vocabs;
  TrainerState trainer;
  std::map<std::string, std::string> extra;
  bool has_optimizer = false;  // filled by reading
  std::string optimizer_kind;  // filled by reading ("" without optimizer)
};

// Writes `path` atomically. `optimizer` may be null (a weights-only file, e.g. the best model).
// Error "[save_checkpoint] <path>: parameter 'p' holds NaN or Inf ..." and nothing is written
// when the weights or the optimizer state are not finite.
void save_checkpoint(const std::string& path, const nn::Module& model, const Optimizer* optimizer,
                     const CheckpointInfo& info);

// Reads the metadata only (config, vocabularies, trainer state), e.g. to build the model before
// loading its weights. The whole file is validated as a safetensors file.
CheckpointInfo read_checkpoint_info(const std::string& path);

// read_checkpoint_info on the bytes of a whole file; `source` names it in errors.
CheckpointInfo decode_checkpoint_info(const std::string& bytes, const std::string& source);

// Loads the weights into `model` and, when `optimizer` is not null, its state (the file must then
// hold one of the same kind). Returns the metadata.
CheckpointInfo load_checkpoint(const std::string& path, nn::Module& model, Optimizer* optimizer = nullptr);

}  // namespace attend::train
