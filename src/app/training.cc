// The training recipe (training.h): per task, the data, vocabularies, batch streams and objective;
// then one loop for all.
#include "attend/app/training.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include <unistd.h>

#include "attend/app/captioning.h"
#include "attend/app/generator.h"
#include "attend/app/translator.h"
#include "attend/autograd/autograd.h"
#include "attend/core/threads.h"
#include "attend/data/images.h"
#include "attend/data/scenes.h"
#include "attend/data/tasks.h"
#include "attend/models/registry.h"
#include "attend/train/metrics.h"
#include "attend/train/objectives.h"

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

// The tokenizers and SentencePiece models of the sides `task` has (training.h: spm, source_spm,
// target_spm); a language model's text is its target side, set by text_tokens.
void set_tokenizers(const TrainRecipe& r, models::Task task, ModelSpec& spec) {
  std::map<std::string, std::shared_ptr<const data::SentencePiece>> loaded;  // one model per file
  for (const bool source : {true, false}) {
    if (!(source ? has_source_side(task) : has_target_side(task))) continue;
    const bool text = task == models::Task::language_model;
    const std::string side = text ? "text" : source ? "source" : "target";
    const std::string& given = text ? r.text_tokens : source ? r.source_tokens : r.target_tokens;
    const std::string& own = source ? r.source_spm : r.target_spm;
    const std::string& file = spm_file(r, source);
    const std::string flag = own.empty() ? "--spm" : "--" + std::string(source ? "source" : "target") + "-spm";
    const data::TokenizerKind kind = given == "auto" && !file.empty() ? data::TokenizerKind::sentencepiece
                                     : text                          ? data::parse_tokenizer_kind(given == "auto" ? "word" : given)
                                                                     : default_tokens(r, source);
    (source ? spec.source_tokens : spec.target_tokens) = kind;
    if (kind != data::TokenizerKind::sentencepiece) {
      ATTEND_CHECK(file.empty(), "train", flag, " ", file, " is for spm tokens, but --", side, "-tokens is ", given);
      continue;
    }
    ATTEND_CHECK(!file.empty(), "train", "--", side, "-tokens spm needs a SentencePiece model: ",
                 text ? "--spm FILE.model" : "--" + side + "-spm FILE.model, or --spm FILE.model for both sides",
                 " (`attend vocab` trains one)");
    auto& sp = loaded[file];
    if (sp == nullptr) sp = std::make_shared<const data::SentencePiece>(data::SentencePiece::load(file));
    (source ? spec.source_spm : spec.target_spm) = sp;
  }
}

// A side's vocabulary: an spm side's is its model's pieces in the model's order (model_spec.h); a
// char or word side's is counted from `texts`.
data::Vocab side_vocab(const TrainRecipe& r, const ModelSpec& spec, bool source, const data::Tokenizer& tok,
                       const std::vector<const std::string*>& texts) {
  const auto& sp = source ? spec.source_spm : spec.target_spm;
  if (sp != nullptr) return spm_vocab(*sp, spm_file(r, source));
  std::vector<std::vector<std::string>> sents;
  for (const std::string* t : texts) sents.push_back(tok.tokenize(*t));
  return data::Vocab::build(sents, {.min_freq = r.min_freq, .max_size = r.max_vocab});
}

// The architecture's config: defaults, the data's sizes (set_sizes), the recipe's fields.
std::shared_ptr<const models::ModelConfig> model_config(
    const TrainRecipe& r, const std::function<void(models::ModelConfig&, std::map<std::string, std::string>&)>& set_sizes) {
  std::unique_ptr<models::ModelConfig> c = models::make_config(r.arch);
  std::map<std::string, std::string> values = r.model;
  set_sizes(*c, values);
  c->set(values);
  return c;
}

