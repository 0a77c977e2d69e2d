// BadInput* tests: every user error is an attend::Error whose message starts with "[op] " and
// names the offending shapes.
#include <string>

#include "attend/attention/additive.h"
#include "attend/attention/local.h"
#include "attend/attention/multiplicative.h"
#include "attend/attention/scaled_dot.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend::test {
namespace {

using attention::Mask;
using attention::MaskKind;

// Runs f, expects an attend::Error whose message starts with "[op] " and contains every `parts`.
template <typename F>
::testing::AssertionResult throws(F&& f, const std::string& op, std::initializer_list<std::string> parts) {
  try {
    f();
  } catch (const Error& e) {
    const std::string m = e.what();
    if (m.rfind("[" + op + "] ", 0) != 0) return ::testing::AssertionFailure() << "message \"" << m << "\" is not from [" << op << "]";
    for (const std::string& p : parts)
      if (m.find(p) == std::string::npos)
        return ::testing::AssertionFailure() << "message \"" << m << "\" does not name " << p;
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no attend::Error thrown";
}

constexpr const char* kSdpa = "scaled_dot_product_attention";

struct Inputs {
  Tensor q = Tensor::zeros(Shape{2, 4, 3, 8});
  Tensor k = Tensor::zeros(Shape{2, 2, 5, 8});
  Tensor v = Tensor::zeros(Shape{2, 2, 5, 6});
};

TEST(BadInputScaledDot, MismatchedHeadDims) {
  Inputs x;
  const Tensor k = Tensor::zeros(Shape{2, 2, 5, 7});
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, k, x.v); }, kSdpa,
                     {"head dims", "[2, 4, 3, 8]", "[2, 2, 5, 7]"}));
}

TEST(BadInputScaledDot, WrongRanks) {
  Inputs x;
  const Tensor q3 = Tensor::zeros(Shape{2, 3, 8});
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(q3, x.k, x.v); }, kSdpa, {"rank 4", "[2, 3, 8]"}));
}

TEST(BadInputScaledDot, HeadsNotDivisibleByKvHeads) {
  const Tensor q = Tensor::zeros(Shape{2, 3, 3, 8});
  Inputs x;
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(q, x.k, x.v); }, kSdpa,
                     {"H = 3", "Hkv = 2", "[2, 3, 3, 8]", "[2, 2, 5, 8]"}));
}

TEST(BadInputScaledDot, KeysAndValuesDisagree) {
  Inputs x;
  const Tensor v = Tensor::zeros(Shape{2, 2, 4, 6});
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, x.k, v); }, kSdpa,
                     {"[2, 2, 5, 8]", "[2, 2, 4, 6]"}));
  const Tensor vb = Tensor::zeros(Shape{3, 2, 5, 6});
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, x.k, vb); }, kSdpa,
                     {"batch", "[3, 2, 5, 6]"}));
}

TEST(BadInputMask, KeyLengthsWrongCount) {
  Inputs x;
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, x.k, x.v, {.key_lengths = {5, 5, 5}}); },
                     kSdpa, {"key_lengths has 3 entries", "B = 2", "[2, 4, 3, 5]"}));
}

TEST(BadInputMask, KeyLengthsOutOfRange) {
  Inputs x;
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, x.k, x.v, {.key_lengths = {5, 6}}); },
                     kSdpa, {"key_lengths[1] = 6", "Tk = 5", "[2, 4, 3, 5]"}));
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, x.k, x.v, {.key_lengths = {-1, 2}}); },
                     kSdpa, {"key_lengths[0] = -1"}));
}

TEST(BadInputMask, KeyPaddingWrongShape) {
  Inputs x;
  const Mask m{.key_padding = Tensor::ones(Shape{2, 4})};
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, x.k, x.v, m); }, kSdpa,
                     {"key_padding [2, 4]", "[B, Tk] = [2, 5]"}));
}

TEST(BadInputMask, AttnMaskOfTheWrongSize) {
  Inputs x;
  for (MaskKind kind : {MaskKind::boolean, MaskKind::additive}) {
    const Mask m{.attn_mask = Tensor::ones(Shape{3, 4}), .attn_mask_kind = kind};
    EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, x.k, x.v, m); }, kSdpa,
                       {"attn_mask [3, 4]", "[2, 4, 3, 5]"}));
  }
  const Mask five_d{.attn_mask = Tensor::ones(Shape{1, 2, 4, 3, 5})};
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, x.k, x.v, five_d); }, kSdpa,
                     {"attn_mask [1, 2, 4, 3, 5]"}));
}

