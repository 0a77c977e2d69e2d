// Semantics* tests: one per rule of DESIGN.md section 3 (and mask.h), checked on small inputs
// whose expected pattern is written out by hand.
#include <cmath>
#include <limits>

#include "attend/attention/additive.h"
#include "attend/attention/flash.h"
#include "attend/attention/local.h"
#include "attend/attention/multiplicative.h"
#include "attend/attention/scaled_dot.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend::test {
namespace {

using attention::CausalAlign;
using attention::Mask;
using attention::MaskKind;
using attention::Normalizer;

// 1 where a weight is > 0, else 0, as a row-major vector of weights [1, 1, Tq, Tk] or [B, Tq, Tk].
std::vector<int> support(const Tensor& w) {
  std::vector<int> out;
  for (double x : w.to_vector<double>()) out.push_back(x > 0.0 ? 1 : 0);
  return out;
}

struct Qkv {
  Tensor q, k, v;
};
Qkv random_qkv(int64_t Tq, int64_t Tk, uint64_t seed, int64_t H = 1) {
  Rng rng(seed);
  return {randn32(Shape{1, H, Tq, 4}, rng), randn32(Shape{1, H, Tk, 4}, rng), randn32(Shape{1, H, Tk, 3}, rng)};
}

TEST(SemanticsMask, BooleanTrueMeansMayAttend) {
  const Qkv x = random_qkv(2, 4, 1);
  const Tensor allow = Tensor::from_vector(std::vector<float>{1, 0, 1, 0, 0, 1, 1, 1}, Shape{2, 4});
  const auto r = attention::scaled_dot_product_attention(
      x.q, x.k, x.v, {.attn_mask = allow, .attn_mask_kind = MaskKind::boolean}, {.need_weights = true});
  EXPECT_EQ(support(r.weights), (std::vector<int>{1, 0, 1, 0, 0, 1, 1, 1}));
}

TEST(SemanticsMask, AdditiveMaskIsAddedToTheScores) {
  Rng rng(2);
  const Qkv x = random_qkv(3, 5, 2);
  const Tensor bias = randn32(Shape{3, 5}, rng);
  const auto with_mask = attention::scaled_dot_product_attention(
      x.q, x.k, x.v, {.attn_mask = bias, .attn_mask_kind = MaskKind::additive}, {.need_weights = true});
  // Same as adding the bias to the scores by hand and attending without a mask.
  const Tensor scores = attention::scaled_dot_scores(x.q, x.k) + bias;
  const auto by_hand = attention::attend(scores, x.v, {}, {.need_weights = true});
  EXPECT_TRUE(all_close(with_mask.weights, by_hand.weights, 1e-6, 1e-6));
  EXPECT_TRUE(all_close(with_mask.context, by_hand.context, 1e-6, 1e-6));
  // And it changes the result (the test could not pass with the mask ignored).
  const auto without = attention::scaled_dot_product_attention(x.q, x.k, x.v, {}, {.need_weights = true});
  EXPECT_GT(max_abs_diff(without.weights, with_mask.weights), 1e-3);
}

TEST(SemanticsMask, CausalIsBottomRightByDefaultAndTopLeftOnRequest) {
  const Qkv x = random_qkv(2, 4, 3);
  // Bottom-right: query i sees keys j <= i + Tk - Tq = i + 2.
  const auto br = attention::scaled_dot_product_attention(x.q, x.k, x.v, {.causal = true}, {.need_weights = true});
  EXPECT_EQ(support(br.weights), (std::vector<int>{1, 1, 1, 0, 1, 1, 1, 1}));
  // Top-left: query i sees keys j <= i.
  const auto tl = attention::scaled_dot_product_attention(
      x.q, x.k, x.v, {.causal = true, .causal_align = CausalAlign::top_left}, {.need_weights = true});
  EXPECT_EQ(support(tl.weights), (std::vector<int>{1, 0, 0, 0, 1, 1, 0, 0}));
}

TEST(SemanticsMask, WindowUsesTheCausalAlignment) {
  const Qkv x = random_qkv(2, 5, 4);
  // Bottom-right: query 0 is at position 3, query 1 at 4; window (1, 0) -> keys {2, 3} and {3, 4}.
  const auto br = attention::scaled_dot_product_attention(x.q, x.k, x.v, {.window_left = 1, .window_right = 0},
                                                          {.need_weights = true});
  EXPECT_EQ(support(br.weights), (std::vector<int>{0, 0, 1, 1, 0, 0, 0, 0, 1, 1}));
  const auto tl = attention::scaled_dot_product_attention(
      x.q, x.k, x.v, {.causal_align = CausalAlign::top_left, .window_left = 0, .window_right = 1},
      {.need_weights = true});
  EXPECT_EQ(support(tl.weights), (std::vector<int>{1, 1, 0, 0, 0, 0, 1, 1, 0, 0}));
}

TEST(SemanticsMask, EveryKindCombinesInOneCall) {
  const Qkv x = random_qkv(3, 4, 5);
  // key_lengths {3} AND padding (key 1 off) AND causal top-left AND boolean (query 2 may not see key 0).
  const Tensor pad = Tensor::from_vector(std::vector<float>{1, 0, 1, 1}, Shape{1, 4});
  const Tensor allow = Tensor::from_vector(std::vector<float>{1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1}, Shape{3, 4});
  const Mask mask{.key_lengths = {3},
                  .key_padding = pad,
                  .causal = true,
                  .causal_align = CausalAlign::top_left,
                  .attn_mask = allow};
  const auto r = attention::scaled_dot_product_attention(x.q, x.k, x.v, mask, {.need_weights = true});
  EXPECT_EQ(support(r.weights), (std::vector<int>{1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0}));
}

// A fully masked row: zero weights, zero context, -inf lse, zero and finite gradients, for every
// normalizer and family.
TEST(SemanticsMask, FullyMaskedRowGivesZerosAndFiniteZeroGradients) {
  for (Normalizer n : {Normalizer::softmax(), Normalizer::sparsemax(), Normalizer::entmax15(),
                 Normalizer::entmax(1.25), Normalizer::entmax(1.75)}) {
    SCOPED_TRACE(n.name());
    Rng rng(6);
    Tensor q = randn32(Shape{2, 3, 4}, rng), k = randn32(Shape{2, 5, 4}, rng), v = randn32(Shape{2, 5, 3}, rng);
    q.set_requires_grad(), k.set_requires_grad(), v.set_requires_grad();
    // Batch 1 has no valid key; in batch 0, query 0 is cut by the boolean attn_mask, and queries 1, 2
    // see keys {2, 3} and {3, 4} (bottom-right causal, window (1, 0)).
    const Mask mask{.key_lengths = {5, 0}, .causal = true, .window_left = 1, .window_right = 0,
                    .attn_mask = Tensor::from_vector(std::vector<float>{0, 1, 1}, Shape{3, 1})};
    const auto r = attention::attend(attention::dot_scores(q, k), v, mask,
                                     {.normalizer = n, .need_weights = true, .need_lse = true});
    const std::vector<double> w = r.weights.to_vector<double>(), c = r.context.to_vector<double>(),
                              lse = r.lse.to_vector<double>();
    for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(w[static_cast<size_t>(i)], 0.0);       // batch 0, query 0
    for (int64_t i = 15; i < 30; ++i) EXPECT_EQ(w[static_cast<size_t>(i)], 0.0);     // batch 1
    for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(c[static_cast<size_t>(i)], 0.0);
    for (int64_t i = 9; i < 18; ++i) EXPECT_EQ(c[static_cast<size_t>(i)], 0.0);
    EXPECT_EQ(lse[0], -std::numeric_limits<double>::infinity());
    EXPECT_TRUE(std::isfinite(lse[1]));
    sum(r.context * r.context).backward();
    for (const Tensor& t : {q, k, v})
      for (double g : t.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(g));
    const std::vector<double> gq = q.grad().to_vector<double>(), gk = k.grad().to_vector<double>(),
                              gv = v.grad().to_vector<double>();
    for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(gq[static_cast<size_t>(i)], 0.0);     // batch 0, query 0
    for (int64_t i = 12; i < 24; ++i) EXPECT_EQ(gq[static_cast<size_t>(i)], 0.0);   // batch 1
    for (int64_t i = 20; i < 40; ++i) EXPECT_EQ(gk[static_cast<size_t>(i)], 0.0);   // batch 1 keys
    for (int64_t i = 15; i < 30; ++i) EXPECT_EQ(gv[static_cast<size_t>(i)], 0.0);   // batch 1 values
    // Keys that are seen get a gradient (the test can fail).
    EXPECT_NE(gv[9], 0.0);
  }
}

TEST(SemanticsMask, FullyMaskedRowThroughScaledDotWithLse) {
  Qkv x = random_qkv(3, 2, 7, 2);  // Tq > Tk: bottom-right causal leaves query 0 without keys
  x.q.set_requires_grad();
  const auto r = attention::scaled_dot_product_attention(x.q, x.k, x.v, {.causal = true},
                                                         {.need_weights = true, .need_lse = true});
  EXPECT_EQ(r.lse.at({0, 0, 0}), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(r.lse.at({0, 1, 0}), -std::numeric_limits<double>::infinity());
  for (int64_t d = 0; d < 3; ++d) EXPECT_EQ(r.context.at({0, 1, 0, d}), 0.0);
  sum(r.context).backward();
  for (int64_t d = 0; d < 4; ++d) EXPECT_EQ(x.q.grad().at({0, 0, 0, d}), 0.0);
  for (double g : x.q.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(g));
}

TEST(SemanticsWeights, ReturnedWeightsAreTheOnesUsed) {
  Rng rng(8);
  const Tensor q = randn32(Shape{2, 3, 4}, rng), k = randn32(Shape{2, 6, 4}, rng), v = randn32(Shape{2, 6, 5}, rng);
  const Mask mask{.key_lengths = {6, 4}};
  for (Normalizer n : {Normalizer::softmax(), Normalizer::sparsemax(), Normalizer::entmax15(),
                 Normalizer::entmax(1.25), Normalizer::entmax(1.75)}) {
    const auto r = attention::attend(attention::dot_scores(q, k), v, mask, {.normalizer = n, .need_weights = true});
    EXPECT_TRUE(all_close(r.context, matmul(r.weights, v), 1e-6, 1e-6));
    // Each row of weights is a distribution.
    EXPECT_TRUE(all_close(sum(r.weights, {-1}), Tensor::ones(Shape{2, 3}), 1e-5));
  }
  // local-p: the weights carry the Gaussian, and they are what the context used.
  const auto pos = attention::LocalPosition::init(4, 3, rng);
  const Tensor p = pos.positions(q, {6, 4});
  const auto lp = attention::local_p_attention(attention::dot_scores(q, k), v, p, mask,
                                               {.D = 2, .attend = {.need_weights = true}});
  EXPECT_TRUE(all_close(lp.context, matmul(lp.weights, v), 1e-6, 1e-6));
  // GQA scaled dot: context = weights @ v with head h reading kv head h / 2.
  const Tensor q4 = randn32(Shape{1, 4, 3, 4}, rng), k4 = randn32(Shape{1, 2, 5, 4}, rng),
               v4 = randn32(Shape{1, 2, 5, 3}, rng);
  const auto g = attention::scaled_dot_product_attention(q4, k4, v4, {}, {.need_weights = true});
  for (int64_t h = 0; h < 4; ++h) {
    const Tensor wh = slice(g.weights, 1, h, h + 1), vh = slice(v4, 1, h / 2, h / 2 + 1);
    EXPECT_TRUE(all_close(slice(g.context, 1, h, h + 1), matmul(wh, vh), 1e-6, 1e-6));
  }
}

TEST(SemanticsDropout, WeightsReturnedBeforeDropoutAndReproducible) {
  const Qkv x = random_qkv(4, 6, 9);
  Rng r1(99), r2(99);
  const attention::SdpaOptions train{.dropout_p = 0.5, .training = true, .need_weights = true};
  attention::SdpaOptions o1 = train, o2 = train;
  o1.rng = &r1, o2.rng = &r2;
  const auto a = attention::scaled_dot_product_attention(x.q, x.k, x.v, {}, o1);
  const auto b = attention::scaled_dot_product_attention(x.q, x.k, x.v, {}, o2);
  EXPECT_TRUE(all_close(a.context, b.context, 0.0));
  const auto eval = attention::scaled_dot_product_attention(x.q, x.k, x.v, {}, {.need_weights = true});
  EXPECT_TRUE(all_close(a.weights, eval.weights, 0.0));  // weights before dropout
  EXPECT_GT(max_abs_diff(a.context, eval.context), 1e-3);  // but dropout did act on the context
}

TEST(SemanticsScaledDot, DefaultScaleIsInverseSqrtHeadDim) {
  const Qkv x = random_qkv(3, 3, 10);
  const auto def = attention::scaled_dot_product_attention(x.q, x.k, x.v, {}, {.need_lse = true});
  const auto half = attention::scaled_dot_product_attention(x.q, x.k, x.v, {}, {.scale = 0.5, .need_lse = true});
  const auto one = attention::scaled_dot_product_attention(x.q, x.k, x.v, {}, {.scale = 1.0, .need_lse = true});
  EXPECT_TRUE(all_close(def.lse, half.lse, 0.0));  // D = 4
  EXPECT_GT(max_abs_diff(def.lse, one.lse), 1e-3);
}

TEST(SemanticsIncremental, ProjectedKeysReusedAcrossDecoderSteps) {
  // Bahdanau and Luong general/concat: keys projected once; one step at a time (Tq = 1) gives the
  // rows of the full computation.
  Rng rng(11);
  const Tensor q = randn32(Shape{2, 3, 4}, rng), k = randn32(Shape{2, 5, 6}, rng);
  const auto add = attention::AdditiveScore::init(4, 6, 8, rng);
  const auto gen = attention::GeneralScore::init(4, 6, rng);
  const auto cat = attention::ConcatScore::init(4, 6, 8, rng);
  const Tensor pk_add = add.project_keys(k), pk_gen = gen.project_keys(k), pk_cat = cat.project_keys(k);
  for (int64_t t = 0; t < 3; ++t) {
    const Tensor qt = slice(q, 1, t, t + 1);  // [2, 1, 4]
    EXPECT_TRUE(all_close(add.scores_projected(qt, pk_add), slice(add.scores(q, k), 1, t, t + 1), 1e-6, 1e-6));
    EXPECT_TRUE(all_close(gen.scores_projected(qt, pk_gen), slice(gen.scores(q, k), 1, t, t + 1), 1e-6, 1e-6));
    EXPECT_TRUE(all_close(cat.scores_projected(qt, pk_cat), slice(cat.scores(q, k), 1, t, t + 1), 1e-6, 1e-6));
  }
}

TEST(SemanticsLocal, LocalMWindowFollowsTheQueryPosition) {
  Rng rng(12);
  const Tensor scores = randn32(Shape{1, 3, 6}, rng), v = randn32(Shape{1, 6, 2}, rng);
  const auto r = attention::local_m_attention(scores, v, {}, {.D = 1, .attend = {.need_weights = true}});
  EXPECT_EQ(support(r.weights),
            (std::vector<int>{1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0}));
  // One decoder step at position 4.
  const auto step = attention::local_m_attention(slice(scores, 1, 0, 1), v, {},
                                                 {.D = 1, .query_offset = 4, .attend = {.need_weights = true}});
  EXPECT_EQ(support(step.weights), (std::vector<int>{0, 0, 0, 1, 1, 1}));
}

}  // namespace
}  // namespace attend::test

