// ModelConfig: the typed configuration of one architecture, and the field table that is the one
// place naming its fields. Each architecture's config (rnnsearch.h, luong.h, gpt.h, ...) is its own
// struct deriving, through ConfigOf, from the config of the task it serves; its fields() binds
// every member to
//   key   the name in a checkpoint's model_config ("hidden_dim")
//   flag  the `attend train` option that sets it ("--hidden")
//   help  one line for --help
// and a parser that checks the value's range. Everything that reads or writes a config
// (checkpoint JSON in attend::app, the command line, validation, error messages) walks this table,
// so adding a field is one line.
//
// Three levels, each adding fields:
//   ModelConfig                   what every model has: the architecture's name and its task
//   SequenceToSequenceConfig      src_vocab, tgt_vocab, pad_id, bos_id, eos_id
//   ClassifierConfig              src_vocab (0: feature sources), num_classes, pad_id
//   LanguageModelConfig           vocab, pad_id, eos_id
//   <Architecture>Config          its own fields (arch_fields())
// A task config lists its fields in task_fields() and its rules in check_task(); an architecture
// lists its own in arch_fields() and check_more().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attend/core/error.h"

namespace attend::models {

// The tasks a model can serve; each has one interface (tasks.h) and one objective (train/objectives.h).
enum class Task { sequence_to_sequence, classification, language_model };
// "sequence-to-sequence", "classification", "language-model": the task's name in checkpoints.
const char* task_name(Task task);
// "a sequence-to-sequence model", "a classifier", "a language model": for messages.
const char* task_noun(Task task);
// The task called `name` (task_name's inverse); error "[models] unknown task ...".
Task parse_task_name(const std::string& name);

struct Field {
  enum class Kind { integer, real, choice, boolean, text };
  std::string key, flag, help;
  Kind kind = Kind::integer;
  std::vector<std::string> choices;                // Kind::choice: the accepted names
  std::function<std::string()> get;                // the value as text ("128", "0.1", "general", "true")
  std::function<void(const std::string&)> set;     // parses and range-checks; throws attend::Error
};

// Field builders over a member: integers in [min, max], reals in [min, max_exclusive), booleans
// (written "true"/"false"; "1"/"0" are read too, as checkpoints of format 2 and the command line
// wrote them), and enumerations named by a table of {name, value}.
Field int_field(std::string key, std::string flag, std::string help, int64_t& value, int64_t min = 1,
                int64_t max = (int64_t{1} << 31) - 1);
Field real_field(std::string key, std::string flag, std::string help, double& value, double min, double max_exclusive);
Field bool_field(std::string key, std::string flag, std::string help, bool& value);
// The attention normalizer of a model ("normalizer", --normalizer; Kind::text): softmax, sparsemax,
// entmax15, entmax:<alpha> (or entmax-<alpha>), crf-segment, checked by attention::make_normalizer.
// The tree normalizers are refused: they need square self-attention, which a decoder's step is not.
Field normalizer_field(std::string& value);

template <typename E, size_t N>
Field choice_field(std::string key, std::string flag, std::string help, E& value,
                   const std::pair<const char*, E> (&table)[N]) {
  Field f{.key = std::move(key), .flag = std::move(flag), .help = std::move(help), .kind = Field::Kind::choice};
  for (const auto& [name, v] : table) f.choices.push_back(name);
  f.get = [&value, &table] {
    for (const auto& [name, v] : table)
      if (v == value) return std::string(name);
    return std::string("?");
  };
  f.set = [&value, &table, key = f.key, choices = f.choices](const std::string& text) {
    for (const auto& [name, v] : table)
      if (text == name) {
        value = v;
        return;
      }
    std::string known;
    for (const auto& c : choices) known += (known.empty() ? "" : ", ") + c;
    throw Error("config", "key '" + key + "': unknown value '" + text + "' (known: " + known + ")");
  };
  return f;
}

class ModelConfig {
 public:
  virtual ~ModelConfig() = default;

  // The registered architecture name ("rnnsearch", "gpt", ...).
  virtual const char* architecture() const = 0;
  // The task the architecture serves (the task config's).
  virtual Task task() const = 0;
  virtual std::unique_ptr<ModelConfig> clone() const = 0;
  // The task's fields, bound to this object's members.
  virtual std::vector<Field> task_fields() = 0;
  // The architecture's own fields, bound to this object's members.
  virtual std::vector<Field> arch_fields() = 0;
  // task_fields(), then arch_fields().
  std::vector<Field> fields();

  // Every field as text, keyed by its key ("architecture" first names the model).
  std::map<std::string, std::string> to_map() const;
  // Sets the fields named in `values` (others keep their defaults), then validates. Unknown keys
  // are errors unless ignore_unknown (checkpoints of the first format stored every architecture's
  // keys in one flat map). Errors "[<architecture> config] key 'k': ..." name the key.
  void set(const std::map<std::string, std::string>& values, bool ignore_unknown = false);
  // Range checks of every field, the task's rules (check_task) and the architecture's (check_more).
  void validate() const;

 protected:
  // Cross-field rules of the task ("pad_id is inside the vocabulary").
  virtual void check_task() const = 0;
  // Cross-field rules of one architecture ("rnnsearch has one layer"); errors via ATTEND_CHECK.
  virtual void check_more() const {}
  // The op name of this config's errors: "<architecture> config".
  std::string op() const { return std::string(architecture()) + " config"; }
};

// Sequence-to-sequence: a source (token ids or features) to target tokens.
class SequenceToSequenceConfig : public ModelConfig {
 public:
  static constexpr Task kTask = Task::sequence_to_sequence;
  int64_t src_vocab = 0;  // source vocabulary size (ids in [0, src_vocab)); 0 for feature sources
  int64_t tgt_vocab = 0;  // V
  int64_t pad_id = 0;     // data::Vocab's specials
  int64_t bos_id = 2;
  int64_t eos_id = 3;

  Task task() const override { return kTask; }
  std::vector<Field> task_fields() override;

 protected:
  void check_task() const override;
};

// Classification: a source (token ids or features) to one of num_classes labels.
class ClassifierConfig : public ModelConfig {
 public:
  static constexpr Task kTask = Task::classification;
  int64_t src_vocab = 0;    // 0 for feature sources
  int64_t num_classes = 0;  // K
  int64_t pad_id = 0;

  Task task() const override { return kTask; }
  std::vector<Field> task_fields() override;

 protected:
  void check_task() const override;
};

// Language modelling: a token stream to next-token distributions. eos_id ends a document: it
// separates documents in the training stream, is the context every generation starts from, and
// ends a generation when sampled.
class LanguageModelConfig : public ModelConfig {
 public:
  static constexpr Task kTask = Task::language_model;
  int64_t vocab = 0;  // V
  int64_t pad_id = 0;
  int64_t eos_id = 3;

  Task task() const override { return kTask; }
  std::vector<Field> task_fields() override;

 protected:
  void check_task() const override;
};

// Config types derive from this helper, which supplies architecture() and clone():
//   struct LuongConfig : ConfigOf<LuongConfig, SequenceToSequenceConfig> { static constexpr const char* kName = "luong"; ... };
template <typename Derived, typename TaskConfig>
class ConfigOf : public TaskConfig {
 public:
  const char* architecture() const override { return Derived::kName; }
  std::unique_ptr<ModelConfig> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

}  // namespace attend::models
