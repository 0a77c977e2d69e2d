// ModelConfig: the field table's builders, the generic walks over it (text map, validation) and
// the task configs' fields and rules.
#include "attend/models/config.h"

#include "attend/attention/normalizers.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace attend::models {

namespace {

std::string format_double(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

}  // namespace

Field int_field(std::string key, std::string flag, std::string help, int64_t& value, int64_t min, int64_t max) {
  Field f{.key = std::move(key), .flag = std::move(flag), .help = std::move(help), .kind = Field::Kind::integer};
  f.get = [&value] { return std::to_string(value); };
  f.set = [&value, key = f.key, min, max](const std::string& text) {
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    ATTEND_CHECK(!text.empty() && ec == std::errc() && end == text.data() + text.size(), "config", "key '", key,
                 "': '", text, "' is not an integer");
    ATTEND_CHECK(v >= min && v <= max, "config", "key '", key, "': ", v, " is outside [", min, ", ", max, "]");
    value = v;
  };
  return f;
}

Field bool_field(std::string key, std::string flag, std::string help, bool& value) {
  Field f{.key = std::move(key), .flag = std::move(flag), .help = std::move(help), .kind = Field::Kind::boolean};
  f.get = [&value] { return std::string(value ? "true" : "false"); };
  f.set = [&value, key = f.key](const std::string& text) {
    if (text == "true" || text == "1") value = true;
    else if (text == "false" || text == "0") value = false;
    else throw Error("config", "key '" + key + "': '" + text + "' is not a boolean (true, false, 1 or 0)");
  };
  return f;
}

Field normalizer_field(std::string& value) {
  Field f{.key = "normalizer",
          .flag = "--normalizer",
          .help = "attention normalizer: softmax, sparsemax, entmax15, entmax:ALPHA (alpha > 1), crf-segment",
          .kind = Field::Kind::text};
  f.get = [&value] { return value; };
  f.set = [&value](const std::string& text) {
    try {
      (void)attention::make_normalizer(text);
    } catch (const Error& e) {
      const std::string what = e.what();  // "[normalizer] ...": keep the message, not its prefix
      throw Error("config", "key 'normalizer': " + what.substr(what.find("] ") + 2));
    }
    ATTEND_CHECK(text != "dependency-tree" && text != "projective-tree", "config", "key 'normalizer': '", text,
                 "' needs square self-attention (every position a query); models take softmax, sparsemax, entmax15, "
                 "entmax:ALPHA or crf-segment");
    value = text;
  };
  return f;
}

Field real_field(std::string key, std::string flag, std::string help, double& value, double min,
                 double max_exclusive) {
  Field f{.key = std::move(key), .flag = std::move(flag), .help = std::move(help), .kind = Field::Kind::real};
  f.get = [&value] { return format_double(value); };
  f.set = [&value, key = f.key, min, max_exclusive](const std::string& text) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    ATTEND_CHECK(!text.empty() && end == text.c_str() + text.size() && std::isfinite(v), "config", "key '", key,
                 "': '", text, "' is not a finite number");
    ATTEND_CHECK(v >= min && v < max_exclusive, "config", "key '", key, "': ", v, " is outside [", min, ", ",
                 max_exclusive, ")");
    value = v;
  };
  return f;
}

const char* task_name(Task task) {
  switch (task) {
    case Task::sequence_to_sequence: return "sequence-to-sequence";
    case Task::classification: return "classification";
    case Task::language_model: return "language-model";
  }
  return "?";
}

const char* task_noun(Task task) {
  switch (task) {
    case Task::sequence_to_sequence: return "a sequence-to-sequence model";
    case Task::classification: return "a classifier";
    case Task::language_model: return "a language model";
  }
  return "?";
}

Task parse_task_name(const std::string& name) {
  for (const Task t : {Task::sequence_to_sequence, Task::classification, Task::language_model})
    if (name == task_name(t)) return t;
  throw Error("models", "unknown task '" + name + "' (known: sequence-to-sequence, classification, language-model)");
}

std::vector<Field> ModelConfig::fields() {
  std::vector<Field> f = task_fields();
  for (Field& a : arch_fields()) f.push_back(std::move(a));
  return f;
}

std::map<std::string, std::string> ModelConfig::to_map() const {
  const std::unique_ptr<ModelConfig> copy = clone();  // fields() binds members by reference
  std::map<std::string, std::string> m{{"architecture", architecture()}};
  for (const Field& f : copy->fields()) m[f.key] = f.get();
  return m;
}