namespace attend {
namespace {

// A normalizer is an object found by name: the built-ins, entmax-<alpha> (1.5 and 2 are the exact
// entmax15 and sparsemax), and a program's own, registered like an architecture.
TEST(SemanticsNormalizers, RegistryNamesAndEntmaxAlpha) {
  using attention::make_normalizer;
  using attention::Normalizer;
  EXPECT_TRUE(make_normalizer("softmax").is_softmax());
  EXPECT_TRUE(Normalizer().is_softmax());
  EXPECT_EQ(make_normalizer("entmax-1.5"), Normalizer::entmax15());
  EXPECT_EQ(make_normalizer("entmax-2"), Normalizer::sparsemax());
  EXPECT_EQ(make_normalizer("entmax-1.3").name(), "entmax-1.3");
  test::expect_error([] { make_normalizer("entmax-1"); }, {"[normalizer]", "alpha must be > 1"});
  test::expect_error([] { make_normalizer("entmax-x"); }, {"[normalizer]", "entmax-<alpha>"});
  test::expect_error([] { make_normalizer("softermax"); }, {"[normalizer]", "unknown normalizer 'softermax'", "sparsemax"});
  // entmax by bisection agrees with the exact sort-based entmax15 and sparsemax at 1.5 and 2.
  Rng rng(3);
  const Tensor z = mul(Tensor::randn(Shape{4, 9}, rng, DType::f64), Tensor::scalar(3.0, DType::f64));
  EXPECT_TRUE(test::all_close(attention::entmax_bisect(z, 1.5), attention::entmax15(z), 1e-12, 1e-12));
  EXPECT_TRUE(test::all_close(attention::entmax_bisect(z, 2.0), attention::sparsemax(z), 1e-12, 1e-12));
  // A registered normalizer (here: softmax at temperature 2) is found by name and used by attend.
  attention::register_normalizer("softmax-t2", [](const attention::NormalizerArgs&) {
    struct Tempered : attention::NormalizerImpl {
      std::string name() const override { return "softmax-t2"; }
      Tensor apply(const Tensor& s) const override { return attention::masked_softmax(mul(s, Tensor::scalar(0.5, s.dtype()))); }
    };
    return Normalizer(std::make_shared<Tempered>());
  });
  const Normalizer t2 = make_normalizer("softmax-t2");
  const Tensor values = Tensor::randn(Shape{4, 9, 3}, rng, DType::f64);
  const auto r = attention::attend(unsqueeze(z, 1), values, {}, {.normalizer = t2, .need_weights = true});
  EXPECT_TRUE(test::all_close(squeeze(r.weights, 1), softmax(mul(z, Tensor::scalar(0.5, DType::f64)), -1), 1e-12, 1e-12));
}

}  // namespace
}  // namespace attend

