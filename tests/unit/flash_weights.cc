// Exact attention weights recomputed from the stored LSE; the dispatcher's choice of instruction
// set; error messages for bad parameters.
#include <gtest/gtest.h>

#include <algorithm>

#include "attend/core/error.h"
#include "flash_test_util.h"

namespace attend::flash_test {
namespace {

using FlashWeights = PerIsa;

void check_weights(const Case& c, int64_t h0, int64_t h1, int64_t r0, int64_t r1) {
  SCOPED_TRACE(c.name);
  Problem pr(c);
  pr.run_forward();
  const int64_t nh = h1 - h0, nr = r1 - r0;
  std::vector<float> w(static_cast<size_t>(c.B * nh * nr * c.Tk), NAN);
  kernels::flash_attention_weights(pr.params(), {.head_begin = h0, .head_end = h1, .row_begin = r0, .row_end = r1,
                                                 .out = w.data()});
  const FlashParams fp = pr.params();
  const auto ref = flash_ref::attention<double>(fp);
  const auto naive = flash_ref::attention<float>(fp);
  std::vector<double> rsel;
  std::vector<float> nsel;
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = 0; j < c.Tk; ++j) {
          const size_t e = static_cast<size_t>(((b * c.H + h) * c.Tq + i) * c.Tk + j);
          rsel.push_back(ref.p[e]);
          nsel.push_back(naive.p[e]);
        }
  // The weights are e^((s - lse) - lse_lo): the strict rule, no allowance for the rounding of lse.
  expect_within_rule("P", w, nsel, rsel);
  for (size_t e = 0; e < w.size(); ++e) {
    if (rsel[e] == 0.0) {
      EXPECT_EQ(w[e], 0.0f) << "masked weight " << e;
    }
  }
}

TEST_P(FlashWeights, MatchReference) {
  check_weights({.name = "all", .B = 2, .H = 2, .Hkv = 1, .Tq = 70, .Tk = 100, .D = 32, .seed = 400}, 0, 2, 0, 70);
  check_weights({.name = "subset, masks", .B = 2, .H = 4, .Hkv = 2, .Tq = 130, .Tk = 90, .D = 64,
                 .causal = CausalMode::BottomRight, .kv_len = {90, 60}, .tensor_mask = TensorMask::Both,
                 .seed = 401},
                1, 3, 60, 129);
  check_weights({.name = "large logits", .B = 1, .H = 1, .Hkv = 1, .Tq = 20, .Tk = 300, .D = 16, .logit = 100.0f,
                 .seed = 402},
                0, 1, 0, 20);
  check_weights({.name = "logits ~1e4, causal", .B = 1, .H = 2, .Hkv = 2, .Tq = 33, .Tk = 33, .D = 64,
                 .causal = CausalMode::BottomRight, .logit = 300.0f, .seed = 403},
                0, 2, 0, 33);
  // Without lse_lo (nullptr) the weights come from lse alone: still right for ordinary logits.
  check_weights({.name = "no lse_lo", .B = 1, .H = 2, .Hkv = 1, .Tq = 40, .Tk = 70, .D = 32, .seed = 404,
                 .store_lse_lo = false},
                0, 2, 0, 40);
}

ATTEND_FLASH_PER_ISA(FlashWeights);

TEST(FlashIsa, GenericIsAlwaysSupportedAndForceable) {
  const auto isas = kernels::supported_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), "generic");
  for (const auto& isa : isas) {
    kernels::set_flash_isa(isa);
    EXPECT_EQ(kernels::flash_isa_name(), isa);
    EXPECT_NE(kernels::flash_isa_reason().find(isa), std::string::npos);
  }
  kernels::set_flash_isa("");
  EXPECT_EQ(kernels::flash_isa_name(), isas.back());
  EXPECT_THROW(kernels::set_flash_isa("sse9"), Error);
}

void expect_error(const FlashParams& p, const std::string& fragment) {
  try {
    kernels::flash_attention_forward(p);
    ADD_FAILURE() << "no error for " << fragment;
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("[flash_attention]", 0), 0u) << m;
    EXPECT_NE(m.find(fragment), std::string::npos) << m;
  }
}

TEST(FlashErrors, BadParametersNameTheShapes) {
  Problem pr({.name = "errors", .B = 1, .H = 4, .Hkv = 2, .Tq = 8, .Tk = 8, .D = 16});
  FlashParams p = pr.params();
  p.Hkv = 3;
  expect_error(p, "q [1, 4, 8, 16], k/v [1, 3, 8, 16]");
  p = pr.params();
  p.dropout.p = 1.0f;
  expect_error(p, "dropout p");
  p = pr.params();
  p.mask.window_left = -2;
  expect_error(p, "window");
  p = pr.params();
  const int64_t bad_len[] = {9};
  p.mask.kv_len = bad_len;
  expect_error(p, "kv_len[0] = 9");
  p = pr.params();
  p.q.data = nullptr;
  expect_error(p, "null q");
}

}  // namespace
}  // namespace attend::flash_test
