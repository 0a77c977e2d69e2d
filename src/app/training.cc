// The training recipe (training.h): data, vocabularies, config, loss and validation closures.
#include "attend/app/training.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <unistd.h>

#include "attend/autograd/autograd.h"
#include "attend/core/threads.h"
#include "attend/data/tasks.h"
#include "attend/models/registry.h"
#include "attend/train/metrics.h"

namespace attend::app {

namespace {

// Default tokenizers: the sequence tasks are space-separated symbols, the others are strings.
data::TokenizerKind default_tokens(const TrainRecipe& r, bool source) {
  const std::string& given = source ? r.source_tokens : r.target_tokens;
  if (given != "auto") return data::parse_tokenizer_kind(given);
  if (r.task.empty()) return data::TokenizerKind::word;
  const data::Task t = data::parse_task(r.task);
  const bool symbols = t == data::Task::reverse || t == data::Task::copy || t == data::Task::sort;
  if (symbols) return data::TokenizerKind::word;
  if (t == data::Task::number_words) return source ? data::TokenizerKind::character : data::TokenizerKind::word;
  return data::TokenizerKind::character;
}

// The SentencePiece model file of a side ("" when none).
const std::string& spm_file(const TrainRecipe& r, bool source) {
  const std::string& own = source ? r.source_spm : r.target_spm;
  return own.empty() ? r.spm : own;
}

// The sides' tokenizers and SentencePiece models (training.h: spm, source_spm, target_spm).
void set_tokenizers(const TrainRecipe& r, ModelSpec& spec) {
  std::map<std::string, std::shared_ptr<const data::SentencePiece>> loaded;  // one model per file
  for (const bool source : {true, false}) {
    const std::string side = source ? "source" : "target";
    const std::string& given = source ? r.source_tokens : r.target_tokens;
    const std::string& own = source ? r.source_spm : r.target_spm;
    const std::string& file = spm_file(r, source);
    const std::string flag = own.empty() ? "--spm" : "--" + side + "-spm";
    const data::TokenizerKind kind =
        given == "auto" && !file.empty() ? data::TokenizerKind::sentencepiece : default_tokens(r, source);
    (source ? spec.source_tokens : spec.target_tokens) = kind;
    if (kind != data::TokenizerKind::sentencepiece) {
      ATTEND_CHECK(file.empty(), "train", flag, " ", file, " is for spm tokens, but --", side, "-tokens is ", given);
      continue;
    }
    ATTEND_CHECK(!file.empty(), "train", "--", side, "-tokens spm needs a SentencePiece model: --", side,
                 "-spm FILE.model, or --spm FILE.model for both sides (`attend vocab` trains one)");
    auto& sp = loaded[file];
    if (sp == nullptr) sp = std::make_shared<const data::SentencePiece>(data::SentencePiece::load(file));
    (source ? spec.source_spm : spec.target_spm) = sp;
  }
}

struct Encoded {
  std::vector<data::Example> examples;
  int64_t empty = 0, too_long = 0;
};

Encoded encode_pairs(const std::vector<data::Pair>& pairs, const Translator& tr, int64_t max_length) {
  Encoded out;
  for (const auto& p : pairs) {
    data::Example e{tr.encode_source(p.source), tr.encode_target(p.target)};
    if (e.source.empty()) {
      ++out.empty;
      continue;
    }
    if (static_cast<int64_t>(std::max(e.source.size(), e.target.size())) > max_length) {
      ++out.too_long;
      continue;
    }
    out.examples.push_back(std::move(e));
  }
  return out;
}

int64_t target_tokens(const data::Batch& b) {
  int64_t tokens = 0;
  for (int64_t len : b.target_lengths) tokens += len + 1;  // + </s>
  return tokens;
}

// The architecture's config: defaults, the data's vocabulary sizes, the recipe's fields.
std::shared_ptr<const models::ModelConfig> model_config(const TrainRecipe& r, int64_t src_vocab, int64_t tgt_vocab,
                                                        int64_t longest_source) {
  std::unique_ptr<models::ModelConfig> c = models::make_config(r.arch);
  c->src_vocab = src_vocab;
  c->tgt_vocab = tgt_vocab;
  std::map<std::string, std::string> values = r.model;
  const std::vector<models::Field> fields = c->fields();
  const bool has_max_source = std::any_of(fields.begin(), fields.end(),
                                          [](const models::Field& f) { return f.key == "max_source_len"; });
  if (has_max_source && (!values.count("max_source_len") || values["max_source_len"] == "0"))
    values["max_source_len"] = std::to_string(2 * longest_source + 10);
  c->set(values);
  return c;
}

void print_examples(const Translator& tr, const std::vector<data::Pair>& pairs, int64_t n, std::ostream& out) {
  std::vector<std::string> src;
  for (int64_t i = 0; i < std::min<int64_t>(n, static_cast<int64_t>(pairs.size())); ++i)
    src.push_back(pairs[static_cast<size_t>(i)].source);
  const auto t = tr.translate(src, {.beam = 1});
  const data::Tokenizer target_tok = tr.spec().target_tokenizer();
  for (size_t i = 0; i < src.size(); ++i) {
    // Compared as tokens, as exact match is everywhere (lowercasing and punctuation spacing aside).
    const bool ok = t[i].target_tokens[0] == target_tok.tokenize(pairs[i].target);
    out << (ok ? "  ok   " : "  MISS ") << src[i] << "  ->  " << t[i].text[0];
    if (!ok) out << "   (expected " << pairs[i].target << ")";
    out << "\n";
  }
}

// The directory a checkpoint will be written into must exist and be writable: checked before any
// work, not after the first epoch.
void check_output_path(const std::string& path, const char* what) {
  if (path.empty()) return;
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
  std::error_code ec;
  ATTEND_CHECK(fs::is_directory(dir, ec), "train", what, " ", path, ": directory ", dir.string(), " does not exist");
  ATTEND_CHECK(::access(dir.c_str(), W_OK | X_OK) == 0, "train", what, " ", path, ": directory ", dir.string(),
               " is not writable");
  ATTEND_CHECK(!fs::is_directory(path, ec), "train", what, " ", path, " is a directory");
}

}  // namespace

Splits load_splits(const TrainRecipe& r) {
  Splits s;
  if (!r.task.empty()) {
    const auto all = data::generate_task(data::parse_task(r.task),
                                         {.count = r.train_size + r.valid_size,
                                          .min_length = r.task_min_length,
                                          .max_length = r.task_max_length,
                                          .seed = r.seed,
                                          .vocab_size = r.task_vocab});
    s.train.assign(all.begin(), all.begin() + r.train_size);
    s.valid.assign(all.begin() + r.train_size, all.end());
    return s;
  }
  ATTEND_CHECK(!r.train_tsv.empty() || (!r.train_src.empty() && !r.train_tgt.empty()), "train",
               "give --task, or --train-src and --train-tgt, or --train-tsv");
  s.train = r.train_tsv.empty() ? data::read_parallel(r.train_src, r.train_tgt) : data::read_tsv(r.train_tsv);
  if (!r.valid_tsv.empty()) s.valid = data::read_tsv(r.valid_tsv);
  else if (!r.valid_src.empty()) s.valid = data::read_parallel(r.valid_src, r.valid_tgt);
  return s;
}

TrainResult train(const TrainRecipe& r, std::ostream& log, std::ostream& out) {
  check_output_path(r.out, "--out");
  check_output_path(r.best, "--best");
  const Splits data = load_splits(r);
  ATTEND_CHECK(!data.train.empty(), "train", "no training pairs");

  ModelSpec spec;
  set_tokenizers(r, spec);
  spec.lowercase = r.lowercase;
  const data::Tokenizer st = spec.source_tokenizer(), tt = spec.target_tokenizer();
  // A char or word side's vocabulary is counted from the training data; an spm side's is its
  // model's pieces in the model's order (model_spec.h).
  auto side_vocab = [&](const data::Tokenizer& tok, bool source) {
    const auto& sp = source ? spec.source_spm : spec.target_spm;
    if (sp != nullptr) return spm_vocab(*sp, spm_file(r, source));
    std::vector<std::vector<std::string>> sents;
    for (const auto& p : data.train) sents.push_back(tok.tokenize(source ? p.source : p.target));
    return data::Vocab::build(sents, {.min_freq = r.min_freq, .max_size = r.max_vocab});
  };
  const data::Vocab sv = side_vocab(st, true), tv = side_vocab(tt, false);

  // Encoding needs only the tokenizers and vocabularies: a translator without a model yet.
  Translator encoder(nullptr, spec, sv, tv);
  const Encoded train_set = encode_pairs(data.train, encoder, r.max_length);
  ATTEND_CHECK(train_set.empty < static_cast<int64_t>(data.train.size()), "train", "every one of the ",
               data.train.size(), " training pairs has an empty source (no tokens)");
  ATTEND_CHECK(!train_set.examples.empty(), "train", "every training pair with a non-empty source is longer than ",
               "--max-length ", r.max_length);
  const Encoded valid_set = encode_pairs(data.valid, encoder, r.max_length);
  int64_t longest_source = 0;
  for (const Encoded* set : {&train_set, &valid_set})
    for (const auto& e : set->examples) longest_source = std::max<int64_t>(longest_source, std::ssize(e.source));
  spec.model = model_config(r, sv.size(), tv.size(), longest_source);

  Rng init_rng(r.seed);
  std::unique_ptr<models::EncoderDecoder> model = models::make_model(*spec.model, init_rng);
  int64_t n_params = 0;
  for (const auto& [name, p] : model->named_parameters()) n_params += p.numel();
  log << "attend train: " << r.arch << " (" << n_params << " parameters), " << train_set.examples.size()
      << " training pairs (" << train_set.too_long << " longer than " << r.max_length << " and " << train_set.empty
      << " empty dropped), " << valid_set.examples.size() << " validation pairs; vocabularies " << sv.size() << " / "
      << tv.size() << " (" << data::tokenizer_kind_name(spec.source_tokens) << " / "
      << data::tokenizer_kind_name(spec.target_tokens) << "); " << num_threads() << " thread(s)\n";

  data::Batcher batches(train_set.examples,
                        {.max_tokens = r.max_tokens > 0 ? r.max_tokens : r.batch * (r.max_length + 2),
                         .max_sentences = r.batch,
                         .shuffle = true,
                         .seed = r.seed});
  train::Adam adam(model->named_parameters(), {.lr = r.lr, .beta2 = r.beta2});
  Rng dropout_rng(r.seed + 1);
  const models::ModelConfig& config = *spec.model;
  const models::LossOptions loss_opt{.pad_id = config.pad_id, .label_smoothing = r.label_smoothing};

  auto loss_fn = [&](const data::Batch& b) -> train::StepLoss {
    const models::DecoderIO io = models::decoder_io(b.target, b.target_lengths, config);
    return {models::sequence_loss(model->logits(b.source, io.tgt_in), io.tgt_out, loss_opt), target_tokens(b)};
  };

  // Validation: teacher-forced loss over every validation pair, then greedy exact match and BLEU
  // on the first `valid_decode` of them.
  data::Batcher valid_batches(valid_set.examples.empty() ? train_set.examples : valid_set.examples,
                              {.max_tokens = 1 << 20, .max_sentences = 128, .shuffle = false});
  const Translator validator = Translator::borrowed(*model, spec, sv, tv);
  auto validate_fn = [&]() -> train::Metrics {
    NoGrad ng;
    model->eval();
    double nll = 0.0;
    int64_t tokens = 0;
    for (const auto& ids : valid_batches.plan(0)) {
      const data::Batch b = valid_batches.make_batch(ids);
      const models::DecoderIO io = models::decoder_io(b.target, b.target_lengths, config);
      const int64_t t = target_tokens(b);
      nll += models::sequence_loss(model->logits(b.source, io.tgt_in), io.tgt_out, {.pad_id = config.pad_id}).item() *
             static_cast<double>(t);
      tokens += t;
    }
    train::Metrics m{{"loss", nll / static_cast<double>(std::max<int64_t>(tokens, 1))}};
    m["ppl"] = std::exp(m["loss"]);
    const auto& pairs = data.valid.empty() ? data.train : data.valid;
    const size_t n = std::min<size_t>(pairs.size(), static_cast<size_t>(r.valid_decode));
    if (n > 0) {
      std::vector<std::string> src, hyp;
      std::vector<std::vector<std::string>> refs(1);
      for (size_t i = 0; i < n; ++i) src.push_back(pairs[i].source), refs[0].push_back(spec.reference_form(pairs[i].target));
      const auto t = validator.translate(src, {.beam = 1});
      int64_t exact = 0;
      for (size_t i = 0; i < n; ++i) {
        hyp.push_back(t[i].text[0]);
        exact += t[i].target_tokens[0] == tt.tokenize(pairs[i].target);  // as tokens, like attend eval
      }
      m["exact"] = 100.0 * static_cast<double>(exact) / static_cast<double>(n);
      m["bleu"] = train::corpus_bleu(hyp, refs).score;
    }
    model->train();
    char line[160];
    std::snprintf(line, sizeof line, "validation: loss %.4f  ppl %.3f  exact %.2f%%  BLEU %.2f\n", m["loss"], m["ppl"],
                  m.count("exact") ? m["exact"] : 0.0, m.count("bleu") ? m["bleu"] : 0.0);
    log << line << std::flush;
    return m;
  };

  train::TrainerOptions topt{.epochs = r.epochs,
                             .max_steps = r.max_steps,
                             .max_time_s = 60.0 * r.max_time_min,
                             .clip = r.clip,
                             .checkpoint_path = r.out,
                             .checkpoint_every = r.checkpoint_every,
                             .best_path = r.best,
                             .metric = "loss",
                             .metric_mode = train::MetricMode::min,
                             .patience = r.patience,
                             .plateau = train::PlateauOptions{.factor = r.plateau_factor, .patience = r.plateau_patience},
                             .rng = &dropout_rng};
  if (r.schedule != "plateau") {
    ATTEND_CHECK(r.schedule == "constant" || r.schedule == "noam" || r.schedule == "cosine", "train", "--schedule '",
                 r.schedule, "' is not one of plateau, constant, noam, cosine");
    topt.plateau.reset();
    const int64_t per_epoch = batches.batches_in_epoch();
    topt.schedule = train::LrScheduleOptions{
        .kind = train::parse_lr_schedule(r.schedule),
        .warmup = r.warmup,
        .total_steps = r.max_steps > 0 ? r.max_steps : r.epochs * per_epoch};
  }
  topt.info.vocabs = {{"source", sv}, {"target", tv}};
  if (!r.task.empty()) {
    topt.info.extra = {{"task", r.task},
                       {"task_seed", std::to_string(r.seed)},
                       {"task_offset", std::to_string(r.train_size + r.valid_size)},
                       {"task_min_length", std::to_string(r.task_min_length)},
                       {"task_max_length", std::to_string(r.task_max_length)},
                       {"task_vocab", std::to_string(r.task_vocab)}};
  }
  spec.to_checkpoint(topt.info);  // model_config, and the SentencePiece models of spm sides
  model->train();
  train::Trainer trainer(*model, adam, batches, loss_fn, validate_fn, topt);
  if (r.resume) {
    trainer.resume(r.out);
    log << "resumed from " << r.out << " at step " << trainer.state().global_step << "\n";
  }
  TrainResult result{.fit = trainer.fit(), .translator = Translator(nullptr, spec, sv, tv)};
  log << "stopped: " << train::stop_reason_name(result.fit.reason) << " after " << result.fit.state.global_step
      << " steps; checkpoint " << r.out << "\n";
  model->eval();
  result.translator = Translator(std::move(model), spec, sv, tv);
  if (r.show_examples > 0) {
    out << "validation examples (greedy):\n";
    print_examples(result.translator, data.valid.empty() ? data.train : data.valid, r.show_examples, out);
  }
  return result;
}

}  // namespace attend::app
