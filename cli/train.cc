// `attend train`: option parsing for app::train (attend/app/training.h). The model's options come
// from the registered architectures' field tables, so a new architecture's fields appear here
// without touching this file.
#include <iostream>
#include <map>
#include <sstream>
#include <memory>
#include <string>

#include "attend/app/training.h"
#include "attend/models/registry.h"
#include "commands.h"

namespace attend::cli {
namespace {

struct ModelFlag {
  std::string key;    // the config key it sets ("hidden_dim")
  std::string value;  // as given
  CLI::Option* option = nullptr;
};

// One option per distinct flag of every architecture's fields; its help is the first
// architecture's, with every architecture's default: "(defaults: luong 1, seq2seq 1, gpt 4)".
std::map<std::string, ModelFlag>& add_model_flags(CLI::App* c, std::map<std::string, ModelFlag>& flags) {
  std::map<std::string, std::string> help, defaults;
  std::vector<std::string> order;
  for (const std::string& name : models::architecture_names()) {
    std::unique_ptr<models::ModelConfig> config = models::make_config(name);
    for (const models::Field& f : config->arch_fields()) {
      if (f.flag.empty()) continue;
      if (!help.count(f.flag)) {
        order.push_back(f.flag);
        help[f.flag] = f.help;
        flags[f.flag].key = f.key;
        if (!f.choices.empty()) {
          help[f.flag] += "; one of";
          for (const auto& choice : f.choices) help[f.flag] += " " + choice;
        }
      }
      std::string value = f.get();
      if (f.kind == models::Field::Kind::real) {  // 0.1, not the checkpoint's 0.10000000000000001
        std::ostringstream os;
        os << std::stod(value);
        value = os.str();
      }
      defaults[f.flag] += (defaults[f.flag].empty() ? "" : ", ") + name + " " + value;
    }
  }
  for (const std::string& flag : order)
    flags[flag].option = c->add_option(flag, flags[flag].value, help[flag] + " (defaults: " + defaults[flag] + ")");
  return flags;
}

// The given model flags as config values, each under the chosen architecture's key for it; a
// flag the chosen architecture lacks is an error.
std::map<std::string, std::string> model_values(const std::string& arch, const std::map<std::string, ModelFlag>& flags) {
  std::unique_ptr<models::ModelConfig> config = models::make_config(arch);
  std::map<std::string, std::string> values;
  for (const auto& [flag, f] : flags) {
    if (f.option->count() == 0) continue;
    std::string key, own;
    for (const models::Field& field : config->arch_fields()) {
      if (field.flag == flag) key = field.key;
      if (!field.flag.empty()) own += " " + field.flag;
    }
    ATTEND_CHECK(!key.empty(), "train", flag, " does not apply to --arch ", arch, " (its options:", own, ")");
    values[key] = f.value;
  }
  return values;
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto r = std::make_shared<app::TrainRecipe>();
  auto flags = std::make_shared<std::map<std::string, ModelFlag>>();
  auto threads = std::make_shared<int>(0);
  std::string archs;
  for (const auto& name : models::architecture_names())
    archs += (archs.empty() ? "" : " | ") + name + " (" + models::task_name(models::architecture(name).task) + ")";
  CLI::App* c = app.add_subcommand("train", "Train a model: an encoder-decoder with attention, a language model, a classifier");
  c->footer(
      "The architecture's task decides the data: a sequence-to-sequence model trains on --task or\n"
      "--train-src/--train-tgt or --train-tsv (source<TAB>target); a language model on --train-text\n"
      "(one document per line) cut into windows of --context tokens; a classifier on --train-tsv\n"
      "(text<TAB>label).");
  c->add_option("--task", r->task, "embedded task (dates, reverse, copy, sort, addition, number-words)");
  c->add_option("--train-size", r->train_size, "task: training pairs")->capture_default_str();
  c->add_option("--valid-size", r->valid_size, "task: validation pairs")->capture_default_str();
  c->add_option("--task-min-length", r->task_min_length, "task: shortest sequence")->capture_default_str();
  c->add_option("--task-max-length", r->task_max_length, "task: longest sequence")->capture_default_str();
  c->add_option("--task-vocab", r->task_vocab, "task: symbols of reverse/copy/sort")->capture_default_str();
  c->add_option("--train-src", r->train_src, "training source file (one sentence per line)");
  c->add_option("--train-tgt", r->train_tgt, "training target file, aligned with --train-src");
  c->add_option("--train-tsv", r->train_tsv, "training pairs as source<TAB>target");
  c->add_option("--valid-src", r->valid_src, "validation source file");
  c->add_option("--valid-tgt", r->valid_tgt, "validation target file");
  c->add_option("--valid-tsv", r->valid_tsv, "validation pairs as TSV");
  c->add_option("--train-text", r->train_text, "language models: training text, one document per line");
  c->add_option("--valid-text", r->valid_text, "language models: validation text, one document per line");
  c->add_option("--context", r->context, "language models: tokens per training window")->capture_default_str();
  c->add_option("--images", r->images, "image classifiers (vit): directory of IDX files (train-images-idx3-ubyte.gz, ...)");
  c->add_option("--scenes", r->scenes, "image captioners (sat): directory of `attend gen scenes`");
  c->add_option("--valid-images", r->valid_images, "--images: the last N training images validate")->capture_default_str();
  c->add_option("--shift", r->augment_shift, "pictures: random shifts of up to N pixels (augmentation)")->capture_default_str();
  c->add_flag("--flip", r->augment_flip, "pictures: random left-right mirrors (augmentation)");
  c->add_option("--class-names", r->class_names, "pictures: fashion-mnist | digits | comma-separated names")
      ->capture_default_str();
  c->add_option("--text-tokens", r->text_tokens, "language models: char | word | spm | auto (spm with --spm)")
      ->capture_default_str();
  c->add_option("--source-tokens", r->source_tokens, "char | word | spm | auto")->capture_default_str();
  c->add_option("--target-tokens", r->target_tokens, "char | word | spm | auto")->capture_default_str();
  c->add_option("--spm", r->spm, "SentencePiece model (attend vocab) of both sides; embedded in the checkpoint");
  c->add_option("--source-spm", r->source_spm, "SentencePiece model of the source side");
  c->add_option("--target-spm", r->target_spm, "SentencePiece model of the target side");
  c->add_option("--max-length", r->max_length, "drop pairs with more tokens on either side")->capture_default_str();
  c->add_option("--min-freq", r->min_freq, "vocabulary: minimum count (char/word sides)")->capture_default_str();
  c->add_flag("--lowercase", r->lowercase, "lowercase both sides before tokenizing (BLEU then compares lowercased)");
  c->add_option("--max-vocab", r->max_vocab, "vocabulary: maximum size (0 = no limit; char/word sides)")->capture_default_str();
  c->add_option("--arch", r->arch, archs)->capture_default_str();
  add_model_flags(c, *flags);
  c->add_option("--batch", r->batch, "sentences (language models: windows) per batch")->capture_default_str();
  c->add_option("--max-tokens", r->max_tokens, "padded tokens per batch (0 = batch * (max-length + 2))");
  c->add_option("--epochs", r->epochs, "epochs")->capture_default_str();
  c->add_option("--max-steps", r->max_steps, "stop after this many steps (0 = no limit)")->capture_default_str();
  c->add_option("--max-time", r->max_time_min, "stop after this many minutes of this run, validation included (0 = no limit)")->capture_default_str();
  c->add_option("--lr", r->lr, "Adam learning rate")->capture_default_str();
  c->add_option("--clip", r->clip, "gradient-norm clipping (0 = off)")->capture_default_str();
  c->add_option("--label-smoothing", r->label_smoothing, "label smoothing")->capture_default_str();
  c->add_option("--patience", r->patience, "early stopping: epochs without improvement (0 = off)")->capture_default_str();
  c->add_option("--plateau-factor", r->plateau_factor, "lr decay factor on a validation plateau")->capture_default_str();
  c->add_option("--plateau-patience", r->plateau_patience, "epochs without improvement before decaying")->capture_default_str();
  c->add_option("--schedule", r->schedule, "learning rate: plateau | constant | noam | cosine (--lr is the peak)")
      ->capture_default_str();
  c->add_option("--warmup", r->warmup, "schedule: steps of linear warm-up")->capture_default_str();
  c->add_option("--beta2", r->beta2, "Adam beta2 (0.98 in the Transformer paper)")->capture_default_str();
  c->add_option("-o,--out", r->out, "checkpoint file")->capture_default_str();
  c->add_option("--best", r->best, "also keep the weights of the best validation loss here (a checkpoint translate/eval accept)");
  c->add_flag("--resume", r->resume, "continue from --out exactly where it stopped");
  c->add_option("--checkpoint-every", r->checkpoint_every, "steps between checkpoints (0 = each epoch)");
  c->add_option("--valid-decode", r->valid_decode, "validation pairs decoded for exact match/BLEU")->capture_default_str();
  c->add_option("--show", r->show_examples, "validation translations (or samples) printed at the end")
      ->capture_default_str();
  c->add_option("--seed", r->seed, "seed (data, initialization, batching, dropout)")->capture_default_str();
  c->add_option("--threads", *threads, "threads (default: ATTEND_NUM_THREADS, else 1: see docs/performance.md)");
  c->callback([r, flags, threads] {
    set_command_threads(*threads);
    r->model = model_values(r->arch, *flags);
    app::train(*r);
  });
}

}  // namespace attend::cli