namespace attend {
namespace {

// One options struct for every path: scaled dot-product attention honours a normalizer (sparsemax
// through the fused sparse kernel, a normalizer no kernel runs through the composition, and the
// dispatcher says which), and attend() refuses a scale.
TEST(SemanticsOptions, SdpaHonoursTheNormalizerAndAttendRefusesAScale) {
  Rng rng(5);
  const Tensor q = Tensor::randn(Shape{1, 2, 3, 4}, rng), k = Tensor::randn(Shape{1, 2, 5, 4}, rng),
               v = Tensor::randn(Shape{1, 2, 5, 4}, rng);
  const attention::AttendOptions o{.normalizer = attention::Normalizer::sparsemax(), .need_weights = true};
  const attention::Dispatch d = attention::choose_attention_path(q, k, v, {}, o);
  EXPECT_EQ(d.path, attention::AttentionPath::fused);
  EXPECT_NE(d.reason.find("sparsemax"), std::string::npos) << d.reason;
  const auto r = attention::scaled_dot_product_attention(q, k, v, {}, o);
  const Tensor expected = attention::sparsemax(attention::scaled_dot_scores(q, k));
  EXPECT_TRUE(test::all_close(r.weights, expected, 1e-6, 1e-6));
  const attention::AttendOptions crf{.normalizer = attention::make_normalizer("crf-segment"), .need_weights = true};
  EXPECT_EQ(attention::choose_attention_path(q, k, v, {}, crf).path, attention::AttentionPath::composed);
  const Tensor scores = attention::scaled_dot_scores(q, k);
  EXPECT_TRUE(test::all_close(attention::scaled_dot_product_attention(q, k, v, {}, crf).weights,
                              crf.normalizer(scores), 1e-6, 1e-6));
  test::expect_error([&] { attention::attend(attention::scaled_dot_scores(q, k), v, {}, {.scale = 0.5}); },
                     {"[attend]", "scale = 0.5"});
}

}  // namespace
}  // namespace attend
