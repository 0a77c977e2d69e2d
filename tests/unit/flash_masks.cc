// Every mask kind of DESIGN.md section 3, alone and combined, against the float64 reference;
// fully masked rows give O = 0, LSE = -inf and zero, finite gradients.
#include "flash_test_util.h"

namespace attend::flash_test {
namespace {

using FlashMasks = PerIsa;

TEST_P(FlashMasks, CausalBottomRightAndTopLeft) {
  const int64_t pairs[][2] = {{50, 50}, {30, 100}, {100, 30}, {1, 90}, {65, 130}};
  uint64_t seed = 100;
  for (CausalMode mode : {CausalMode::BottomRight, CausalMode::TopLeft})
    for (const auto& pq : pairs)
      check_case({.name = std::string(mode == CausalMode::TopLeft ? "top-left" : "bottom-right") + " Tq=" +
                          std::to_string(pq[0]) + " Tk=" + std::to_string(pq[1]),
                  .B = 1, .H = 2, .Hkv = 1, .Tq = pq[0], .Tk = pq[1], .D = 32, .causal = mode, .seed = ++seed});
}

TEST_P(FlashMasks, SlidingWindow) {
  const int64_t windows[][2] = {{0, 0}, {8, 0}, {16, 4}, {-1, 3}, {5, -1}, {70, 70}};
  uint64_t seed = 120;
  for (CausalMode align : {CausalMode::BottomRight, CausalMode::TopLeft})
    for (const auto& w : windows)
      check_case({.name = "window (" + std::to_string(w[0]) + ", " + std::to_string(w[1]) + ")", .B = 1, .H = 1,
                  .Hkv = 1, .Tq = 90, .Tk = 150, .D = 32, .window_left = w[0], .window_right = w[1],
                  .window_align = align, .seed = ++seed});
}

TEST_P(FlashMasks, KeyPaddingLengths) {
  check_case({.name = "kv_len", .B = 3, .H = 2, .Hkv = 2, .Tq = 40, .Tk = 140, .D = 32, .kv_len = {140, 65, 1},
              .seed = 140});
}

TEST_P(FlashMasks, BooleanMask) {
  check_case({.name = "bool full", .B = 2, .H = 2, .Hkv = 1, .Tq = 37, .Tk = 80, .D = 32,
              .tensor_mask = TensorMask::BoolRandom, .seed = 150});
  check_case({.name = "bool [B,1,1,Tk]", .B = 2, .H = 2, .Hkv = 2, .Tq = 37, .Tk = 80, .D = 32,
              .tensor_mask = TensorMask::BoolKeyPadding, .seed = 151});
}

TEST_P(FlashMasks, AdditiveMask) {
  check_case({.name = "additive full", .B = 2, .H = 2, .Hkv = 2, .Tq = 37, .Tk = 80, .D = 32,
              .tensor_mask = TensorMask::AdditiveRandom, .seed = 160});
  check_case({.name = "additive [B,1,Tq,Tk]", .B = 2, .H = 2, .Hkv = 1, .Tq = 37, .Tk = 80, .D = 32,
              .tensor_mask = TensorMask::AdditiveHeadBroadcast, .seed = 161});
}

TEST_P(FlashMasks, Combined) {
  check_case({.name = "causal+window+kv_len+bool+additive", .B = 2, .H = 4, .Hkv = 2, .Tq = 70, .Tk = 133, .D = 64,
              .causal = CausalMode::BottomRight, .window_left = 40, .window_right = 0, .kv_len = {120, 133},
              .tensor_mask = TensorMask::Both, .seed = 170});
  check_case({.name = "top-left causal+kv_len+additive", .B = 2, .H = 2, .Hkv = 2, .Tq = 130, .Tk = 70, .D = 16,
              .causal = CausalMode::TopLeft, .kv_len = {50, 70}, .tensor_mask = TensorMask::AdditiveHeadBroadcast,
              .seed = 171});
}

// Rows with no visible key: by causal alignment (Tq > Tk), by kv_len = 0, by a boolean mask, by
// an additive -inf row.
TEST_P(FlashMasks, FullyMaskedRowsGiveZeros) {
  Problem pr({.name = "fully masked", .B = 2, .H = 2, .Hkv = 2, .Tq = 80, .Tk = 40, .D = 32,
              .causal = CausalMode::BottomRight, .kv_len = {40, 0}, .tensor_mask = TensorMask::BoolRandom,
              .seed = 180});
  pr.run_forward();
  pr.run_backward();
  const auto& c = pr.c;
  const FlashParams fp = pr.params();
  int64_t masked_rows = 0;
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h)
      for (int64_t i = 0; i < c.Tq; ++i) {
        bool empty = true;
        for (int64_t j = 0; j < c.Tk; ++j) empty = empty && !flash_ref::allowed(fp, b, h, i, j);
        const float lse = pr.lse[static_cast<size_t>((b * c.H + h) * c.Tq + i)];
        if (!empty) {
          EXPECT_TRUE(std::isfinite(lse));
          continue;
        }
        ++masked_rows;
        EXPECT_EQ(lse, -INFINITY) << "row " << i;
        for (int64_t d = 0; d < c.D; ++d) {
          EXPECT_EQ(pr.o[static_cast<size_t>(pr.at(c.H, c.Tq, b, h, i, d))], 0.0f);
          EXPECT_EQ(pr.dq[static_cast<size_t>(pr.at(c.H, c.Tq, b, h, i, d))], 0.0f);
        }
      }
  EXPECT_GT(masked_rows, 50);
  for (int64_t e = 0; e < c.Tk * c.D * c.Hkv; ++e) {  // batch 1 sees no key: no gradient reaches it
    EXPECT_EQ(pr.dk[static_cast<size_t>(c.Hkv * c.Tk * c.D + e)], 0.0f);
    EXPECT_EQ(pr.dv[static_cast<size_t>(c.Hkv * c.Tk * c.D + e)], 0.0f);
  }
  for (float x : pr.dk) EXPECT_TRUE(std::isfinite(x));
  for (float x : pr.dv) EXPECT_TRUE(std::isfinite(x));
  check_case(pr.c);
  // Everything masked: Tk = 0.
  check_case({.name = "Tk=0", .B = 1, .H = 1, .Hkv = 1, .Tq = 5, .Tk = 0, .D = 8, .seed = 181});
}

ATTEND_FLASH_PER_ISA(FlashMasks);

}  // namespace
}  // namespace attend::flash_test
