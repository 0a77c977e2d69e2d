// Pharaoh hard alignments and Marian-style soft alignments: conversion from a soft matrix,
// writer/reader round trips, and errors that name the line and the link.
#include <gtest/gtest.h>

#include "support/check.h"

#include <sstream>
#include <string>
#include <vector>

#include "attend/core/rng.h"
#include "attend/core/tensor.h"
#include "attend/viz/alignment.h"

namespace attend::viz {
namespace {

// Rows = target tokens, columns = source tokens.
Tensor soft_3x4() {
  return Tensor::from_vector(std::vector<double>{0.70, 0.20, 0.05, 0.05,   // target 0 -> source 0
                                                 0.10, 0.15, 0.60, 0.15,   // target 1 -> source 2
                                                 0.05, 0.45, 0.45, 0.05},  // target 2 -> tie: source 1
                             Shape{3, 4});
}

using test::error_of;

TEST(VizAlignment, ArgmaxPerTargetTokenIsSourceDashTarget) {
  const Alignment a = hard_alignment(soft_3x4());
  EXPECT_EQ(a, (Alignment{{.source = 0, .target = 0}, {.source = 2, .target = 1}, {.source = 1, .target = 2}}));
  EXPECT_EQ(format_pharaoh(a), "0-0 2-1 1-2");
}

TEST(VizAlignment, ThresholdRules) {
  EXPECT_EQ(format_pharaoh(hard_alignment(soft_3x4(), {.threshold = 0.5})), "0-0 2-1");
  EXPECT_EQ(format_pharaoh(hard_alignment(soft_3x4(), {.rule = HardAlignmentRule::all_above_threshold, .threshold = 0.3})),
            "0-0 2-1 1-2 2-2");
  // A fully masked (all-zero) target row gets no link.
  const Tensor masked = Tensor::from_vector(std::vector<double>{0, 0, 0.3, 0.7}, Shape{2, 2});
  EXPECT_EQ(format_pharaoh(hard_alignment(masked)), "1-1");
}

TEST(VizAlignment, ArgmaxAgreesWithABruteForceSearchOnRandomMatrices) {
  Rng rng(5);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t tq = 1 + trial % 7, tk = 1 + (trial * 3) % 11;
    const Tensor w = Tensor::uniform(Shape{tq, tk}, rng, 0.0, 1.0, DType::f32);
    const Alignment a = hard_alignment(w);
    ASSERT_EQ(static_cast<int64_t>(a.size()), tq);
    for (const AlignmentLink& l : a)
      for (int64_t i = 0; i < tk; ++i) EXPECT_LE(w.at({l.target, i}), w.at({l.target, l.source}));
  }
}

TEST(VizAlignment, PharaohWriteReadRoundTrip) {
  const std::vector<Alignment> sentences = {
      {{.source = 0, .target = 0}, {.source = 2, .target = 1}, {.source = 1, .target = 2}},
      {},
      {{.source = 12, .target = 3}, {.source = 0, .target = 0}},
  };
  std::stringstream ss;
  write_pharaoh(ss, sentences);
  EXPECT_EQ(ss.str(), "0-0 2-1 1-2\n\n12-3 0-0\n");
  std::stringstream in(ss.str());
  EXPECT_EQ(read_pharaoh(in), sentences);
  const std::vector<SentenceLengths> lengths = {{.source = 3, .target = 3}, {.source = 1, .target = 1},
                                                {.source = 13, .target = 4}};
  std::stringstream again(ss.str());
  EXPECT_EQ(read_pharaoh(again, lengths), sentences);
  // Extra blanks, tabs and a CR line end are tolerated; a last line without '\n' counts.
  std::stringstream loose("  0-1\t3-2 \r\n4-4");
  EXPECT_EQ(read_pharaoh(loose),
            (std::vector<Alignment>{{{.source = 0, .target = 1}, {.source = 3, .target = 2}}, {{.source = 4, .target = 4}}}));
}

TEST(VizAlignment, BadInputPharaohNotIDashJ) {
  std::stringstream in("0-0 1-1\n0-0 3-x\n");
  const std::string m = error_of([&] { read_pharaoh(in); });
  EXPECT_EQ(m.rfind("[pharaoh] line 2, link 2 \"3-x\"", 0), 0u) << m;
  for (const char* bad : {"3", "a-b", "3-", "-", "1-2-3", "+1-2", "1 - 2", "0x1-2"})
    EXPECT_NE(error_of([&] { parse_pharaoh(bad); }).find("[pharaoh] line 1"), std::string::npos) << bad;
  EXPECT_NE(error_of([] { parse_pharaoh("99999999999999999999-1"); }).find("64 bits"), std::string::npos);
}

TEST(VizAlignment, BadInputPharaohNegativeIndex) {
  EXPECT_NE(error_of([] { parse_pharaoh("0-0 -1-2", {}, 7); }).find("line 7, link 2 \"-1-2\": negative index"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_pharaoh("1--2"); }).find("negative index"), std::string::npos);
}

