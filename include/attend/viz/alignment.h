// Word alignments in the text formats machine-translation tools read and write.
//
// Pharaoh (fast_align, Moses, Marian --alignment <threshold>): one sentence per line, links
// "i-j" separated by single spaces, i = 0-based SOURCE index, j = 0-based TARGET index. An empty
// line is a sentence without links. We write links ordered by target index, then source index
// (the order fast_align and Marian produce), and read any order.
//
// Soft alignment (Marian --alignment soft): one sentence per line; for each target token, in
// order, the weights over all source tokens joined by ',' (no spaces); target tokens joined by
// one ' '. A [2, 3] matrix is written "0.7,0.2,0.1 0.05,0.05,0.9". Numbers are printed like
// printf("%.*g", precision) (6 significant digits by default, as Marian's default stream does).
// Whatever the model's matrix holds is written, end-of-sentence columns/rows included; trim the
// matrix first to leave them out.
//
// Matrices are [Tq, Tk] = [target length, source length]: row j holds target token j's weights
// over the source tokens, exactly the attention weights of a decoder step.
#pragma once

#include <compare>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attend/core/tensor.h"

namespace attend::viz {

struct AlignmentLink {
  int64_t source = 0;  // i
  int64_t target = 0;  // j
  auto operator<=>(const AlignmentLink&) const = default;
};

// The links of one sentence pair.
using Alignment = std::vector<AlignmentLink>;

struct SentenceLengths {
  int64_t source = 0;
  int64_t target = 0;
};

enum class HardAlignmentRule {
  argmax,              // per target token j: the source i of the largest weight (first on ties),
                       // kept when that weight > threshold
  all_above_threshold  // every (i, j) whose weight > threshold (Marian's hard alignment)
};

struct HardAlignmentOptions {
  HardAlignmentRule rule = HardAlignmentRule::argmax;
  // With the default 0 and argmax, a target row of all-zero weights (fully masked) gets no link.
  double threshold = 0.0;
};

// weights: [Tq, Tk] soft alignment (f32 or f64). Links ordered by target, then source.
// "[hard_alignment]" errors for a wrong rank or non-finite weights.
Alignment hard_alignment(const Tensor& weights, const HardAlignmentOptions& options = {});

// "i-j i-j ..." for one sentence (no newline), links in the given order.
std::string format_pharaoh(const Alignment& links);

// Parses one Pharaoh line. Each token must be <digits>-<digits>; with `lengths`, each i must be
// < lengths->source and each j < lengths->target. Errors: "[pharaoh] line N, link K \"tok\": why"
// (negative index, not i-j, index beyond the sentence length with that length, overflow).
Alignment parse_pharaoh(std::string_view line, std::optional<SentenceLengths> lengths = {},
                        int64_t line_number = 1);

// One Alignment per line (a final line without '\n' counts; a trailing '\n' ends the last line).
// With `lengths` non-empty it must hold one entry per line, else "[pharaoh] ... lines ... lengths".
std::vector<Alignment> read_pharaoh(std::istream& in, std::span<const SentenceLengths> lengths = {});
void write_pharaoh(std::ostream& out, std::span<const Alignment> sentences);

// A [lengths.target, lengths.source] f32 matrix with 1 at each link, 0 elsewhere, to draw a hard
// alignment with heatmap(). Links outside the lengths are an error.
Tensor alignment_matrix(const Alignment& links, SentenceLengths lengths);

struct SoftAlignmentOptions {
  int precision = 6;  // significant digits, 1..17
};

// One soft-alignment line for weights [Tq, Tk] (no newline). "[soft_alignment]" errors for a
// wrong rank, an empty dimension or non-finite weights.
std::string format_soft_alignment(const Tensor& weights, const SoftAlignmentOptions& options = {});

// Parses one soft-alignment line into an f64 [Tq, Tk] tensor. Every row must have the same number
// of weights; errors "[soft_alignment] line N, target token J: ..." name what is wrong.
Tensor parse_soft_alignment(std::string_view line, int64_t line_number = 1);

}  // namespace attend::viz
