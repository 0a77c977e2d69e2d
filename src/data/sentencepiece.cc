#include "attend/data/sentencepiece.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "attend/core/error.h"
#include "attend/data/utf8.h"

namespace sentencepiece::logging {
// Exported by libsentencepiece but declared only in its internal common.h: messages below this
// level (0 info, 1 warning, 2 error) are not printed.
void SetMinLogLevel(int v);
int GetMinLogLevel();
}  // namespace sentencepiece::logging

namespace attend::data {
namespace {

constexpr const char* kOp = "sentencepiece";

// Silences SentencePiece's INFO/WARNING log lines on stderr for the scope (training prints a few
// hundred); errors still reach the caller as statuses.
class QuietLog {
 public:
  QuietLog() : saved_(sentencepiece::logging::GetMinLogLevel()) { sentencepiece::logging::SetMinLogLevel(2); }
  ~QuietLog() { sentencepiece::logging::SetMinLogLevel(saved_); }
  QuietLog(const QuietLog&) = delete;
  QuietLog& operator=(const QuietLog&) = delete;

 private:
  int saved_;
};

// Feeds training the lines of the input files in order, checking UTF-8 and counting what it reads.
// SentencePiece reads files on its own otherwise; reading them here lets errors name the file and
// line, and file names may contain the commas SentencePiece's --input list splits at. A problem
// ends the iteration with a failed status (no exception crosses SentencePiece's code); error()
// holds the message.
class FileLines : public sentencepiece::SentenceIterator {
 public:
  FileLines(const std::vector<std::string>& files, SentencePieceTrainReport& report) : files_(files), report_(report) {
    report_.inputs = files;
    report_.lines.assign(files.size(), 0);
    open_next();
    if (!done_) Next();
  }
  bool done() const override { return done_; }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override {
    if (error_.empty()) return {};
    return {sentencepiece::util::StatusCode::kInvalidArgument, error_};
  }
  void Next() override {
    while (!done_) {
      if (std::getline(in_, line_)) {
        const int64_t lineno = ++report_.lines[index_];
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        if (const auto bad = utf8_invalid_offset(line_)) {
          fail(files_[index_] + ":" + std::to_string(lineno) + ": invalid UTF-8 at byte " + std::to_string(*bad + 1));
          return;
        }
        for (const char c : line_) report_.characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        return;
      }
      if (in_.bad()) {
        fail(files_[index_] + ": read error");
        return;
      }
      in_.close();
      ++index_;
      open_next();
    }
  }
  const std::string& error() const { return error_; }

 private:
  void open_next() {
    if (index_ >= files_.size()) {
      done_ = true;
      line_.clear();
      return;
    }
    in_.clear();
    in_.open(files_[index_], std::ios::binary);
    if (!in_.is_open()) fail(files_[index_] + ": cannot open training input");
  }
  void fail(std::string message) {
    error_ = std::move(message);
    done_ = true;
    line_.clear();
  }

  const std::vector<std::string>& files_;
  SentencePieceTrainReport& report_;
  std::ifstream in_;
  size_t index_ = 0;
  bool done_ = false;
  std::string line_, error_;
};

std::string status_text(const sentencepiece::util::Status& s) {
  std::string m = s.message();
  return m.empty() ? s.ToString() : m;
}

}  // namespace

std::string sentencepiece_type_name(SentencePieceType type) {
  return type == SentencePieceType::bpe ? "bpe" : "unigram";
}

SentencePieceType parse_sentencepiece_type(std::string_view name) {
  if (name == "bpe") return SentencePieceType::bpe;
  if (name == "unigram") return SentencePieceType::unigram;
  throw Error(kOp, "unknown model type '" + std::string(name) + "' (expected bpe or unigram)");
}

SentencePiece SentencePiece::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ATTEND_CHECK(in.is_open(), kOp, path, ": cannot open SentencePiece model (missing or unreadable)");
  std::ostringstream bytes;
  if (in.peek() != std::ifstream::traits_type::eof()) bytes << in.rdbuf();
  ATTEND_CHECK(!in.bad() && bytes.good(), kOp, path, ": read error");
  return from_serialized(bytes.str(), path);
}

SentencePiece SentencePiece::from_serialized(std::string_view bytes, const std::string& what) {
  ATTEND_CHECK(!bytes.empty(), kOp, what, ": not a valid SentencePiece model (empty)");
  auto sp = std::make_shared<sentencepiece::SentencePieceProcessor>();
  sentencepiece::util::Status st;
  {
    QuietLog quiet;
    st = sp->LoadFromSerializedProto(bytes);
  }
  ATTEND_CHECK(st.ok(), kOp, what, ": not a valid SentencePiece model (", status_text(st), ")");
  ATTEND_CHECK(sp->GetPieceSize() > 0, kOp, what, ": not a valid SentencePiece model (no pieces)");
  return SentencePiece(std::move(sp), what);
}