TEST(BadInputMask, BooleanMaskNotZeroOne) {
  Inputs x;
  const Mask m{.attn_mask = Tensor::full(Shape{3, 5}, 0.5)};
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, x.k, x.v, m); }, kSdpa,
                     {"boolean attn_mask [3, 5]", "0/1"}));
}

TEST(BadInputMask, WindowBelowMinusOne) {
  Inputs x;
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, x.k, x.v, {.window_left = -2}); }, kSdpa,
                     {"window (-2, -1)"}));
}

TEST(BadInputScaledDot, DropoutInTrainingWithoutRng) {
  Inputs x;
  EXPECT_TRUE(throws([&] { attention::scaled_dot_product_attention(x.q, x.k, x.v, {}, {.dropout_p = 0.1, .training = true}); },
                     kSdpa, {"needs an Rng"}));
}

TEST(BadInputLuong, ScoreFunctionShapes) {
  const Tensor q = Tensor::zeros(Shape{2, 3, 4}), k = Tensor::zeros(Shape{2, 5, 6});
  EXPECT_TRUE(throws([&] { attention::dot_scores(q, k); }, "dot_scores", {"[2, 3, 4]", "[2, 5, 6]"}));
  EXPECT_TRUE(throws([&] { attention::dot_scores(Tensor::zeros(Shape{2, 4}), k); }, "dot_scores", {"[2, 4]"}));
  Rng rng(1);
  const auto gen = attention::GeneralScore::init(4, 7, rng);
  EXPECT_TRUE(throws([&] { gen.scores(q, k); }, "general_score", {"[2, 5, 6]", "W_a [Dq, Dk] = [4, 7]"}));
  const auto loc = attention::LocationScore::init(4, 6, rng);
  EXPECT_TRUE(throws([&] { loc.scores(q, 7); }, "location_score", {"source length 7", "L = 6", "[6, 4]"}));
  const auto cat = attention::ConcatScore::init(4, 6, 5, rng);
  EXPECT_TRUE(throws([&] { cat.scores(q, Tensor::zeros(Shape{2, 5, 5})); }, "concat_score",
                     {"query [2, 3, 4]", "keys [2, 5, 5]", "[5, 10]"}));
}

TEST(BadInputBahdanau, ProjectionShapes) {
  Rng rng(2);
  const auto add = attention::AdditiveScore::init(4, 6, 5, rng);
  EXPECT_TRUE(throws([&] { add.scores(Tensor::zeros(Shape{2, 3, 3}), Tensor::zeros(Shape{2, 5, 6})); },
                     "additive_score", {"query [2, 3, 3]", "W_q [A, Dq] = [5, 4]"}));
  EXPECT_TRUE(throws([&] { add.project_keys(Tensor::zeros(Shape{2, 5, 4})); }, "additive_score",
                     {"keys [2, 5, 4]", "W_k [A, Dk] = [5, 6]"}));
}

TEST(BadInputAttend, ValuesDoNotMatchWeights) {
  const Tensor scores = Tensor::zeros(Shape{2, 3, 5}), v = Tensor::zeros(Shape{2, 4, 6});
  EXPECT_TRUE(throws([&] { attention::attend(scores, v); }, "attend", {"Tk", "[2, 3, 5]", "[2, 4, 6]"}));
  EXPECT_TRUE(throws([&] { attention::attend(Tensor::zeros(Shape{5}), v); }, "attend", {"[5]"}));
}

TEST(BadInputLocal, PositionsAndWindow) {
  const Tensor scores = Tensor::zeros(Shape{2, 3, 5}), v = Tensor::zeros(Shape{2, 5, 6});
  EXPECT_TRUE(throws([&] { attention::local_p_attention(scores, v, Tensor::zeros(Shape{2, 4})); }, "local_p_attention",
                     {"positions [2, 4]", "[B, Tq] = [2, 3]", "[2, 3, 5]"}));
  EXPECT_TRUE(throws([&] { attention::local_p_attention(scores, v, Tensor::zeros(Shape{2, 3}), {}, {.D = 0}); },
                     "local_p_attention", {"D = 0"}));
  EXPECT_TRUE(throws([&] { attention::local_m_attention(scores, v, {.key_lengths = {1}}); }, "local_m_attention",
                     {"key_lengths has 1 entries", "[2, 3, 5]"}));
  Rng rng(3);
  const auto pos = attention::LocalPosition::init(4, 3, rng);
  EXPECT_TRUE(throws([&] { pos.positions(Tensor::zeros(Shape{2, 3, 4}), {5}); }, "local_p_position",
                     {"source_lengths has 1 entries", "[2, 3, 4]"}));
}

}  // namespace
}  // namespace attend::test
