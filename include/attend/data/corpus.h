// Parallel corpora: (source, target) sentence pairs read from two line-aligned files or from one
// TSV file (source<TAB>target per line), and written back in either form.
//
// Reading validates the input and every error names the file and the line (1-based):
//   missing file            "[read_parallel] train.de: cannot open ..."
//   invalid UTF-8           "[read_parallel] train.de:17: invalid UTF-8 at byte 5 of the line (byte 912 of the file)"
//   different line counts   "[read_parallel] train.en is shorter: train.de has 29000 lines, train.en has 28999"
//   TSV without one tab     "[read_tsv] pairs.tsv:3: expected exactly one tab (source<TAB>target), found 0"
//   empty corpus            "[read_parallel] train.de: empty corpus (no lines)"
// Lines end at '\n'; a trailing '\r' is removed (CRLF files); a final newline does not start an
// extra line. Empty lines are kept as empty sentences (so alignment is never shifted).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace attend::data {

class Tokenizer;

struct Pair {
  std::string source;
  std::string target;
  bool operator==(const Pair&) const = default;
};

// Reads two line-aligned files: line i of `source_path` pairs with line i of `target_path`.
std::vector<Pair> read_parallel(const std::string& source_path, const std::string& target_path);

// Reads a TSV file: each line is source<TAB>target.
std::vector<Pair> read_tsv(const std::string& path);

// Reads the lines of one UTF-8 text file with the checks above ("-" = standard input, named
// "<stdin>" in errors; a directory is an error); `op` prefixes errors.
std::vector<std::string> read_lines(const std::string& path, const char* op = "read_lines");

// Writes pairs as two aligned streams / one TSV stream, one pair per line. Throws
// attend::Error("[write_pairs] pair N: ...") if a sentence contains a newline (or a tab, for TSV),
// which would break the alignment. Use io::write_file_atomic to put these into files.
void write_pairs(const std::vector<Pair>& pairs, std::ostream& source, std::ostream& target);
void write_pairs_tsv(const std::vector<Pair>& pairs, std::ostream& out);

struct LengthFilterOptions {
  int64_t max_source_tokens = 50;
  int64_t max_target_tokens = 50;
};

struct LengthFilterResult {
  int64_t kept = 0;
  int64_t dropped = 0;
};

// Removes, in place and keeping order, every pair whose source (target) has more tokens than the
// limit under the given tokenizers. Returns how many were kept and dropped.
LengthFilterResult filter_max_length(std::vector<Pair>& pairs, const Tokenizer& source_tokenizer,
                                     const Tokenizer& target_tokenizer, const LengthFilterOptions& options);

}  // namespace attend::data
