// `attend vocab`: trains SentencePiece subword models (BPE or unigram) from training text, one
// joint model for all inputs or one per input, and encodes or decodes lines with a model for
// checking. The models are what issue 11's Transformer on Multi30k tokenizes with; a checkpoint is
// meant to embed the model's bytes (see include/attend/data/sentencepiece.h).
//
//   attend vocab --input train.en --input train.de --model-type bpe --vocab-size 8000 --out spm
//       -> spm.model, spm.vocab (one joint model)
//   attend vocab --input train.en --input train.de --separate --vocab-size 8000 --out spm
//       -> spm.en.model, spm.de.model (+ .vocab): one model per input, named by its extension
//   attend vocab --model spm.model --encode [--ids] < text > pieces
//   attend vocab --model spm.model --decode [--ids] < pieces > text
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "attend/core/error.h"
#include "attend/data/sentencepiece.h"
#include "attend/io/atomic_file.h"
#include "commands.h"

namespace attend::cli {
namespace {

constexpr const char* kOp = "vocab";

struct VocabOptions {
  std::vector<std::string> inputs;
  std::string out;
  std::string model_type = "unigram";
  int64_t vocab_size = 8000;
  double character_coverage = 1.0;
  bool byte_fallback = false;
  bool separate = false;
  int64_t max_sentences = 0;
  int threads = 1;
  uint32_t seed = 1;
  // Encode / decode.
  std::string model, input_file;
  bool encode = false, decode = false, ids = false;
};

std::string split_words_joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// Average pieces per line and share of <unk> pieces over the first `limit` lines of `file`.
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

void train_one(const VocabOptions& o, const std::vector<std::string>& inputs, const std::string& prefix) {
  const data::SentencePieceTrainOptions t{.type = data::parse_sentencepiece_type(o.model_type),
                                          .vocab_size = o.vocab_size,
                                          .character_coverage = o.character_coverage,
                                          .byte_fallback = o.byte_fallback,
                                          .max_sentences = o.max_sentences,
                                          .num_threads = o.threads,
                                          .seed = o.seed};
  std::cerr << "training " << o.model_type << " model (" << o.vocab_size << " pieces, character coverage "
            << o.character_coverage << ") on " << split_words_joined(inputs) << " ..." << std::endl;
  data::SentencePieceTrainReport report;
  const data::SentencePiece sp = data::SentencePiece::train(inputs, t, &report);
  io::write_file_atomic(prefix + ".model", sp.serialized());
  io::write_file_atomic(prefix + ".vocab", sp.vocab_text());
  int64_t lines = 0;
  for (const int64_t n : report.lines) lines += n;
  char buf[256];
  std::snprintf(buf, sizeof buf, "wrote %s.model and %s.vocab: %lld pieces, trained in %.1f s on %lld lines (%lld characters)\n",
                prefix.c_str(), prefix.c_str(), static_cast<long long>(sp.vocab_size()), report.seconds,
                static_cast<long long>(lines), static_cast<long long>(report.characters));
  std::cerr << buf;
  constexpr int64_t kSample = 1000;
  for (const auto& f : inputs) {
    const Coverage c = coverage_of(sp, f, kSample);
    if (c.lines == 0) continue;
    std::snprintf(buf, sizeof buf, "  %s: %.1f pieces per line, %.3f%% unknown (first %lld lines)\n", f.c_str(),
                  static_cast<double>(c.pieces) / static_cast<double>(c.lines),
                  c.pieces == 0 ? 0.0 : 100.0 * static_cast<double>(c.unknown) / static_cast<double>(c.pieces),
                  static_cast<long long>(c.lines));
    std::cerr << buf;
  }
}

void run_train(const VocabOptions& o) {
  ATTEND_CHECK(!o.inputs.empty(), kOp, "training needs --input FILE (one or more)");
  ATTEND_CHECK(!o.out.empty(), kOp, "training needs --out PREFIX (writes PREFIX.model and PREFIX.vocab)");
  for (const auto& f : o.inputs)
    ATTEND_CHECK(std::filesystem::is_regular_file(f), kOp, f, ": cannot open training input (missing or not a file)");
  if (!o.separate) {
    train_one(o, o.inputs, o.out);
    return;
  }
  // One model per input, named by the input's extension (train.de -> PREFIX.de.model).
  std::map<std::string, std::string> by_language;
  for (const auto& f : o.inputs) {
    std::string ext = std::filesystem::path(f).extension().string();
    ATTEND_CHECK(ext.size() > 1, kOp, f, ": --separate names each model by its input's extension (train.de -> ",
                 o.out, ".de.model), and this file has none");
    ext = ext.substr(1);
    const auto [it, fresh] = by_language.emplace(ext, f);
    ATTEND_CHECK(fresh, kOp, "--separate: ", it->second, " and ", f, " have the same extension '", ext, "'");
  }
  for (const auto& f : o.inputs) train_one(o, {f}, o.out + "." + std::filesystem::path(f).extension().string().substr(1));
}

void run_code(const VocabOptions& o) {
  ATTEND_CHECK(!o.model.empty(), kOp, "--encode and --decode need --model FILE");
  ATTEND_CHECK(o.encode != o.decode, kOp, "give one of --encode and --decode");
  ATTEND_CHECK(o.inputs.empty() && o.out.empty(), kOp, "--input/--out are for training; encode and decode read -i FILE or stdin");
  const data::SentencePiece sp = data::SentencePiece::load(o.model);
  std::ifstream file;
  if (!o.input_file.empty()) {
    file.open(o.input_file, std::ios::binary);
    ATTEND_CHECK(file.is_open(), kOp, o.input_file, ": cannot open");
  }
  std::istream& in = o.input_file.empty() ? std::cin : file;
  const std::string name = o.input_file.empty() ? "<stdin>" : o.input_file;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    try {
      if (o.encode) {
        if (o.ids) {
          std::string out;
          for (const int64_t id : sp.encode_ids(line)) out += (out.empty() ? "" : " ") + std::to_string(id);
          std::cout << out << '\n';
        } else {
          std::cout << split_words_joined(sp.encode_pieces(line)) << '\n';
        }
      } else {
        std::istringstream words(line);
        if (o.ids) {
          std::vector<int64_t> ids;
          std::string w;
          while (words >> w) {
            size_t used = 0;
            int64_t id = -1;
            try {
              id = std::stoll(w, &used);
            } catch (const std::exception&) {
              used = 0;
            }
            ATTEND_CHECK(used == w.size() && used > 0, kOp, "'", w, "' is not an id");
            ids.push_back(id);
          }
          std::cout << sp.decode_ids(ids) << '\n';
        } else {
          std::vector<std::string> pieces;
          std::string w;
          while (words >> w) pieces.push_back(w);
          std::cout << sp.decode_pieces(pieces) << '\n';
        }
      }
    } catch (const Error& e) {
      // "[vocab] FILE:LINE: [sentencepiece] ..." for the library's errors, without repeating [vocab].
      const std::string m = e.what(), own = std::string("[") + kOp + "] ";
      throw Error(kOp, name + ":" + std::to_string(lineno) + ": " + (m.rfind(own, 0) == 0 ? m.substr(own.size()) : m));
    }
  }
  ATTEND_CHECK(!in.bad(), kOp, name, ": read error");
  std::cout.flush();
}

}  // namespace