TEST(VizAlignment, BadInputPharaohIndexBeyondSentenceLength) {
  const SentenceLengths len{.source = 9, .target = 7};
  EXPECT_NO_THROW(parse_pharaoh("8-6", len));
  EXPECT_NE(error_of([&] { parse_pharaoh("0-0 9-1", len, 4); })
                .find("line 4, link 2 \"9-1\": source index 9 is beyond the source sentence of length 9"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_pharaoh("2-7", len); }).find("target index 7 is beyond the target sentence of length 7"),
            std::string::npos);
  std::stringstream in("0-0\n12-1\n");
  const std::vector<SentenceLengths> lengths = {{.source = 1, .target = 1}, {.source = 5, .target = 5}};
  EXPECT_NE(error_of([&] { read_pharaoh(in, lengths); }).find("line 2, link 1 \"12-1\""), std::string::npos);
  std::stringstream three("0-0\n0-0\n0-0\n");
  EXPECT_NE(error_of([&] { read_pharaoh(three, lengths); }).find("line 3: more lines than the 2 sentence lengths"),
            std::string::npos);
  std::stringstream one("0-0\n");
  EXPECT_NE(error_of([&] { read_pharaoh(one, lengths); }).find("read 1 lines but 2 sentence lengths"),
            std::string::npos);
}

TEST(VizAlignment, AlignmentMatrixMarksLinks) {
  const Tensor m = alignment_matrix(hard_alignment(soft_3x4()), {.source = 4, .target = 3});
  EXPECT_EQ(m.shape(), (Shape{3, 4}));
  EXPECT_EQ(m.to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0}));
  EXPECT_NE(error_of([] { alignment_matrix({{.source = 4, .target = 0}}, {.source = 4, .target = 3}); })
                .find("[alignment_matrix] link 4-0 is outside [target 3, source 4]"),
            std::string::npos);
}

TEST(VizAlignment, SoftAlignmentExactTextAndRoundTrip) {
  const std::string line = format_soft_alignment(soft_3x4());
  EXPECT_EQ(line, "0.7,0.2,0.05,0.05 0.1,0.15,0.6,0.15 0.05,0.45,0.45,0.05");
  const Tensor back = parse_soft_alignment(line);
  EXPECT_EQ(back.shape(), (Shape{3, 4}));
  EXPECT_EQ(back.to_vector<double>(), soft_3x4().to_vector<double>());
  EXPECT_EQ(format_soft_alignment(soft_3x4(), {.precision = 1}), "0.7,0.2,0.05,0.05 0.1,0.1,0.6,0.1 0.05,0.5,0.5,0.05");
  Rng rng(9);
  const Tensor w = Tensor::uniform(Shape{5, 6}, rng, 0.0, 1.0, DType::f64);
  EXPECT_EQ(parse_soft_alignment(format_soft_alignment(w, {.precision = 17})).to_vector<double>(), w.to_vector<double>());
}

TEST(VizAlignment, BadInputSoftAlignment) {
  EXPECT_NE(error_of([] { parse_soft_alignment("0.5,0.5 0.1,0.2,0.7", 3); })
                .find("[soft_alignment] line 3, target token 1: 3 source weights where target token 0 has 2"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_soft_alignment("0.5,x"); }).find("target token 0: weight 1 \"x\" is not a finite number"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_soft_alignment("0.5,,0.5"); }).find("weight 1 \"\""), std::string::npos);
  EXPECT_NE(error_of([] { parse_soft_alignment("  "); }).find("no target tokens"), std::string::npos);
  EXPECT_NE(error_of([] { format_soft_alignment(Tensor::ones(Shape{4})); }).find("[soft_alignment] weights must be [Tq, Tk]"),
            std::string::npos);
  EXPECT_NE(error_of([] { hard_alignment(Tensor::from_vector(std::vector<double>{1, INFINITY}, Shape{1, 2})); })
                .find("[hard_alignment] weight at [0, 1] of [1, 2] is inf"),
            std::string::npos);
}

}  // namespace
}  // namespace attend::viz
