// data: parallel corpora (aligned files, TSV, every bad-input case naming file and line), the
// length filter, tokenizers and the vocabulary (deterministic order, save/load round trip).
#include <gtest/gtest.h>

#include "support/temp_dir.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "attend/core/error.h"
#include "attend/data/corpus.h"
#include "attend/data/tokenizer.h"
#include "attend/data/utf8.h"
#include "attend/data/vocab.h"
#include "attend/io/atomic_file.h"
#include "support/check.h"

namespace attend::data {
namespace {

namespace fs = std::filesystem;
using test::expect_error;

class DataCorpus : public test::TempDirTest {
 protected:
  std::string file(const std::string& name, const std::string& contents) const {
    const std::string p = (dir_ / name).string();
    io::write_file_atomic(p, contents);
    return p;
  }
};

TEST_F(DataCorpus, ReadsAlignedFilesAndTsv) {
  const auto src = file("a.de", "Ein Mann.\r\nZwei Hunde spielen\n\nÄpfel\n");
  const auto tgt = file("a.en", "A man.\nTwo dogs play\n\nApples");  // no final newline
  const auto pairs = read_parallel(src, tgt);
  ASSERT_EQ(pairs.size(), 4u);
  EXPECT_EQ(pairs[0], (Pair{"Ein Mann.", "A man."}));
  EXPECT_EQ(pairs[2], (Pair{"", ""}));
  EXPECT_EQ(pairs[3], (Pair{"Äpfel", "Apples"}));

  const auto tsv = read_tsv(file("p.tsv", "3+4\t7\n10+1\t11\n"));
  EXPECT_EQ(tsv, (std::vector<Pair>{{"3+4", "7"}, {"10+1", "11"}}));
}

TEST_F(DataCorpus, WritePairsRoundTrip) {
  const std::vector<Pair> pairs = {{"tuesday 3 march 2015", "2015-03-03"}, {"3/3/15", "2015-03-03"}};
  std::ostringstream s, t, tsv;
  write_pairs(pairs, s, t);
  write_pairs_tsv(pairs, tsv);
  EXPECT_EQ(read_parallel(file("g.src", s.str()), file("g.tgt", t.str())), pairs);
  EXPECT_EQ(read_tsv(file("g.tsv", tsv.str())), pairs);
  std::ostringstream sink;
  EXPECT_THROW(write_pairs_tsv({{"a\tb", "c"}}, sink), Error);
  EXPECT_THROW(write_pairs({{"a\nb", "c"}}, sink, sink), Error);
}

TEST_F(DataCorpus, BadInputInvalidUtf8NamesFileLineAndOffset) {
  const auto src = file("bad.de", "gut\nschl\xC3" "(cht\n");
  const auto tgt = file("bad.en", "good\nbad\n");
  expect_error([&] { read_parallel(src, tgt); }, {src + ":2:", "invalid UTF-8", "byte 4 of the line", "byte 8 of the file"});
  const auto tsv = file("bad.tsv", "a\tb\nc\t\xFF\n");
  expect_error([&] { read_tsv(tsv); }, {tsv + ":2:", "byte 2 of the line"});
}

TEST_F(DataCorpus, BadInputDifferentLineCounts) {
  const auto src = file("x.de", "a\nb\nc\n");
  const auto tgt = file("x.en", "a\nb\n");
  expect_error([&] { read_parallel(src, tgt); }, {tgt + " is shorter", src + " has 3 lines", tgt + " has 2"});
  expect_error([&] { read_parallel(tgt, src); }, {tgt + " is shorter"});
}

TEST_F(DataCorpus, BadInputEmptyCorpus) {
  const auto a = file("e.de", ""), b = file("e.en", "");
  expect_error([&] { read_parallel(a, b); }, {a, "empty corpus"});
  const auto t = file("e.tsv", "");
  expect_error([&] { read_tsv(t); }, {t, "empty corpus"});
}

TEST_F(DataCorpus, BadInputTsvLineWithoutExactlyOneTab) {
  const auto none = file("n.tsv", "a\tb\nno tab here\n");
  expect_error([&] { read_tsv(none); }, {none + ":2:", "exactly one tab", "found 0"});
  const auto two = file("t.tsv", "a\tb\tc\n");
  expect_error([&] { read_tsv(two); }, {two + ":1:", "found 2"});
}

TEST_F(DataCorpus, BadInputMissingFile) {
  const std::string missing = (dir_ / "missing.de").string();
  const auto other = file("ok.en", "x\n");
  expect_error([&] { read_parallel(missing, other); }, {missing, "cannot open"});
  expect_error([&] { read_tsv(missing); }, {missing, "cannot open"});
  expect_error([&] { Vocab::load(missing); }, {missing, "cannot open"});
}

TEST(DataUtf8, ValidatesAndSplits) {
  EXPECT_FALSE(utf8_invalid_offset("Grüße, 日本, 🙂"));
  EXPECT_EQ(utf8_invalid_offset("ab\xC0\xAF"), 2u);         // overlong '/'
  EXPECT_EQ(utf8_invalid_offset("a\xED\xA0\x80"), 1u);      // surrogate
  EXPECT_EQ(utf8_invalid_offset("\xF4\x90\x80\x80"), 0u);   // above U+10FFFF
  EXPECT_EQ(utf8_invalid_offset("ok\xE2\x82"), 2u);         // truncated
  EXPECT_EQ(utf8_split("aü🙂"), (std::vector<std::string>{"a", "ü", "🙂"}));
}

TEST(DataTokenizer, CharacterLevelIsExact) {
  const Tokenizer t({.kind = TokenizerKind::character});
  const std::string s = "Mädchen 3/3/15";
  const auto toks = t.tokenize(s);
  EXPECT_EQ(toks.size(), 14u);
  EXPECT_EQ(toks[1], "ä");
  EXPECT_EQ(toks[7], " ");
  EXPECT_EQ(t.detokenize(toks), s);
  EXPECT_THROW(t.tokenize("a\xFF"), Error);
}

TEST(DataTokenizer, WordLevelSplitsPunctuation) {
  const Tokenizer t({.kind = TokenizerKind::word, .split_punctuation = true});
  EXPECT_EQ(t.tokenize("  A man, in a red-shirt.  Don't (stop)! "),
            (std::vector<std::string>{"A", "man", ",", "in", "a", "red-shirt", ".", "Don't", "(", "stop", ")", "!"}));
  EXPECT_EQ(t.tokenize("thirty-four"), (std::vector<std::string>{"thirty-four"}));
  EXPECT_EQ(t.tokenize("Straße."), (std::vector<std::string>{"Straße", "."}));
  const Tokenizer plain({.kind = TokenizerKind::word, .split_punctuation = false});
  EXPECT_EQ(plain.tokenize("A man, here.\tok"), (std::vector<std::string>{"A", "man,", "here.", "ok"}));
  EXPECT_EQ(plain.detokenize({"a", "b"}), "a b");
}

TEST(DataTokenizer, LowercaseCoversAsciiAndLatin1Capitals) {
  EXPECT_EQ(utf8_lower("Zwei MÄNNER, ÖL und ÜBER ÀÉÎ ×ß 3/3"), "zwei männer, öl und über àéî ×ß 3/3");
  EXPECT_EQ(utf8_lower("ok\xC3"), "ok\xC3");  // a truncated sequence is copied, never read past
  EXPECT_EQ(utf8_lower("\xC3\x97"), "\xC3\x97");  // U+00D7 (multiplication sign) has no lower case
  const Tokenizer w({.kind = TokenizerKind::word, .lowercase = true});
  EXPECT_EQ(w.tokenize("Ein Mann, Über-Ich."), (std::vector<std::string>{"ein", "mann", ",", "über-ich", "."}));
  const Tokenizer c({.kind = TokenizerKind::character, .lowercase = true});
  EXPECT_EQ(c.tokenize("ÄB"), (std::vector<std::string>{"ä", "b"}));
  EXPECT_THROW(c.tokenize("A\xFF"), Error);
}

TEST_F(DataCorpus, LengthFilterCountsDropped) {
  std::vector<Pair> pairs = {{"a b c", "x"}, {"a b c d e", "x"}, {"a", "x y z w"}, {"a b", "x y"}};
  const Tokenizer w({.kind = TokenizerKind::word});
  const auto r = filter_max_length(pairs, w, w, {.max_source_tokens = 3, .max_target_tokens = 3});
  EXPECT_EQ(r.kept, 2);
  EXPECT_EQ(r.dropped, 2);
  EXPECT_EQ(pairs, (std::vector<Pair>{{"a b c", "x"}, {"a b", "x y"}}));
}

TEST(DataVocab, DeterministicOrderMinFreqAndMaxSize) {
  const std::vector<std::vector<std::string>> sents = {{"b", "a", "c", "a"}, {"b", "d", "a", "e"}, {"c", "b"}};
  // counts: a 3, b 3, c 2, d 1, e 1
  const Vocab v = Vocab::build(sents);
  ASSERT_EQ(v.size(), 9);
  EXPECT_EQ(v.token(0), "<pad>");
  EXPECT_EQ(v.token(1), "<unk>");
  EXPECT_EQ(v.token(2), "<s>");
  EXPECT_EQ(v.token(3), "</s>");
  EXPECT_EQ(v.token(4), "a");
  EXPECT_EQ(v.token(5), "b");
  EXPECT_EQ(v.token(6), "c");
  EXPECT_EQ(v.token(7), "d");
  EXPECT_EQ(v.count(4), 3);
  const Vocab f = Vocab::build(sents, {.min_freq = 2});
  EXPECT_EQ(f.size(), 7);
  EXPECT_EQ(f.id("d"), Vocab::kUnk);
  const Vocab s = Vocab::build(sents, {.max_size = 5});
  EXPECT_EQ(s.size(), 5);
  EXPECT_EQ(s.token(4), "a");
  EXPECT_THROW(Vocab::build(sents, {.max_size = 3}), Error);
  EXPECT_THROW(v.token(9), Error);
}

TEST(DataVocab, EncodeDecode) {
  const Vocab v = Vocab::build(std::vector<std::vector<std::string>>{{"a", "man", "a"}});
  const auto ids = v.encode({"a", "woman", "man"}, {.add_bos = true, .add_eos = true});
  EXPECT_EQ(ids, (std::vector<int64_t>{Vocab::kBos, 4, Vocab::kUnk, 5, Vocab::kEos}));
  EXPECT_EQ(v.decode({2, 4, 1, 5, 3, 4, 0}), (std::vector<std::string>{"a", "<unk>", "man"}));
  EXPECT_EQ(v.decode({2, 4, 3, 0}, {.strip_special = false, .stop_at_eos = false}),
            (std::vector<std::string>{"<s>", "a", "</s>", "<pad>"}));
}

TEST_F(DataCorpus, VocabSaveLoadRoundTripWithOddTokens) {
  const Vocab v = Vocab::build(std::vector<std::vector<std::string>>{{" ", "tab\there", "back\\slash", "ü", " ", "x"}});
  const std::string p = (dir_ / "vocab.txt").string();
  io::write_file_atomic(p, [&](std::ostream& os) { v.save(os); });
  const Vocab w = Vocab::load(p);
  EXPECT_TRUE(w == v);
  EXPECT_EQ(w.id("tab\there"), v.id("tab\there"));
  EXPECT_EQ(w.token(4), " ");
}

TEST_F(DataCorpus, BadInputVocabFileNamesFileAndLine) {
  const auto notvocab = file("v1.txt", "hello\n");
  expect_error([&] { Vocab::load(notvocab); }, {notvocab + ":1:", "not a vocabulary file"});
  const auto badcount = file("v2.txt", "#attend-vocab 1\n<pad>\t0\n<unk>\t0\n<s>\t0\n</s>\t0\nx\tmany\n");
  expect_error([&] { Vocab::load(badcount); }, {badcount + ":6:", "bad count"});
  const auto dup = file("v3.txt", "#attend-vocab 1\n<pad>\t0\n<unk>\t0\n<s>\t0\n</s>\t0\nx\t1\nx\t1\n");
  expect_error([&] { Vocab::load(dup); }, {dup + ":7:", "duplicate token 'x'"});
  const auto nospecial = file("v4.txt", "#attend-vocab 1\nx\t1\n");
  expect_error([&] { Vocab::load(nospecial); }, {nospecial, "<pad> <unk> <s> </s>"});
}

}  // namespace
}  // namespace attend::data
