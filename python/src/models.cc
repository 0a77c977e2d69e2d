// Models from Python: attend.load(path) returns the model of the checkpoint's task (Translator,
// LanguageModel, Classifier; Model for the others), each wrapping the same app-layer calls the
// CLI makes (app::Translator, app::Generator, app::classify_texts); attend.train runs the recipe
// of `attend train` (app::train) with a progress callback. Compute runs without the GIL.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "arrays.h"
#include "attend/app/convert.h"
#include "attend/app/evaluation.h"
#include "attend/app/generator.h"
#include "attend/app/model_bundle.h"
#include "attend/app/training.h"
#include "attend/app/translator.h"
#include "attend/train/trainer.h"
#include "bindings.h"

namespace attend::python {

namespace {

// A checkpoint's model and everything it needs; the task classes below borrow its model.
class Model {
 public:
  Model(app::ModelBundle bundle, std::string path) : bundle_(std::move(bundle)), path_(std::move(path)) {}
  virtual ~Model() = default;
  std::string task() const { return models::task_name(bundle_.model->task()); }
  std::string architecture() const { return bundle_.spec.model->architecture(); }
  py::object config() const { return py::module_::import("json").attr("loads")(bundle_.spec.to_json()); }
  std::string path() const { return path_; }
  py::dict state_dict() const { return state_dict_of(*bundle_.model); }
  void load_state_dict(const py::dict& state, bool strict) {
    load_state_dict_into(*bundle_.model, state, strict, "Model.load_state_dict");
  }
  void save(const std::string& path) const {
    py::gil_scoped_release nogil;
    bundle_.save(path);
  }
  app::ModelBundle& bundle() { return bundle_; }

 protected:
  app::ModelBundle bundle_;
  std::string path_;
};

struct Hypothesis {
  std::string text;
  std::vector<std::string> tokens;
  std::vector<int64_t> ids;
  double score = 0.0, log_prob = 0.0;
  bool finished = false;
  py::object attention;  // [T, S] (target tokens with </s>, source tokens) or None
};

struct Translation {
  std::vector<std::string> source_tokens;
  std::vector<Hypothesis> hypotheses;
};

decode::LengthPenalty length_penalty_of(const std::string& name) {
  if (name == "gnmt") return decode::LengthPenalty::gnmt;
  if (name == "average") return decode::LengthPenalty::average;
  if (name == "none") return decode::LengthPenalty::none;
  throw Error("translate", "length_penalty '" + name + "' is not one of gnmt, average, none");
}

class Translator : public Model {
 public:
  Translator(app::ModelBundle bundle, std::string path) : Model(std::move(bundle), std::move(path)) {
    auto& s2s = bundle_.as<models::SequenceToSequence>(path_, "translate");
    ATTEND_CHECK(bundle_.architecture().source == SourceKind::tokens, "translate", path_, " reads ",
                 "image features, not text; the Python bindings translate text");
    translator_ = std::make_unique<app::Translator>(app::Translator::borrowed(
        s2s, bundle_.spec, bundle_.vocab("source", path_), bundle_.vocab("target", path_)));
  }

  std::vector<Translation> translate(const std::vector<std::string>& sentences, int64_t beam, int64_t nbest,
                                     double alpha, const std::string& length_penalty, double max_len_ratio,
                                     int64_t max_len_offset, int64_t batch, bool truncate) const {
    const app::SearchSettings s{.beam = beam,
                                .nbest = nbest,
                                .alpha = alpha,
                                .length_penalty = length_penalty_of(length_penalty),
                                .max_len_ratio = max_len_ratio,
                                .max_len_offset = max_len_offset,
                                .batch = batch,
                                .truncate = truncate};
    std::vector<app::Translation> raw;
    {
      py::gil_scoped_release nogil;
      translator_->check_lengths(sentences, s, "sentences");
      raw = translator_->translate(sentences, s);
    }
    std::vector<Translation> out;
    for (const app::Translation& t : raw) {
      Translation r{.source_tokens = t.source_tokens, .hypotheses = {}};
      for (size_t h = 0; h < t.nbest.size(); ++h) {
        const decode::Hypothesis& hy = t.nbest[h];
        r.hypotheses.push_back({.text = t.text[h],
                                .tokens = t.target_tokens[h],
                                .ids = hy.tokens,
                                .score = hy.score,
                                .log_prob = hy.log_prob,
                                .finished = hy.finished,
                                .attention = hy.attention.defined() ? py::object(array_of(hy.attention)) : py::none()});
      }
      out.push_back(std::move(r));
    }
    return out;
  }

