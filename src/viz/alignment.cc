#include "attend/viz/alignment.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <istream>
#include <ostream>

#include "attend/core/error.h"

namespace attend::viz {
namespace {

// The [Tq, Tk] weights as row-major doubles, every one finite.
std::vector<double> read_matrix(const Tensor& w, const char* op) {
  ATTEND_CHECK(w.defined(), op, "weights tensor is undefined");
  ATTEND_CHECK(w.dim() == 2, op, "weights must be [Tq, Tk] (target, source), got ", w.shape());
  std::vector<double> v = w.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i)
    ATTEND_CHECK(std::isfinite(v[i]), op, "weight at [", static_cast<int64_t>(i) / w.size(1), ", ",
                 static_cast<int64_t>(i) % w.size(1), "] of ", w.shape(), " is ", v[i]);
  return v;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Splits on runs of spaces and tabs.
std::vector<std::string_view> split_blanks(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

Alignment hard_alignment(const Tensor& weights, const HardAlignmentOptions& options) {
  const char* op = "hard_alignment";
  ATTEND_CHECK(std::isfinite(options.threshold), op, "threshold ", options.threshold, " is not finite");
  const std::vector<double> v = read_matrix(weights, op);
  const int64_t tq = weights.size(0), tk = weights.size(1);
  Alignment out;
  for (int64_t j = 0; j < tq; ++j) {
    const double* row = v.data() + j * tk;
    if (options.rule == HardAlignmentRule::argmax) {
      if (tk == 0) continue;
      int64_t best = 0;
      for (int64_t i = 1; i < tk; ++i)
        if (row[i] > row[best]) best = i;
      if (row[best] > options.threshold) out.push_back({.source = best, .target = j});
    } else {
      for (int64_t i = 0; i < tk; ++i)
        if (row[i] > options.threshold) out.push_back({.source = i, .target = j});
    }
  }
  return out;
}

std::string format_pharaoh(const Alignment& links) {
  std::string s;
  for (size_t n = 0; n < links.size(); ++n) {
    if (n > 0) s.push_back(' ');
    s += std::to_string(links[n].source);
    s.push_back('-');
    s += std::to_string(links[n].target);
  }
  return s;
}

Alignment parse_pharaoh(std::string_view line, std::optional<SentenceLengths> lengths, int64_t line_number) {
  const char* op = "pharaoh";
  Alignment out;
  const std::vector<std::string_view> tokens = split_blanks(strip_cr(line));
  for (size_t n = 0; n < tokens.size(); ++n) {
    const std::string_view tok = tokens[n];
    auto fail = [&](const std::string& why) {
      throw Error(op, attend::detail::concat("line ", line_number, ", link ", n + 1, " \"", tok, "\": ", why));
    };
    const size_t dash = tok.find('-');
    if (dash == 0 || (dash != std::string_view::npos && dash + 1 < tok.size() && tok[dash + 1] == '-'))
      fail("negative index; links are i-j with 0-based source index i and target index j");
    if (dash == std::string_view::npos) fail("not of the form i-j (source index - target index)");
    const std::string_view a = tok.substr(0, dash), b = tok.substr(dash + 1);
    if (!all_digits(a) || !all_digits(b)) fail("not of the form i-j with non-negative integers i and j");
    AlignmentLink link;
    if (std::from_chars(a.data(), a.data() + a.size(), link.source).ec != std::errc{} ||
        std::from_chars(b.data(), b.data() + b.size(), link.target).ec != std::errc{})
      fail("index does not fit in 64 bits");
    if (lengths) {
      if (link.source >= lengths->source)
        fail(attend::detail::concat("source index ", link.source, " is beyond the source sentence of length ",
                            lengths->source));
      if (link.target >= lengths->target)
        fail(attend::detail::concat("target index ", link.target, " is beyond the target sentence of length ",
                            lengths->target));
    }
    out.push_back(link);
  }
  return out;
}

std::vector<Alignment> read_pharaoh(std::istream& in, std::span<const SentenceLengths> lengths) {
  std::vector<Alignment> out;
  std::string line;
  while (std::getline(in, line)) {
    const size_t n = out.size();
    ATTEND_CHECK(lengths.empty() || n < lengths.size(), "pharaoh", "line ", n + 1, ": more lines than the ",
                 lengths.size(), " sentence lengths given");
    std::optional<SentenceLengths> len;
    if (!lengths.empty()) len = lengths[n];
    out.push_back(parse_pharaoh(line, len, static_cast<int64_t>(n) + 1));
  }
  ATTEND_CHECK(!in.bad(), "pharaoh", "read error after line ", out.size());
  ATTEND_CHECK(lengths.empty() || out.size() == lengths.size(), "pharaoh", "read ", out.size(),
               " lines but ", lengths.size(), " sentence lengths were given");
  return out;
}

void write_pharaoh(std::ostream& out, std::span<const Alignment> sentences) {
  for (const Alignment& a : sentences) out << format_pharaoh(a) << '\n';
}

Tensor alignment_matrix(const Alignment& links, SentenceLengths lengths) {
  const char* op = "alignment_matrix";
  ATTEND_CHECK(lengths.source >= 0 && lengths.target >= 0, op, "negative lengths: source ", lengths.source,
               ", target ", lengths.target);
  std::vector<float> v(static_cast<size_t>(lengths.target * lengths.source), 0.0f);
  for (const AlignmentLink& l : links) {
    ATTEND_CHECK(l.source >= 0 && l.source < lengths.source && l.target >= 0 && l.target < lengths.target, op,
                 "link ", l.source, "-", l.target, " is outside [target ", lengths.target, ", source ",
                 lengths.source, "]");
    v[static_cast<size_t>(l.target * lengths.source + l.source)] = 1.0f;
  }
  return Tensor::from_vector(v, Shape{lengths.target, lengths.source});
}

std::string format_soft_alignment(const Tensor& weights, const SoftAlignmentOptions& options) {
  const char* op = "soft_alignment";
  ATTEND_CHECK(options.precision >= 1 && options.precision <= 17, op, "precision ", options.precision,
               " is outside 1..17");
  const std::vector<double> v = read_matrix(weights, op);
  const int64_t tq = weights.size(0), tk = weights.size(1);
  ATTEND_CHECK(tq > 0 && tk > 0, op, "weights ", weights.shape(), " have an empty dimension");
  std::string s;
  char buf[40];
  for (int64_t j = 0; j < tq; ++j) {
    if (j > 0) s.push_back(' ');
    for (int64_t i = 0; i < tk; ++i) {
      if (i > 0) s.push_back(',');
      std::snprintf(buf, sizeof buf, "%.*g", options.precision, v[static_cast<size_t>(j * tk + i)]);
      s += buf;
    }
  }
  return s;
}

Tensor parse_soft_alignment(std::string_view line, int64_t line_number) {
  const char* op = "soft_alignment";
  const std::vector<std::string_view> rows = split_blanks(strip_cr(line));
  ATTEND_CHECK(!rows.empty(), op, "line ", line_number, ": no target tokens");
  std::vector<double> v;
  size_t width = 0;
  for (size_t j = 0; j < rows.size(); ++j) {
    size_t count = 0, start = 0;
    const std::string_view row = rows[j];
    while (true) {
      const size_t comma = row.find(',', start);
      const std::string_view field = row.substr(start, comma == std::string_view::npos ? row.npos : comma - start);
      double x = 0;
      const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), x);
      ATTEND_CHECK(!field.empty() && ec == std::errc{} && end == field.data() + field.size() && std::isfinite(x), op,
                   "line ", line_number, ", target token ", j, ": weight ", count, " \"", field,
                   "\" is not a finite number");
      v.push_back(x);
      ++count;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (j == 0) width = count;
    ATTEND_CHECK(count == width, op, "line ", line_number, ", target token ", j, ": ", count,
                 " source weights where target token 0 has ", width);
  }
  return Tensor::from_vector(v, Shape{static_cast<int64_t>(rows.size()), static_cast<int64_t>(width)});
}

}  // namespace attend::viz
