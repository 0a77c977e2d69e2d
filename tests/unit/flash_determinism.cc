// Bit-identical results across repeated runs and thread counts (the backward's dQ is summed in a
// fixed order, including the chunked case used when B * Hkv is small).
#include "flash_test_util.h"

namespace attend::flash_test {
namespace {

using FlashDeterminism = PerIsa;

struct Outputs {
  std::vector<float> o, lse, dq, dk, dv;
  bool operator==(const Outputs&) const = default;
};

Outputs run(Problem& pr) {
  pr.run_forward();
  pr.run_backward();
  return {pr.o, pr.lse, pr.dq, pr.dk, pr.dv};
}

class ThreadGuard {
 public:
  ThreadGuard() : saved_(num_threads()) {}
  ~ThreadGuard() { set_num_threads(saved_); }

 private:
  int saved_;
};

TEST_P(FlashDeterminism, HundredRepeatedRunsAreBitIdentical) {
  Problem pr({.name = "repeat", .B = 1, .H = 4, .Hkv = 2, .Tq = 100, .Tk = 130, .D = 64,
              .causal = CausalMode::BottomRight, .dropout = 0.1f, .seed = 300});
  const Outputs first = run(pr);
  const int runs = quick() ? 10 : 100;  // ATTEND_TEST_QUICK (sanitizer builds): 10
  for (int r = 1; r < runs; ++r) ASSERT_TRUE(run(pr) == first) << "run " << r << " differs";
}

TEST_P(FlashDeterminism, OneAndTwoThreadsAreBitIdentical) {
  ThreadGuard guard;
  const Case cases[] = {
      {.name = "B*Hkv=8", .B = 2, .H = 4, .Hkv = 4, .Tq = 130, .Tk = 190, .D = 64, .seed = 310},
      {.name = "MQA, chunked dQ", .B = 1, .H = 4, .Hkv = 1, .Tq = 150, .Tk = 600, .D = 32,
       .causal = CausalMode::BottomRight, .seed = 311},
      {.name = "odd D, masks", .B = 1, .H = 2, .Hkv = 1, .Tq = 90, .Tk = 333, .D = 20,
       .tensor_mask = TensorMask::Both, .dropout = 0.2f, .seed = 312},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Problem pr(c);
    set_num_threads(1);
    const Outputs one = run(pr);
    set_num_threads(2);
    const Outputs two = run(pr);
    set_num_threads(3);
    const Outputs three = run(pr);
    EXPECT_TRUE(one == two);
    EXPECT_TRUE(one == three);
  }
}

ATTEND_FLASH_PER_ISA(FlashDeterminism);

}  // namespace
}  // namespace attend::flash_test