 private:
  std::unique_ptr<app::Translator> translator_;
};

class LanguageModel : public Model {
 public:
  LanguageModel(app::ModelBundle bundle, std::string path) : Model(std::move(bundle), std::move(path)) {
    auto& lm = bundle_.as<models::LanguageModel>(path_, "generate");
    generator_ = std::make_unique<app::Generator>(app::Generator::borrowed(lm, bundle_.spec, bundle_.vocab("target", path_)));
  }

  std::vector<app::Generation> generate(const std::vector<std::string>& prompts, int64_t max_new, double temperature,
                                        int64_t top_k, double top_p, uint64_t seed, int64_t beam, int64_t batch) const {
    const app::GenerateSettings s{.max_new = max_new,
                                  .temperature = temperature,
                                  .top_k = top_k,
                                  .top_p = top_p,
                                  .seed = seed,
                                  .beam = beam,
                                  .batch = batch,
                                  .on_text = {}};
    py::gil_scoped_release nogil;
    generator_->check_prompts(prompts, "prompts");
    return generator_->generate(prompts, s);
  }

  py::dict perplexity(const std::vector<std::string>& documents, int64_t context, int64_t batch) const {
    app::PerplexityReport r;
    {
      py::gil_scoped_release nogil;
      r = generator_->perplexity(documents, context, batch);
    }
    py::dict d;
    d["per_token"] = r.per_token();
    d["per_word"] = r.per_word();
    d["documents"] = r.documents;
    d["tokens"] = r.tokens;
    d["words"] = r.words;
    d["context"] = r.context;
    d["nll"] = r.nll;
    return d;
  }

 private:
  std::unique_ptr<app::Generator> generator_;
};

struct Classification {
  std::string label;
  int64_t index = 0;
  py::object probabilities;  // [K]
  std::vector<std::string> tokens;
  py::object weights;  // [H, S] or None
};

class Classifier : public Model {
 public:
  Classifier(app::ModelBundle bundle, std::string path) : Model(std::move(bundle), std::move(path)) {
    bundle_.as<models::Classifier>(path_, "classify");
    ATTEND_CHECK(bundle_.architecture().source == SourceKind::tokens, "classify", path_,
                 " classifies images; the Python bindings classify text");
  }
  std::vector<std::string> labels() const { return bundle_.spec.labels; }

