// data::SentencePiece: trains tiny BPE and unigram models on a small corpus in a temporary
// directory, checks that encode/decode round-trips detokenized text exactly, that attend's specials
// sit at attend's ids, that a model survives serialization byte for byte, that joint and separate
// models differ as they should, and that missing or corrupt files give errors naming the file;
// the spm Tokenizer and a Vocab of a model's pieces in the model's order.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "attend/core/error.h"
#include "attend/data/sentencepiece.h"
#include "attend/data/tokenizer.h"
#include "attend/data/utf8.h"
#include "attend/data/vocab.h"
#include "support/check.h"
#include "support/temp_dir.h"

namespace attend::data {
namespace {

const std::vector<std::string> kEnglish = {
    "A man in an orange hat starring at something.",
    "A Boston Terrier is running on lush green grass in front of a white fence.",
    "A girl in karate uniform breaking a stick with a front kick.",
    "Five people wearing winter jackets and helmets stand in the snow, with snowmobiles in the background.",
    "People are fixing the roof of a house.",
    "A man in light colored clothing photographs a group of men wearing dark suits and hats.",
    "A group of people standing in front of an igloo.",
    "A boy in a red uniform is attempting to avoid getting out at home plate.",
    "A guy works on a building.",
    "A man in a vest is sitting in a chair and holding magazines.",
    "Two dogs play in the snow \"together\" - it's 3.5 degrees!",
    "Children (ages 5-7) paint, draw & sing at 10:30 a.m.",
};
const std::vector<std::string> kGerman = {
    "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.",
    "Ein Boston Terrier läuft über saftig-grünes Gras vor einem weißen Zaun.",
    "Ein Mädchen in einem Karateanzug bricht einen Stock mit einem Tritt.",
    "Fünf Leute in Winterjacken und mit Helmen stehen im Schnee mit Schneemobilen im Hintergrund.",
    "Leute Reparieren das Dach eines Hauses.",
    "Ein Mann in heller Kleidung fotografiert eine Gruppe von Männern in dunklen Anzügen und mit Hüten.",
    "Eine Gruppe von Menschen steht vor einem Iglu.",
    "Ein Junge in einem roten Trikot versucht, die Home Base zu erreichen, bevor er ausgeworfen wird.",
    "Ein Typ arbeitet an einem Gebäude.",
    "Ein Mann in einer Weste sitzt auf einem Stuhl und hält Magazine.",
    "Zwei Hunde spielen im Schnee „zusammen“ – es sind 3,5 Grad!",
    "Kinder (5–7 Jahre) malen, zeichnen & singen um 10:30 Uhr.",
};

class DataSentencePiece : public test::TempDirTest {
 protected:
  // Writes `lines` `repeat` times to `name` in the test's directory and returns its path.
  std::string write_lines(const std::string& name, const std::vector<std::string>& lines, int repeat = 3) {
    const std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    for (int r = 0; r < repeat; ++r)
      for (const auto& l : lines) out << l << "\n";
    return p;
  }
  static void expect_round_trip(const SentencePiece& sp, const std::vector<std::string>& lines) {
    for (const auto& l : lines) {
      const auto ids = sp.encode_ids(l);
      EXPECT_FALSE(ids.empty()) << l;
      for (const int64_t id : ids) EXPECT_FALSE(sp.is_unknown(id)) << "unknown piece in: " << l;
      EXPECT_EQ(sp.decode_ids(ids), l);
      EXPECT_EQ(sp.decode_pieces(sp.encode_pieces(l)), l);
      std::vector<int64_t> via_pieces;
      for (const auto& p : sp.encode_pieces(l)) via_pieces.push_back(sp.piece_to_id(p));
      EXPECT_EQ(via_pieces, ids) << l;
    }
  }
};

TEST_F(DataSentencePiece, TrainsBpeAndUnigramThatRoundTripDetokenizedText) {
  const std::string en = write_lines("train.en", kEnglish);
  for (const auto type : {SentencePieceType::bpe, SentencePieceType::unigram}) {
    SCOPED_TRACE(sentencepiece_type_name(type));
    SentencePieceTrainReport report;
    const SentencePiece sp = SentencePiece::train({en}, {.type = type, .vocab_size = 120}, &report);
    EXPECT_EQ(sp.vocab_size(), 120);
    ASSERT_EQ(report.lines.size(), 1u);
    EXPECT_EQ(report.lines[0], 3 * static_cast<int64_t>(kEnglish.size()));
    EXPECT_GT(report.characters, 1000);
    // attend's specials at attend's ids (data/vocab.h).
    EXPECT_EQ(sp.pad_id(), 0);
    EXPECT_EQ(sp.unk_id(), 1);
    EXPECT_EQ(sp.bos_id(), 2);
    EXPECT_EQ(sp.eos_id(), 3);
    EXPECT_EQ(sp.id_to_piece(0), "<pad>");
    EXPECT_EQ(sp.id_to_piece(1), "<unk>");
    EXPECT_EQ(sp.id_to_piece(2), "<s>");
    EXPECT_EQ(sp.id_to_piece(3), "</s>");
    EXPECT_TRUE(sp.is_control(2));
    EXPECT_TRUE(sp.is_unknown(1));
    EXPECT_EQ(sp.piece_to_id("no-such-piece-here"), 1);
    expect_round_trip(sp, kEnglish);
    expect_round_trip(sp, {"A man in a hat.", "Two people stand in front of a house, holding 5 sticks!"});
    // Subwords, not words: a line takes fewer pieces than characters and more than words.
    const auto pieces = sp.encode_pieces(kEnglish[1]);
    EXPECT_LT(pieces.size(), kEnglish[1].size());
    EXPECT_GT(pieces.size(), 14u);
    EXPECT_EQ(pieces[0].rfind("\xE2\x96\x81", 0), 0u) << pieces[0];  // "▁" starts a word
    // Control ids decode to nothing.
    auto ids = sp.encode_ids("A dog.");
    ids.insert(ids.begin(), sp.bos_id());
    ids.push_back(sp.eos_id());
    EXPECT_EQ(sp.decode_ids(ids), "A dog.");
  }
}

TEST_F(DataSentencePiece, SerializedBytesAreTheModelFile) {
  const std::string en = write_lines("train.en", kEnglish);
  const SentencePiece sp = SentencePiece::train({en}, {.type = SentencePieceType::bpe, .vocab_size = 100});
  const std::string bytes = sp.serialized();
  {
    std::ofstream out(path("m.model"), std::ios::binary);
    out << bytes;
  }
  const SentencePiece loaded = SentencePiece::load(path("m.model"));
  EXPECT_EQ(loaded.serialized(), bytes);
  const SentencePiece embedded = SentencePiece::from_serialized(bytes, "m.ckpt: sentencepiece");
  for (const auto& l : kEnglish) {
    EXPECT_EQ(loaded.encode_ids(l), sp.encode_ids(l));
    EXPECT_EQ(embedded.encode_pieces(l), sp.encode_pieces(l));
  }
  // Training is deterministic: the same inputs and options give the same model.
  EXPECT_EQ(SentencePiece::train({en}, {.type = SentencePieceType::bpe, .vocab_size = 100}).serialized(), bytes);
  // The .vocab text lists every piece with its score.
  const std::string vocab = sp.vocab_text();
  EXPECT_EQ(static_cast<int64_t>(std::count(vocab.begin(), vocab.end(), '\n')), sp.vocab_size());
  EXPECT_EQ(vocab.rfind("<pad>\t0\n<unk>\t0\n<s>\t0\n</s>\t0\n", 0), 0u) << vocab.substr(0, 60);
}

TEST_F(DataSentencePiece, JointModelCoversBothLanguagesSeparateOnlyItsOwn) {
  const std::string en = write_lines("train.en", kEnglish), de = write_lines("train.de", kGerman);
  SentencePieceTrainReport report;
  const SentencePiece joint = SentencePiece::train({en, de}, {.vocab_size = 200}, &report);
  EXPECT_EQ(report.lines, (std::vector<int64_t>{36, 36}));
  expect_round_trip(joint, kEnglish);
  expect_round_trip(joint, kGerman);
  const SentencePiece english = SentencePiece::train({en}, {.vocab_size = 120});
  // "ü", "ß", "„" never occur in the English file: the English model has no piece for them.
  const auto ids = english.encode_ids("Fünf Hüte für Straße");
  EXPECT_NE(std::find(ids.begin(), ids.end(), english.unk_id()), ids.end());
  // With byte fallback, they become byte pieces and decode exactly.
  const SentencePiece bytes = SentencePiece::train({en}, {.vocab_size = 380, .byte_fallback = true});
  EXPECT_EQ(bytes.decode_ids(bytes.encode_ids("Fünf Hüte für Straße")), "Fünf Hüte für Straße");
}

TEST_F(DataSentencePiece, MissingOrCorruptModelFileNamesTheFile) {
  test::expect_error([&] { SentencePiece::load(path("no-such.model")); }, "[sentencepiece]",
                     {path("no-such.model"), "cannot open"});
  {
    std::ofstream(path("garbage.model"), std::ios::binary) << "this is not a model\n\x01\x02\xff";
  }
  test::expect_error([&] { SentencePiece::load(path("garbage.model")); }, "[sentencepiece]",
                     {path("garbage.model"), "not a valid SentencePiece model"});
  { std::ofstream(path("empty.model"), std::ios::binary); }
  test::expect_error([&] { SentencePiece::load(path("empty.model")); }, "[sentencepiece]",
                     {path("empty.model"), "not a valid SentencePiece model"});
  const std::string en = write_lines("train.en", kEnglish);
  const std::string bytes = SentencePiece::train({en}, {.type = SentencePieceType::bpe, .vocab_size = 100}).serialized();
  {
    std::ofstream(path("truncated.model"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  test::expect_error([&] { SentencePiece::load(path("truncated.model")); }, "[sentencepiece]",
                     {path("truncated.model"), "not a valid SentencePiece model"});
  test::expect_error([&] { SentencePiece::from_serialized(bytes.substr(0, 40), "m.ckpt: sentencepiece"); },
                     "[sentencepiece]", {"m.ckpt: sentencepiece", "not a valid"});
}

TEST_F(DataSentencePiece, BadTrainingInputAndArgumentsFail) {
  const std::string en = write_lines("train.en", kEnglish);
  test::expect_error([&] { SentencePiece::train({en, path("missing.de")}, {}); }, "[sentencepiece]",
                     {path("missing.de"), "cannot open"});
  {
    std::ofstream(path("bad.txt"), std::ios::binary) << "fine line\nbad \xC3\x28 line\n";
  }
  test::expect_error([&] { SentencePiece::train({en, path("bad.txt")}, {.vocab_size = 100}); }, "[sentencepiece]",
                     {path("bad.txt") + ":2: invalid UTF-8"});
  test::expect_error([&] { SentencePiece::train({en}, {.vocab_size = 100000}); }, "[sentencepiece]",
                     {"training on", en, "failed", "Vocabulary size"});
  test::expect_error([&] { SentencePiece::train({}, {}); }, "[sentencepiece]", {"no training input"});
  test::expect_error([&] { SentencePiece::train({en}, {.vocab_size = 4}); }, "[sentencepiece]", {"vocabulary size 4"});
  test::expect_error([&] { SentencePiece::train({en}, {.character_coverage = 0.0}); }, "[sentencepiece]",
                     {"character coverage"});
  test::expect_error([] { parse_sentencepiece_type("wordpiece"); }, "[sentencepiece]", {"wordpiece", "bpe or unigram"});
  EXPECT_EQ(parse_sentencepiece_type("bpe"), SentencePieceType::bpe);
  const SentencePiece sp = SentencePiece::train({en}, {.type = SentencePieceType::bpe, .vocab_size = 100});
  test::expect_error([&] { sp.decode_ids({5, 100}); }, "[sentencepiece]", {"id 100 is outside [0, 100)"});
  test::expect_error([&] { sp.id_to_piece(-1); }, "[sentencepiece]", {"id -1"});
  test::expect_error([&] { sp.encode_ids("bad \xFF"); }, "[sentencepiece]", {"invalid UTF-8"});
}

TEST_F(DataSentencePiece, SpmTokenizerIsTheModelsPiecesAndVocabKeepsItsIds) {
  const std::string en = write_lines("train.en", kEnglish);
  const auto sp = std::make_shared<const SentencePiece>(
      SentencePiece::train({en}, {.type = SentencePieceType::bpe, .vocab_size = 100}));
  EXPECT_EQ(parse_tokenizer_kind("spm"), TokenizerKind::sentencepiece);
  EXPECT_STREQ(tokenizer_kind_name(TokenizerKind::sentencepiece), "spm");
  const Tokenizer tok({.kind = TokenizerKind::sentencepiece, .sentencepiece = sp});
  const Tokenizer lower({.kind = TokenizerKind::sentencepiece, .lowercase = true, .sentencepiece = sp});
  std::vector<std::string> pieces;
  for (int64_t i = 0; i < sp->vocab_size(); ++i) pieces.push_back(sp->id_to_piece(i));
  const Vocab vocab = Vocab::of_tokens(pieces, "en.model");
  ASSERT_EQ(vocab.size(), sp->vocab_size());
  for (const auto& line : kEnglish) {
    const auto tokens = tok.tokenize(line);
    EXPECT_EQ(tokens, sp->encode_pieces(line));
    EXPECT_EQ(tok.detokenize(tokens), line);  // the text comes back, spaces and all
    EXPECT_EQ(vocab.encode(tokens), sp->encode_ids(line));  // the same ids as the model's
    EXPECT_EQ(tok.detokenize(vocab.decode(vocab.encode(tokens))), line);
    EXPECT_EQ(lower.tokenize(line), sp->encode_pieces(utf8_lower(line)));
  }
  test::expect_error([] { Tokenizer({.kind = TokenizerKind::sentencepiece}).tokenize("a"); }, "[tokenize]",
                     {"needs a SentencePiece model"});
  test::expect_error([] { parse_tokenizer_kind("bpe"); }, "[tokens]", {"known: char, word, spm"});
  std::swap(pieces[1], pieces[2]);
  test::expect_error([&] { Vocab::of_tokens(pieces, "x.model"); }, "[Vocab::of_tokens]", {"x.model", "id 1"});
  std::swap(pieces[1], pieces[2]);
  pieces.push_back(pieces[10]);
  test::expect_error([&] { Vocab::of_tokens(pieces, "x.model"); }, "[Vocab::of_tokens]",
                     {"x.model", "duplicate token", "id 100"});
}

}  // namespace
}  // namespace attend::data
