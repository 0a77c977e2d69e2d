// Evaluation metrics of `attend eval`: corpus BLEU as sacreBLEU computes it by default,
// exact-match and token accuracy, perplexity, and exact match by source-length bucket.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace attend::train {

// sacreBLEU's "13a" tokenizer (mteval-v13a.pl): drops "<skipped>", joins "-\n" line breaks,
// unescapes &quot; &amp; &lt; &gt;, puts spaces around the punctuation {|}~ [\]^_` !"#$%& ()*+
// :;<=>?@ /, around '.' and ',' unless between digits on that side, after '-' following a digit,
// then collapses whitespace. Works on UTF-8 bytes (only ASCII characters are ever split off);
// tokens are separated by what Python's str.split() takes for whitespace (ASCII whitespace,
// \x1c-\x1f, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000).
std::string tokenize_13a(const std::string& line);

struct BleuScore {
  double score = 0.0;                     // 0..100
  std::array<double, 4> precisions{};     // n-gram precisions in percent (smoothed)
  std::array<int64_t, 4> counts{};        // matched n-grams (clipped by the reference counts)
  std::array<int64_t, 4> totals{};        // n-grams in the hypotheses
  double brevity_penalty = 0.0;
  int64_t sys_len = 0;                    // hypothesis tokens
  int64_t ref_len = 0;                    // closest reference length, summed
  // "BLEU = 40.09 77.3/55.0/33.3/21.9 (BP = 0.956 ratio = 0.957 hyp_len = 44 ref_len = 46)"
  std::string str() const;
};

// Corpus BLEU with sacreBLEU 2.x defaults: 13a tokenization (applied to both sides), n-grams up
// to 4, counts clipped by the maximum count over the references, smooth method "exp" (the k-th
// n-gram order with no match gets precision 100 / (2^k * total)), the closest reference length
// (ties: the shorter) and the brevity penalty exp(1 - ref_len / sys_len) when sys_len < ref_len;
// score = BP * exp(mean of the log precisions); 0 when nothing matches at all.
// refs[r][i] is reference r of hypothesis i (one list per reference set).
// Error "[corpus_bleu] ..." when a reference set has not hyps.size() sentences or there are none.
BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs);

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
