// ModelConfig: the field table's builders and the generic walks over it (text map, validation).
#include "attend/models/config.h"

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

std::vector<Field> ModelConfig::fields() {
  std::vector<Field> f{
      int_field("src_vocab", "", "source vocabulary size (0: the model reads feature vectors)", src_vocab, 0),
      int_field("tgt_vocab", "", "target vocabulary size", tgt_vocab),
      int_field("pad_id", "", "padding id", pad_id, 0),
      int_field("bos_id", "", "begin-of-sentence id", bos_id, 0),
      int_field("eos_id", "", "end-of-sentence id", eos_id, 0)};
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
    auto it = std::find_if(table.begin(), table.end(), [&](const Field& f) { return f.key == key; });
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
  for (const auto& [name, id] : {std::pair<const char*, int64_t>{"pad_id", pad_id}, {"bos_id", bos_id},
                                 {"eos_id", eos_id}})
    ATTEND_CHECK(id < tgt_vocab, op(), "key '", name, "': ", id, " is outside the target vocabulary [0, ", tgt_vocab,
                 ")");
  ATTEND_CHECK(src_vocab == 0 || pad_id < src_vocab, op(), "key 'pad_id': ", pad_id,
               " is outside the source vocabulary [0, ", src_vocab, ")");
  ATTEND_CHECK(bos_id != eos_id && bos_id != pad_id && eos_id != pad_id, op(),
               "keys 'pad_id', 'bos_id', 'eos_id' must differ: ", pad_id, ", ", bos_id, ", ", eos_id);
  check_more();
}

}  // namespace attend::models
