// `attend gen TASK`: writes an embedded task's pairs as files, split into train/valid/test.
// Splits come from disjoint index ranges of one seeded stream, so they never share a pair index
// and the same seed always writes the same files.
#include <iostream>
#include <memory>
#include <string>

#include "attend/core/error.h"
#include "attend/data/corpus.h"
#include "attend/data/tasks.h"
#include "attend/io/atomic_file.h"
#include "commands.h"

namespace attend::cli {
namespace {

struct GenOptions {
  std::string task;
  std::string out_dir = ".";
  std::string format = "files";  // files: <split>.src / <split>.tgt; tsv: <split>.tsv
  int64_t train = 10000, valid = 1000, test = 1000;
  int64_t min_length = 1, max_length = 10, vocab_size = 10;
  uint64_t seed = 1;
  std::string family;  // dates: one format family (data::DateFamily), empty = the mix
};

void write_split(const GenOptions& o, const std::string& split, const std::vector<data::Pair>& pairs) {
  const std::string base = o.out_dir + "/" + split;
  if (o.format == "tsv") {
    io::write_file_atomic(base + ".tsv", [&](std::ostream& os) { data::write_pairs_tsv(pairs, os); });
    std::cerr << "wrote " << pairs.size() << " pairs to " << base << ".tsv\n";
    return;
  }
  // Two files, each written atomically; the target is written from the same pairs.
  io::write_file_atomic(base + ".src", [&](std::ostream& src) {
    io::write_file_atomic(base + ".tgt", [&](std::ostream& tgt) { data::write_pairs(pairs, src, tgt); });
  });
  std::cerr << "wrote " << pairs.size() << " pairs to " << base << ".src / .tgt\n";
}

void run_gen(const GenOptions& o) {
  const data::Task task = data::parse_task(o.task);
  data::TaskOptions t{.count = o.train + o.valid + o.test,
                      .min_length = o.min_length,
                      .max_length = o.max_length,
                      .seed = o.seed,
                      .vocab_size = o.vocab_size};
  if (!o.family.empty()) {
    ATTEND_CHECK(task == data::Task::dates, "gen", "--family is for the dates task, not ", o.task);
    t.date_family = data::parse_date_family(o.family);
  }
  const std::vector<data::Pair> all = data::generate_task(task, t);
  const auto begin = all.begin();
  write_split(o, "train", {begin, begin + o.train});
  if (o.valid > 0) write_split(o, "valid", {begin + o.train, begin + o.train + o.valid});
  if (o.test > 0) write_split(o, "test", {begin + o.train + o.valid, all.end()});
}

}  // namespace

void add_gen_command(CLI::App& app) {
  auto o = std::make_shared<GenOptions>();
  CLI::App* cmd = app.add_subcommand("gen", "Write an embedded task (dates, reverse, copy, sort, addition, "
                                            "number-words) as train/valid/test files");
  cmd->add_option("task", o->task, "the task")->required();
  cmd->add_option("-o,--out-dir", o->out_dir, "directory for the files")->capture_default_str()->check(CLI::ExistingDirectory);
  cmd->add_option("--format", o->format, "files (<split>.src and .tgt) or tsv")->capture_default_str()
      ->check(CLI::IsMember({"files", "tsv"}));
  cmd->add_option("--train", o->train, "training pairs")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--valid", o->valid, "validation pairs")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--test", o->test, "test pairs")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-length", o->min_length, "shortest sequence (per task, see docs)")->capture_default_str();
  cmd->add_option("--max-length", o->max_length, "longest sequence (per task, see docs)")->capture_default_str();
  cmd->add_option("--vocab-size", o->vocab_size, "symbols for reverse/copy/sort")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the generator")->capture_default_str();
  std::string families;
  for (const auto name : data::date_family_names()) families += (families.empty() ? "" : ", ") + std::string(name);
  cmd->add_option("--family", o->family,
                  "dates: every pair in this format family (" + families +
                      "); pair i keeps the date it has in the mix, so --train/--valid equal to a model's "
                      "--train-size/--valid-size put the test split on held-out dates");
  cmd->callback([o] { run_gen(*o); });
}

}  // namespace attend::cli
