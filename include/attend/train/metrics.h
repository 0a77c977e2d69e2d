// Evaluation metrics of `attend eval`: corpus BLEU and chrF exactly as sacreBLEU computes them
// by default, exact-match and token accuracy, perplexity, and exact match by source-length bucket.
//
// BLEU and chrF are checked against sacreBLEU itself (tests/golden/train_sacrebleu_golden.cc, files
// made by scripts/golden/make_sacrebleu_golden.sh) on the Multi30k test set and edge cases: equal
// n-gram statistics, scores within 1e-9, identical printed lines and signatures.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace attend::train {

// The sacreBLEU release whose defaults corpus_bleu and corpus_chrf reproduce (and whose version
// the signatures name). scripts/golden/make_sacrebleu_golden.sh pins the same one.
inline constexpr const char* kSacrebleuVersion = "2.6.0";

// sacreBLEU's "13a" tokenizer (mteval-v13a.pl), Tokenizer13a.__call__: drops "<skipped>", joins
// "-\n" line breaks, turns other "\n" into spaces, unescapes &quot; &amp; &lt; &gt; (in that order,
// once each), puts spaces around the punctuation {|}~ [\]^_` !"#$%& ()*+ :;<=>?@ /, around '.'
// and ',' unless between digits on that side, after '-' following a digit, then collapses
// whitespace. Works on UTF-8 bytes (only ASCII characters are ever split off, so unicode
// punctuation such as U+2014 or U+201C stays attached to its word, as in sacreBLEU); tokens are
// separated by what Python's str.split() takes for whitespace (ASCII whitespace, \x1c-\x1f,
// U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000; not U+200B).
std::string tokenize_13a(const std::string& line);

struct BleuScore {
  double score = 0.0;                     // 0..100
  std::array<double, 4> precisions{};     // n-gram precisions in percent (smoothed)
  std::array<int64_t, 4> counts{};        // matched n-grams (clipped by the reference counts)
  std::array<int64_t, 4> totals{};        // n-grams in the hypotheses
  double brevity_penalty = 0.0;
  int64_t sys_len = 0;                    // hypothesis tokens
  int64_t ref_len = 0;                    // closest reference length, summed
  // What sacreBLEU's print(score) shows:
  // "BLEU = 40.09 77.3/55.0/33.3/21.9 (BP = 0.956 ratio = 0.957 hyp_len = 44 ref_len = 46)"
  std::string str() const;
  // The line sacreBLEU's command line prints, with a signature from bleu_signature():
  // "BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 40.09 77.3/55.0/..."
  std::string format(const std::string& signature) const;
};

// Corpus BLEU with sacreBLEU 2.x defaults (sacrebleu.corpus_bleu(hyps, refs), BLEU()): every
// sentence is first stripped of trailing whitespace (Python's str.rstrip) and 13a-tokenized, both
// sides, case kept; n-grams up to 4, counts clipped by the maximum count over the references;
// the closest reference length per sentence (ties: the shorter) summed over the corpus; brevity
// penalty BP = exp(1 - ref_len / sys_len) when sys_len < ref_len (0 when sys_len = 0);
// precisions p_n = 100 * matches_n / total_n with smooth method "exp" (the k-th order with no
// match gets 100 / (2^k * total_n)); no effective order: an order with no n-gram in the
// hypotheses makes the score 0; score = BP * exp((1/4) sum log p_n); 0 when nothing matches.
// refs[r][i] is reference r of hypothesis i (one list per reference set, as sacreBLEU takes them).
// An empty corpus scores 0 (sacreBLEU raises).
// Error "[corpus_bleu] ..." when a reference set has not hyps.size() sentences or there are none.
BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs);

// sacreBLEU's BLEU signature for corpus_bleu with `num_refs` reference sets:
// "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0". `lowercased` (the caller lowercased
// both sides, as sacreBLEU's -lc does) writes case:lc.
std::string bleu_signature(size_t num_refs, bool lowercased = false);