void add_vocab_command(CLI::App& app) {
  auto o = std::make_shared<VocabOptions>();
  CLI::App* cmd = app.add_subcommand(
      "vocab", "Train a SentencePiece subword model (BPE or unigram) from text files, or encode/decode lines with one");
  cmd->footer(
      "Training: --input FILE... --out PREFIX writes PREFIX.model and PREFIX.vocab; several inputs make one joint "
      "model (e.g. both languages of a corpus), --separate one model per input, named by the input's extension "
      "(train.de -> PREFIX.de.model). Ids 0-3 are <pad>, <unk>, <s>, </s> as in attend's vocabularies.\n"
      "Checking: --model FILE --encode (text -> pieces, or ids with --ids) or --decode (pieces or ids -> text), "
      "one line per line, from -i FILE or stdin to stdout.");
  cmd->add_option("--input", o->inputs, "training text files, one sentence per line (UTF-8)");
  cmd->add_option("--out", o->out, "output prefix: PREFIX.model and PREFIX.vocab");
  cmd->add_option("--model-type", o->model_type, "bpe or unigram")->capture_default_str()
      ->check(CLI::IsMember({"bpe", "unigram"}));
  cmd->add_option("--vocab-size", o->vocab_size, "pieces per model, the 4 specials included")->capture_default_str()
      ->check(CLI::Range(int64_t{5}, int64_t{1} << 30));
  cmd->add_option("--character-coverage", o->character_coverage,
                  "share of the characters the model covers (1.0 for Latin scripts, 0.9995 for CJK)")
      ->capture_default_str()->check(CLI::Range(1e-9, 1.0));
  cmd->add_flag("--byte-fallback", o->byte_fallback, "encode uncovered characters as UTF-8 byte pieces (lossless)");
  cmd->add_flag("--separate", o->separate, "one model per --input instead of one joint model");
  cmd->add_option("--max-sentences", o->max_sentences, "train on a seeded sample of at most this many lines (0: all)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", o->threads, "training threads")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--seed", o->seed, "seed of the sample of --max-sentences")->capture_default_str();
  cmd->add_option("--model", o->model, "a .model file, for --encode/--decode");
  cmd->add_flag("--encode", o->encode, "text lines -> pieces (or ids with --ids)");
  cmd->add_flag("--decode", o->decode, "pieces (or ids with --ids) lines -> detokenized text");
  cmd->add_flag("--ids", o->ids, "--encode writes ids, --decode reads ids");
  cmd->add_option("-i", o->input_file, "read lines to encode/decode from FILE instead of stdin");
  cmd->callback([o] {
    if (o->encode || o->decode || !o->model.empty())
      run_code(*o);
    else
      run_train(*o);
  });
}

}  // namespace attend::cli
