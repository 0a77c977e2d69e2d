// Training and coding of SentencePiece subword models for `attend vocab` (subwords.h).
#include "attend/app/subwords.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "attend/core/error.h"
#include "attend/io/atomic_file.h"

namespace attend::app {

namespace {

constexpr const char* kOp = "vocab";

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

// Pieces and <unk> pieces over the first `limit` lines of `file`.
struct Coverage {
  int64_t lines = 0, pieces = 0, unknown = 0;
};

Coverage coverage_of(const data::SentencePiece& sp, const std::string& file, int64_t limit) {
  Coverage c;
  std::ifstream in(file, std::ios::binary);
  std::string line;
  while (c.lines < limit && std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto ids = sp.encode_ids(line);
    ++c.lines;
    c.pieces += static_cast<int64_t>(ids.size());
    for (const int64_t id : ids) c.unknown += sp.is_unknown(id) ? 1 : 0;
  }
  return c;
}

std::string train_one(const SubwordTraining& t, const std::vector<std::string>& inputs, const std::string& prefix,
                      std::ostream& log) {
  const data::SentencePieceTrainOptions& o = t.options;
  log << "training " << data::sentencepiece_type_name(o.type) << " model (" << o.vocab_size
      << " pieces, character coverage " << o.character_coverage << ") on " << joined(inputs) << " ..." << std::endl;
  data::SentencePieceTrainReport report;
  const data::SentencePiece sp = data::SentencePiece::train(inputs, o, &report);
  io::write_file_atomic(prefix + ".model", sp.serialized());
  io::write_file_atomic(prefix + ".vocab", sp.vocab_text());
  int64_t lines = 0;
  for (const int64_t n : report.lines) lines += n;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "wrote %s.model and %s.vocab: %lld pieces, trained in %.1f s on %lld lines (%lld characters)\n",
                prefix.c_str(), prefix.c_str(), static_cast<long long>(sp.vocab_size()), report.seconds,
                static_cast<long long>(lines), static_cast<long long>(report.characters));
  log << buf;
  constexpr int64_t kSample = 1000;
  for (const auto& f : inputs) {
    const Coverage c = coverage_of(sp, f, kSample);
    if (c.lines == 0) continue;
    std::snprintf(buf, sizeof buf, "  %s: %.1f pieces per line, %.3f%% unknown (first %lld lines)\n", f.c_str(),
                  static_cast<double>(c.pieces) / static_cast<double>(c.lines),
                  c.pieces == 0 ? 0.0 : 100.0 * static_cast<double>(c.unknown) / static_cast<double>(c.pieces),
                  static_cast<long long>(c.lines));
    log << buf;
  }
  return prefix + ".model";
}

int64_t parse_id(const std::string& w) {
  size_t used = 0;
  int64_t id = -1;
  try {
    id = std::stoll(w, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  ATTEND_CHECK(used == w.size() && used > 0, kOp, "'", w, "' is not an id");
  return id;
}

}  // namespace

std::vector<std::string> train_subwords(const SubwordTraining& t, std::ostream& log) {
  ATTEND_CHECK(!t.inputs.empty() && !t.out.empty(), kOp, "training needs inputs and an output prefix");
  for (const auto& f : t.inputs)
    ATTEND_CHECK(std::filesystem::is_regular_file(f), kOp, f, ": cannot open training input (missing or not a file)");
  if (!t.separate) return {train_one(t, t.inputs, t.out, log)};
  // One model per input, named by the input's extension (train.de -> PREFIX.de.model).
  std::map<std::string, std::string> by_language;
  for (const auto& f : t.inputs) {
    std::string ext = std::filesystem::path(f).extension().string();
    ATTEND_CHECK(ext.size() > 1, kOp, f, ": --separate names each model by its input's extension (train.de -> ",
                 t.out, ".de.model), and this file has none");
    const auto [it, fresh] = by_language.emplace(ext.substr(1), f);
    ATTEND_CHECK(fresh, kOp, "--separate: ", it->second, " and ", f, " have the same extension '", ext.substr(1), "'");
  }
  std::vector<std::string> written;
  for (const auto& f : t.inputs)
    written.push_back(train_one(t, {f}, t.out + "." + std::filesystem::path(f).extension().string().substr(1), log));
  return written;
}

std::string code_subword_line(const data::SentencePiece& sp, SubwordCoding coding, const std::string& line) {
  switch (coding) {
    case SubwordCoding::encode_pieces: return joined(sp.encode_pieces(line));
    case SubwordCoding::encode_ids: {
      std::string out;
      for (const int64_t id : sp.encode_ids(line)) {
        if (!out.empty()) out += ' ';
        out += std::to_string(id);
      }
      return out;
    }
    case SubwordCoding::decode_pieces:
    case SubwordCoding::decode_ids: break;
  }
  std::istringstream words(line);
  std::vector<std::string> pieces;
  std::vector<int64_t> ids;
  for (std::string w; words >> w;) {
    if (coding == SubwordCoding::decode_ids) ids.push_back(parse_id(w));
    else pieces.push_back(std::move(w));
  }
  return coding == SubwordCoding::decode_ids ? sp.decode_ids(ids) : sp.decode_pieces(pieces);
}

void code_subword_lines(const data::SentencePiece& sp, SubwordCoding coding, std::istream& in, const std::string& name,
                        std::ostream& out) {
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    try {
      out << code_subword_line(sp, coding, line) << '\n';
    } catch (const Error& e) {
      // "[vocab] FILE:LINE: [sentencepiece] ..." for the model's errors, without repeating [vocab].
      const std::string m = e.what(), own = std::string("[") + kOp + "] ";
      throw Error(kOp, name + ":" + std::to_string(lineno) + ": " + (m.starts_with(own) ? m.substr(own.size()) : m));
    }
  }
  ATTEND_CHECK(!in.bad(), kOp, name, ": read error");
}

}  // namespace attend::app
