// Evaluation metrics: the 13a tokenizer, corpus BLEU and chrF on examples computed by hand,
// signatures, accuracies, perplexity and the length-bucket table. (tests/golden/train_golden.cc
// compares BLEU with an independent Python implementation, tests/golden/train_sacrebleu_golden.cc
// BLEU and chrF with sacreBLEU itself.)
#include <gtest/gtest.h>

#include <cmath>

#include "attend/core/error.h"
#include "attend/train/metrics.h"

namespace attend::train {
namespace {

TEST(TrainMetrics, Tokenize13a) {
  EXPECT_EQ(tokenize_13a("Hello, world!"), "Hello , world !");
  EXPECT_EQ(tokenize_13a("3.14 and 1,000 but end."), "3.14 and 1,000 but end .");
  EXPECT_EQ(tokenize_13a("a-b 5-6 it's"), "a-b 5 - 6 it's");
  EXPECT_EQ(tokenize_13a("&lt;tag&gt; &quot;q&quot; &amp;"), "< tag > \" q \" &");
  EXPECT_EQ(tokenize_13a("(x)[y]{z}/w"), "( x ) [ y ] { z } / w");
  EXPECT_EQ(tokenize_13a("  spaced\tout\n<skipped>"), "spaced out");
  EXPECT_EQ(tokenize_13a("a\xC2\xA0" "b\xE3\x80\x80" "c"), "a b c");  // U+00A0 and U+3000 split
  EXPECT_EQ(tokenize_13a("caf\xC3\xA9."), "caf\xC3\xA9 .");            // UTF-8 passes through
}

TEST(TrainMetrics, BleuByHand) {
  // hyp "the cat sat on the mat" vs ref "the cat is on the mat":
  //   1-grams 5/6, 2-grams 3/5 (the cat, on the, the mat), 3-grams 1/4 (on the mat),
  //   4-grams 0/3 -> smoothed 100 / (2 * 3); equal lengths, BP = 1.
  const BleuScore b = corpus_bleu({"the cat sat on the mat"}, {{"the cat is on the mat"}});
  EXPECT_EQ(b.counts, (std::array<int64_t, 4>{5, 3, 1, 0}));
  EXPECT_EQ(b.totals, (std::array<int64_t, 4>{6, 5, 4, 3}));
  EXPECT_DOUBLE_EQ(b.brevity_penalty, 1.0);
  const double expected = std::pow(100.0 * 5 / 6 * 60.0 * 25.0 * 100.0 / 6, 0.25);
  EXPECT_NEAR(b.score, expected, 1e-9);
  EXPECT_NEAR(b.score, 37.99, 0.01);

  // Too short: all precisions 100, BP = exp(1 - 8/5).
  const BleuScore s = corpus_bleu({"a b c d e"}, {{"a b c d e f g h"}});
  EXPECT_NEAR(s.score, 100.0 * std::exp(-0.6), 1e-9);
  EXPECT_EQ(s.str(), "BLEU = 54.88 100.0/100.0/100.0/100.0 (BP = 0.549 ratio = 0.625 hyp_len = 5 ref_len = 8)");

  // No 3-grams at all in the hypothesis: sacreBLEU gives 0.
  EXPECT_EQ(corpus_bleu({"the cat"}, {{"the cat sat on the mat"}}).score, 0.0);
  // Nothing matches: 0.
  EXPECT_EQ(corpus_bleu({"x y z w"}, {{"a b c d"}}).score, 0.0);
  // Identical: 100.
  EXPECT_NEAR(corpus_bleu({"one two three four", "five six seven eight nine"},
                          {{"one two three four", "five six seven eight nine"}})
                  .score,
              100.0, 1e-12);
}

TEST(TrainMetrics, BleuMultipleReferencesClipAndClosestLength) {
  // Counts are clipped by the maximum over references; the closest reference length is used
  // (ties go to the shorter one).
  const BleuScore b = corpus_bleu({"the the the the"}, {{"the cat"}, {"the the mat"}});
  EXPECT_EQ(b.counts[0], 2);
  EXPECT_EQ(b.ref_len, 3);
  const BleuScore t = corpus_bleu({"a b c"}, {{"a b"}, {"a b c d"}});
  EXPECT_EQ(t.ref_len, 2);
}

TEST(TrainMetrics, BleuStripsTrailingWhitespaceBeforeTokenizing) {
  // sacreBLEU tokenizes sent.rstrip(): a trailing "-\n" is stripped to "-" before the 13a
  // tokenizer could join it away, so "word-\n" stays the token "word-".
  EXPECT_EQ(tokenize_13a("a b c word-\n"), "a b c word");
  EXPECT_NEAR(corpus_bleu({"a b c word-\n"}, {{"a b c word-"}}).score, 100.0, 1e-12);
  EXPECT_NEAR(corpus_bleu({"a b c d \xE3\x80\x80 "}, {{"a b c d"}}).score, 100.0, 1e-12);  // U+3000
}

TEST(TrainMetrics, BleuSignatureAndFormat) {
  EXPECT_EQ(bleu_signature(1), std::string("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:") + kSacrebleuVersion);
  EXPECT_EQ(bleu_signature(2, true), std::string("nrefs:2|case:lc|eff:no|tok:13a|smooth:exp|version:") + kSacrebleuVersion);
  const BleuScore s = corpus_bleu({"a b c d e"}, {{"a b c d e f g h"}});
  EXPECT_EQ(s.format("nrefs:1|x"),
            "BLEU|nrefs:1|x = 54.88 100.0/100.0/100.0/100.0 (BP = 0.549 ratio = 0.625 hyp_len = 5 ref_len = 8)");
}

TEST(TrainMetrics, ChrfByHand) {
  // "abc" vs "abd": 1-grams 2 of 3 both ways, 2-grams 1 of 2, 3-grams 0 of 1; orders 4-6 have no
  // n-grams and do not count. P = R = (2/3 + 1/2 + 0) / 3 = 7/18, so F2 = 7/18.
  const ChrfScore c = corpus_chrf({"abc"}, {{"abd"}});
  EXPECT_EQ(c.hyp, (std::array<int64_t, 6>{3, 2, 1, 0, 0, 0}));
  EXPECT_EQ(c.ref, (std::array<int64_t, 6>{3, 2, 1, 0, 0, 0}));
  EXPECT_EQ(c.match, (std::array<int64_t, 6>{2, 1, 0, 0, 0, 0}));
  EXPECT_NEAR(c.score, 100.0 * 7.0 / 18.0, 1e-12);
  EXPECT_EQ(c.str(), "chrF2 = 38.89");
  // Whitespace is removed before counting; case is kept.
  EXPECT_NEAR(corpus_chrf({"a b  c"}, {{"abc"}}).score, 100.0, 1e-12);
  EXPECT_LT(corpus_chrf({"ABC"}, {{"abc"}}).score, 1e-12);
  // Recall weighs more than precision (beta 2): a hypothesis that is a prefix of the reference.
  // "ab" vs "abcd": P = 1 for orders 1-2, R = (2/4 + 1/3) / 2; F2 = 5PR / (4P + R).
  const double r = (0.5 + 1.0 / 3.0) / 2.0;
  EXPECT_NEAR(corpus_chrf({"ab"}, {{"abcd"}}).score, 100.0 * 5.0 * r / (4.0 + r), 1e-12);
  // A reference without n-grams of an order makes the hypothesis' n-grams of that order not count.
  const ChrfScore s = corpus_chrf({"abcdef"}, {{"ab"}});
  EXPECT_EQ(s.hyp, (std::array<int64_t, 6>{6, 5, 0, 0, 0, 0}));
  // Code points, not bytes: "\xC3\xA9" (U+00E9) is one character.
  EXPECT_EQ(corpus_chrf({"caf\xC3\xA9"}, {{"caf\xC3\xA9"}}).hyp[0], 4);
  EXPECT_EQ(chrf_signature(1), std::string("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:") + kSacrebleuVersion);
  EXPECT_EQ(c.format(chrf_signature(1)),
            std::string("chrF2|nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:") + kSacrebleuVersion + " = 38.89");
}

TEST(TrainMetrics, ChrfAndBleuBadInput) {
  EXPECT_THROW(corpus_chrf({"a"}, {}), Error);
  EXPECT_THROW(corpus_chrf({"a", "b"}, {{"a"}}), Error);
  EXPECT_THROW(corpus_bleu({"a", "b"}, {{"a"}}), Error);
  try {
    corpus_chrf({"ok", "bad\xFF"}, {{"ok", "bad"}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[corpus_chrf]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hypothesis 1 is not valid UTF-8"), std::string::npos) << e.what();
  }
  EXPECT_EQ(corpus_chrf({}, {{}}).score, 0.0);  // an empty corpus scores 0
}

TEST(TrainMetrics, AccuraciesAndPerplexity) {
  const std::vector<std::vector<int64_t>> hyps{{1, 2, 3}, {4, 5}, {6}};
  const std::vector<std::vector<int64_t>> refs{{1, 2, 3}, {4, 6, 7}, {6}};
  EXPECT_DOUBLE_EQ(exact_match(hyps, refs), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(token_accuracy(hyps, refs), 5.0 / 7.0);  // 3 + 1 + 1 of 3 + 3 + 1
  EXPECT_DOUBLE_EQ(perplexity(std::log(20.0) * 10, 10), 20.0);
  EXPECT_THROW(perplexity(1.0, 0), Error);
  EXPECT_THROW(exact_match(hyps, {}), Error);
}

TEST(TrainMetrics, AccuracyByLengthBucket) {
  const std::vector<std::vector<int64_t>> hyps{{1}, {2}, {3}, {4}, {5}};
  const std::vector<std::vector<int64_t>> refs{{1}, {0}, {3}, {4}, {0}};
  const auto rows = accuracy_by_length({3, 4, 7, 12, 14}, hyps, refs, 5);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].min_length, 0);
  EXPECT_EQ(rows[0].max_length, 4);
  EXPECT_EQ(rows[0].count, 2);
  EXPECT_EQ(rows[0].exact, 1);
  EXPECT_EQ(rows[1].min_length, 5);
  EXPECT_EQ(rows[1].count, 1);
  EXPECT_EQ(rows[2].min_length, 10);
  EXPECT_DOUBLE_EQ(rows[2].accuracy(), 0.5);
  EXPECT_EQ(format_length_table(rows),
            "  length    count  exact  accuracy\n"
            "  0-4           2      1     50.0%\n"
            "  5-9           1      1    100.0%\n"
            "  10-14         2      1     50.0%\n");
  EXPECT_THROW(accuracy_by_length({1}, hyps, refs, 5), Error);
}

// Classification metrics against values worked out by hand (and what scikit-learn's
// f1_score(average="macro") gives for the same lists: 0.6555...).
TEST(TrainMetrics, AccuracyAndMacroF1) {
  const std::vector<int64_t> gold{0, 0, 1, 1, 2, 2}, pred{0, 1, 1, 1, 2, 0};
  EXPECT_DOUBLE_EQ(classification_accuracy(pred, gold), 4.0 / 6.0);
  // Class 0: TP 1, FP 1, FN 1 -> 0.5; class 1: TP 2, FP 1 -> 0.8; class 2: TP 1, FN 1 -> 2/3.
  EXPECT_NEAR(macro_f1(pred, gold, 3), (0.5 + 0.8 + 2.0 / 3.0) / 3.0, 1e-15);
  // A class that neither occurs nor is predicted does not count.
  EXPECT_NEAR(macro_f1(pred, gold, 5), (0.5 + 0.8 + 2.0 / 3.0) / 3.0, 1e-15);
  // A class predicted but never gold counts with F1 0.
  EXPECT_NEAR(macro_f1({3, 0}, {0, 0}, 4), (2.0 / 3.0 + 0.0) / 2.0, 1e-15);
  EXPECT_DOUBLE_EQ(macro_f1(gold, gold, 3), 1.0);
  EXPECT_EQ(macro_f1({}, {}, 3), 0.0);
  EXPECT_EQ(classification_accuracy({}, {}), 0.0);
  EXPECT_THROW(macro_f1({0}, {0, 1}, 2), Error);
  EXPECT_THROW(macro_f1({2}, {0}, 2), Error);
  EXPECT_THROW(classification_accuracy({0}, {}), Error);
}

}  // namespace
}  // namespace attend::train
