#include "attend/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <unordered_map>

#include "attend/core/error.h"

namespace attend::train {
namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_dot_comma(char c) { return c == '.' || c == ','; }

// The character class [\{-\~\[-\` -\&\(-\+\:-\@\/] of the 13a tokenizer.
bool is_13a_punct(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
         (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == '/';
}

// Length in bytes of the whitespace character that starts at s[i] (Python's str.isspace over
// UTF-8), or 0.
size_t whitespace_at(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
  const unsigned c = b(i);
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
  if (c == 0xC2 && (b(i + 1) == 0x85 || b(i + 1) == 0xA0)) return 2;                       // U+0085, U+00A0
  if (c == 0xE1 && b(i + 1) == 0x9A && b(i + 2) == 0x80) return 3;                         // U+1680
  if (c == 0xE2 && b(i + 1) == 0x80 && ((b(i + 2) >= 0x80 && b(i + 2) <= 0x8A) || b(i + 2) == 0xA8 ||
                                        b(i + 2) == 0xA9 || b(i + 2) == 0xAF))
    return 3;                                                                               // U+2000-200A, 2028, 2029, 202F
  if (c == 0xE2 && b(i + 1) == 0x81 && b(i + 2) == 0x9F) return 3;                         // U+205F
  if (c == 0xE3 && b(i + 1) == 0x80 && b(i + 2) == 0x80) return 3;                         // U+3000
  return 0;
}

std::vector<std::string> split_whitespace(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < s.size();) {
    const size_t w = whitespace_at(s, i);
    if (w > 0) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
      i += w;
    } else {
      cur.push_back(s[i++]);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// re.sub of a two-character pattern (first, second) with replacement pieces, leftmost and
// non-overlapping as Python's re does.
template <typename First, typename Second>
std::string sub_pairs(const std::string& s, First first, Second second, const char* before, const char* middle,
                      const char* after) {
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && first(s[i]) && second(s[i + 1])) {
      out += before;
      out.push_back(s[i]);
      out += middle;
      out.push_back(s[i + 1]);
      out += after;
      i += 2;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

using NgramCounts = std::unordered_map<std::string, int64_t>;

// All n-grams of orders 1..4, keyed by their tokens joined with ' ' (tokens hold no whitespace),
// the order in the first byte.
NgramCounts count_ngrams(const std::vector<std::string>& words) {
  NgramCounts c;
  for (size_t n = 1; n <= 4; ++n) {
    for (size_t i = 0; i + n <= words.size(); ++i) {
      std::string key(1, static_cast<char>('0' + n));
      for (size_t k = 0; k < n; ++k) {
        key.push_back(' ');
        key += words[i + k];
      }
      ++c[key];
    }
  }
  return c;
}

void check_pairs(size_t h, size_t r, const char* op) {
  ATTEND_CHECK(h == r, op, h, " hypotheses but ", r, " references");
}

}  // namespace

std::string tokenize_13a(const std::string& input) {
  std::string line = input;
  replace_all(line, "<skipped>", "");
  replace_all(line, "-\n", "");
  replace_all(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    replace_all(line, "&quot;", "\"");
    replace_all(line, "&amp;", "&");
    replace_all(line, "&lt;", "<");
    replace_all(line, "&gt;", ">");
  }
  // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 "
  std::string spaced = " ";
  for (const char c : line) {
    if (is_13a_punct(c)) {
      spaced.push_back(' ');
      spaced.push_back(c);
      spaced.push_back(' ');
    } else {
      spaced.push_back(c);
    }
  }
  spaced.push_back(' ');
  // ([^0-9])([\.,]) -> "\1 \2 ";  ([\.,])([^0-9]) -> " \1 \2";  ([0-9])(-) -> "\1 \2 "
  const auto not_digit = [](char c) { return !is_digit(c); };
  spaced = sub_pairs(spaced, not_digit, is_dot_comma, "", " ", " ");
  spaced = sub_pairs(spaced, is_dot_comma, not_digit, " ", " ", "");
  spaced = sub_pairs(spaced, is_digit, [](char c) { return c == '-'; }, "", " ", " ");
  const std::vector<std::string> words = split_whitespace(spaced);
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out.push_back(' ');
    out += w;
  }
  return out;
}

BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs) {
  constexpr const char* op = "corpus_bleu";
  ATTEND_CHECK(!refs.empty(), op, "no reference set");
  for (size_t r = 0; r < refs.size(); ++r)
    ATTEND_CHECK(refs[r].size() == hyps.size(), op, "reference set ", r, " has ", refs[r].size(),
                 " sentences for ", hyps.size(), " hypotheses");
  BleuScore b;
  for (size_t i = 0; i < hyps.size(); ++i) {
    const std::vector<std::string> h = split_whitespace(tokenize_13a(hyps[i]));
    const int64_t hlen = static_cast<int64_t>(h.size());
    NgramCounts max_ref;
    int64_t closest_diff = -1, closest_len = 0;
    for (const auto& set : refs) {
      const std::vector<std::string> r = split_whitespace(tokenize_13a(set[i]));
      for (const auto& [key, n] : count_ngrams(r)) max_ref[key] = std::max(max_ref[key], n);
      const int64_t rlen = static_cast<int64_t>(r.size());
      const int64_t diff = std::abs(rlen - hlen);
      if (closest_diff < 0 || diff < closest_diff || (diff == closest_diff && rlen < closest_len)) {
        closest_diff = diff;
        closest_len = rlen;
      }
    }
    b.sys_len += hlen;
    b.ref_len += closest_len;
    for (const auto& [key, n] : count_ngrams(h)) {
      const auto it = max_ref.find(key);
      if (it != max_ref.end()) b.counts[static_cast<size_t>(key[0] - '1')] += std::min(n, it->second);
    }
    for (int64_t n = 1; n <= 4; ++n) b.totals[static_cast<size_t>(n - 1)] += std::max<int64_t>(0, hlen - n + 1);
  }
  // sacreBLEU's compute_bleu with smooth_method "exp".
  b.brevity_penalty = b.sys_len >= b.ref_len ? 1.0
                      : b.sys_len > 0        ? std::exp(1.0 - static_cast<double>(b.ref_len) / static_cast<double>(b.sys_len))
                                             : 0.0;
  if (std::all_of(b.counts.begin(), b.counts.end(), [](int64_t c) { return c == 0; })) {
    b.score = 0.0;
    return b;
  }
  double smooth = 1.0;
  for (size_t n = 0; n < 4; ++n) {
    if (b.totals[n] == 0) break;
    if (b.counts[n] == 0) {
      smooth *= 2.0;
      b.precisions[n] = 100.0 / (smooth * static_cast<double>(b.totals[n]));
    } else {
      b.precisions[n] = 100.0 * static_cast<double>(b.counts[n]) / static_cast<double>(b.totals[n]);
    }
  }
  double log_sum = 0.0;
  for (const double p : b.precisions) log_sum += p > 0.0 ? std::log(p) : -9999999999.0;
  b.score = b.brevity_penalty * std::exp(log_sum / 4.0);
  return b;
}

std::string BleuScore::str() const {
  char buf[256];
  const double ratio = ref_len > 0 ? static_cast<double>(sys_len) / static_cast<double>(ref_len) : 0.0;
  std::snprintf(buf, sizeof buf, "BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)",
                score, precisions[0], precisions[1], precisions[2], precisions[3], brevity_penalty, ratio,
                static_cast<long long>(sys_len), static_cast<long long>(ref_len));
  return buf;
}

double exact_match(const std::vector<std::vector<int64_t>>& hyps, const std::vector<std::vector<int64_t>>& refs) {
  check_pairs(hyps.size(), refs.size(), "exact_match");
  if (hyps.empty()) return 0.0;
  int64_t same = 0;
  for (size_t i = 0; i < hyps.size(); ++i) same += hyps[i] == refs[i] ? 1 : 0;
  return static_cast<double>(same) / static_cast<double>(hyps.size());
}

double token_accuracy(const std::vector<std::vector<int64_t>>& hyps,
                      const std::vector<std::vector<int64_t>>& refs) {
  check_pairs(hyps.size(), refs.size(), "token_accuracy");
  int64_t correct = 0, total = 0;
  for (size_t i = 0; i < hyps.size(); ++i) {
    total += static_cast<int64_t>(refs[i].size());
    for (size_t t = 0; t < refs[i].size() && t < hyps[i].size(); ++t) correct += hyps[i][t] == refs[i][t] ? 1 : 0;
  }
  return total == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(total);
}

double perplexity(double nll_sum, int64_t tokens) {
  ATTEND_CHECK(tokens > 0, "perplexity", "token count ", tokens, " is not positive");
  return std::exp(nll_sum / static_cast<double>(tokens));
}

std::vector<LengthBucket> accuracy_by_length(const std::vector<int64_t>& source_lengths,
                                             const std::vector<std::vector<int64_t>>& hyps,
                                             const std::vector<std::vector<int64_t>>& refs, int64_t width) {
  constexpr const char* op = "accuracy_by_length";
  check_pairs(hyps.size(), refs.size(), op);
  ATTEND_CHECK(source_lengths.size() == hyps.size(), op, source_lengths.size(), " source lengths for ",
               hyps.size(), " hypotheses");
  ATTEND_CHECK(width >= 1, op, "bucket width ", width, " is not positive");
  std::map<int64_t, LengthBucket> buckets;
  for (size_t i = 0; i < hyps.size(); ++i) {
    ATTEND_CHECK(source_lengths[i] >= 0, op, "source length ", source_lengths[i], " of pair ", i, " is negative");
    const int64_t b = source_lengths[i] / width;
    LengthBucket& row = buckets[b];
    row.min_length = b * width;
    row.max_length = b * width + width - 1;
    ++row.count;
    row.exact += hyps[i] == refs[i] ? 1 : 0;
  }
  std::vector<LengthBucket> out;
  for (const auto& [b, row] : buckets) out.push_back(row);
  return out;
}

std::string format_length_table(const std::vector<LengthBucket>& buckets) {
  std::string out = "  length    count  exact  accuracy\n";
  char buf[128];
  for (const auto& r : buckets) {
    char range[48];
    std::snprintf(range, sizeof range, "%lld-%lld", static_cast<long long>(r.min_length),
                  static_cast<long long>(r.max_length));
    std::snprintf(buf, sizeof buf, "  %-8s %6lld %6lld %8.1f%%\n", range, static_cast<long long>(r.count),
                  static_cast<long long>(r.exact), 100.0 * r.accuracy());
    out += buf;
  }
  return out;
}

}  // namespace attend::train
