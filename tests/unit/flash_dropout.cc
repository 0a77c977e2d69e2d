// Dropout on the attention weights: the keep rate of the kernel's mask, the counter formula of
// the header (the reference draws the same mask independently), forward and backward agreeing.
#include "flash_test_util.h"

namespace attend::flash_test {
namespace {

using FlashDropout = PerIsa;

// With q = 0 every weight is 1/Tk, and with v = 1 the output is (kept fraction) / (1 - p).
TEST_P(FlashDropout, KeepRateIsOneMinusP) {
  for (float p : {0.1f, 0.5f, 0.9f}) {
    Problem pr({.name = "keep rate", .B = 2, .H = 4, .Hkv = 4, .Tq = 64, .Tk = 256, .D = 1, .dropout = p, .seed = 200});
    std::fill(pr.q.begin(), pr.q.end(), 0.0f);
    std::fill(pr.v.begin(), pr.v.end(), 1.0f);
    pr.run_forward();
    double kept = 0;
    for (float x : pr.o) kept += static_cast<double>(x) * (1.0 - p);
    const double n = static_cast<double>(pr.o.size()) * 256.0;
    const double rate = kept / static_cast<double>(pr.o.size());
    const double sigma = std::sqrt(p * (1.0 - p) / n);
    EXPECT_NEAR(rate, 1.0 - p, 5.0 * sigma + 1e-6) << "p=" << p;
  }
}

TEST_P(FlashDropout, MatchesReferenceWithTheSameMask) {
  check_case({.name = "p=0.2", .B = 2, .H = 2, .Hkv = 1, .Tq = 70, .Tk = 90, .D = 32, .dropout = 0.2f, .seed = 210});
  check_case({.name = "p=0.5 causal kv_len", .B = 2, .H = 2, .Hkv = 2, .Tq = 65, .Tk = 130, .D = 64,
              .causal = CausalMode::BottomRight, .kv_len = {100, 130}, .dropout = 0.5f, .seed = 211});
  // Counters that cross a 2^32 boundary (the SIMD generators carry into the high word).
  check_case({.name = "offset near 2^32", .B = 1, .H = 2, .Hkv = 2, .Tq = 20, .Tk = 45, .D = 16, .dropout = 0.3f,
              .seed = 212, .dropout_offset = (uint64_t{1} << 32) - 900});
}

TEST_P(FlashDropout, SeedAndOffsetSelectTheMask) {
  Case c{.name = "seed", .B = 1, .H = 1, .Hkv = 1, .Tq = 16, .Tk = 64, .D = 16, .dropout = 0.3f, .seed = 220};
  Problem a(c), b(c);
  a.run_forward();
  b.run_forward();
  EXPECT_EQ(a.o, b.o);
  auto p = b.params();
  p.dropout.offset += 1;
  kernels::flash_attention_forward(p);
  EXPECT_NE(a.o, b.o);
}

ATTEND_FLASH_PER_ISA(FlashDropout);

}  // namespace
}  // namespace attend::flash_test