SentencePiece SentencePiece::train(const std::vector<std::string>& inputs, const SentencePieceTrainOptions& o,
                                   SentencePieceTrainReport* report) {
  ATTEND_CHECK(!inputs.empty(), kOp, "no training input");
  ATTEND_CHECK(o.vocab_size > 4, kOp, "vocabulary size ", o.vocab_size, " leaves no room beside the 4 specials");
  ATTEND_CHECK(o.character_coverage > 0.0 && o.character_coverage <= 1.0, kOp, "character coverage ",
               o.character_coverage, " is outside (0, 1]");
  ATTEND_CHECK(o.num_threads >= 1, kOp, "thread count ", o.num_threads, " is not positive");
  ATTEND_CHECK(o.max_sentences >= 0, kOp, "sentence limit ", o.max_sentences, " is negative");
  for (const auto& f : inputs) {
    std::ifstream probe(f, std::ios::binary);
    ATTEND_CHECK(probe.is_open(), kOp, f, ": cannot open training input (missing or unreadable)");
  }
  char coverage[32];
  std::snprintf(coverage, sizeof coverage, "%.17g", o.character_coverage);
  const std::unordered_map<std::string, std::string> args{
      {"model_type", sentencepiece_type_name(o.type)},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"character_coverage", coverage},
      {"byte_fallback", o.byte_fallback ? "true" : "false"},
      {"normalization_rule_name", o.normalization},
      {"input_sentence_size", std::to_string(o.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"max_sentence_length", std::to_string(o.max_sentence_bytes)},
      {"num_threads", std::to_string(o.num_threads)},
      // attend's specials at attend's ids (data/vocab.h).
      {"pad_id", "0"}, {"unk_id", "1"}, {"bos_id", "2"}, {"eos_id", "3"},
      {"pad_piece", "<pad>"}, {"unk_piece", "<unk>"}, {"bos_piece", "<s>"}, {"eos_piece", "</s>"},
  };
  SentencePieceTrainReport local;
  SentencePieceTrainReport& rep = report != nullptr ? *report : local;
  rep = {};
  const auto start = std::chrono::steady_clock::now();
  std::string bytes;
  sentencepiece::util::Status st;
  {
    QuietLog quiet;
    sentencepiece::SetRandomGeneratorSeed(o.seed);  // the sample of max_sentences
    FileLines lines(inputs, rep);
    st = sentencepiece::SentencePieceTrainer::Train(args, &lines, &bytes);
    if (!lines.error().empty()) throw Error(kOp, lines.error());
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string names;
  for (const auto& f : inputs) names += (names.empty() ? "" : ", ") + f;
  ATTEND_CHECK(st.ok(), kOp, "training on ", names, " failed: ", status_text(st));
  return from_serialized(bytes, "trained model");
}

std::string SentencePiece::serialized() const { return sp_->serialized_model_proto(); }

std::vector<std::string> SentencePiece::encode_pieces(std::string_view text) const {
  ATTEND_CHECK(!utf8_invalid_offset(text), kOp, "cannot encode invalid UTF-8 (byte ", *utf8_invalid_offset(text) + 1, ")");
  std::vector<std::string> out;
  const auto st = sp_->Encode(text, &out);
  ATTEND_CHECK(st.ok(), kOp, "encode with ", what_, ": ", status_text(st));
  return out;
}

std::vector<int64_t> SentencePiece::encode_ids(std::string_view text) const {
  ATTEND_CHECK(!utf8_invalid_offset(text), kOp, "cannot encode invalid UTF-8 (byte ", *utf8_invalid_offset(text) + 1, ")");
  std::vector<int> ids;
  const auto st = sp_->Encode(text, &ids);
  ATTEND_CHECK(st.ok(), kOp, "encode with ", what_, ": ", status_text(st));
  return {ids.begin(), ids.end()};
}

std::string SentencePiece::decode_pieces(const std::vector<std::string>& pieces) const {
  std::string out;
  const auto st = sp_->Decode(pieces, &out);
  ATTEND_CHECK(st.ok(), kOp, "decode with ", what_, ": ", status_text(st));
  return out;
}

std::string SentencePiece::decode_ids(const std::vector<int64_t>& ids) const {
  std::vector<int> narrow;
  narrow.reserve(ids.size());
  for (const int64_t id : ids) {
    ATTEND_CHECK(id >= 0 && id < vocab_size(), kOp, "id ", id, " is outside [0, ", vocab_size(), ") of ", what_);
    narrow.push_back(static_cast<int>(id));
  }
  std::string out;
  const auto st = sp_->Decode(narrow, &out);
  ATTEND_CHECK(st.ok(), kOp, "decode with ", what_, ": ", status_text(st));
  return out;
}

int64_t SentencePiece::vocab_size() const { return sp_->GetPieceSize(); }

int64_t SentencePiece::piece_to_id(std::string_view piece) const { return sp_->PieceToId(piece); }

const std::string& SentencePiece::id_to_piece(int64_t id) const {
  ATTEND_CHECK(id >= 0 && id < vocab_size(), kOp, "id ", id, " is outside [0, ", vocab_size(), ") of ", what_);
  return sp_->IdToPiece(static_cast<int>(id));
}

float SentencePiece::score(int64_t id) const {
  ATTEND_CHECK(id >= 0 && id < vocab_size(), kOp, "id ", id, " is outside [0, ", vocab_size(), ") of ", what_);
  return sp_->GetScore(static_cast<int>(id));
}

bool SentencePiece::is_control(int64_t id) const {
  return id >= 0 && id < vocab_size() && sp_->IsControl(static_cast<int>(id));
}

bool SentencePiece::is_unknown(int64_t id) const {
  return id >= 0 && id < vocab_size() && sp_->IsUnknown(static_cast<int>(id));
}

int64_t SentencePiece::pad_id() const { return sp_->pad_id(); }
int64_t SentencePiece::unk_id() const { return sp_->unk_id(); }
int64_t SentencePiece::bos_id() const { return sp_->bos_id(); }
int64_t SentencePiece::eos_id() const { return sp_->eos_id(); }

std::string SentencePiece::vocab_text() const {
  std::ostringstream os;
  for (int i = 0; i < sp_->GetPieceSize(); ++i) os << sp_->IdToPiece(i) << '\t' << sp_->GetScore(i) << '\n';
  return os.str();
}

}  // namespace attend::data
