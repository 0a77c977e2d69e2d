// `attend gen TASK`: writes an embedded task's pairs as files, split into train/valid/test.
// Splits come from disjoint index ranges of one seeded stream, so they never share a pair index
// and the same seed always writes the same files.
// `attend gen scenes`: captioned scenes of Fashion-MNIST photos (data/scenes.h) as PNG files, a
// captions file and a layout file per split; training and validation scenes use disjoint ranges of
// the training images (the first 50,000, the last 10,000), test scenes the test images.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "attend/core/error.h"
#include "attend/data/corpus.h"
#include "attend/data/idx.h"
#include "attend/data/scenes.h"
#include "attend/data/wordnet.h"
#include "attend/data/tasks.h"
#include "attend/io/atomic_file.h"
#include "attend/viz/overlay.h"
#include "attend/viz/render.h"
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
  std::string images_dir = "/usr/share/datasets/fashion-mnist";  // scenes
  int64_t cell = 32;                                                // scenes
  std::string wordnet_dir = "/usr/share/wordnet";                   // wordnet
};

// <dir>/<split>/<i>.png, <dir>/<split>.captions.tsv (file, phrasing, caption) and
// <dir>/<split>.layout.tsv (file, article, class, cell, x, y, source image); each file atomic.
void write_scenes(const GenOptions& o, const std::string& split, const std::vector<data::CaptionedScene>& scenes) {
  const std::filesystem::path dir = std::filesystem::path(o.out_dir) / split;
  std::filesystem::create_directories(dir);
  const auto file = [](size_t i) {
    std::string n = std::to_string(i);
    return std::string(6 - std::min<size_t>(6, n.size()), '0') + n + ".png";
  };
  for (size_t i = 0; i < scenes.size(); ++i) {
    const data::CaptionedScene& s = scenes[i];
    viz::write_png(viz::gray_image(s.pixels, static_cast<int>(s.size), static_cast<int>(s.size)), dir / file(i));
  }
  io::write_file_atomic(o.out_dir + "/" + split + ".captions.tsv", [&](std::ostream& os) {
    for (size_t i = 0; i < scenes.size(); ++i)
      for (size_t k = 0; k < scenes[i].captions.size(); ++k)
        os << split << "/" << file(i) << "\t" << k << "\t" << scenes[i].captions[k] << "\n";
  });
  io::write_file_atomic(o.out_dir + "/" + split + ".layout.tsv", [&](std::ostream& os) {
    for (size_t i = 0; i < scenes.size(); ++i)
      for (size_t k = 0; k < scenes[i].objects.size(); ++k) {
        const data::SceneObject& ob = scenes[i].objects[k];
        os << split << "/" << file(i) << "\t" << k << "\t" << ob.label << "\t" << ob.cell << "\t" << ob.x << "\t"
           << ob.y << "\t" << ob.image << "\n";
      }
  });
  std::cerr << "wrote " << scenes.size() << " scenes to " << dir.string() << "/ and " << split << ".captions.tsv, "
            << split << ".layout.tsv\n";
}

void run_gen_scenes(const GenOptions& o) {
  const std::string d = o.images_dir + "/";
  const data::ImageSet train = data::read_idx_images(d + "train-images-idx3-ubyte.gz", d + "train-labels-idx1-ubyte.gz");
  const data::ImageSet test = data::read_idx_images(d + "t10k-images-idx3-ubyte.gz", d + "t10k-labels-idx1-ubyte.gz");
  const int64_t held = std::min<int64_t>(10000, train.count / 6);  // validation images
  // One stream per split (seed + split * golden ratio): no split repeats another's layouts.
  const auto options = [&](int64_t count, int split, int64_t first, int64_t images) {
    return data::SceneOptions{.count = count, .cell = o.cell, .first_image = first, .images = images,
                              .seed = o.seed + static_cast<uint64_t>(split) * 0x9E3779B97F4A7C15ull};
  };
  write_scenes(o, "train", data::make_scenes(train, options(o.train, 0, 0, train.count - held)));
  if (o.valid > 0) write_scenes(o, "valid", data::make_scenes(train, options(o.valid, 1, train.count - held, held)));
  if (o.test > 0) write_scenes(o, "test", data::make_scenes(test, options(o.test, 2, 0, test.count)));
}

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

// `attend gen wordnet`: every noun and verb synset's gloss labelled with its lexicographer file,
// split by synset (80/10/10, --seed) into train.tsv, valid.tsv and test.tsv (gloss<TAB>label).
void run_gen_wordnet(const GenOptions& o) {
  std::vector<data::Synset> synsets;
  for (const char* pos : {"noun", "verb"}) {
    std::vector<data::Synset> part = data::read_wordnet_data(o.wordnet_dir + "/data." + pos);
    synsets.insert(synsets.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  const data::GlossSplit split = data::split_glosses(synsets, o.seed);
  GenOptions tsv = o;
  tsv.format = "tsv";
  write_split(tsv, "train", split.train);
  write_split(tsv, "valid", split.valid);
  write_split(tsv, "test", split.test);
}

void run_gen(const GenOptions& o) {
  if (o.task == "scenes") return run_gen_scenes(o);
  if (o.task == "wordnet") return run_gen_wordnet(o);
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
                                            "number-words) as train/valid/test files, captioned scenes of "
                                            "Fashion-MNIST photos (scenes), or WordNet glosses labelled with their "
                                            "lexicographer file (wordnet)");
  cmd->add_option("task", o->task, "the task, scenes or wordnet")->required();
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
  cmd->add_option("--images-dir", o->images_dir, "scenes: the Fashion-MNIST IDX files (Debian's dataset-fashion-mnist)")
      ->capture_default_str();
  cmd->add_option("--cell", o->cell, "scenes: pixels per cell of the 3 x 3 grid (>= 28)")->capture_default_str();
  cmd->add_option("--wordnet-dir", o->wordnet_dir, "wordnet: the WordNet 3.0 data files (Debian's wordnet-base)")
      ->capture_default_str();
  cmd->callback([o] { run_gen(*o); });
}

}  // namespace attend::cli
