// `attend eval`: scores a checkpoint on a test set. A sequence-to-sequence model translates it:
// exact match, token accuracy, corpus BLEU and chrF (sacreBLEU's) and exact match by source
// length. A language model reads a text (--text): perplexity per token and per word.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "attend/app/captioning.h"
#include "attend/app/evaluation.h"
#include "attend/app/model_bundle.h"
#include "attend/autograd/autograd.h"
#include "attend/data/idx.h"
#include "attend/data/images.h"
#include "attend/ops/ops.h"
#include <nlohmann/json.hpp>
#include <cmath>
#include "attend/app/generator.h"
#include "attend/io/atomic_file.h"
#include "commands.h"

namespace attend::cli {
namespace {

struct EvalOptions {
  std::string model;
  int64_t task_test = 0;  // held-out pairs of the checkpoint's task
  std::string src, ref, tsv, text;
  std::string images, scenes, split = "test";
  int64_t context = 0;
  int64_t beam = 5, batch = 64, bucket_width = 5, max = 0, max_input_length = 1024;
  bool lowercase = false, early_stop = false;
  bool truncate = false;
  double alpha = 0.6;
  std::string json;
  int threads = 0;
};

// A language model's perplexity on --text (one document per line).
void eval_text(const EvalOptions& o) {
  ATTEND_CHECK(o.task_test == 0 && o.src.empty() && o.ref.empty() && o.tsv.empty(), "eval",
               "--text scores a language model; it does not go with --task-test, --src/--ref or --tsv");
  const app::Generator g = app::Generator::load(o.model, "eval --text");
  const int64_t context = o.context > 0 ? o.context : g.model().max_positions();
  std::vector<std::string> docs = data::read_lines(o.text, "eval");
  if (o.max > 0 && static_cast<int64_t>(docs.size()) > o.max) docs.resize(static_cast<size_t>(o.max));
  const app::PerplexityReport r = g.perplexity(docs, context, o.batch);
  std::printf("documents       %lld\ntokens          %lld (%s, end-of-text included)\nwords           %lld\n"
              "context         %lld tokens, windows without overlap\nloss            %.4f nats per token\n"
              "ppl per token   %.3f\nppl per word    %.3f\n",
              static_cast<long long>(r.documents), static_cast<long long>(r.tokens),
              data::tokenizer_kind_name(g.spec().target_tokens), static_cast<long long>(r.words),
              static_cast<long long>(context), r.nll / static_cast<double>(r.tokens), r.per_token(), r.per_word());
  std::fflush(stdout);
  if (!o.json.empty()) io::write_file_atomic(o.json, r.json(o.model));
}

// An image classifier's accuracy on the test files of --images (t10k-images-idx3-ubyte.gz, ...).
void eval_images(const EvalOptions& o) {
  const app::ModelBundle b = app::ModelBundle::load(o.model);
  auto& model = b.as<models::Classifier>(o.model, "eval --images");
  const std::string d = o.images + "/";
  const data::ImageSet test = data::read_idx_images(d + "t10k-images-idx3-ubyte.gz", d + "t10k-labels-idx1-ubyte.gz");
  const int64_t n = o.max > 0 ? std::min(o.max, test.count) : test.count, K = model.num_classes();
  std::vector<int64_t> gold, predicted;
  NoGrad no_grad;
  for (int64_t begin = 0; begin < n; begin += o.batch) {
    std::vector<int64_t> ids;
    for (int64_t i = begin; i < std::min(n, begin + o.batch); ++i) ids.push_back(i);
    const Index guess = argmax(model.classify(data::image_source(test, ids)).logits, 1);
    for (size_t r = 0; r < ids.size(); ++r) {
      const int64_t y = test.labels[static_cast<size_t>(ids[r])];
      ATTEND_CHECK(y < K, "eval", o.images, ": label ", y, " of test image ", ids[r], " is beyond the model's ", K,
                   " classes");
      gold.push_back(y);
      predicted.push_back(guess.data[r]);
    }
  }
  const app::ClassificationReport r = app::score_classes("images", b.spec.labels, gold, predicted);
  std::printf("%s", r.text(o.images + " t10k").c_str());
  std::fflush(stdout);
  if (!o.json.empty()) io::write_file_atomic(o.json, r.json(o.model));
}

// A text classifier on --tsv (text<TAB>label): accuracy, macro-F1 and accuracy per class.
void eval_classifier(const EvalOptions& o, const app::ModelBundle& b) {
  ATTEND_CHECK(!o.tsv.empty(), "eval", o.model, " is a classifier: give --tsv FILE (text<TAB>label per line)");
  std::vector<data::Pair> pairs = data::read_tsv(o.tsv);
  if (o.max > 0 && std::ssize(pairs) > o.max) pairs.resize(static_cast<size_t>(o.max));
  const app::ClassificationReport r = app::evaluate_classifier(b, pairs, o.batch, o.tsv);
  std::printf("%s", r.text(o.tsv).c_str());
  std::fflush(stdout);
  if (!o.json.empty()) io::write_file_atomic(o.json, r.json(o.model));
}

// A captioner on a scene split: exact match, BLEU-4 and attention on target (app/captioning.h).
void eval_scenes(const EvalOptions& o) {
  const app::ModelBundle b = app::ModelBundle::load(o.model);
  auto& model = b.as<models::SequenceToSequence>(o.model, "eval --scenes");
  ATTEND_CHECK(b.architecture().source == SourceKind::features, "eval", o.model, " is ", b.spec.model->architecture(),
               ", which reads tokens; --scenes needs an image captioner (sat)");
  ATTEND_CHECK(!b.spec.labels.empty(), "eval", o.model, " names no articles (metadata extra.labels)");
  const data::SceneSplit split = data::read_scene_split(o.scenes, o.split);
  const int64_t n = o.max > 0 ? std::min(o.max, split.images->count) : split.images->count;
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(i);
  const std::vector<app::Caption> caps =
      app::caption_images(model, b.vocab("target", o.model), data::image_source(*split.images, ids), o.beam, o.batch);
  const app::CaptionReport r = app::score_captions(caps, split, b.spec.labels);
  std::printf("split               %s/%s (beam %lld)\n%s", o.scenes.c_str(), o.split.c_str(),
              static_cast<long long>(o.beam), r.text().c_str());
  std::fflush(stdout);
  if (!o.json.empty()) io::write_file_atomic(o.json, r.json(o.model));
}

void run_eval(const EvalOptions& o) {
  set_command_threads(o.threads);
  if (!o.text.empty()) return eval_text(o);
  ATTEND_CHECK(o.batch >= 1 && o.beam >= 1, "eval", "--batch ", o.batch, " and --beam ", o.beam, " must be >= 1");
  if (!o.images.empty()) return eval_images(o);
  if (!o.scenes.empty()) return eval_scenes(o);
  const int sources = (o.task_test > 0) + (!o.src.empty() || !o.ref.empty()) + !o.tsv.empty();
  ATTEND_CHECK(sources == 1, "eval", "give exactly one test set: --task-test N, --src F --ref F, or --tsv F");
  ATTEND_CHECK(o.src.empty() == o.ref.empty(), "eval", "--src and --ref go together");
  ATTEND_CHECK(o.beam >= 1 && o.batch >= 1 && o.bucket_width >= 1 && o.max >= 0, "eval", "--beam ", o.beam,
               ", --batch ", o.batch, ", --bucket-width ", o.bucket_width, " must be >= 1 and --max ", o.max,
               " >= 0");

  app::ModelBundle bundle = app::ModelBundle::load(o.model);
  if (bundle.model->task() == models::Task::classification) return eval_classifier(o, bundle);
  std::vector<data::Pair> pairs;
  if (o.task_test > 0) {
    pairs = app::held_out_task_pairs(o.model, o.task_test);
    std::cerr << "attend eval: " << o.task_test << " held-out pairs of the checkpoint's task\n";
  } else if (!o.tsv.empty()) {
    pairs = data::read_tsv(o.tsv);
  } else {
    pairs = data::read_parallel(o.src, o.ref);
  }
  if (o.max > 0 && static_cast<int64_t>(pairs.size()) > o.max) pairs.resize(static_cast<size_t>(o.max));
  const app::Translator tr(std::move(bundle), o.model, "eval");
  const app::SearchSettings search{.beam = o.beam, .alpha = o.alpha, .early_stop = o.early_stop, .batch = o.batch,
                                   .max_input_tokens = o.max_input_length, .truncate = o.truncate};
  std::vector<std::string> inputs;
  for (const auto& p : pairs) inputs.push_back(p.source);
  tr.check_lengths(inputs, search, o.task_test > 0 ? "task" : (o.tsv.empty() ? o.src : o.tsv));
  const app::EvalReport report = app::evaluate(tr, pairs, search, {.bucket_width = o.bucket_width, .lowercase = o.lowercase});
  std::printf("%s", report.text().c_str());
  std::fflush(stdout);
  if (!o.json.empty()) io::write_file_atomic(o.json, report.json(o.model));
}

}  // namespace
void add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* c = app.add_subcommand("eval",
                                   "Score a checkpoint on a test set: exact match, token accuracy, BLEU, accuracy by length");
  c->footer(
      "A language model: --text F (one document per line) gives the perplexity per token and per\n"
      "word (attend/app/generator.h says how they are counted).\n"
      "A sequence-to-sequence model: exact match, token accuracy, corpus BLEU (sacreBLEU 13a,\n"
      "exp smoothing) and exact match by source length. The test set is one of: --task-test N (N\n"
      "pairs of the checkpoint's own task that follow its training and validation pairs, so never\n"
      "seen in training), --src F --ref F (line-aligned files), --tsv F (source<TAB>reference).\n"
      "An image classifier (vit): --images DIR scores the test files (t10k-*) of an IDX directory:\n"
      "accuracy, overall and per class. An image captioner (sat): --scenes DIR [--split test]: exact\n"
      "match against any phrasing, BLEU-4 against all of them, and attention on target (app/captioning.h).");
  c->add_option("-m,--model", o->model, "checkpoint written by `attend train`")->required();
  c->add_option("--task-test", o->task_test, "held-out pairs of the checkpoint's task");
  c->add_option("--src", o->src, "test sources, one per line");
  c->add_option("--ref", o->ref, "references, line-aligned with --src");
  c->add_option("--tsv", o->tsv, "test pairs as source<TAB>reference");
  c->add_option("--text", o->text, "language models: a text to score, one document per line (perplexity)");
  c->add_option("--images", o->images, "image classifiers: directory of IDX files; scores the t10k test files");
  c->add_option("--scenes", o->scenes, "image captioners: a directory of `attend gen scenes`");
  c->add_option("--split", o->split, "--scenes: the split to score")->capture_default_str();
  c->add_option("--context", o->context, "language models: tokens per window (0 = the model's context)")
      ->capture_default_str();
  c->add_option("--max", o->max, "score only the first N pairs (0 = all)")->capture_default_str();
  c->add_option("--beam", o->beam, "beam size (1 = greedy search)")->capture_default_str();
  c->add_option("--alpha", o->alpha, "gnmt length-penalty exponent")->capture_default_str();
  c->add_flag("--early-stop", o->early_stop,
              "beam search: stop once --beam hypotheses finished (faster; may miss a better one)");
  c->add_option("--batch", o->batch, "sentences per search call")->capture_default_str();
  c->add_option("--max-input-length", o->max_input_length, "longest source in tokens (longer: an error)")
      ->capture_default_str();
  c->add_flag("--truncate", o->truncate, "score the first --max-input-length tokens of longer sources");
  c->add_option("--bucket-width", o->bucket_width, "source tokens per length bucket")->capture_default_str();
  c->add_flag("--lowercase", o->lowercase,
              "BLEU and chrF of lowercased output and references, as sacrebleu -lc (signatures case:lc)");
  c->add_option("--json", o->json, "also write the numbers as JSON to this file (atomically)");
  c->add_option("--threads", o->threads, "threads (default: ATTEND_NUM_THREADS, else 1)");
  c->callback([o] { run_eval(*o); });
}

}  // namespace attend::cli
