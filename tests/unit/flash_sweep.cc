// Fused attention vs the float64 reference on random problems: lengths that are not tile
// multiples, Tq = 1, Tq != Tk both ways, head sizes with and without fast paths, large logits,
// grouped-query heads, strided [B, T, H, D] views. Every instruction set of the machine.
#include "flash_test_util.h"

namespace attend::flash_test {
namespace {

using FlashSweep = PerIsa;

TEST_P(FlashSweep, LengthsNotTileMultiples) {
  const int64_t pairs[][2] = {{1, 1}, {1, 7}, {7, 1}, {7, 7}, {63, 65}, {65, 63}, {1, 257}, {130, 257}, {257, 130}, {64, 128}};
  uint64_t seed = 10;
  for (const auto& pq : pairs) {
    if (quick() && pq[0] * pq[1] > 20000) continue;  // ATTEND_TEST_QUICK: skip the two biggest
    check_case({.name = "Tq=" + std::to_string(pq[0]) + " Tk=" + std::to_string(pq[1]), .B = 2, .H = 2, .Hkv = 2,
                .Tq = pq[0], .Tk = pq[1], .D = 64, .seed = ++seed});
  }
}

TEST_P(FlashSweep, HeadSizes) {
  uint64_t seed = 20;
  for (int64_t D : {1, 3, 16, 17, 32, 40, 80, 128})
    check_case({.name = "D=" + std::to_string(D), .B = 1, .H = 2, .Hkv = 1, .Tq = 70, .Tk = 90, .D = D,
                .causal = D % 2 ? CausalMode::None : CausalMode::BottomRight, .seed = ++seed});
}

TEST_P(FlashSweep, LargeLogits) {
  uint64_t seed = 30;
  for (float logit : {10.0f, 100.0f, 1e4f})
    for (CausalMode causal : {CausalMode::None, CausalMode::BottomRight})
      check_case({.name = "logit=" + std::to_string(logit), .B = 1, .H = 2, .Hkv = 2, .Tq = 67, .Tk = 131, .D = 32,
                  .causal = causal, .logit = logit, .seed = ++seed});
}

TEST_P(FlashSweep, GroupedQueryHeads) {
  uint64_t seed = 40;
  for (int64_t Hkv : {1, 2, 8})
    check_case({.name = "H=8 Hkv=" + std::to_string(Hkv), .B = 2, .H = 8, .Hkv = Hkv, .Tq = 33, .Tk = 70, .D = 32,
                .seed = ++seed});
}

TEST_P(FlashSweep, StridedTokenMajorLayout) {
  check_case({.name = "BTHD", .B = 2, .H = 4, .Hkv = 2, .Tq = 45, .Tk = 77, .D = 64, .causal = CausalMode::BottomRight,
              .bthd = true, .seed = 50});
  check_case({.name = "BTHD D=24", .B = 1, .H = 2, .Hkv = 2, .Tq = 20, .Tk = 30, .D = 24, .bthd = true, .seed = 51});
}

TEST_P(FlashSweep, ScaleOverride) {
  check_case({.name = "scale=0.5", .B = 1, .H = 2, .Hkv = 2, .Tq = 40, .Tk = 50, .D = 64, .scale = 0.5f, .seed = 60});
  check_case({.name = "scale=-0.1", .B = 1, .H = 1, .Hkv = 1, .Tq = 9, .Tk = 70, .D = 64, .scale = -0.1f, .seed = 61});
}

TEST_P(FlashSweep, ManyTiles) {
  const int64_t T = quick() ? 200 : 300;  // ATTEND_TEST_QUICK: still 4 x 2 tiles
  check_case({.name = "T=" + std::to_string(T) + " causal", .B = 1, .H = 1, .Hkv = 1, .Tq = T, .Tk = T, .D = 64,
              .causal = CausalMode::BottomRight, .seed = 70});
}

// The attention layer's large-logit case (q scaled by 300, causal, D = 64, T = 33: |LSE| in the
// thousands), where the rounding of a one-float LSE alone broke the rule for dV.
TEST_P(FlashSweep, LargeLogitsCausalD64) {
  uint64_t seed = 80;
  for (float logit : {100.0f, 300.0f})
    check_case({.name = "logit=" + std::to_string(logit), .B = 1, .H = 2, .Hkv = 2, .Tq = 33, .Tk = 33, .D = 64,
                .causal = CausalMode::BottomRight, .logit = logit, .seed = ++seed});
}

// lse_lo = nullptr: the backward reads lse alone (today's callers that do not store lse_lo).
TEST_P(FlashSweep, WithoutLseLo) {
  check_case({.name = "no lse_lo", .B = 2, .H = 2, .Hkv = 1, .Tq = 70, .Tk = 90, .D = 64,
              .causal = CausalMode::BottomRight, .seed = 90, .store_lse_lo = false});
}

ATTEND_FLASH_PER_ISA(FlashSweep);

}  // namespace
}  // namespace attend::flash_test
