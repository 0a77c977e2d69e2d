#include "attend/data/vocab.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "attend/core/error.h"
#include "attend/data/utf8.h"

namespace attend::data {
namespace {

constexpr std::string_view kHeader = "#attend-vocab 1";

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string unescape(std::string_view s, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    ATTEND_CHECK(i + 1 < s.size(), "Vocab::load", where, ": dangling backslash");
    const char e = s[++i];
    if (e == '\\') out.push_back('\\');
    else if (e == 't') out.push_back('\t');
    else if (e == 'n') out.push_back('\n');
    else if (e == 'r') out.push_back('\r');
    else throw Error("Vocab::load", detail::concat(where, ": unknown escape \\", e));
  }
  return out;
}

}  // namespace

Vocab::Vocab() {
  for (auto s : {kPadToken, kUnkToken, kBosToken, kEosToken}) add(std::string(s), 0, "Vocab", 0);
}

void Vocab::add(std::string token, int64_t count, const std::string& source, size_t line) {
  ATTEND_CHECK(index_.count(token) == 0, "Vocab::load", source, ":", line, ": duplicate token '", token, "'");
  index_.emplace(token, size());
  tokens_.push_back(std::move(token));
  counts_.push_back(count);
}

Vocab Vocab::of_tokens(const std::vector<std::string>& tokens, const std::string& source) {
  constexpr std::string_view specials[] = {kPadToken, kUnkToken, kBosToken, kEosToken};
  for (size_t i = 0; i < 4; ++i)
    ATTEND_CHECK(i < tokens.size() && tokens[i] == specials[i], "Vocab::of_tokens", source, ": id ", i, " is '",
                 i < tokens.size() ? tokens[i] : std::string("(none)"), "', not ", specials[i],
                 " (attend's ids 0-3 are <pad> <unk> <s> </s>)");
  Vocab v;
  for (size_t i = 4; i < tokens.size(); ++i) {
    ATTEND_CHECK(v.index_.count(tokens[i]) == 0, "Vocab::of_tokens", source, ": duplicate token '", tokens[i],
                 "' at id ", i);
    v.add(tokens[i], 0, source, i);
  }
  return v;
}

Vocab Vocab::build(const std::map<std::string, int64_t>& counts, const VocabOptions& options) {
  ATTEND_CHECK(options.min_freq >= 1, "Vocab::build", "min_freq must be >= 1, got ", options.min_freq);
  ATTEND_CHECK(options.max_size == 0 || options.max_size >= 4, "Vocab::build",
               "max_size must be 0 (unlimited) or >= 4 (the specials), got ", options.max_size);
  std::vector<std::pair<std::string, int64_t>> kept;
  for (const auto& [tok, n] : counts) {
    const bool special = tok == kPadToken || tok == kUnkToken || tok == kBosToken || tok == kEosToken;
    if (n >= options.min_freq && !special) kept.emplace_back(tok, n);
  }
  // Frequency descending, then lexicographic (std::string compares bytes: locale-independent).
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  if (options.max_size > 0 && static_cast<int64_t>(kept.size()) > options.max_size - 4) {
    kept.resize(static_cast<size_t>(options.max_size - 4));
  }
  Vocab v;
  for (auto& [tok, n] : kept) v.add(std::move(tok), n, "Vocab::build", 0);
  return v;
}

Vocab Vocab::build(const std::vector<std::vector<std::string>>& sentences, const VocabOptions& options) {
  std::map<std::string, int64_t> counts;
  for (const auto& s : sentences)
    for (const auto& t : s) ++counts[t];
  return build(counts, options);
}

int64_t Vocab::id(std::string_view token) const {
  const auto it = index_.find(std::string(token));
  return it == index_.end() ? kUnk : it->second;
}

const std::string& Vocab::token(int64_t id) const {
  ATTEND_CHECK(id >= 0 && id < size(), "Vocab::token", "id ", id, " out of range [0, ", size(), ")");
  return tokens_[static_cast<size_t>(id)];
}

std::vector<int64_t> Vocab::encode(const std::vector<std::string>& tokens, const EncodeOptions& options) const {
  std::vector<int64_t> ids;
  ids.reserve(tokens.size() + 2);
  if (options.add_bos) ids.push_back(kBos);
  for (const auto& t : tokens) ids.push_back(id(t));
  if (options.add_eos) ids.push_back(kEos);
  return ids;
}

std::vector<std::string> Vocab::decode(const std::vector<int64_t>& ids, const DecodeOptions& options) const {
  std::vector<std::string> out;
  for (int64_t i : ids) {
    if (options.stop_at_eos && i == kEos) break;
    if (options.strip_special && (i == kPad || i == kBos || i == kEos)) continue;
    out.push_back(token(i));
  }
  return out;
}

void Vocab::save(std::ostream& out) const {
  out << kHeader << '\n';
  for (size_t i = 0; i < tokens_.size(); ++i) out << escape(tokens_[i]) << '\t' << counts_[i] << '\n';
}

Vocab Vocab::read(std::istream& in, const std::string& source) {
  constexpr const char* op = "Vocab::load";
  std::string line;
  ATTEND_CHECK(std::getline(in, line) && line == kHeader, op, source, ":1: not a vocabulary file (expected '",
               kHeader, "')");
  Vocab v;
  v.tokens_.clear();
  v.counts_.clear();
  v.index_.clear();
  size_t n = 1;
  while (std::getline(in, line)) {
    ++n;
    const std::string where = detail::concat(source, ":", n);
    if (const auto bad = utf8_invalid_offset(line)) {
      throw Error(op, detail::concat(where, ": invalid UTF-8 at byte ", *bad, " of the line"));
    }
    const size_t tab = line.rfind('\t');
    ATTEND_CHECK(tab != std::string::npos, op, where, ": expected <token><TAB><count>");
    const std::string count_text = line.substr(tab + 1);
    int64_t count = 0;
    size_t used = 0;
    try {
      count = std::stoll(count_text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    ATTEND_CHECK(used == count_text.size() && used > 0 && count >= 0, op, where, ": bad count '", count_text, "'");
    v.add(unescape(std::string_view(line).substr(0, tab), where), count, source, n);
  }
  ATTEND_CHECK(v.size() >= 4 && v.tokens_[0] == kPadToken && v.tokens_[1] == kUnkToken && v.tokens_[2] == kBosToken &&
                   v.tokens_[3] == kEosToken,
               op, source, ": the first four tokens must be <pad> <unk> <s> </s>");
  return v;
}

Vocab Vocab::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ATTEND_CHECK(in.good(), "Vocab::load", path, ": cannot open: ", std::strerror(errno));
  return read(in, path);
}

}  // namespace attend::data