// chrF (Popovic 2015) with sacreBLEU 2.x defaults (sacrebleu.corpus_chrf, CHRF()): character
// n-grams of orders 1..6 over Unicode code points of each sentence with all whitespace removed
// (Python's str.split() whitespace), no word n-grams, beta = 2, case kept, no tokenization.
// Per sentence and order n: hyp = the hypothesis' n-grams (counted as 0 when the reference has
// no n-gram of that order), ref = the reference's n-grams, match = the clipped common ones; with
// several references the sentence keeps the statistics of the first reference with the best
// sentence-level chrF. The statistics are summed over the corpus, then
//   P_n = match_n / hyp_n, R_n = match_n / ref_n over the orders with hyp_n > 0 and ref_n > 0
//   ("effective order", eff:yes), P and R their means, chrF = 100 * (1 + b^2) P R / (b^2 P + R),
//   0 when P + R = 0 or no order counts.
struct ChrfScore {
  static constexpr int kCharOrder = 6;
  static constexpr int kBeta = 2;
  double score = 0.0;  // 0..100
  // Summed statistics of order n = 1..6: hyp[n-1], ref[n-1], match[n-1].
  std::array<int64_t, kCharOrder> hyp{}, ref{}, match{};
  // What sacreBLEU's print(score) shows: "chrF2 = 57.12".
  std::string str() const;
  // With a signature from chrf_signature(): "chrF2|nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0 = 57.12".
  std::string format(const std::string& signature) const;
};
// Same layout and errors as corpus_bleu ("[corpus_chrf] ..."); also an error naming the sentence
// when a hypothesis or reference is not valid UTF-8 (sacreBLEU reads text, never bytes).
ChrfScore corpus_chrf(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs);
// "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0" (case:lc when `lowercased`).
std::string chrf_signature(size_t num_refs, bool lowercased = false);

// Token-sequence metrics. hyps[i] and refs[i] are id (or token) sequences without specials.
// Error "[<name>] ..." when the two lists differ in size.
// Fraction of pairs that are identical (0 for an empty list).
double exact_match(const std::vector<std::vector<int64_t>>& hyps, const std::vector<std::vector<int64_t>>& refs);
// Correct positions (hyp[t] == ref[t], t < |ref|) over the total reference tokens.
double token_accuracy(const std::vector<std::vector<int64_t>>& hyps,
                      const std::vector<std::vector<int64_t>>& refs);
// exp(nll_sum / tokens): the perplexity of a summed negative log-likelihood (natural log).
// Error "[perplexity] ..." when tokens <= 0.
double perplexity(double nll_sum, int64_t tokens);

// Classification. predicted[i] and gold[i] are classes in [0, K); error "[<name>] ..." when the
// lists differ in size or a class is outside [0, K).
// Fraction of predictions equal to the gold class (0 for an empty list).
double classification_accuracy(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold);
// The unweighted mean of F1 = 2 TP / (2 TP + FP + FN) over the classes that occur among the gold or
// the predicted classes (scikit-learn's f1_score(average="macro") without `labels`); 0 for an
// empty list.
double macro_f1(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold, int64_t K);

// Exact match by source length: bucket b holds the pairs whose source length lies in
// [b * width, (b + 1) * width - 1]. Only non-empty buckets are listed, shortest first.
// Error "[accuracy_by_length] ..." when the lists differ in size or width < 1.
struct LengthBucket {
  int64_t min_length = 0;  // inclusive
  int64_t max_length = 0;  // inclusive
  int64_t count = 0;
  int64_t exact = 0;
  double accuracy() const { return count == 0 ? 0.0 : static_cast<double>(exact) / static_cast<double>(count); }
};
std::vector<LengthBucket> accuracy_by_length(const std::vector<int64_t>& source_lengths,
                                             const std::vector<std::vector<int64_t>>& hyps,
                                             const std::vector<std::vector<int64_t>>& refs, int64_t width = 5);
// A text table: "length   count  exact  accuracy" then one row per bucket ("  5-9       12      9   75.0%").
std::string format_length_table(const std::vector<LengthBucket>& buckets);

}  // namespace attend::train
