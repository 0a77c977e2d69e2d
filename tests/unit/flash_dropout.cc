// Dropout on the attention weights: the keep rate of the kernel's mask, the counter formula of
// the header (the reference draws the same mask independently), forward and backward agreeing;
// and the kernels' other row-wise helpers the ops use (dropout uniforms, softmax rows).
#include <random>

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
  // Philox counters (positions / 4) that cross a 2^32 boundary (the SIMD generators carry into
  // the high word), from an offset that is not a multiple of 4.
  check_case({.name = "offset near 2^34", .B = 1, .H = 2, .Hkv = 2, .Tq = 20, .Tk = 45, .D = 16, .dropout = 0.3f,
              .seed = 212, .dropout_offset = (uint64_t{1} << 34) - 901});
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

// The uniforms the dropout op draws through: philox_uniform's, bit for bit, for lengths that are
// not multiples of the vector width and counters that carry into the high word.
// Every residue of first mod 4 (positions share Philox blocks four at a time), lengths around a
// vector's 4 W positions, counters (first / 4) that carry into the high word.
TEST_P(FlashDropout, DropoutUniformsEqualPhiloxUniformBitForBit) {
  for (const uint64_t first : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{12345},
                               (uint64_t{1} << 34) - 37, (uint64_t{1} << 34) - 2, (uint64_t{7} << 40) + 3})
    for (const int64_t n : {int64_t{1}, int64_t{3}, int64_t{15}, int64_t{16}, int64_t{17}, int64_t{63}, int64_t{64},
                            int64_t{65}, int64_t{1000}}) {
      std::vector<float> u(static_cast<size_t>(n) + 1, -1.0f);
      kernels::dropout_uniforms(0x5eed1234abcdULL, first, n, u.data());
      for (int64_t e = 0; e < n; ++e)
        ASSERT_EQ(u[static_cast<size_t>(e)], philox_uniform(0x5eed1234abcdULL, first, static_cast<uint64_t>(e)))
            << "first " << first << ", n " << n << ", e " << e;
      EXPECT_EQ(u.back(), -1.0f) << "wrote past n";
    }
}

// The dropout op's mask bits and their application: the compare of each uniform with p, bit e % 8
// of byte e / 8, zero bits past n; y = x * scale where kept, 0 where dropped, NaN kept as NaN.
TEST_P(FlashDropout, KeepBitsAndApplyMatchTheUniforms) {
  const uint64_t seed = 0x5eed1234abcdULL;
  for (const uint64_t first : {uint64_t{0}, uint64_t{5}, (uint64_t{1} << 34) - 7})
    for (const int64_t n : {int64_t{1}, int64_t{9}, int64_t{16}, int64_t{31}, int64_t{1024}, int64_t{2500}}) {
      SCOPED_TRACE("first " + std::to_string(first) + ", n " + std::to_string(n));
      const float p = 0.3f, scale = 1.0f / 0.7f;
      std::vector<uint8_t> keep(static_cast<size_t>((n + 7) / 8) + 1, 0xAB);
      kernels::dropout_keep_bits(seed, first, n, p, keep.data());
      EXPECT_EQ(keep.back(), 0xAB) << "wrote past ceil(n / 8) bytes";
      if (n % 8) {
        EXPECT_EQ(keep[static_cast<size_t>(n / 8)] >> (n % 8), 0) << "bits past n must be 0";
      }
      std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n), 7.0f);
      for (int64_t e = 0; e < n; ++e) x[static_cast<size_t>(e)] = 0.25f * static_cast<float>(e % 13) - 1.0f;
      x[0] = std::numeric_limits<float>::quiet_NaN();
      kernels::dropout_apply(keep.data(), n, scale, x.data(), y.data());
      int64_t kept = 0;
      for (int64_t e = 0; e < n; ++e) {
        const bool want = philox_uniform(seed, first, static_cast<uint64_t>(e)) >= p;
        const bool bit = (keep[static_cast<size_t>(e / 8)] >> (e % 8)) & 1;
        ASSERT_EQ(bit, want) << "e " << e;
        kept += want;
        if (e == 0) {
          EXPECT_TRUE(std::isnan(y[0])) << "a NaN stays NaN, dropped or kept";
          continue;
        }
        ASSERT_EQ(y[static_cast<size_t>(e)], want ? x[static_cast<size_t>(e)] * scale : 0.0f) << "e " << e;
      }
      if (n >= 1024) {
        EXPECT_NEAR(static_cast<double>(kept) / static_cast<double>(n), 0.7, 0.05);
      }
    }
}

// The ops' float softmax and log-softmax rows (kernels::softmax_rows) against double, per ISA:
// lengths around the vector width, large logits, masked (-inf) entries exactly 0, masked rows.
TEST_P(FlashDropout, SoftmaxRowsMatchDoubleAndKeepMasksExact) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  for (const int64_t n : {int64_t{1}, int64_t{7}, int64_t{16}, int64_t{17}, int64_t{100}, int64_t{8000}}) {
    const int64_t rows = 3;
    std::vector<float> x(static_cast<size_t>(rows * n));
    for (float& v : x) v = normal(gen) + 30.0f;
    for (int64_t j = 0; j < n; j += 3) x[static_cast<size_t>(n + j)] = -INFINITY;  // row 1: masked entries
    if (n > 1) x[static_cast<size_t>(n + 1)] = 25.0f;                                // ... but not all
    for (int64_t j = 0; j < n; ++j) x[static_cast<size_t>(2 * n + j)] = -INFINITY;  // row 2: fully masked
    for (const bool log : {false, true}) {
      std::vector<float> y(x.size(), 123.0f);
      kernels::softmax_rows(x.data(), y.data(), rows, n, log);
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * n;
        const float* yr = y.data() + r * n;
        double m = -INFINITY, s = 0.0;
        for (int64_t j = 0; j < n; ++j) m = std::max(m, static_cast<double>(xr[j]));
        for (int64_t j = 0; j < n; ++j) s += std::exp(static_cast<double>(xr[j]) - m);
        for (int64_t j = 0; j < n; ++j) {
          SCOPED_TRACE("n " + std::to_string(n) + ", row " + std::to_string(r) + ", j " + std::to_string(j) +
                       (log ? ", log" : ""));
          if (xr[j] == -INFINITY) {
            ASSERT_EQ(yr[j], log ? -INFINITY : 0.0f);
            continue;
          }
          const double want = log ? static_cast<double>(xr[j]) - m - std::log(s) : std::exp(static_cast<double>(xr[j]) - m) / s;
          ASSERT_NEAR(yr[j], want, log ? 2e-5 : 4e-6 * want + 1e-12);  // float exp of arguments down to -30: a few ulp
        }
      }
    }
  }
}

ATTEND_FLASH_PER_ISA(FlashDropout);

}  // namespace
}  // namespace attend::flash_test