void ModelConfig::set(const std::map<std::string, std::string>& values, bool ignore_unknown) {
  std::vector<Field> table = fields();
  for (const auto& [key, value] : values) {
    if (key == "architecture") {
      ATTEND_CHECK(value == architecture(), op(), "key 'architecture': '", value, "' given to a ", architecture(),
                   " config");
      continue;
    }
    auto it = std::find_if(table.begin(), table.end(), [&key = key](const Field& f) { return f.key == key; });
    if (it == table.end()) {
      ATTEND_CHECK(ignore_unknown, op(), "key '", key, "': unknown key (", architecture(), " has no such field)");
      continue;
    }
    try {
      it->set(value);
    } catch (const Error& e) {
      std::string what = e.what();
      const std::string prefix = "[" + e.op() + "] ";
      if (what.starts_with(prefix)) what.erase(0, prefix.size());
      throw Error(op(), what);
    }
  }
  validate();
}

void ModelConfig::validate() const {
  // Each field's own range: its text form parsed back through the field's checked parser.
  const std::unique_ptr<ModelConfig> copy = clone();
  for (Field& f : copy->fields()) {
    try {
      f.set(f.get());
    } catch (const Error& e) {
      std::string what = e.what();
      const std::string prefix = "[" + e.op() + "] ";
      if (what.starts_with(prefix)) what.erase(0, prefix.size());
      throw Error(op(), what);
    }
  }
  check_task();
  check_more();
}

namespace {

// The special ids `ids` ({key, value}) lie in [0, vocab) of the vocabulary called `what` and differ.
void check_specials(const std::string& op, std::initializer_list<std::pair<const char*, int64_t>> ids, int64_t vocab,
                    const char* what) {
  for (const auto& [name, id] : ids)
    ATTEND_CHECK(id < vocab, op, "key '", name, "': ", id, " is outside the ", what, " [0, ", vocab, ")");
  std::string keys, values;
  for (const auto& [name, id] : ids) {
    keys += std::string(keys.empty() ? "'" : ", '") + name + "'";
    values += (values.empty() ? "" : ", ") + std::to_string(id);
  }
  for (auto a = ids.begin(); a != ids.end(); ++a)
    for (auto b = a + 1; b != ids.end(); ++b)
      ATTEND_CHECK(a->second != b->second, op, "keys ", keys, " must differ: ", values);
}

}  // namespace

std::vector<Field> SequenceToSequenceConfig::task_fields() {
  return {int_field("src_vocab", "", "source vocabulary size (0: the model reads feature vectors)", src_vocab, 0),
          int_field("tgt_vocab", "", "target vocabulary size", tgt_vocab),
          int_field("pad_id", "", "padding id", pad_id, 0),
          int_field("bos_id", "", "begin-of-sentence id", bos_id, 0),
          int_field("eos_id", "", "end-of-sentence id", eos_id, 0)};
}

void SequenceToSequenceConfig::check_task() const {
  check_specials(op(), {{"pad_id", pad_id}, {"bos_id", bos_id}, {"eos_id", eos_id}}, tgt_vocab, "target vocabulary");
  ATTEND_CHECK(src_vocab == 0 || pad_id < src_vocab, op(), "key 'pad_id': ", pad_id,
               " is outside the source vocabulary [0, ", src_vocab, ")");
}

std::vector<Field> ClassifierConfig::task_fields() {
  return {int_field("src_vocab", "", "source vocabulary size (0: the model reads feature vectors)", src_vocab, 0),
          int_field("num_classes", "", "number of classes", num_classes, 2),
          int_field("pad_id", "", "padding id", pad_id, 0)};
}

void ClassifierConfig::check_task() const {
  ATTEND_CHECK(src_vocab == 0 || pad_id < src_vocab, op(), "key 'pad_id': ", pad_id,
               " is outside the source vocabulary [0, ", src_vocab, ")");
}

std::vector<Field> LanguageModelConfig::task_fields() {
  return {int_field("vocab", "", "vocabulary size", vocab),
          int_field("pad_id", "", "padding id", pad_id, 0),
          int_field("eos_id", "", "end-of-text id (separates documents, starts and ends a generation)", eos_id, 0)};
}

void LanguageModelConfig::check_task() const {
  check_specials(op(), {{"pad_id", pad_id}, {"eos_id", eos_id}}, vocab, "vocabulary");
}

}  // namespace attend::models
