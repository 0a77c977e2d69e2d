// ModelConfig: the typed configuration of one architecture, and the field table that is the one
// place naming its fields. Each architecture's config (rnnsearch.h, luong.h, seq2seq.h, ...) is
// its own struct deriving from ModelConfig; its fields() binds every member to
//   key   the name in a checkpoint's model_config ("hidden_dim")
//   flag  the `attend train` option that sets it ("--hidden")
//   help  one line for --help
// and a parser that checks the value's range. Everything that reads or writes a config
// (checkpoint JSON in attend::app, the command line, validation, error messages) walks this table,
// so adding a field is one line.
//
// The fields every encoder-decoder shares (vocabulary sizes and special ids) come from
// ModelConfig itself; an architecture lists only its own in arch_fields().
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

struct Field {
  enum class Kind { integer, real, choice };
  std::string key, flag, help;
  Kind kind = Kind::integer;
  std::vector<std::string> choices;                // Kind::choice: the accepted names
  std::function<std::string()> get;                // the value as text ("128", "0.1", "general")
  std::function<void(const std::string&)> set;     // parses and range-checks; throws attend::Error
};

// Field builders over a member: integers in [min, max], reals in [min, max_exclusive), and
// enumerations named by a table of {name, value}.
Field int_field(std::string key, std::string flag, std::string help, int64_t& value, int64_t min = 1,
                int64_t max = (int64_t{1} << 31) - 1);
Field real_field(std::string key, std::string flag, std::string help, double& value, double min, double max_exclusive);

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

  int64_t src_vocab = 0;  // source vocabulary size (ids in [0, src_vocab)); 0 for feature sources
  int64_t tgt_vocab = 0;  // V
  int64_t pad_id = 0;     // data::Vocab's specials
  int64_t bos_id = 2;
  int64_t eos_id = 3;

  // The registered architecture name ("rnnsearch", "luong", ...).
  virtual const char* architecture() const = 0;
  virtual std::unique_ptr<ModelConfig> clone() const = 0;
  // The architecture's own fields, bound to this object's members.
  virtual std::vector<Field> arch_fields() = 0;
  // The shared fields, then arch_fields().
  std::vector<Field> fields();

  // Every field as text, keyed by its key ("architecture" first names the model).
  std::map<std::string, std::string> to_map() const;
  // Sets the fields named in `values` (others keep their defaults), then validates. Unknown keys
  // are errors unless ignore_unknown (checkpoints of the first format stored every architecture's
  // keys in one flat map). Errors "[<architecture> config] key 'k': ..." name the key.
  void set(const std::map<std::string, std::string>& values, bool ignore_unknown = false);
  // Range checks of every field plus the architecture's cross-field checks (check_more).
  void validate() const;

 protected:
  // Cross-field rules of one architecture ("rnnsearch has one layer"); errors via ATTEND_CHECK.
  virtual void check_more() const {}
  // The op name of this config's errors: "<architecture> config".
  std::string op() const { return std::string(architecture()) + " config"; }
};

// Config types derive from this helper, which supplies architecture() and clone():
//   struct LuongConfig : ConfigOf<LuongConfig> { static constexpr const char* kName = "luong"; ... };
template <typename Derived>
class ConfigOf : public ModelConfig {
 public:
  const char* architecture() const override { return Derived::kName; }
  std::unique_ptr<ModelConfig> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

}  // namespace attend::models
