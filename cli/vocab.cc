// `attend vocab`: trains SentencePiece subword models (BPE or unigram) from training text, one
// joint model for all inputs or one per input, and encodes or decodes lines with a model for
// checking; the work is app/subwords.h's. `attend train --spm spm.model` (or --source-spm and
// --target-spm) tokenizes with such models and embeds them in the checkpoint (app/model_spec.h).
//
//   attend vocab --input train.en --input train.de --model-type bpe --vocab-size 8000 --out spm
//       -> spm.model, spm.vocab (one joint model)
//   attend vocab --input train.en --input train.de --separate --vocab-size 8000 --out spm
//       -> spm.en.model, spm.de.model (+ .vocab): one model per input, named by its extension
//   attend vocab --model spm.model --encode [--ids] < text > pieces
//   attend vocab --model spm.model --decode [--ids] < pieces > text
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "attend/app/subwords.h"
#include "attend/core/error.h"
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
  std::string normalization = "nmt_nfkc";
  bool separate = false;
  int64_t max_sentences = 0;
  int threads = 1;
  uint32_t seed = 1;
  // Encode / decode.
  std::string model, input_file;
  bool encode = false, decode = false, ids = false;
};

void run_train(const VocabOptions& o) {
  ATTEND_CHECK(!o.inputs.empty(), kOp, "training needs --input FILE (one or more)");
  ATTEND_CHECK(!o.out.empty(), kOp, "training needs --out PREFIX (writes PREFIX.model and PREFIX.vocab)");
  app::train_subwords({.inputs = o.inputs,
                       .out = o.out,
                       .separate = o.separate,
                       .options = {.type = data::parse_sentencepiece_type(o.model_type),
                                   .vocab_size = o.vocab_size,
                                   .character_coverage = o.character_coverage,
                                   .byte_fallback = o.byte_fallback,
                                   .normalization = o.normalization,
                                   .max_sentences = o.max_sentences,
                                   .num_threads = o.threads,
                                   .seed = o.seed}},
                      std::cerr);
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
  using C = app::SubwordCoding;
  const C coding = o.encode ? (o.ids ? C::encode_ids : C::encode_pieces) : (o.ids ? C::decode_ids : C::decode_pieces);
  app::code_subword_lines(sp, coding, o.input_file.empty() ? std::cin : file,
                          o.input_file.empty() ? "<stdin>" : o.input_file, std::cout);
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
  cmd->add_option("--normalization", o->normalization,
                  "text normalization rule stored in the model (identity keeps the model small: no NFKC table)")
      ->capture_default_str()
      ->check(CLI::IsMember({"nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity"}));
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
