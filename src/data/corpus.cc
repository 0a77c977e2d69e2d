#include "attend/data/corpus.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "attend/core/error.h"
#include "attend/data/tokenizer.h"
#include "attend/data/utf8.h"

namespace attend::data {

namespace {

std::vector<std::string> read_stream_lines(std::istream& in, const std::string& path, const char* op) {
  std::vector<std::string> lines;
  std::string line;
  size_t file_offset = 0;
  while (std::getline(in, line)) {
    const size_t raw_size = line.size() + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (const auto bad = utf8_invalid_offset(line)) {
      throw Error(op, detail::concat(path, ":", lines.size() + 1, ": invalid UTF-8 at byte ", *bad,
                                     " of the line (byte ", file_offset + *bad, " of the file)"));
    }
    lines.push_back(std::move(line));
    file_offset += raw_size;
  }
  ATTEND_CHECK(!in.bad(), op, path, ": read error after line ", lines.size());
  return lines;
}

}  // namespace

std::vector<std::string> read_lines(const std::string& path, const char* op) {
  if (path == "-") return read_stream_lines(std::cin, "<stdin>", op);
  std::error_code ec;
  ATTEND_CHECK(!std::filesystem::is_directory(path, ec), op, path, ": is a directory, not a text file");
  std::ifstream in(path, std::ios::binary);
  ATTEND_CHECK(in.good(), op, path, ": cannot open: ", std::strerror(errno));
  return read_stream_lines(in, path, op);
}

std::vector<Pair> read_parallel(const std::string& source_path, const std::string& target_path) {
  constexpr const char* op = "read_parallel";
  std::vector<std::string> src = read_lines(source_path, op);
  std::vector<std::string> tgt = read_lines(target_path, op);
  if (src.size() != tgt.size()) {
    const bool src_shorter = src.size() < tgt.size();
    throw Error(op, detail::concat(src_shorter ? source_path : target_path, " is shorter: ", source_path, " has ",
                                   src.size(), " lines, ", target_path, " has ", tgt.size()));
  }
  ATTEND_CHECK(!src.empty(), op, source_path, " and ", target_path, ": empty corpus (no lines)");
  std::vector<Pair> pairs(src.size());
  for (size_t i = 0; i < src.size(); ++i) pairs[i] = {std::move(src[i]), std::move(tgt[i])};
  return pairs;
}

std::vector<Pair> read_tsv(const std::string& path) {
  constexpr const char* op = "read_tsv";
  std::vector<std::string> lines = read_lines(path, op);
  ATTEND_CHECK(!lines.empty(), op, path, ": empty corpus (no lines)");
  std::vector<Pair> pairs;
  pairs.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    const auto tabs = std::count(l.begin(), l.end(), '\t');
    ATTEND_CHECK(tabs == 1, op, path, ":", i + 1, ": expected exactly one tab (source<TAB>target), found ", tabs);
    const size_t t = l.find('\t');
    pairs.push_back({l.substr(0, t), l.substr(t + 1)});
  }
  return pairs;
}

namespace {
void check_sentence(const std::string& s, size_t i, bool tsv) {
  ATTEND_CHECK(s.find('\n') == std::string::npos, "write_pairs", "pair ", i, " contains a newline");
  ATTEND_CHECK(!tsv || s.find('\t') == std::string::npos, "write_pairs", "pair ", i, " contains a tab");
}
}  // namespace

void write_pairs(const std::vector<Pair>& pairs, std::ostream& source, std::ostream& target) {
  for (size_t i = 0; i < pairs.size(); ++i) {
    check_sentence(pairs[i].source, i, false);
    check_sentence(pairs[i].target, i, false);
    source << pairs[i].source << '\n';
    target << pairs[i].target << '\n';
  }
}

void write_pairs_tsv(const std::vector<Pair>& pairs, std::ostream& out) {
  for (size_t i = 0; i < pairs.size(); ++i) {
    check_sentence(pairs[i].source, i, true);
    check_sentence(pairs[i].target, i, true);
    out << pairs[i].source << '\t' << pairs[i].target << '\n';
  }
}

LengthFilterResult filter_max_length(std::vector<Pair>& pairs, const Tokenizer& source_tokenizer,
                                     const Tokenizer& target_tokenizer, const LengthFilterOptions& options) {
  ATTEND_CHECK(options.max_source_tokens >= 0 && options.max_target_tokens >= 0, "filter_max_length",
               "limits must be non-negative, got ", options.max_source_tokens, " and ", options.max_target_tokens);
  LengthFilterResult r;
  const auto keep = [&](const Pair& p) {
    return static_cast<int64_t>(source_tokenizer.tokenize(p.source).size()) <= options.max_source_tokens &&
           static_cast<int64_t>(target_tokenizer.tokenize(p.target).size()) <= options.max_target_tokens;
  };
  const auto end = std::stable_partition(pairs.begin(), pairs.end(), keep);
  r.kept = end - pairs.begin();
  r.dropped = pairs.end() - end;
  pairs.erase(end, pairs.end());
  return r;
}

}  // namespace attend::data
