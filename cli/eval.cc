// `attend eval`: translates a test set with a checkpoint and scores it: exact match, token
// accuracy, corpus BLEU (sacreBLEU's defaults) and exact match by source length.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "attend/core/threads.h"
#include "attend/data/tasks.h"
#include "attend/io/atomic_file.h"
#include "attend/train/metrics.h"
#include "commands.h"
#include "translator.h"

namespace attend::cli {
namespace {

struct EvalOptions {
  std::string model;
  int64_t task_test = 0;  // held-out pairs of the checkpoint's task
  std::string src, ref, tsv;
  int64_t beam = 5, batch = 64, bucket_width = 5, max = 0;
  double alpha = 0.6;
  std::string json;
  int threads = 0;
};

int64_t extra_int(const train::CheckpointInfo& info, const std::string& key, const std::string& path) {
  const auto it = info.extra.find(key);
  ATTEND_CHECK(it != info.extra.end(), "eval", path, ": task metadata lacks '", key, "'");
  try {
    size_t used = 0;
    const int64_t v = std::stoll(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error("eval", path + ": task metadata '" + key + "' is not an integer: '" + it->second + "'");
}

// The pairs that follow the training and validation pairs in the checkpoint's task stream.
std::vector<data::Pair> held_out_task_pairs(const std::string& path, int64_t count) {
  const train::CheckpointInfo info = train::read_checkpoint_info(path);
  const auto task = info.extra.find("task");
  ATTEND_CHECK(task != info.extra.end(), "eval", path,
               ": no task metadata (the model was not trained with `attend train --task`); use --src/--ref or "
               "--tsv");
  const int64_t offset = extra_int(info, "task_offset", path);
  const auto all = data::generate_task(data::parse_task(task->second),
                                       {.count = offset + count,
                                        .min_length = extra_int(info, "task_min_length", path),
                                        .max_length = extra_int(info, "task_max_length", path),
                                        .seed = static_cast<uint64_t>(extra_int(info, "task_seed", path)),
                                        .vocab_size = extra_int(info, "task_vocab", path)});
  std::cerr << "attend eval: " << count << " held-out '" << task->second << "' pairs (task pairs " << offset << ".."
            << offset + count - 1 << ")\n";
  return {all.begin() + offset, all.end()};
}

// Token sequences as ids of a local table, so that the comparison is by token text (a token
// outside the model's vocabulary never matches the model's <unk>).
class Interner {
 public:
  std::vector<int64_t> ids(const std::vector<std::string>& tokens) {
    std::vector<int64_t> out;
    for (const auto& t : tokens) out.push_back(table_.try_emplace(t, static_cast<int64_t>(table_.size())).first->second);
    return out;
  }

 private:
  std::unordered_map<std::string, int64_t> table_;
};

void run_eval(const EvalOptions& o) {
  if (o.threads > 0)
    set_num_threads(o.threads);
  else if (!std::getenv("ATTEND_NUM_THREADS"))
    set_num_threads(1);  // small recurrent GEMMs: see `attend train --threads`
  const int sources = (o.task_test > 0) + (!o.src.empty() || !o.ref.empty()) + !o.tsv.empty();
  ATTEND_CHECK(sources == 1, "eval", "give exactly one test set: --task-test N, --src F --ref F, or --tsv F");
  ATTEND_CHECK(o.src.empty() == o.ref.empty(), "eval", "--src and --ref go together");
  ATTEND_CHECK(o.beam >= 1 && o.batch >= 1 && o.bucket_width >= 1 && o.max >= 0, "eval", "--beam ", o.beam,
               ", --batch ", o.batch, ", --bucket-width ", o.bucket_width, " must be >= 1 and --max ", o.max,
               " >= 0");

  std::vector<data::Pair> pairs;
  if (o.task_test > 0) pairs = held_out_task_pairs(o.model, o.task_test);
  else if (!o.tsv.empty()) pairs = data::read_tsv(o.tsv);
  else pairs = data::read_parallel(o.src, o.ref);
  if (o.max > 0 && static_cast<int64_t>(pairs.size()) > o.max) pairs.resize(static_cast<size_t>(o.max));
  ATTEND_CHECK(!pairs.empty(), "eval", "the test set is empty");

  const Translator tr = Translator::load(o.model);
  std::vector<std::string> src, hyp_text;
  std::vector<std::vector<std::string>> refs(1);
  for (const auto& p : pairs) src.push_back(p.source), refs[0].push_back(tr.spec().reference_form(p.target));
  const auto t = tr.translate(src, {.beam = o.beam, .alpha = o.alpha, .batch = o.batch});

  const data::Tokenizer target_tok = tr.spec().target_tokenizer();
  Interner interner;
  std::vector<std::vector<int64_t>> hyp_ids, ref_ids;
  std::vector<int64_t> source_lengths;
  for (size_t i = 0; i < pairs.size(); ++i) {
    hyp_text.push_back(t[i].text.at(0));
    hyp_ids.push_back(interner.ids(t[i].target_tokens.at(0)));
    ref_ids.push_back(interner.ids(target_tok.tokenize(pairs[i].target)));
    source_lengths.push_back(static_cast<int64_t>(t[i].source_tokens.size()));
  }
  const double exact = train::exact_match(hyp_ids, ref_ids);
  const double token_acc = train::token_accuracy(hyp_ids, ref_ids);
  const train::BleuScore bleu = train::corpus_bleu(hyp_text, refs);
  const auto buckets = train::accuracy_by_length(source_lengths, hyp_ids, ref_ids, o.bucket_width);

  std::printf("pairs           %zu\n", pairs.size());
  std::printf("search          %s\n", o.beam <= 1 ? "greedy" : ("beam " + std::to_string(o.beam)).c_str());
  std::printf("exact match     %.2f%%\n", 100.0 * exact);
  std::printf("token accuracy  %.2f%%\n", 100.0 * token_acc);
  std::printf("%s%s\n", bleu.str().c_str(), tr.spec().lowercase ? "  (lowercased model: references lowercased)" : "");
  std::printf("\nexact match by source length (%s tokens):\n%s", tokenizer_kind_name(tr.spec().source_tokens),
              train::format_length_table(buckets).c_str());
  std::fflush(stdout);

  if (!o.json.empty()) {
    nlohmann::json j;
    j["model"] = o.model;
    j["pairs"] = pairs.size();
    j["beam"] = o.beam;
    j["exact_match"] = exact;
    j["token_accuracy"] = token_acc;
    j["bleu"] = {{"score", bleu.score},
                 {"precisions", bleu.precisions},
                 {"brevity_penalty", bleu.brevity_penalty},
                 {"sys_len", bleu.sys_len},
                 {"ref_len", bleu.ref_len},
                 {"str", bleu.str()},
                 {"lowercased", tr.spec().lowercase}};
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& b : buckets)
      rows.push_back({{"min_length", b.min_length},
                      {"max_length", b.max_length},
                      {"count", b.count},
                      {"exact", b.exact},
                      {"accuracy", b.accuracy()}});
    j["by_source_length"] = rows;
    io::write_file_atomic(o.json, j.dump(2) + "\n");
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* c = app.add_subcommand("eval",
                                   "Score a checkpoint on a test set: exact match, token accuracy, BLEU, accuracy by length");
  c->footer(
      "Score a checkpoint on a test set: exact match, token accuracy, corpus BLEU (sacreBLEU 13a,\n"
      "exp smoothing) and exact match by source length. The test set is one of: --task-test N (N\n"
      "pairs of the checkpoint's own task that follow its training and validation pairs, so never\n"
      "seen in training), --src F --ref F (line-aligned files), --tsv F (source<TAB>reference).");
  c->add_option("-m,--model", o->model, "checkpoint written by `attend train`")->required();
  c->add_option("--task-test", o->task_test, "held-out pairs of the checkpoint's task");
  c->add_option("--src", o->src, "test sources, one per line");
  c->add_option("--ref", o->ref, "references, line-aligned with --src");
  c->add_option("--tsv", o->tsv, "test pairs as source<TAB>reference");
  c->add_option("--max", o->max, "score only the first N pairs (0 = all)")->capture_default_str();
  c->add_option("--beam", o->beam, "beam size (1 = greedy search)")->capture_default_str();
  c->add_option("--alpha", o->alpha, "gnmt length-penalty exponent")->capture_default_str();
  c->add_option("--batch", o->batch, "sentences per search call")->capture_default_str();
  c->add_option("--bucket-width", o->bucket_width, "source tokens per length bucket")->capture_default_str();
  c->add_option("--json", o->json, "also write the numbers as JSON to this file (atomically)");
  c->add_option("--threads", o->threads, "threads (default: ATTEND_NUM_THREADS, else 1)");
  c->callback([o] { run_eval(*o); });
}

}  // namespace attend::cli