  std::vector<Classification> classify(const std::vector<std::string>& texts, int64_t batch) const {
    std::vector<app::TextClassification> raw;
    {
      py::gil_scoped_release nogil;
      raw = app::classify_texts(bundle_, texts, batch, path_, "classify");
    }
    std::vector<Classification> out;
    for (app::TextClassification& t : raw) {
      const Tensor p = Tensor::from_vector(t.probabilities, Shape{static_cast<int64_t>(t.probabilities.size())});
      out.push_back({.label = bundle_.spec.labels.at(static_cast<size_t>(t.label)),
                     .index = t.label,
                     .probabilities = array_of(p),
                     .tokens = std::move(t.tokens),
                     .weights = t.weights.defined() ? py::object(array_of(t.weights)) : py::none()});
    }
    return out;
  }
};

// The task class of a loaded or trained model.
std::unique_ptr<Model> wrap(app::ModelBundle bundle, const std::string& path) {
  switch (bundle.model->task()) {
    case models::Task::sequence_to_sequence:
      if (bundle.architecture().source == SourceKind::tokens) return std::make_unique<Translator>(std::move(bundle), path);
      break;
    case models::Task::language_model:
      return std::make_unique<LanguageModel>(std::move(bundle), path);
    case models::Task::classification:
      if (bundle.architecture().source == SourceKind::tokens) return std::make_unique<Classifier>(std::move(bundle), path);
      break;
  }
  return std::make_unique<Model>(std::move(bundle), path);
}

std::unique_ptr<Model> load(const std::string& path) {
  app::ModelBundle b;
  {
    py::gil_scoped_release nogil;
    b = app::ModelBundle::load(path);
  }
  return wrap(std::move(b), path);
}

// ---- attend.train: keyword arguments onto app::TrainRecipe ----

template <typename T>
using Fields = std::vector<std::pair<const char*, T app::TrainRecipe::*>>;
using R = app::TrainRecipe;
const Fields<std::string> kText = {
    {"task", &R::task},         {"train_src", &R::train_src},   {"train_tgt", &R::train_tgt},
    {"train_tsv", &R::train_tsv}, {"valid_src", &R::valid_src}, {"valid_tgt", &R::valid_tgt},
    {"valid_tsv", &R::valid_tsv}, {"train_text", &R::train_text}, {"valid_text", &R::valid_text},
    {"images", &R::images},     {"scenes", &R::scenes},         {"class_names", &R::class_names},
    {"text_tokens", &R::text_tokens}, {"source_tokens", &R::source_tokens}, {"target_tokens", &R::target_tokens},
    {"spm", &R::spm},           {"source_spm", &R::source_spm}, {"target_spm", &R::target_spm},
    {"arch", &R::arch},         {"schedule", &R::schedule},     {"out", &R::out},
    {"best", &R::best}};
const Fields<int64_t> kInts = {
    {"train_size", &R::train_size}, {"valid_size", &R::valid_size}, {"task_min_length", &R::task_min_length},
    {"task_max_length", &R::task_max_length}, {"task_vocab", &R::task_vocab}, {"context", &R::context},
    {"valid_images", &R::valid_images}, {"augment_shift", &R::augment_shift}, {"max_length", &R::max_length},
    {"min_freq", &R::min_freq}, {"max_vocab", &R::max_vocab}, {"batch", &R::batch}, {"max_tokens", &R::max_tokens},
    {"epochs", &R::epochs}, {"max_steps", &R::max_steps}, {"patience", &R::patience},
    {"plateau_patience", &R::plateau_patience}, {"warmup", &R::warmup}, {"checkpoint_every", &R::checkpoint_every},
    {"valid_decode", &R::valid_decode}, {"show_examples", &R::show_examples}};
const Fields<double> kReals = {{"max_time_min", &R::max_time_min}, {"lr", &R::lr},
                               {"clip", &R::clip}, {"label_smoothing", &R::label_smoothing},
                               {"plateau_factor", &R::plateau_factor}, {"beta2", &R::beta2}};
const Fields<bool> kFlags = {{"augment_flip", &R::augment_flip}, {"lowercase", &R::lowercase}, {"resume", &R::resume}};

template <typename T>
bool set_field(R& r, const Fields<T>& fields, const std::string& key, const py::handle& value) {
  for (const auto& [name, member] : fields) {
    if (key != name) continue;
    try {
      if constexpr (std::is_same_v<T, bool>) {
        ATTEND_CHECK(py::isinstance<py::bool_>(value), "train", key, " must be True or False, got ", std::string(py::repr(value)));
      }
      if constexpr (std::is_same_v<T, int64_t>) {
        ATTEND_CHECK(py::isinstance<py::int_>(value) && !py::isinstance<py::bool_>(value), "train", key,
                     " must be an integer, got ", std::string(py::repr(value)));
      }
      r.*member = value.cast<T>();
    } catch (const py::cast_error&) {
      throw Error("train", key + " has the wrong type: " + std::string(py::repr(value)));
    }
    return true;
  }
  return false;
}

std::vector<std::string> recipe_keys() {
  std::vector<std::string> keys;
  for (const auto& f : kText) keys.push_back(f.first);
  for (const auto& f : kInts) keys.push_back(f.first);
  for (const auto& f : kReals) keys.push_back(f.first);
  for (const auto& f : kFlags) keys.push_back(f.first);
  keys.push_back("model");
  keys.push_back("seed");
  return keys;
}

py::dict progress_dict(const train::ProgressSnapshot& s) {
  py::dict d;
  d["epoch"] = s.epoch + 1;
  d["epochs"] = s.epochs;
  d["batch"] = s.batch;
  d["batches_in_epoch"] = s.batches_in_epoch;
  d["step"] = s.step;
  d["loss"] = s.mean_loss;
  d["tokens_per_second"] = s.tokens_per_second;
  d["lr"] = s.lr;
  d["eta_epoch_s"] = s.eta_epoch_s;
  d["eta_run_s"] = s.eta_run_s;
  py::dict terms;
  for (const auto& [name, v] : s.terms) terms[py::str(name)] = v;
  d["terms"] = terms;
  d["line"] = train::format_progress(s);
  return d;
}

// A stream that swallows everything (quiet training).
struct NullStream : std::ostream {
  NullStream() : std::ostream(nullptr) {}
};

std::unique_ptr<Model> train_model(const py::object& progress, bool quiet, const py::kwargs& kwargs) {
  R r;
  for (const auto& [k, value] : kwargs) {
    const std::string key = k.cast<std::string>();
    if (key == "model") {
      for (const auto& [mk, mv] : value.cast<py::dict>()) {
        const py::object text = py::isinstance<py::bool_>(mv) ? py::str(mv.cast<bool>() ? "true" : "false") : py::str(mv);
        r.model[mk.cast<std::string>()] = text.cast<std::string>();
      }
      continue;
    }
    if (key == "seed") {
      r.seed = value.cast<uint64_t>();
      continue;
    }
    if (set_field(r, kText, key, value) || set_field(r, kInts, key, value) || set_field(r, kReals, key, value) ||
        set_field(r, kFlags, key, value))
      continue;
    std::string known;
    for (const auto& n : recipe_keys()) known += (known.empty() ? "" : ", ") + n;
    throw Error("train", "unknown argument '" + key + "' (known: " + known + ")");
  }
  // Progress: the callback, under the GIL; Ctrl-C stops training at the next progress line.
  r.on_progress = [progress](const train::ProgressSnapshot& s) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (!progress.is_none()) progress(progress_dict(s));
  };
  NullStream null;
  std::ostream& log = quiet ? static_cast<std::ostream&>(null) : std::cerr;
  app::TrainResult result;
  {
    py::gil_scoped_release nogil;
    result = app::train(r, log, log);
  }
  return wrap(std::move(result.model), r.out);
}

// attend.convert: PyTorch safetensors -> attend checkpoint (returns the model), or back.
py::object convert(const std::string& path, const std::string& out, const std::string& to, int64_t num_heads,
                   bool norm_first, const std::string& activation, int64_t max_positions, const std::string& spm,
                   const std::string& source_spm, const std::string& target_spm) {
  if (to == "torch") {
    ATTEND_CHECK(num_heads == 0 && spm.empty() && source_spm.empty() && target_spm.empty(), "convert",
                 "num_heads and the SentencePiece models describe a PyTorch model; with to='torch' the checkpoint has them");
    {
      py::gil_scoped_release nogil;
      app::export_torch_transformer(app::ModelBundle::load(path), out);
    }
    return py::none();
  }
  ATTEND_CHECK(to == "attend", "convert", "to='", to, "' is not 'attend' (PyTorch -> attend) or 'torch' (attend -> PyTorch)");
  app::ModelBundle b;
  {
    py::gil_scoped_release nogil;
    b = app::import_torch_transformer(path, {.num_heads = num_heads,
                                             .norm_first = norm_first,
                                             .activation = activation,
                                             .max_positions = max_positions,
                                             .spm = spm,
                                             .source_spm = source_spm,
                                             .target_spm = target_spm});
    b.save(out);
  }
  return py::cast(wrap(std::move(b), out));
}

py::dict load_safetensors(const std::string& path) {
  io::SafetensorsContents c;
  {
    py::gil_scoped_release nogil;
    c = io::load_safetensors(path);
  }
  py::dict d;
  for (const auto& [name, t] : c.tensors) d[py::str(name)] = array_of(t);
  return d;
}

void save_safetensors(const std::string& path, const py::dict& tensors, const std::map<std::string, std::string>& metadata) {
  const io::TensorMap t = tensors_of(tensors, "save_safetensors");
  py::gil_scoped_release nogil;
  io::save_safetensors(path, t, metadata);
}

}  // namespace

