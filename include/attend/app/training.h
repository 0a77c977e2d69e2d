// The training recipe of `attend train` as a library call, for a model of any task: the
// architecture's task (models/registry.h) decides the data, the batch stream and the objective
//   sequence-to-sequence  an embedded task or a parallel corpus; pairs in length buckets;
//                         train::SequenceObjective, validated by loss, perplexity and greedy exact
//                         match and BLEU
//   classification        text<TAB>label files; sources in length buckets;
//                         train::ClassificationObjective (loss, accuracy, macro-F1)
//   image classification  IDX image files (vit): ImageBatches, ClassificationObjective
//   image captioning      a scene directory (sat): ImageBatches of (scene, caption); validated by
//                         greedy exact match, BLEU-4 and attention on target (captioning.h)
//   language model        text files, one document per line, joined by the end-of-text token and
//                         cut into windows of `context` tokens; train::LanguageModelObjective
//                         (loss, perplexity per token and per word)
// then the same for all: tokenizers and vocabularies, the typed config, Adam, the trainer with its
// schedules, atomic checkpoints that resume exactly, and examples printed at the end.
//
//   app::TrainRecipe r{.task = "dates", .arch = "luong", .model = {{"hidden_dim", "64"}}, .epochs = 3};
//   app::TrainResult res = app::train(r);        // writes r.out; app::Translator(std::move(res.model))
#pragma once

#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "attend/app/model_bundle.h"
#include "attend/data/corpus.h"
#include "attend/train/trainer.h"

namespace attend::app {

struct TrainRecipe {
  // data: an embedded task (data/tasks.h) ...
  std::string task;
  int64_t train_size = 20000, valid_size = 500;
  int64_t task_min_length = 1, task_max_length = 10, task_vocab = 10;
  // ... or files: two line-aligned files or one TSV each (a classifier's TSV: text<TAB>label) ...
  std::string train_src, train_tgt, train_tsv, valid_src, valid_tgt, valid_tsv;
  // ... or, for a language model, text files of one document per line, cut into windows of
  // `context` tokens; `batch` is then windows per batch
  std::string train_text, valid_text;
  int64_t context = 256;
  // ... or pictures (data/images.h): an image classifier (vit) reads a directory of MNIST-style
  // IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz; the last valid_images of
  // them validate, the t10k files are the test set of `attend eval`), a captioner (sat) a scene
  // directory of `attend gen scenes` (its train and valid splits, every phrasing of a scene one
  // example). augment_shift and augment_flip vary the training pictures. class_names:
  // "fashion-mnist", "digits", or a comma-separated list in label order.
  std::string images, scenes;
  int64_t valid_images = 5000, augment_shift = 0;
  bool augment_flip = false;
  std::string class_names = "fashion-mnist";
  std::string text_tokens = "auto";  // char | word | spm | auto (spm with --spm, else word)
  std::string source_tokens = "auto", target_tokens = "auto";  // char | word | spm | auto (by task)
  // SentencePiece models (.model files of `attend vocab`) of the spm sides: one per side, or `spm`
  // for both (a joint model). A side with a model and tokens "auto" is spm. An spm side's
  // vocabulary is the model's pieces (min_freq and max_vocab apply to char and word sides only), and
  // the checkpoint embeds the model, so translating needs no .model file.
  std::string spm, source_spm, target_spm;
  int64_t max_length = 100;                                    // tokens; longer pairs are dropped
  int64_t min_freq = 1, max_vocab = 0;
  bool lowercase = false;
  // model: a registered architecture and field values (key -> text, models/config.h) over its
  // defaults; the vocabulary sizes come from the data, a "max_source_len" field left out (or
  // "0") becomes 2 * the longest source + 10, and a language model's "max_positions" left out
  // becomes `context`.
  std::string arch = "rnnsearch";
  std::map<std::string, std::string> model;
  // optimization
  int64_t batch = 64, max_tokens = 0, epochs = 10, max_steps = 0, patience = 0;
  double max_time_min = 0.0;
  double lr = 1e-3, clip = 5.0, label_smoothing = 0.0, plateau_factor = 0.5;
  int64_t plateau_patience = 1;
  // The learning rate: "plateau" (lr, lowered on a validation plateau) or a per-step schedule with
  // lr as its peak (train/schedule.h): "constant", "noam" (inverse square root after `warmup`
  // steps, Vaswani et al. 2017), "cosine" (to 0 at the last step of `epochs` or max_steps).
  std::string schedule = "plateau";
  int64_t warmup = 0;
  double beta2 = 0.999;  // Adam's; the Transformer paper uses 0.98
  // run
  std::string out = "model.ckpt", best;
  bool resume = false;
  int64_t checkpoint_every = 0, valid_decode = 500, show_examples = 5;
  uint64_t seed = 1;
  // Called with the numbers of every progress line (train::TrainerOptions::on_progress).
  std::function<void(const train::ProgressSnapshot&)> on_progress;
};

struct TrainResult {
  train::FitResult fit;
  ModelBundle model;  // the trained model (last weights), its spec and vocabularies
};

// Trains as the recipe says; progress and summaries go to `log`, the examples to `out`.
// Errors (bad data, an unknown architecture or field, an unwritable --out) are attend::Error.
TrainResult train(const TrainRecipe& recipe, std::ostream& log = std::cerr, std::ostream& out = std::cout);

// The training and validation pairs of a recipe: a task's seeded stream (train = pairs
// [0, train_size), valid = the next valid_size; `attend eval --task-test` reads the pairs after
// those, so held-out data never overlaps training data), or the files.
struct Splits {
  std::vector<data::Pair> train, valid;
};
Splits load_splits(const TrainRecipe& recipe);

}  // namespace attend::app