bool has_field(models::ModelConfig& c, const std::string& key) {
  const std::vector<models::Field> fields = c.fields();
  return std::any_of(fields.begin(), fields.end(), [&](const models::Field& f) { return f.key == key; });
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

int64_t parameter_count(const nn::Module& m) {
  int64_t n = 0;
  for (const auto& [name, p] : m.named_parameters()) n += p.numel();
  return n;
}

// What one task's preparation hands to the common loop. Everything the objective refers to lives
// on the heap, so a Session can move.
struct Session {
  ModelBundle bundle;  // spec, vocabularies and the model to train
  std::unique_ptr<data::BatchStream> train, valid;
  std::unique_ptr<train::Objective> objective;
  std::map<std::string, std::string> extra;  // metadata the checkpoint keeps (the embedded task's)
  std::function<void(const ModelBundle&, std::ostream&)> examples;  // printed at the end
  std::shared_ptr<void> keep;  // what the objective's closures read (validation pairs, a translator)
};

// The objective, printing a line after each validation: for a sequence-to-sequence model the
// format bench scripts read ("validation: loss L  ppl P  exact E%  BLEU B"), otherwise each
// metric by name ("validation: loss L  ppl P  ppl_word W").
class LoggedObjective : public train::Objective {
 public:
  LoggedObjective(train::Objective& inner, models::Task task, std::ostream& log)
      : inner_(inner), task_(task), log_(log) {}
  train::StepLoss loss(const data::Batch& b) override { return inner_.loss(b); }
  bool validates() const override { return inner_.validates(); }
  train::Metrics validate() override {
    train::Metrics m = inner_.validate();
    char line[256];
    if (task_ == models::Task::sequence_to_sequence) {
      std::snprintf(line, sizeof line, "validation: loss %.4f  ppl %.3f  exact %.2f%%  BLEU %.2f", m["loss"], m["ppl"],
                    m.count("exact") ? m["exact"] : 0.0, m.count("bleu") ? m["bleu"] : 0.0);
      log_ << line;
      if (m.count("on_target")) {
        std::snprintf(line, sizeof line, "  on-target %.2f%%", m["on_target"]);
        log_ << line;
      }
      log_ << "\n" << std::flush;
      return m;
    }
    std::string text = "validation:";
    for (const auto& [name, value] : m) {
      std::snprintf(line, sizeof line, " %s %.4f", name.c_str(), value);
      text += line;
    }
    log_ << text << "\n" << std::flush;
    return m;
  }

 private:
  train::Objective& inner_;
  models::Task task_;
  std::ostream& log_;
};

// ---- sequence to sequence

struct Encoded {
  std::vector<data::Example> examples;
  int64_t empty = 0, too_long = 0;
};

Encoded encode_pairs(const std::vector<data::Pair>& pairs, const data::Tokenizer& st, const data::Vocab& sv,
                     const data::Tokenizer& tt, const data::Vocab& tv, int64_t max_length) {
  Encoded out;
  for (const auto& p : pairs) {
    data::Example e{sv.encode(st.tokenize(p.source)), tv.encode(tt.tokenize(p.target))};
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

void print_examples(const Translator& tr, const std::vector<data::Pair>& pairs, int64_t n, std::ostream& out) {
  std::vector<std::string> src;
  for (int64_t i = 0; i < std::min<int64_t>(n, static_cast<int64_t>(pairs.size())); ++i)
    src.push_back(pairs[static_cast<size_t>(i)].source);
  const auto t = tr.translate(src, {.beam = 1});
  const data::Tokenizer target_tok = tr.spec().target_tokenizer();
  out << "validation examples (greedy):\n";
  for (size_t i = 0; i < src.size(); ++i) {
    // Compared as tokens, as exact match is everywhere (lowercasing and punctuation spacing aside).
    const bool ok = t[i].target_tokens[0] == target_tok.tokenize(pairs[i].target);
    out << (ok ? "  ok   " : "  MISS ") << src[i] << "  ->  " << t[i].text[0];
    if (!ok) out << "   (expected " << pairs[i].target << ")";
    out << "\n";
  }
}

// What the seq2seq objective's decode check reads: the validation pairs and a translator over the
// model being trained.
struct DecodeCheck {
  std::vector<data::Pair> pairs;
  std::unique_ptr<Translator> validator;
};

Session prepare_sequence_to_sequence(const TrainRecipe& r, std::ostream& log) {
  const Splits data = load_splits(r);
  ATTEND_CHECK(!data.train.empty(), "train", "no training pairs");
  Session s;
  ModelSpec& spec = s.bundle.spec;
  set_tokenizers(r, models::Task::sequence_to_sequence, spec);
  spec.lowercase = r.lowercase;
  const data::Tokenizer st = spec.source_tokenizer(), tt = spec.target_tokenizer();
  std::vector<const std::string*> sources, targets;
  for (const auto& p : data.train) sources.push_back(&p.source), targets.push_back(&p.target);
  const data::Vocab sv = side_vocab(r, spec, true, st, sources), tv = side_vocab(r, spec, false, tt, targets);
  s.bundle.vocabs = {{"source", sv}, {"target", tv}};

  const Encoded train_set = encode_pairs(data.train, st, sv, tt, tv, r.max_length);
  ATTEND_CHECK(train_set.empty < static_cast<int64_t>(data.train.size()), "train", "every one of the ",
               data.train.size(), " training pairs has an empty source (no tokens)");
  ATTEND_CHECK(!train_set.examples.empty(), "train", "every training pair with a non-empty source is longer than ",
               "--max-length ", r.max_length);
  const Encoded valid_set = encode_pairs(data.valid, st, sv, tt, tv, r.max_length);
  int64_t longest_source = 0;
  for (const Encoded* set : {&train_set, &valid_set})
    for (const auto& e : set->examples) longest_source = std::max<int64_t>(longest_source, std::ssize(e.source));
  spec.model = model_config(r, [&](models::ModelConfig& c, std::map<std::string, std::string>& values) {
    auto& t = static_cast<models::SequenceToSequenceConfig&>(c);
    t.src_vocab = sv.size();
    t.tgt_vocab = tv.size();
    if (has_field(c, "max_source_len") && (!values.count("max_source_len") || values["max_source_len"] == "0"))
      values["max_source_len"] = std::to_string(2 * longest_source + 10);
  });
  Rng init_rng(r.seed);
  s.bundle.model = models::make_model(*spec.model, init_rng);
  auto& model = models::as_task<models::SequenceToSequence>(*s.bundle.model, r.arch, "train");
  log << "attend train: " << r.arch << " (" << parameter_count(model) << " parameters), " << train_set.examples.size()
      << " training pairs (" << train_set.too_long << " longer than " << r.max_length << " and " << train_set.empty
      << " empty dropped), " << valid_set.examples.size() << " validation pairs; vocabularies " << sv.size() << " / "
      << tv.size() << " (" << data::tokenizer_kind_name(spec.source_tokens) << " / "
      << data::tokenizer_kind_name(spec.target_tokens) << "); " << threads_summary() << "\n";

  s.train = std::make_unique<data::Batcher>(train_set.examples,
                                            data::BatchingOptions{.max_tokens = r.max_tokens > 0 ? r.max_tokens : r.batch * (r.max_length + 2),
                                                                  .max_sentences = r.batch,
                                                                  .shuffle = true,
                                                                  .seed = r.seed});
  s.valid = std::make_unique<data::Batcher>(valid_set.examples.empty() ? train_set.examples : valid_set.examples,
                                            data::BatchingOptions{.max_tokens = 1 << 20, .max_sentences = 128, .shuffle = false});
  // Greedy exact match and BLEU on the first `valid_decode` validation pairs.
  auto check = std::make_shared<DecodeCheck>();
  check->pairs = data.valid.empty() ? data.train : data.valid;
  check->pairs.resize(std::min<size_t>(check->pairs.size(), static_cast<size_t>(std::max<int64_t>(r.valid_decode, 0))));
  check->validator = std::make_unique<Translator>(Translator::borrowed(model, spec, sv, tv));
  train::ValidateFn decode_check = [c = check.get()] {
    train::Metrics m;
    if (c->pairs.empty()) return m;
    std::vector<std::string> src, hyp;
    std::vector<std::vector<std::string>> refs(1);
    const ModelSpec& vspec = c->validator->spec();
    for (const auto& p : c->pairs) src.push_back(p.source), refs[0].push_back(vspec.reference_form(p.target));
    const auto t = c->validator->translate(src, {.beam = 1});
    const data::Tokenizer target_tok = vspec.target_tokenizer();
    int64_t exact = 0;
    for (size_t i = 0; i < c->pairs.size(); ++i) {
      hyp.push_back(t[i].text[0]);
      exact += t[i].target_tokens[0] == target_tok.tokenize(c->pairs[i].target);  // as tokens, like attend eval
    }
    m["exact"] = 100.0 * static_cast<double>(exact) / static_cast<double>(c->pairs.size());
    m["bleu"] = train::corpus_bleu(hyp, refs).score;
    return m;
  };
  s.objective = std::make_unique<train::SequenceObjective>(model, r.label_smoothing, s.valid.get(), decode_check);
  s.keep = check;
  if (!r.task.empty()) {
    s.extra = {{"task", r.task},
               {"task_seed", std::to_string(r.seed)},
               {"task_offset", std::to_string(r.train_size + r.valid_size)},
               {"task_min_length", std::to_string(r.task_min_length)},
               {"task_max_length", std::to_string(r.task_max_length)},
               {"task_vocab", std::to_string(r.task_vocab)}};
  }
  const std::vector<data::Pair> shown = data.valid.empty() ? data.train : data.valid;
  const int64_t n = r.show_examples;
  s.examples = [shown, n](const ModelBundle& b, std::ostream& out) {
    auto& m = static_cast<models::SequenceToSequence&>(*b.model);
    print_examples(Translator::borrowed(m, b.spec, b.vocab("source"), b.vocab("target")), shown, n, out);
  };
  return s;
}

// ---- classification

Session prepare_classifier(const TrainRecipe& r, std::ostream& log) {
  ATTEND_CHECK(!r.train_tsv.empty() && r.task.empty() && r.train_src.empty(), "train",
               "a classifier (--arch ", r.arch, ") trains on --train-tsv FILE (text<TAB>label per line)");
  const std::vector<data::Pair> train_pairs = data::read_tsv(r.train_tsv);
  const std::vector<data::Pair> valid_pairs = r.valid_tsv.empty() ? std::vector<data::Pair>{} : data::read_tsv(r.valid_tsv);
  ATTEND_CHECK(!train_pairs.empty(), "train", r.train_tsv, ": no training examples");
  Session s;
  ModelSpec& spec = s.bundle.spec;
  set_tokenizers(r, models::Task::classification, spec);
  spec.lowercase = r.lowercase;
  const data::Tokenizer st = spec.source_tokenizer();
  std::vector<const std::string*> sources;
  std::set<std::string> names;
  for (const auto& p : train_pairs) sources.push_back(&p.source), names.insert(p.target);
  ATTEND_CHECK(names.size() >= 2, "train", r.train_tsv, ": ", names.size(), " class(es); a classifier needs two or more");
  spec.labels.assign(names.begin(), names.end());  // class k = the k-th name in sorted order
  const data::Vocab sv = side_vocab(r, spec, true, st, sources);
  s.bundle.vocabs = {{"source", sv}};
  auto encode = [&](const std::vector<data::Pair>& pairs, const std::string& file) {
    std::vector<data::Example> out;
    for (size_t i = 0; i < pairs.size(); ++i) {
      const auto it = std::lower_bound(spec.labels.begin(), spec.labels.end(), pairs[i].target);
      ATTEND_CHECK(it != spec.labels.end() && *it == pairs[i].target, "train", file, ":", i + 1, ": label '",
                   pairs[i].target, "' does not occur in ", r.train_tsv);
      data::Example e{.source = sv.encode(st.tokenize(pairs[i].source)), .label = it - spec.labels.begin()};
      if (e.source.empty() || std::ssize(e.source) > r.max_length) continue;
      out.push_back(std::move(e));
    }
    return out;
  };
  const std::vector<data::Example> train_set = encode(train_pairs, r.train_tsv), valid_set = encode(valid_pairs, r.valid_tsv);
  ATTEND_CHECK(!train_set.empty(), "train", r.train_tsv, ": no example with 1 to --max-length ", r.max_length, " tokens");
  spec.model = model_config(r, [&](models::ModelConfig& c, std::map<std::string, std::string>&) {
    auto& k = static_cast<models::ClassifierConfig&>(c);
    k.src_vocab = sv.size();
    k.num_classes = static_cast<int64_t>(spec.labels.size());
  });
  Rng init_rng(r.seed);
  s.bundle.model = models::make_model(*spec.model, init_rng);
  auto& model = models::as_task<models::Classifier>(*s.bundle.model, r.arch, "train");
  log << "attend train: " << r.arch << " (" << parameter_count(model) << " parameters), " << train_set.size()
      << " training and " << valid_set.size() << " validation examples, " << spec.labels.size()
      << " classes; vocabulary " << sv.size() << " (" << data::tokenizer_kind_name(spec.source_tokens) << "); "
      << threads_summary() << "\n";
  const auto max_tokens = r.max_tokens > 0 ? r.max_tokens : r.batch * (r.max_length + 2);
  s.train = std::make_unique<data::Batcher>(
      train_set, data::BatchingOptions{.max_tokens = max_tokens, .max_sentences = r.batch, .shuffle = true, .seed = r.seed});
  if (!valid_set.empty())
    s.valid = std::make_unique<data::Batcher>(
        valid_set, data::BatchingOptions{.max_tokens = 1 << 20, .max_sentences = 128, .shuffle = false});
  s.objective = std::make_unique<train::ClassificationObjective>(model, s.valid.get());
  return s;
}

// ---- pictures

// The names of K classes: "fashion-mnist" (Fashion-MNIST's, as the scene captions say them),
// "digits" ("0".."9"), or a comma-separated list.
std::vector<std::string> class_names_of(const std::string& given, int64_t K) {
  std::vector<std::string> names;
  if (given == "fashion-mnist") {
    names = data::fashion_class_names();
  } else if (given == "digits") {
    for (int64_t k = 0; k < K; ++k) names.push_back(std::to_string(k));
  } else {
    size_t start = 0;
    for (size_t comma; (comma = given.find(',', start)) != std::string::npos; start = comma + 1)
      names.push_back(given.substr(start, comma - start));
    names.push_back(given.substr(start));
  }
  ATTEND_CHECK(std::ssize(names) == K, "train", "--class-names ", given, " names ", names.size(),
               " classes; the labels have ", K);
  return names;
}

// The image size of a vit/sat config from the data (when not given), and the check that it fits.
void set_image_size(models::ModelConfig& c, std::map<std::string, std::string>& values, int64_t rows, int64_t cols,
                    const std::string& what) {
  ATTEND_CHECK(rows == cols, "train", what, ": pictures of ", cols, "x", rows, " pixels; ", c.architecture(),
               " reads square pictures");
  if (!values.count("image_size")) values["image_size"] = std::to_string(rows);
  ATTEND_CHECK(values["image_size"] == std::to_string(rows), "train", what, ": pictures of ", cols, "x", rows,
               " pixels, but --image-size is ", values["image_size"]);
}

Session prepare_image_classifier(const TrainRecipe& r, std::ostream& log) {
  ATTEND_CHECK(r.train_tsv.empty() && r.task.empty() && r.train_src.empty() && r.scenes.empty(), "train",
               "an image classifier (--arch ", r.arch, ") trains on --images DIR (IDX files) alone");
  const std::string d = r.images + "/";
  auto images = std::make_shared<data::ImageSet>(
      data::read_idx_images(d + "train-images-idx3-ubyte.gz", d + "train-labels-idx1-ubyte.gz"));
  int64_t K = 0;
  for (const int64_t l : images->labels) K = std::max(K, l + 1);
  ATTEND_CHECK(r.valid_images >= 0 && r.valid_images < images->count, "train", "--valid-images ", r.valid_images,
               " must be in [0, ", images->count, ") (the training images of ", r.images, ")");
  Session s;
  ModelSpec& spec = s.bundle.spec;
  spec.labels = class_names_of(r.class_names, K);
  std::vector<data::ImageExample> train_set, valid_set;
  const int64_t n_train = images->count - r.valid_images;
  for (int64_t i = 0; i < images->count; ++i)
    (i < n_train ? train_set : valid_set).push_back({.image = i, .label = images->labels[static_cast<size_t>(i)]});
  spec.model = model_config(r, [&](models::ModelConfig& c, std::map<std::string, std::string>& values) {
    auto& k = static_cast<models::ClassifierConfig&>(c);
    k.src_vocab = 0;
    k.num_classes = K;
    if (has_field(c, "image_size")) set_image_size(c, values, images->rows, images->cols, r.images);
  });
  Rng init_rng(r.seed);
  s.bundle.model = models::make_model(*spec.model, init_rng);
  auto& model = models::as_task<models::Classifier>(*s.bundle.model, r.arch, "train");
  log << "attend train: " << r.arch << " (" << parameter_count(model) << " parameters), " << train_set.size()
      << " training and " << valid_set.size() << " validation images of " << images->cols << "x" << images->rows
      << ", " << K << " classes; augmentation: shift " << r.augment_shift << ", flip " << (r.augment_flip ? "on" : "off")
      << "; " << threads_summary() << "\n";
  s.train = std::make_unique<data::ImageBatches>(
      images, std::move(train_set),
      data::ImageBatchOptions{.batch = r.batch, .shuffle = true, .seed = r.seed, .shift = r.augment_shift,
                              .flip = r.augment_flip});
  if (!valid_set.empty())
    s.valid = std::make_unique<data::ImageBatches>(images, std::move(valid_set),
                                                   data::ImageBatchOptions{.batch = 256, .shuffle = false});
  s.objective = std::make_unique<train::ClassificationObjective>(model, s.valid.get());
  return s;
}

// What the captioner's decode check reads: the validation scenes and their images.
struct SceneCheck {
  data::SceneSplit scenes;
  Source images;
  data::Vocab vocab;
};

Session prepare_captioner(const TrainRecipe& r, std::ostream& log) {
  ATTEND_CHECK(r.train_tsv.empty() && r.task.empty() && r.train_src.empty() && r.images.empty(), "train",
               "an image captioner (--arch ", r.arch, ") trains on --scenes DIR (`attend gen scenes`) alone");
  data::SceneSplit train_split = data::read_scene_split(r.scenes, "train");
  const bool has_valid = std::filesystem::exists(r.scenes + "/valid.captions.tsv");
  data::SceneSplit valid_split = has_valid ? data::read_scene_split(r.scenes, "valid") : data::SceneSplit{};
  Session s;
  ModelSpec& spec = s.bundle.spec;
  spec.target_tokens = data::TokenizerKind::word;
  spec.labels = class_names_of(r.class_names, std::ssize(data::fashion_class_names()));
  const data::Tokenizer tt = spec.target_tokenizer();
  std::vector<std::vector<std::string>> sentences;
  for (const auto& caps : train_split.captions)
    for (const auto& c : caps) sentences.push_back(tt.tokenize(c));
  const data::Vocab tv = data::Vocab::build(sentences, {.min_freq = r.min_freq, .max_size = r.max_vocab});
  s.bundle.vocabs = {{"target", tv}};
  const auto examples = [&](const data::SceneSplit& split) {
    std::vector<data::ImageExample> out;
    for (size_t i = 0; i < split.captions.size(); ++i)
      for (const auto& c : split.captions[i]) out.push_back({.image = static_cast<int64_t>(i), .target = tv.encode(tt.tokenize(c))});
    return out;
  };
  std::vector<data::ImageExample> train_set = examples(train_split), valid_set = examples(valid_split);
  spec.model = model_config(r, [&](models::ModelConfig& c, std::map<std::string, std::string>& values) {
    auto& t = static_cast<models::SequenceToSequenceConfig&>(c);
    t.src_vocab = 0;
    t.tgt_vocab = tv.size();
    if (has_field(c, "image_size"))
      set_image_size(c, values, train_split.images->rows, train_split.images->cols, r.scenes);
  });
  Rng init_rng(r.seed);
  s.bundle.model = models::make_model(*spec.model, init_rng);
  auto& model = models::as_task<models::SequenceToSequence>(*s.bundle.model, r.arch, "train");
  log << "attend train: " << r.arch << " (" << parameter_count(model) << " parameters), "
      << train_split.images->count << " training scenes (" << train_set.size() << " captions), "
      << (has_valid ? valid_split.images->count : 0) << " validation scenes of " << train_split.images->cols << "x"
      << train_split.images->rows << "; vocabulary " << tv.size() << "; " << threads_summary() << "\n";
  s.train = std::make_unique<data::ImageBatches>(
      train_split.images, std::move(train_set),
      data::ImageBatchOptions{.batch = r.batch, .shuffle = true, .seed = r.seed});
  auto check = std::make_shared<SceneCheck>();
  check->vocab = tv;
  if (has_valid) {
    s.valid = std::make_unique<data::ImageBatches>(valid_split.images, std::move(valid_set),
                                                   data::ImageBatchOptions{.batch = 128, .shuffle = false});
    const int64_t n = std::min<int64_t>(std::max<int64_t>(r.valid_decode, 0), valid_split.images->count);
    std::vector<int64_t> ids(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = i;
    if (n > 0) check->images = data::image_source(*valid_split.images, ids);
    check->scenes = std::move(valid_split);
  }
  const std::vector<std::string> names = spec.labels;
  train::ValidateFn decode_check = [c = check.get(), &model, names] {
    train::Metrics m;
    if (!c->images.features.defined()) return m;
    const std::vector<Caption> caps = caption_images(model, c->vocab, c->images, 1, 128);
    const CaptionReport rep = score_captions(caps, c->scenes, names);
    m["exact"] = rep.exact;
    m["bleu"] = rep.bleu;
    m["on_target"] = rep.on_target;
    return m;
  };
  s.objective = std::make_unique<train::SequenceObjective>(model, r.label_smoothing, s.valid.get(), decode_check);
  s.keep = check;
  return s;
}

// ---- language model

Session prepare_language_model(const TrainRecipe& r, std::ostream& log) {
  ATTEND_CHECK(!r.train_text.empty() && r.task.empty() && r.train_src.empty() && r.train_tsv.empty(), "train",
               "a language model (--arch ", r.arch, ") trains on --train-text FILE (one document per line)");
  ATTEND_CHECK(r.context >= 1, "train", "--context ", r.context, " must be >= 1");
  Session s;
  ModelSpec& spec = s.bundle.spec;
  set_tokenizers(r, models::Task::language_model, spec);
  spec.lowercase = r.lowercase;
  const data::Tokenizer tok = spec.target_tokenizer();
  const std::vector<std::string> lines = data::read_lines(r.train_text, "train");
  std::vector<const std::string*> texts;
  for (const auto& l : lines) texts.push_back(&l);
  const data::Vocab vocab = side_vocab(r, spec, false, tok, texts);
  s.bundle.vocabs = {{"target", vocab}};
  const int64_t eos = data::Vocab::kEos;
  const TextStream train_text = text_stream(lines, tok, vocab, eos);
  ATTEND_CHECK(train_text.documents > 0, "train", r.train_text, ": no text (every line is empty)");
  const TextStream valid_text =
      r.valid_text.empty() ? TextStream{} : text_stream(data::read_lines(r.valid_text, "train"), tok, vocab, eos);
  spec.model = model_config(r, [&](models::ModelConfig& c, std::map<std::string, std::string>& values) {
    auto& l = static_cast<models::LanguageModelConfig&>(c);
    l.vocab = vocab.size();
    l.pad_id = data::Vocab::kPad;
    l.eos_id = eos;
    if (has_field(c, "max_positions") && !values.count("max_positions"))
      values["max_positions"] = std::to_string(r.context);
  });
  Rng init_rng(r.seed);
  s.bundle.model = models::make_model(*spec.model, init_rng);
  auto& model = models::as_task<models::LanguageModel>(*s.bundle.model, r.arch, "train");
  ATTEND_CHECK(r.context <= model.max_positions(), "train", "--context ", r.context, " is longer than the model's ",
               model.max_positions(), " positions (--max-positions)");
  log << "attend train: " << r.arch << " (" << parameter_count(model) << " parameters), " << train_text.ids.size()
      << " training tokens in " << train_text.documents << " documents, " << valid_text.ids.size()
      << " validation tokens; vocabulary " << vocab.size() << " (" << data::tokenizer_kind_name(spec.target_tokens)
      << "); context " << r.context << "; " << threads_summary() << "\n";
  s.train = std::make_unique<data::TokenWindows>(
      train_text.ids, data::WindowOptions{.context = r.context, .batch = r.batch, .shuffle = true, .seed = r.seed,
                                          .pad_id = data::Vocab::kPad});
  if (valid_text.documents > 0)
    s.valid = std::make_unique<data::TokenWindows>(
        valid_text.ids,
        data::WindowOptions{.context = r.context, .batch = r.batch, .shuffle = false, .pad_id = data::Vocab::kPad});
  s.objective = std::make_unique<train::LanguageModelObjective>(model, s.valid.get(), valid_text.words);
  const int64_t n = r.show_examples;
  const uint64_t seed = r.seed;
  s.examples = [n, seed](const ModelBundle& b, std::ostream& out) {
    const Generator g = Generator::borrowed(static_cast<models::LanguageModel&>(*b.model), b.spec, b.vocab("target"));
    out << "samples (temperature 0.8, top-p 0.9, from nothing):\n";
    const std::vector<std::string> prompts(static_cast<size_t>(n), "");
    for (const Generation& x : g.generate(prompts, {.max_new = 40, .temperature = 0.8, .top_p = 0.9, .seed = seed}))
      out << "  " << x.text << "\n";
  };
  return s;
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
  const models::Task task = models::architecture(r.arch).task;
  const bool pictures = models::architecture(r.arch).source == SourceKind::features;
  ATTEND_CHECK(!pictures || !r.images.empty() || !r.scenes.empty(), "train", r.arch,
               " reads pictures: give --images DIR (IDX files, a classifier) or --scenes DIR (`attend gen scenes`, a "
               "captioner)");
  ATTEND_CHECK(pictures || (r.images.empty() && r.scenes.empty()), "train", r.arch,
               " reads tokens; --images and --scenes are for the picture models (vit, sat)");
  Session s = task == models::Task::language_model   ? prepare_language_model(r, log)
              : task == models::Task::classification ? (pictures ? prepare_image_classifier(r, log) : prepare_classifier(r, log))
              : pictures                             ? prepare_captioner(r, log)
                                                     : prepare_sequence_to_sequence(r, log);
  models::Model& model = *s.bundle.model;

  train::Adam adam(model.named_parameters(), {.lr = r.lr, .beta2 = r.beta2});
  Rng dropout_rng(r.seed + 1);
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
                             .log = &log,  // the trainer's progress too, not std::cerr
                             .rng = &dropout_rng};
  topt.on_progress = r.on_progress;
  if (s.objective->validates())
    topt.plateau = train::PlateauOptions{.factor = r.plateau_factor, .patience = r.plateau_patience};
  if (r.schedule != "plateau") {
    ATTEND_CHECK(r.schedule == "constant" || r.schedule == "noam" || r.schedule == "cosine", "train", "--schedule '",
                 r.schedule, "' is not one of plateau, constant, noam, cosine");
    topt.plateau.reset();
    const int64_t per_epoch = s.train->batches_in_epoch();
    topt.schedule = train::LrScheduleOptions{
        .kind = train::parse_lr_schedule(r.schedule),
        .warmup = r.warmup,
        .total_steps = r.max_steps > 0 ? r.max_steps : r.epochs * per_epoch};
  }
  topt.info.vocabs = s.bundle.vocabs;
  topt.info.extra = s.extra;
  s.bundle.spec.to_checkpoint(topt.info);  // model_config, SentencePiece models, class names
  model.train();
  LoggedObjective objective(*s.objective, task, log);
  train::Trainer trainer(model, adam, *s.train, objective, topt);
  if (r.resume) {
    trainer.resume(r.out);
    log << "resumed from " << r.out << " at step " << trainer.state().global_step << "\n";
  }
  TrainResult result{.fit = trainer.fit(), .model = {}};
  log << "stopped: " << train::stop_reason_name(result.fit.reason) << " after " << result.fit.state.global_step
      << " steps; checkpoint " << r.out << "\n";
  model.eval();
  if (r.show_examples > 0 && s.examples) s.examples(s.bundle, out);
  result.model = std::move(s.bundle);
  return result;
}

}  // namespace attend::app
