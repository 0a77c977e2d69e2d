// Seq2SeqConfig: names, validation and the flat text map a checkpoint stores.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <sstream>

#include "attend/models/seq2seq.h"

namespace attend::models {

namespace {
constexpr const char* kOp = "Seq2SeqConfig";

template <typename E, size_t N>
E parse_enum(const std::string& name, const char* what, const std::pair<const char*, E> (&table)[N]) {
  std::string known;
  for (const auto& [n, e] : table) {
    if (name == n) return e;
    known += known.empty() ? n : std::string(", ") + n;
  }
  throw Error(kOp, detail::concat("unknown ", what, " '", name, "' (known: ", known, ")"));
}

constexpr std::pair<const char*, Architecture> kArchitectures[] = {
    {"rnnsearch", Architecture::rnnsearch}, {"luong", Architecture::luong}, {"seq2seq", Architecture::seq2seq}};
constexpr std::pair<const char*, Score> kScores[] = {
    {"dot", Score::dot}, {"general", Score::general}, {"concat", Score::concat}, {"location", Score::location}};
constexpr std::pair<const char*, Alignment> kAlignments[] = {
    {"global", Alignment::global}, {"local-m", Alignment::local_m}, {"local-p", Alignment::local_p}};

template <typename E, size_t N>
const char* enum_name(E e, const std::pair<const char*, E> (&table)[N]) {
  for (const auto& [n, v] : table)
    if (v == e) return n;
  return "?";
}

int64_t parse_int(const std::string& key, const std::string& text) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  ATTEND_CHECK(ec == std::errc() && end == text.data() + text.size() && !text.empty(), kOp, "key '", key, "': '",
               text, "' is not an integer");
  return v;
}

double parse_double(const std::string& key, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  ATTEND_CHECK(!text.empty() && end == text.c_str() + text.size() && std::isfinite(v), kOp, "key '", key, "': '",
               text, "' is not a finite number");
  return v;
}

std::string format_double(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

}  // namespace

const char* architecture_name(Architecture a) { return enum_name(a, kArchitectures); }
const char* score_name(Score s) { return enum_name(s, kScores); }
const char* alignment_name(Alignment a) { return enum_name(a, kAlignments); }
Architecture parse_architecture(const std::string& name) { return parse_enum(name, "architecture", kArchitectures); }
Score parse_score(const std::string& name) { return parse_enum(name, "score", kScores); }
Alignment parse_alignment(const std::string& name) { return parse_enum(name, "alignment", kAlignments); }

void Seq2SeqConfig::validate() const {
  const std::pair<const char*, int64_t> positive[] = {
      {"src_vocab", src_vocab},       {"tgt_vocab", tgt_vocab},     {"embed_dim", embed_dim},
      {"hidden_dim", hidden_dim},     {"attention_dim", attention_dim}, {"readout_dim", readout_dim},
      {"num_layers", num_layers},     {"window", window},           {"max_source_len", max_source_len}};
  for (const auto& [name, v] : positive) ATTEND_CHECK(v > 0, kOp, "key '", name, "': ", v, " must be positive");
  ATTEND_CHECK(dropout >= 0.0 && dropout < 1.0, kOp, "key 'dropout': ", dropout, " must be in [0, 1)");
  ATTEND_CHECK(architecture != Architecture::rnnsearch || num_layers == 1, kOp, "key 'num_layers': ", num_layers,
               " but rnnsearch has one encoder and one decoder layer");
  for (const auto& [name, id] : {std::pair<const char*, int64_t>{"pad_id", pad_id}, {"bos_id", bos_id},
                                 {"eos_id", eos_id}})
    ATTEND_CHECK(id >= 0 && id < tgt_vocab, kOp, "key '", name, "': ", id, " is outside the target vocabulary [0, ",
                 tgt_vocab, ")");
  ATTEND_CHECK(pad_id < src_vocab, kOp, "key 'pad_id': ", pad_id, " is outside the source vocabulary [0, ", src_vocab,
               ")");
  ATTEND_CHECK(bos_id != eos_id && bos_id != pad_id && eos_id != pad_id, kOp,
               "keys 'pad_id', 'bos_id', 'eos_id' must differ: ", pad_id, ", ", bos_id, ", ", eos_id);
}

std::map<std::string, std::string> Seq2SeqConfig::to_map() const {
  return {{"architecture", architecture_name(architecture)},
          {"src_vocab", std::to_string(src_vocab)},
          {"tgt_vocab", std::to_string(tgt_vocab)},
          {"embed_dim", std::to_string(embed_dim)},
          {"hidden_dim", std::to_string(hidden_dim)},
          {"attention_dim", std::to_string(attention_dim)},
          {"readout_dim", std::to_string(readout_dim)},
          {"num_layers", std::to_string(num_layers)},
          {"score", score_name(score)},
          {"alignment", alignment_name(alignment)},
          {"window", std::to_string(window)},
          {"max_source_len", std::to_string(max_source_len)},
          {"dropout", format_double(dropout)},
          {"pad_id", std::to_string(pad_id)},
          {"bos_id", std::to_string(bos_id)},
          {"eos_id", std::to_string(eos_id)}};
}

Seq2SeqConfig Seq2SeqConfig::from_map(const std::map<std::string, std::string>& map) {
  Seq2SeqConfig c;
  const std::map<std::string, std::function<void(const std::string&, const std::string&)>> setters = {
      {"architecture", [&](auto&, auto& v) { c.architecture = parse_architecture(v); }},
      {"src_vocab", [&](auto& k, auto& v) { c.src_vocab = parse_int(k, v); }},
      {"tgt_vocab", [&](auto& k, auto& v) { c.tgt_vocab = parse_int(k, v); }},
      {"embed_dim", [&](auto& k, auto& v) { c.embed_dim = parse_int(k, v); }},
      {"hidden_dim", [&](auto& k, auto& v) { c.hidden_dim = parse_int(k, v); }},
      {"attention_dim", [&](auto& k, auto& v) { c.attention_dim = parse_int(k, v); }},
      {"readout_dim", [&](auto& k, auto& v) { c.readout_dim = parse_int(k, v); }},
      {"num_layers", [&](auto& k, auto& v) { c.num_layers = parse_int(k, v); }},
      {"score", [&](auto&, auto& v) { c.score = parse_score(v); }},
      {"alignment", [&](auto&, auto& v) { c.alignment = parse_alignment(v); }},
      {"window", [&](auto& k, auto& v) { c.window = parse_int(k, v); }},
      {"max_source_len", [&](auto& k, auto& v) { c.max_source_len = parse_int(k, v); }},
      {"dropout", [&](auto& k, auto& v) { c.dropout = parse_double(k, v); }},
      {"pad_id", [&](auto& k, auto& v) { c.pad_id = parse_int(k, v); }},
      {"bos_id", [&](auto& k, auto& v) { c.bos_id = parse_int(k, v); }},
      {"eos_id", [&](auto& k, auto& v) { c.eos_id = parse_int(k, v); }}};
  for (const auto& [key, value] : map) {
    const auto it = setters.find(key);
    ATTEND_CHECK(it != setters.end(), kOp, "key '", key, "': unknown key");
    try {
      it->second(key, value);
    } catch (const Error& e) {
      std::string what = e.what();
      if (what.find("key '") != std::string::npos) throw;
      const std::string prefix = "[" + e.op() + "] ";
      if (what.starts_with(prefix)) what.erase(0, prefix.size());
      throw Error(kOp, detail::concat("key '", key, "': ", what));
    }
  }
  c.validate();
  return c;
}

}  // namespace attend::models
