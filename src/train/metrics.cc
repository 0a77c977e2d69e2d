#include "attend/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string_view>
#include <unordered_map>

#include "attend/core/error.h"
#include "attend/data/utf8.h"

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

// Python's str.rstrip(): `s` without its trailing whitespace (the characters of whitespace_at).
std::string rstrip(const std::string& s) {
  size_t end = 0;  // one past the last non-whitespace character
  for (size_t i = 0; i < s.size();) {
    const size_t w = whitespace_at(s, i);
    if (w > 0) {
      i += w;
    } else {
      ++i;
      end = i;
    }
  }
  return s.substr(0, end);
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

void check_reference_sets(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                          const char* op) {
  ATTEND_CHECK(!refs.empty(), op, "no reference set");
  for (size_t r = 0; r < refs.size(); ++r)
    ATTEND_CHECK(refs[r].size() == hyps.size(), op, "reference set ", r, " has ", refs[r].size(),
                 " sentences for ", hyps.size(), " hypotheses");
}

// ---- chrF --------------------------------------------------------------------------------------

constexpr int kChrfOrder = ChrfScore::kCharOrder;
// Per sentence (or summed): hyp, ref, match of order n at [3 (n - 1)], [3 (n - 1) + 1], [3 (n - 1) + 2],
// the layout of sacreBLEU's statistics list.
using ChrfStats = std::array<int64_t, 3 * kChrfOrder>;
// Character n-gram counts of orders 1..6, keyed by their UTF-8 bytes (views into the owner's text).
using CharNgrams = std::array<std::unordered_map<std::string_view, int64_t>, kChrfOrder>;

// extract_all_char_ngrams(line, 6, include_whitespace=False): `text` is the sentence with its
// whitespace removed (it must outlive the result).
CharNgrams char_ngrams(const std::string& text, const char* op, const char* what, size_t index) {
  std::vector<size_t> starts;  // byte offset of each code point, then text.size()
  for (size_t i = 0; i < text.size();) {
    const size_t len = data::utf8_sequence_length(text, i);
    ATTEND_CHECK(len > 0, op, what, " ", index, " is not valid UTF-8 (byte ", i, " of its text without spaces)");
    starts.push_back(i);
    i += len;
  }
  starts.push_back(text.size());
  const size_t chars = starts.size() - 1;
  CharNgrams out;
  const std::string_view view(text);
  for (size_t n = 1; n <= static_cast<size_t>(kChrfOrder); ++n)
    for (size_t i = 0; i + n <= chars; ++i) ++out[n - 1][view.substr(starts[i], starts[i + n] - starts[i])];
  return out;
}

std::string without_whitespace(const std::string& s) {
  std::string out;
  for (const auto& w : split_whitespace(s)) out += w;
  return out;
}

// CHRF._get_match_statistics for every order.
ChrfStats chrf_match(const CharNgrams& hyp, const CharNgrams& ref) {
  ChrfStats st{};
  for (size_t n = 0; n < static_cast<size_t>(kChrfOrder); ++n) {
    int64_t hyp_count = 0, match = 0, ref_count = 0;
    for (const auto& [g, c] : hyp[n]) {
      hyp_count += c;
      const auto it = ref[n].find(g);
      if (it != ref[n].end()) match += std::min(c, it->second);
    }
    for (const auto& [g, c] : ref[n]) ref_count += c;
    st[3 * n] = ref[n].empty() ? 0 : hyp_count;
    st[3 * n + 1] = ref_count;
    st[3 * n + 2] = match;
  }
  return st;
}

// CHRF._compute_f_score with eps_smoothing=False, operation for operation (so the doubles agree).
double chrf_f_score(const ChrfStats& st) {
  constexpr double factor = ChrfScore::kBeta * ChrfScore::kBeta;
  double avg_prec = 0.0, avg_rec = 0.0;
  int effective_order = 0;
  for (size_t n = 0; n < static_cast<size_t>(kChrfOrder); ++n) {
    const int64_t n_hyp = st[3 * n], n_ref = st[3 * n + 1], n_match = st[3 * n + 2];
    if (n_hyp > 0 && n_ref > 0) {
      avg_prec += static_cast<double>(n_match) / static_cast<double>(n_hyp);
      avg_rec += static_cast<double>(n_match) / static_cast<double>(n_ref);
      ++effective_order;
    }
  }
  if (effective_order == 0) return 0.0;
  avg_prec /= effective_order;
  avg_rec /= effective_order;
  if (avg_prec + avg_rec == 0.0) return 0.0;
  double score = (1.0 + factor) * avg_prec * avg_rec;
  score /= factor * avg_prec + avg_rec;
  return 100.0 * score;
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
  check_reference_sets(hyps, refs, "corpus_bleu");
  BleuScore b;
  for (size_t i = 0; i < hyps.size(); ++i) {
    // sacreBLEU's BLEU._preprocess_segment: tokenizer(sent.rstrip()).
    const std::vector<std::string> h = split_whitespace(tokenize_13a(rstrip(hyps[i])));
    const int64_t hlen = static_cast<int64_t>(h.size());
    NgramCounts max_ref;
    int64_t closest_diff = -1, closest_len = 0;
    for (const auto& set : refs) {
      const std::vector<std::string> r = split_whitespace(tokenize_13a(rstrip(set[i])));
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

std::string BleuScore::format(const std::string& signature) const {
  // str() is "BLEU = ..."; sacreBLEU puts the signature after the name.
  return "BLEU|" + signature + str().substr(4);
}

std::string bleu_signature(size_t num_refs, bool lowercased) {
  return "nrefs:" + std::to_string(num_refs) + "|case:" + (lowercased ? "lc" : "mixed") +
         "|eff:no|tok:13a|smooth:exp|version:" + kSacrebleuVersion;
}

ChrfScore corpus_chrf(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs) {
  constexpr const char* op = "corpus_chrf";
  check_reference_sets(hyps, refs, op);
  ChrfStats total{};
  for (size_t i = 0; i < hyps.size(); ++i) {
    const std::string h_text = without_whitespace(hyps[i]);
    const CharNgrams h = char_ngrams(h_text, op, "hypothesis", i);
    ChrfStats best{};
    double best_f = -1.0;
    for (size_t r = 0; r < refs.size(); ++r) {
      const std::string r_text = without_whitespace(refs[r][i]);
      const ChrfStats st = chrf_match(h, char_ngrams(r_text, op, ("reference set " + std::to_string(r) + ", sentence").c_str(), i));
      const double f = chrf_f_score(st);
      if (f > best_f) {  // the first of equally good references wins
        best_f = f;
        best = st;
      }
    }
    for (size_t k = 0; k < total.size(); ++k) total[k] += best[k];
  }
  ChrfScore c;
  for (size_t n = 0; n < static_cast<size_t>(kChrfOrder); ++n) {
    c.hyp[n] = total[3 * n];
    c.ref[n] = total[3 * n + 1];
    c.match[n] = total[3 * n + 2];
  }
  c.score = chrf_f_score(total);
  return c;
}

std::string ChrfScore::str() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "chrF%d = %.2f", kBeta, score);
  return buf;
}

std::string ChrfScore::format(const std::string& signature) const {
  char buf[64];
  std::snprintf(buf, sizeof buf, " = %.2f", score);
  return "chrF" + std::to_string(kBeta) + "|" + signature + buf;
}

std::string chrf_signature(size_t num_refs, bool lowercased) {
  return "nrefs:" + std::to_string(num_refs) + "|case:" + (lowercased ? "lc" : "mixed") +
         "|eff:yes|nc:6|nw:0|space:no|version:" + kSacrebleuVersion;
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

double classification_accuracy(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold) {
  ATTEND_CHECK(predicted.size() == gold.size(), "classification_accuracy", predicted.size(), " predictions for ",
               gold.size(), " gold classes");
  if (gold.empty()) return 0.0;
  int64_t right = 0;
  for (size_t i = 0; i < gold.size(); ++i) right += predicted[i] == gold[i];
  return static_cast<double>(right) / static_cast<double>(gold.size());
}

double macro_f1(const std::vector<int64_t>& predicted, const std::vector<int64_t>& gold, int64_t K) {
  constexpr const char* op = "macro_f1";
  ATTEND_CHECK(predicted.size() == gold.size(), op, predicted.size(), " predictions for ", gold.size(),
               " gold classes");
  ATTEND_CHECK(K >= 1, op, "K ", K, " must be >= 1");
  std::vector<int64_t> tp(static_cast<size_t>(K), 0), fp(tp), fn(tp);
  for (size_t i = 0; i < gold.size(); ++i) {
    const int64_t p = predicted[i], g = gold[i];
    ATTEND_CHECK(p >= 0 && p < K && g >= 0 && g < K, op, "example ", i, ": predicted ", p, ", gold ", g,
                 " (classes [0, ", K, "))");
    if (p == g) ++tp[static_cast<size_t>(g)];
    else ++fp[static_cast<size_t>(p)], ++fn[static_cast<size_t>(g)];
  }
  double sum = 0.0;
  int64_t classes = 0;
  for (int64_t k = 0; k < K; ++k) {
    const auto i = static_cast<size_t>(k);
    const int64_t denom = 2 * tp[i] + fp[i] + fn[i];
    if (denom == 0) continue;  // neither gold nor predicted
    sum += 2.0 * static_cast<double>(tp[i]) / static_cast<double>(denom);
    ++classes;
  }
  return classes == 0 ? 0.0 : sum / static_cast<double>(classes);
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