void bind_models(py::module_& m) {
  py::class_<Model>(m, "Model", "A model loaded from a checkpoint (attend.load) or trained (attend.train).")
      .def_property_readonly("task", &Model::task, "The task: sequence-to-sequence, classification or language-model.")
      .def_property_readonly("architecture", &Model::architecture, "The registered architecture, e.g. 'transformer'.")
      .def_property_readonly("config", &Model::config, "The model's spec (the checkpoint's model_config) as a dict.")
      .def_property_readonly("path", &Model::path, "The checkpoint it was loaded from or trained into.")
      .def("state_dict", &Model::state_dict, "The weights as {PyTorch state_dict name: NumPy array} (copies).")
      .def("load_state_dict", &Model::load_state_dict, py::arg("state_dict"), py::arg("strict") = true,
           "Loads {name: array}; every name and shape is checked before anything changes.")
      .def("save", &Model::save, py::arg("path"), "Writes the model as a checkpoint (atomically).")
      .def("__repr__", [](const Model& self) {
        return "<attend." + std::string(py::str(py::type::handle_of(py::cast(&self)).attr("__name__"))) + " " +
               self.architecture() + " from '" + self.path() + "'>";
      });

  py::class_<Hypothesis>(m, "Hypothesis", "One translation of a sentence.")
      .def_readonly("text", &Hypothesis::text, "The detokenized translation.")
      .def_readonly("tokens", &Hypothesis::tokens, "Its target tokens (without </s>).")
      .def_readonly("ids", &Hypothesis::ids, "Its token ids (with </s> when finished).")
      .def_readonly("score", &Hypothesis::score, "The ranking score (log P normalized by the length penalty).")
      .def_readonly("log_prob", &Hypothesis::log_prob, "log P(Y | X).")
      .def_readonly("finished", &Hypothesis::finished, "Ended in </s> (False: cut at the maximum length).")
      .def_readonly("attention", &Hypothesis::attention,
                    "The attention matrix [len(ids), len(source_tokens)] (float32) or None.")
      .def("__repr__", [](const Hypothesis& h) { return "<Hypothesis score=" + std::to_string(h.score) + " '" + h.text + "'>"; });
  py::class_<Translation>(m, "Translation", "A sentence's hypotheses, best first.")
      .def_readonly("source_tokens", &Translation::source_tokens)
      .def_readonly("hypotheses", &Translation::hypotheses)
      .def_property_readonly("text", [](const Translation& t) { return t.hypotheses.empty() ? std::string() : t.hypotheses[0].text; },
                             "The best hypothesis' text.");
  py::class_<Translator, Model>(m, "Translator", "A sequence-to-sequence model with its tokenizers and vocabularies.")
      .def("translate", &Translator::translate, py::arg("sentences"), py::kw_only(), py::arg("beam") = 5,
           py::arg("nbest") = 1, py::arg("alpha") = 0.6, py::arg("length_penalty") = "gnmt",
           py::arg("max_len_ratio") = 2.0, py::arg("max_len_offset") = 10, py::arg("batch") = 64,
           py::arg("truncate") = false,
           R"doc(Translates a list of sentences (raw text); result i belongs to sentence i.

beam 1 is greedy search; length_penalty "gnmt" ((5 + |Y|) / 6)^alpha, "average" (|Y|) or "none";
at most ceil(max_len_ratio * S) + max_len_offset target tokens. A sentence longer than the model's
input limit is an error, or cut with truncate=True. Runs without the GIL.)doc");

  py::class_<app::Generation>(m, "Generation", "One continuation of a prompt.")
      .def_readonly("text", &app::Generation::text)
      .def_readonly("ids", &app::Generation::ids)
      .def_readonly("log_prob", &app::Generation::log_prob)
      .def_readonly("ended", &app::Generation::ended, "The model wrote the end-of-text token.")
      .def_readonly("context_full", &app::Generation::context_full)
      .def("__repr__", [](const app::Generation& g) { return "<Generation '" + g.text + "'>"; });
  py::class_<LanguageModel, Model>(m, "LanguageModel", "A GPT-style language model with its tokenizer.")
      .def("generate", &LanguageModel::generate, py::arg("prompts"), py::kw_only(), py::arg("max_new") = 200,
           py::arg("temperature") = 1.0, py::arg("top_k") = 0, py::arg("top_p") = 1.0, py::arg("seed") = 1,
           py::arg("beam") = 1, py::arg("batch") = 16,
           R"doc(Continues each prompt; result i belongs to prompt i.

temperature 0 is greedy; top_k / top_p restrict sampling; beam > 1 is beam search. Prompt i draws
from stream i of `seed`, whatever the batch. Runs without the GIL.)doc")
      .def("perplexity", &LanguageModel::perplexity, py::arg("documents"), py::kw_only(), py::arg("context") = 256,
           py::arg("batch") = 16, "Perplexity per token and per word of documents (one per entry), as `attend eval --text`.");

  py::class_<Classification>(m, "Classification", "What a classifier makes of one text.")
      .def_readonly("label", &Classification::label)
      .def_readonly("index", &Classification::index)
      .def_readonly("probabilities", &Classification::probabilities, "Class probabilities [K] (float64).")
      .def_readonly("tokens", &Classification::tokens)
      .def_readonly("weights", &Classification::weights, "The pooling attention [H, len(tokens)] or None.")
      .def("__repr__", [](const Classification& c) { return "<Classification " + c.label + ">"; });
  py::class_<Classifier, Model>(m, "Classifier", "A text classifier with attention pooling.")
      .def_property_readonly("labels", &Classifier::labels, "Class names in class order.")
      .def("classify", &Classifier::classify, py::arg("texts"), py::kw_only(), py::arg("batch") = 64,
           "Classifies each text; result i belongs to text i. Runs without the GIL.");

  m.def("load", &load, py::arg("path"),
        R"doc(Loads a checkpoint and returns the model of its task: Translator (sequence-to-sequence on
text), LanguageModel, Classifier (text), or Model (image models: weights and config only).)doc");
  m.def("convert", &convert, py::arg("path"), py::arg("out"), py::kw_only(), py::arg("to") = "attend",
        py::arg("num_heads") = 0, py::arg("norm_first") = true, py::arg("activation") = "relu",
        py::arg("max_positions") = 1024, py::arg("spm") = "", py::arg("source_spm") = "", py::arg("target_spm") = "",
        R"doc(Weights between PyTorch and attend, as `attend convert` (docs/convert.md).

to="attend": `path` is a PyTorch Transformer's state_dict saved as safetensors (attend's names or
those of PyTorch's translation tutorial: an nn.Transformer held as `transformer`); num_heads and
the SentencePiece model(s) (spm, or source_spm and target_spm) are required, norm_first=False for
nn.Transformer's default post-norm layers. Writes the attend checkpoint `out` and returns it as a
Translator.
to="torch": `path` is an attend transformer checkpoint; writes `out`, a safetensors state dict that
torch's load_state_dict(strict=True) reads (scripts/golden/torch_transformer.py builds the module).
Every tensor is checked (names, shapes, dtypes, finite values) before anything is written.)doc");
  m.def("load_safetensors", &load_safetensors, py::arg("path"),
        "A safetensors file's tensors as {name: array} (F32 and F64; errors name the file and the tensor).");
  m.def("save_safetensors", &save_safetensors, py::arg("path"), py::arg("tensors"),
        py::arg("metadata") = std::map<std::string, std::string>{},
        "Writes {name: float array} (and string metadata) as a safetensors file, atomically.");
  m.def("train", &train_model, py::kw_only(), py::arg("progress") = py::none(), py::arg("quiet") = false,
        R"doc(Trains a model with the recipe of `attend train` and returns it (as attend.load would).

Keyword arguments are the recipe's fields (app/training.h; `attend train --help` explains each):
task, arch, model (a dict of architecture fields), epochs, max_steps, batch, lr, schedule, out, ...
progress(dict) is called at every progress line with epoch, step, loss, tokens_per_second, lr,
eta_run_s, line; raising in it (or Ctrl-C) stops training, the last checkpoint stays intact.
quiet=True silences the log, which otherwise goes to standard error.)doc");
}

}  // namespace attend::python
