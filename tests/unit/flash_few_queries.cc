// The forward of few queries (FlashParams::inference_only, Tq <= lanes / 4: a decoding step) against
// the float64 reference under the same rule as the general forward: query counts on both sides of
// the switch, key counts across tile edges, head sizes with and without a partial last vector,
// every mask kind, fully masked rows, grouped-query heads, the [B, T, H, D] layout. Every
// instruction set of the machine (the portable one takes the path at Tq = 1 only).
#include "flash_test_util.h"

namespace attend::flash_test {
namespace {

using FlashFewQueries = PerIsa;

Case few(std::string name, int64_t Tq, int64_t Tk, int64_t D, uint64_t seed) {
  return {.name = std::move(name), .B = 2, .H = 4, .Hkv = 2, .Tq = Tq, .Tk = Tk, .D = D, .seed = seed,
          .inference_only = true};
}

TEST_P(FlashFewQueries, QueryAndKeyCountsAndHeadSizes) {
  uint64_t seed = 300;
  for (int64_t Tq : {1, 2, 4, 5, 8, 9})
    for (int64_t Tk : {1, 3, 4, 5, 127, 128, 129, 300})
      for (int64_t D : {1, 16, 40, 64, 72}) {
        if (quick() && (D == 40 || Tk == 127)) continue;
        check_case(few("Tq=" + std::to_string(Tq) + " Tk=" + std::to_string(Tk) + " D=" + std::to_string(D), Tq, Tk,
                       D, ++seed),
                   false);
      }
}

TEST_P(FlashFewQueries, EveryMaskKind) {
  uint64_t seed = 400;
  for (int64_t Tq : {1, 5, 8}) {
    Case c = few("causal bottom-right", Tq, 140, 64, ++seed);
    c.causal = CausalMode::BottomRight;
    check_case(c, false);
    c = few("window", Tq, 200, 64, ++seed);
    c.window_left = 20, c.window_right = 0;
    check_case(c, false);
    c = few("kv_len", Tq, 150, 64, ++seed);
    c.kv_len = {150, 0};  // batch 1 fully masked: O = 0, LSE = -inf
    check_case(c, false);
    for (TensorMask m : {TensorMask::BoolRandom, TensorMask::BoolKeyPadding, TensorMask::AdditiveRandom,
                         TensorMask::AdditiveHeadBroadcast, TensorMask::Both}) {
      c = few("tensor mask " + std::to_string(static_cast<int>(m)), Tq, 133, 32, ++seed);
      c.tensor_mask = m;
      check_case(c, false);
    }
    c = few("combined, [B, T, H, D], scale", Tq, 260, 64, ++seed);
    c.causal = CausalMode::BottomRight, c.window_left = 150, c.kv_len = {200, 260};
    c.tensor_mask = TensorMask::AdditiveRandom, c.bthd = true, c.scale = 0.3f, c.logit = 8.0f;
    check_case(c, false);
  }
}

TEST_P(FlashFewQueries, MultiQueryHeadsAndLargeLogits) {
  Case c = few("multi-query", 1, 90, 64, 500);
  c.H = 8, c.Hkv = 1;
  check_case(c, false);
  for (float logit : {30.0f, 1e3f}) {
    c = few("large logits", 2, 90, 64, 501);
    c.logit = logit;
    check_case(c, false);
  }
}

// The same problem through both forwards: the few-query one differs only by f32 rounding.
TEST_P(FlashFewQueries, AgreesWithTheGeneralForward) {
  Case c = few("both", 1, 257, 64, 600);
  c.causal = CausalMode::BottomRight;
  Problem fast(c);
  c.inference_only = false;
  Problem general(c);
  fast.run_forward();
  general.run_forward();
  for (size_t e = 0; e < fast.o.size(); ++e) EXPECT_NEAR(fast.o[e], general.o[e], 2e-6) << e;
  for (size_t e = 0; e < fast.lse.size(); ++e) EXPECT_NEAR(fast.lse[e], general.lse[e], 2e-6) << e;
}

TEST_P(FlashFewQueries, OneAndTwoThreadsAreBitIdentical) {
  Problem one(few("threads", 1, 300, 64, 700)), two(few("threads", 1, 300, 64, 700));
  const int saved = num_threads();
  set_num_threads(1);
  one.run_forward();
  set_num_threads(2);
  two.run_forward();
  set_num_threads(saved);
  EXPECT_EQ(std::memcmp(one.o.data(), two.o.data(), one.o.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(one.lse.data(), two.lse.data(), one.lse.size() * sizeof(float)), 0);
}

ATTEND_FLASH_PER_ISA(FlashFewQueries);

}  // namespace
}  // namespace attend::flash_test
