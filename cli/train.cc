// `attend train`: trains an encoder-decoder (rnnsearch, luong, seq2seq) on an embedded task or a
// parallel corpus, with validation each epoch, checkpoints (atomic, resumable) and a progress line.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "attend/core/threads.h"
#include "attend/data/tasks.h"
#include "attend/ops/ops.h"
#include "attend/train/metrics.h"
#include "attend/train/trainer.h"
#include "commands.h"
#include "translator.h"

namespace attend::cli {
namespace {

struct TrainOptions {
  // data
  std::string task;  // an embedded task, or files below
  int64_t train_size = 20000, valid_size = 500;
  int64_t task_min_length = 1, task_max_length = 10, task_vocab = 10;
  std::string train_src, train_tgt, train_tsv, valid_src, valid_tgt, valid_tsv;
  std::string source_tokens = "auto", target_tokens = "auto";  // char | word | auto
  int64_t max_length = 100;                                    // tokens; longer pairs are dropped
  int64_t min_freq = 1, max_vocab = 0;
  bool lowercase = false;
  // model
  std::string arch = "rnnsearch", score = "general", align = "global";
  int64_t embed = 64, hidden = 128, attention = 128, readout = 128, layers = 1, window = 5, max_source_len = 0;
  double dropout = 0.0;
  // optimization
  int64_t batch = 64, max_tokens = 0, epochs = 10, max_steps = 0, patience = 0;
  double max_time_min = 0.0;
  double lr = 1e-3, clip = 5.0, label_smoothing = 0.0, plateau_factor = 0.5;
  int64_t plateau_patience = 1;
  // run
  std::string out = "model.ckpt", best;
  bool resume = false;
  int64_t checkpoint_every = 0, valid_decode = 500, show_examples = 5;
  uint64_t seed = 1;
  int threads = 0;
};

// Default tokenizers: the sequence tasks are space-separated symbols, the others are strings.
data::TokenizerKind default_tokens(const TrainOptions& o, bool source) {
  const std::string& given = source ? o.source_tokens : o.target_tokens;
  if (given != "auto") return parse_tokenizer_kind(given);
  if (o.task.empty()) return data::TokenizerKind::word;
  const data::Task t = data::parse_task(o.task);
  const bool symbols = t == data::Task::reverse || t == data::Task::copy || t == data::Task::sort;
  if (symbols) return data::TokenizerKind::word;
  if (t == data::Task::number_words) return source ? data::TokenizerKind::character : data::TokenizerKind::word;
  return data::TokenizerKind::character;
}

struct Splits {
  std::vector<data::Pair> train, valid;
};

Splits load_data(const TrainOptions& o) {
  Splits s;
  if (!o.task.empty()) {
    // One seeded stream: train is pairs [0, train_size), valid the next valid_size; `attend eval
    // --task` reads the pairs after those, so held-out data never overlaps training data.
    const auto all = data::generate_task(data::parse_task(o.task),
                                         {.count = o.train_size + o.valid_size,
                                          .min_length = o.task_min_length,
                                          .max_length = o.task_max_length,
                                          .seed = o.seed,
                                          .vocab_size = o.task_vocab});
    s.train.assign(all.begin(), all.begin() + o.train_size);
    s.valid.assign(all.begin() + o.train_size, all.end());
    return s;
  }
  ATTEND_CHECK(!o.train_tsv.empty() || (!o.train_src.empty() && !o.train_tgt.empty()), "train",
               "give --task, or --train-src and --train-tgt, or --train-tsv");
  s.train = o.train_tsv.empty() ? data::read_parallel(o.train_src, o.train_tgt) : data::read_tsv(o.train_tsv);
  if (!o.valid_tsv.empty()) s.valid = data::read_tsv(o.valid_tsv);
  else if (!o.valid_src.empty()) s.valid = data::read_parallel(o.valid_src, o.valid_tgt);
  return s;
}

std::vector<data::Example> encode_pairs(const std::vector<data::Pair>& pairs, const data::Tokenizer& st,
                                        const data::Tokenizer& tt, const data::Vocab& sv, const data::Vocab& tv,
                                        int64_t max_length, int64_t* dropped) {
  std::vector<data::Example> out;
  for (const auto& p : pairs) {
    data::Example e{sv.encode(st.tokenize(p.source)), tv.encode(tt.tokenize(p.target))};
    const auto longest = static_cast<int64_t>(std::max(e.source.size(), e.target.size()));
    if (e.source.empty() || longest > max_length) {
      if (dropped) ++*dropped;
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

void print_examples(const Translator& tr, const std::vector<data::Pair>& pairs, int64_t n) {
  std::vector<std::string> src;
  for (int64_t i = 0; i < std::min<int64_t>(n, static_cast<int64_t>(pairs.size())); ++i)
    src.push_back(pairs[static_cast<size_t>(i)].source);
  const auto t = tr.translate(src, {.beam = 1});
  const data::Tokenizer target_tok = tr.spec().target_tokenizer();
  for (size_t i = 0; i < src.size(); ++i) {
    // Compared as tokens, as exact match is everywhere (lowercasing and punctuation spacing aside).
    const bool ok = t[i].target_tokens[0] == target_tok.tokenize(pairs[i].target);
    std::cout << (ok ? "  ok   " : "  MISS ") << src[i] << "  ->  " << t[i].text[0];
    if (!ok) std::cout << "   (expected " << pairs[i].target << ")";
    std::cout << "\n";
  }
}

void run_train(const TrainOptions& o) {
  // Recurrent models at these sizes run many small GEMMs: a second OpenMP thread gained nothing
  // here (dates, rnnsearch: 10.2k tok/s on 1 thread, 9.7k on 2) and loses up to 30x when another
  // process competes for the cores (spin-waiting). So train uses one thread unless told otherwise.
  if (o.threads > 0)
    set_num_threads(o.threads);
  else if (!std::getenv("ATTEND_NUM_THREADS"))
    set_num_threads(1);
  const Splits data = load_data(o);
  ATTEND_CHECK(!data.train.empty(), "train", "no training pairs");

  ModelSpec spec;
  spec.source_tokens = default_tokens(o, true);
  spec.target_tokens = default_tokens(o, false);
  spec.lowercase = o.lowercase;
  const data::Tokenizer st = spec.source_tokenizer(), tt = spec.target_tokenizer();
  std::vector<std::vector<std::string>> src_sents, tgt_sents;
  for (const auto& p : data.train) {
    src_sents.push_back(st.tokenize(p.source));
    tgt_sents.push_back(tt.tokenize(p.target));
  }
  const data::VocabOptions vo{.min_freq = o.min_freq, .max_size = o.max_vocab};
  data::Vocab sv = data::Vocab::build(src_sents, vo), tv = data::Vocab::build(tgt_sents, vo);

  int64_t dropped = 0;
  auto train_examples = encode_pairs(data.train, st, tt, sv, tv, o.max_length, &dropped);
  ATTEND_CHECK(!train_examples.empty(), "train", "every training pair is longer than --max-length ", o.max_length);
  auto valid_examples = encode_pairs(data.valid, st, tt, sv, tv, o.max_length, nullptr);
  int64_t longest_source = 0;
  for (const auto& e : train_examples) longest_source = std::max<int64_t>(longest_source, static_cast<int64_t>(e.source.size()));
  for (const auto& e : valid_examples) longest_source = std::max<int64_t>(longest_source, static_cast<int64_t>(e.source.size()));

  std::map<std::string, std::string> cfg_map;
  cfg_map["architecture"] = o.arch;
  cfg_map["src_vocab"] = std::to_string(sv.size());
  cfg_map["tgt_vocab"] = std::to_string(tv.size());
  cfg_map["embed_dim"] = std::to_string(o.embed);
  cfg_map["hidden_dim"] = std::to_string(o.hidden);
  cfg_map["attention_dim"] = std::to_string(o.attention);
  cfg_map["readout_dim"] = std::to_string(o.readout);
  cfg_map["num_layers"] = std::to_string(o.layers);
  cfg_map["score"] = o.score;
  cfg_map["alignment"] = o.align;
  cfg_map["window"] = std::to_string(o.window);
  cfg_map["max_source_len"] = std::to_string(o.max_source_len > 0 ? o.max_source_len : 2 * longest_source + 10);
  cfg_map["dropout"] = std::to_string(o.dropout);
  spec.model = models::Seq2SeqConfig::from_map(cfg_map);

  Rng init_rng(o.seed);
  auto model = models::make_model(spec.model, init_rng);
  int64_t n_params = 0;
  for (const auto& [name, p] : model->named_parameters()) n_params += p.numel();
  std::cerr << "attend train: " << o.arch << " (" << n_params << " parameters), " << train_examples.size()
            << " training pairs (" << dropped << " longer than " << o.max_length << " dropped), "
            << valid_examples.size() << " validation pairs; vocabularies " << sv.size() << " / " << tv.size()
            << " (" << tokenizer_kind_name(spec.source_tokens) << " / " << tokenizer_kind_name(spec.target_tokens)
            << "); " << num_threads() << " thread(s)\n";

  data::Batcher batches(train_examples, {.max_tokens = o.max_tokens > 0 ? o.max_tokens : o.batch * (o.max_length + 2),
                                         .max_sentences = o.batch,
                                         .shuffle = true,
                                         .seed = o.seed});
  train::Adam adam(model->named_parameters(), {.lr = o.lr});
  Rng dropout_rng(o.seed + 1);
  const models::LossOptions loss_opt{.pad_id = spec.model.pad_id, .label_smoothing = o.label_smoothing};

  auto loss_fn = [&](const data::Batch& b) -> train::StepLoss {
    const models::DecoderIO io = models::decoder_io(b.target, b.target_lengths, spec.model);
    const Tensor logits = model->logits(b.source, b.source_lengths, io.tgt_in);
    int64_t tokens = 0;
    for (int64_t len : b.target_lengths) tokens += len + 1;  // + </s>
    return {models::sequence_loss(logits, io.tgt_out, loss_opt), tokens};
  };

  // Validation: teacher-forced loss over every validation pair, then greedy exact match and BLEU
  // on the first `valid_decode` of them.
  data::Batcher valid_batches(valid_examples.empty() ? train_examples : valid_examples,
                              {.max_tokens = 1 << 20, .max_sentences = 128, .shuffle = false});
  auto validate_fn = [&]() -> train::Metrics {
    NoGrad ng;
    model->eval();
    double nll = 0.0;
    int64_t tokens = 0;
    for (const auto& ids : valid_batches.plan(0)) {
      const data::Batch b = valid_batches.make_batch(ids);
      const models::DecoderIO io = models::decoder_io(b.target, b.target_lengths, spec.model);
      int64_t t = 0;
      for (int64_t len : b.target_lengths) t += len + 1;
      nll += models::sequence_loss(model->logits(b.source, b.source_lengths, io.tgt_in), io.tgt_out, {.pad_id = spec.model.pad_id}).item() * static_cast<double>(t);
      tokens += t;
    }
    train::Metrics m{{"loss", nll / static_cast<double>(std::max<int64_t>(tokens, 1))}};
    m["ppl"] = std::exp(m["loss"]);
    const auto& pairs = data.valid.empty() ? data.train : data.valid;
    const size_t n = std::min<size_t>(pairs.size(), static_cast<size_t>(o.valid_decode));
    if (n > 0) {
      std::vector<std::string> src, hyp;
      std::vector<std::vector<std::string>> refs(1);
      for (size_t i = 0; i < n; ++i) src.push_back(pairs[i].source), refs[0].push_back(spec.reference_form(pairs[i].target));
      const auto t = Translator::borrowed(*model, spec, sv, tv).translate(src, {.beam = 1});
      int64_t exact = 0;
      for (size_t i = 0; i < n; ++i) {
        hyp.push_back(t[i].text[0]);
        exact += t[i].target_tokens[0] == tt.tokenize(pairs[i].target);  // as tokens, like attend eval
      }
      m["exact"] = 100.0 * static_cast<double>(exact) / static_cast<double>(n);
      m["bleu"] = train::corpus_bleu(hyp, refs).score;
    }
    model->train();
    std::fprintf(stderr, "validation: loss %.4f  ppl %.3f  exact %.2f%%  BLEU %.2f\n", m["loss"], m["ppl"],
                 m.count("exact") ? m["exact"] : 0.0, m.count("bleu") ? m["bleu"] : 0.0);
    return m;
  };

  train::TrainerOptions topt{.epochs = o.epochs,
                             .max_steps = o.max_steps,
                             .max_time_s = 60.0 * o.max_time_min,
                             .clip = o.clip,
                             .checkpoint_path = o.out,
                             .checkpoint_every = o.checkpoint_every,
                             .best_path = o.best,
                             .metric = "loss",
                             .metric_mode = train::MetricMode::min,
                             .patience = o.patience,
                             .plateau = train::PlateauOptions{.factor = o.plateau_factor, .patience = o.plateau_patience},
                             .rng = &dropout_rng};
  topt.info.model_config = spec.to_json();
  topt.info.vocabs = {{"source", sv}, {"target", tv}};
  if (!o.task.empty()) {
    topt.info.extra = {{"task", o.task},
                       {"task_seed", std::to_string(o.seed)},
                       {"task_offset", std::to_string(o.train_size + o.valid_size)},
                       {"task_min_length", std::to_string(o.task_min_length)},
                       {"task_max_length", std::to_string(o.task_max_length)},
                       {"task_vocab", std::to_string(o.task_vocab)}};
  }
  model->train();
  train::Trainer trainer(*model, adam, batches, loss_fn, validate_fn, topt);
  if (o.resume) {
    trainer.resume(o.out);
    std::cerr << "resumed from " << o.out << " at step " << trainer.state().global_step << "\n";
  }
  const train::FitResult r = trainer.fit();
  std::cerr << "stopped: " << train::stop_reason_name(r.reason) << " after " << r.state.global_step
            << " steps; checkpoint " << o.out << "\n";
  model->eval();
  if (o.show_examples > 0) {
    std::cout << "validation examples (greedy):\n";
    print_examples(Translator::borrowed(*model, spec, sv, tv), data.valid.empty() ? data.train : data.valid,
                   o.show_examples);
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* c = app.add_subcommand("train", "Train an encoder-decoder with attention");
  c->add_option("--task", o->task, "embedded task (dates, reverse, copy, sort, addition, number-words)");
  c->add_option("--train-size", o->train_size, "task: training pairs")->capture_default_str();
  c->add_option("--valid-size", o->valid_size, "task: validation pairs")->capture_default_str();
  c->add_option("--task-min-length", o->task_min_length, "task: shortest sequence")->capture_default_str();
  c->add_option("--task-max-length", o->task_max_length, "task: longest sequence")->capture_default_str();
  c->add_option("--task-vocab", o->task_vocab, "task: symbols of reverse/copy/sort")->capture_default_str();
  c->add_option("--train-src", o->train_src, "training source file (one sentence per line)");
  c->add_option("--train-tgt", o->train_tgt, "training target file, aligned with --train-src");
  c->add_option("--train-tsv", o->train_tsv, "training pairs as source<TAB>target");
  c->add_option("--valid-src", o->valid_src, "validation source file");
  c->add_option("--valid-tgt", o->valid_tgt, "validation target file");
  c->add_option("--valid-tsv", o->valid_tsv, "validation pairs as TSV");
  c->add_option("--source-tokens", o->source_tokens, "char | word | auto")->capture_default_str();
  c->add_option("--target-tokens", o->target_tokens, "char | word | auto")->capture_default_str();
  c->add_option("--max-length", o->max_length, "drop pairs with more tokens on either side")->capture_default_str();
  c->add_option("--min-freq", o->min_freq, "vocabulary: minimum count")->capture_default_str();
  c->add_flag("--lowercase", o->lowercase, "lowercase both sides before tokenizing (BLEU then compares lowercased)");
  c->add_option("--max-vocab", o->max_vocab, "vocabulary: maximum size (0 = no limit)")->capture_default_str();
  c->add_option("--arch", o->arch, "rnnsearch | luong | seq2seq")->capture_default_str();
  c->add_option("--score", o->score, "luong: dot | general | concat | location")->capture_default_str();
  c->add_option("--align", o->align, "luong: global | local-m | local-p")->capture_default_str();
  c->add_option("--window", o->window, "luong local: half window D")->capture_default_str();
  c->add_option("--embed", o->embed, "embedding width")->capture_default_str();
  c->add_option("--hidden", o->hidden, "recurrent state width")->capture_default_str();
  c->add_option("--attention-dim", o->attention, "additive/concat attention width")->capture_default_str();
  c->add_option("--readout", o->readout, "rnnsearch readout width")->capture_default_str();
  c->add_option("--layers", o->layers, "luong/seq2seq: stacked layers")->capture_default_str();
  c->add_option("--max-source-len", o->max_source_len, "location score: longest source (0 = from data)");
  c->add_option("--dropout", o->dropout, "dropout")->capture_default_str();
  c->add_option("--batch", o->batch, "sentences per batch")->capture_default_str();
  c->add_option("--max-tokens", o->max_tokens, "padded tokens per batch (0 = batch * (max-length + 2))");
  c->add_option("--epochs", o->epochs, "epochs")->capture_default_str();
  c->add_option("--max-steps", o->max_steps, "stop after this many steps (0 = no limit)")->capture_default_str();
  c->add_option("--max-time", o->max_time_min, "stop after this many minutes of this run, validation included (0 = no limit)")->capture_default_str();
  c->add_option("--lr", o->lr, "Adam learning rate")->capture_default_str();
  c->add_option("--clip", o->clip, "gradient-norm clipping (0 = off)")->capture_default_str();
  c->add_option("--label-smoothing", o->label_smoothing, "label smoothing")->capture_default_str();
  c->add_option("--patience", o->patience, "early stopping: epochs without improvement (0 = off)")->capture_default_str();
  c->add_option("--plateau-factor", o->plateau_factor, "lr decay factor on a validation plateau")->capture_default_str();
  c->add_option("--plateau-patience", o->plateau_patience, "epochs without improvement before decaying")->capture_default_str();
  c->add_option("-o,--out", o->out, "checkpoint file")->capture_default_str();
  c->add_option("--best", o->best, "also keep the weights of the best validation loss here (a checkpoint translate/eval accept)");
  c->add_flag("--resume", o->resume, "continue from --out exactly where it stopped");
  c->add_option("--checkpoint-every", o->checkpoint_every, "steps between checkpoints (0 = each epoch)");
  c->add_option("--valid-decode", o->valid_decode, "validation pairs decoded for exact match/BLEU")->capture_default_str();
  c->add_option("--show", o->show_examples, "validation translations printed at the end")->capture_default_str();
  c->add_option("--seed", o->seed, "seed (data, initialization, batching, dropout)")->capture_default_str();
  c->add_option("--threads", o->threads, "threads (default: ATTEND_NUM_THREADS, else 1: see docs/performance.md)");
  c->callback([o] { run_train(*o); });
}

}  // namespace attend::cli
