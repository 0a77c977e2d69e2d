// GradCheck* tests: finite differences in float64 (PyTorch's gradcheck defaults) for every
// attention variant, including its parameters, every mask kind with fully masked rows, and the
// normalizers.
#include "attend/attention/additive.h"
#include "attend/attention/local.h"
#include "attend/attention/multiplicative.h"
#include "attend/attention/scaled_dot.h"
#include "attend/attention/structured.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend::test {
namespace {

using attention::CausalAlign;
using attention::Mask;
using attention::MaskKind;
using attention::Normalizer;
using Inputs = std::vector<Tensor>;

const Normalizer kNormalizers[] = {Normalizer::softmax(), Normalizer::sparsemax(), Normalizer::entmax15(),
                 Normalizer::entmax(1.25), Normalizer::entmax(1.75)};

TEST(GradCheckNormalizers, EveryNormalizerWithMaskedAndFullyMaskedRows) {
  Rng rng(1);
  const Tensor x = randn64(Shape{2, 3, 5}, rng) * 1.5;
  // Batch 1 has no key at all; batch 0 has 4 keys, cut further by a causal band.
  const Mask mask{.key_lengths = {4, 0}, .causal = true, .causal_align = CausalAlign::top_left};
  for (Normalizer n : kNormalizers) {
    SCOPED_TRACE(n.name());
    EXPECT_TRUE(gradcheck([&](const Inputs& in) { return n(attention::apply_mask(in[0], mask)); },
                          {x}));
  }
}

TEST(GradCheckNormalizers, Unmasked) {
  Rng rng(2);
  const Tensor x = randn64(Shape{4, 6}, rng);
  for (Normalizer n : kNormalizers) {
    SCOPED_TRACE(n.name());
    EXPECT_TRUE(gradcheck([&](const Inputs& in) { return n(in[0]); }, {x}));
  }
}

TEST(GradCheckNormalizers, LogSumExpOfMaskedScores) {
  Rng rng(3);
  const Tensor x = randn64(Shape{2, 3, 4}, rng);
  const Mask mask{.key_lengths = {4, 2}};
  EXPECT_TRUE(gradcheck([&](const Inputs& in) { return attention::logsumexp(attention::apply_mask(in[0], mask)); },
                        {x}));
}

TEST(GradCheckStructured, SegmentMarginalsInScoresAndPerHeadPotentialsWithMasks) {
  Rng rng(31);
  const Tensor s = randn64(Shape{2, 3, 2, 6}, rng) * 1.5;
  const Tensor psi = randn64(Shape{3, 2, 2}, rng);
  // Batch 1 has no key at all; batch 0 has 5 keys and a causal band.
  const Mask mask{.key_lengths = {5, 0}, .causal = true};
  EXPECT_TRUE(gradcheck(
      [&](const Inputs& in) { return attention::segment_marginals(attention::apply_mask(in[0], mask), in[1]); },
      {s, psi}));
  EXPECT_TRUE(gradcheck([&](const Inputs& in) { return attention::segment_marginals(in[0], in[1]); },
                        {randn64(Shape{4, 7}, rng), randn64(Shape{1, 2, 2}, rng)}));
}

TEST(GradCheckStructured, TreeMarginalsOfEveryKindWithPaddedPositions) {
  Rng rng(32);
  const Tensor s = randn64(Shape{2, 5, 5}, rng);
  const Mask mask{.key_lengths = {5, 3}};
  for (const bool projective : {false, true})
    for (const bool single_root : {false, true}) {
      SCOPED_TRACE(std::string(projective ? "projective" : "non-projective") + (single_root ? ", one root" : ""));
      const attention::TreeOptions o{.projective = projective, .single_root = single_root};
      EXPECT_TRUE(gradcheck(
          [&](const Inputs& in) { return attention::tree_marginals(attention::apply_mask(in[0], mask), o); }, {s}));
    }
}

TEST(GradCheckScaledDot, SelfAttention) {
  Rng rng(4);
  const Inputs in{randn64(Shape{1, 2, 3, 4}, rng), randn64(Shape{1, 2, 3, 4}, rng), randn64(Shape{1, 2, 3, 3}, rng)};
  EXPECT_TRUE(gradcheck(
      [](const Inputs& x) { return attention::scaled_dot_product_attention_composed(x[0], x[1], x[2]).context; }, in));
}

TEST(GradCheckScaledDot, GroupedQueryWithTqNotTk) {
  Rng rng(5);
  const Inputs in{randn64(Shape{1, 4, 2, 3}, rng), randn64(Shape{1, 2, 4, 3}, rng), randn64(Shape{1, 2, 4, 2}, rng)};
  EXPECT_TRUE(gradcheck(
      [](const Inputs& x) {
        return attention::scaled_dot_product_attention_composed(x[0], x[1], x[2], {.causal = true}, {.scale = 0.7})
            .context;
      },
      in));
}

TEST(GradCheckScaledDot, EveryMaskKindWithFullyMaskedRowsAndAdditiveMaskGradient) {
  Rng rng(6);
  // Tq = 3 > Tk = 2 under bottom-right causal: query 0 sees nothing; batch 1 has no key at all.
  const Inputs in{randn64(Shape{2, 2, 3, 3}, rng), randn64(Shape{2, 1, 2, 3}, rng), randn64(Shape{2, 1, 2, 2}, rng),
                  randn64(Shape{2, 1, 3, 2}, rng)};
  const Tensor pad = Tensor::from_vector(std::vector<double>{1, 1, 1, 0}, Shape{2, 2});
  EXPECT_TRUE(gradcheck(
      [&](const Inputs& x) {
        const Mask mask{.key_lengths = {2, 1},
                        .key_padding = pad,
                        .causal = true,
                        .window_left = 1,
                        .attn_mask = x[3],
                        .attn_mask_kind = MaskKind::additive};
        return attention::scaled_dot_product_attention_composed(x[0], x[1], x[2], mask).context;
      },
      in));
}

TEST(GradCheckScaledDot, WeightsAndLogSumExp) {
  Rng rng(7);
  const Inputs in{randn64(Shape{1, 2, 2, 3}, rng), randn64(Shape{1, 2, 4, 3}, rng), randn64(Shape{1, 2, 4, 2}, rng)};
  const Mask mask{.key_lengths = {3}, .causal = true};
  EXPECT_TRUE(gradcheck(
      [&](const Inputs& x) {
        return attention::scaled_dot_product_attention_composed(x[0], x[1], x[2], mask, {.need_weights = true})
            .weights;
      },
      in));
  EXPECT_TRUE(gradcheck(
      [&](const Inputs& x) {
        return attention::scaled_dot_product_attention_composed(x[0], x[1], x[2], mask, {.need_lse = true}).lse;
      },
      in));
}

TEST(GradCheckScaledDot, DropoutWithAFixedStream) {
  Rng rng(8);
  const Inputs in{randn64(Shape{1, 1, 3, 3}, rng), randn64(Shape{1, 1, 4, 3}, rng), randn64(Shape{1, 1, 4, 2}, rng)};
  EXPECT_TRUE(gradcheck(
      [](const Inputs& x) {
        Rng stream(77);  // the same dropout mask at every evaluation
        return attention::scaled_dot_product_attention_composed(
                   x[0], x[1], x[2], {}, {.dropout_p = 0.3, .training = true, .rng = &stream})
            .context;
      },
      in));
}

TEST(GradCheckLuong, DotWithEveryNormalizer) {
  Rng rng(9);
  const Inputs in{randn64(Shape{2, 2, 3}, rng), randn64(Shape{2, 4, 3}, rng), randn64(Shape{2, 4, 2}, rng)};
  const Mask mask{.key_lengths = {4, 0}};
  for (Normalizer n : kNormalizers) {
    SCOPED_TRACE(n.name());
    EXPECT_TRUE(gradcheck(
        [&](const Inputs& x) {
          return attention::attend(attention::dot_scores(x[0], x[1]), x[2], mask, {.normalizer = n}).context;
        },
        in));
  }
}

TEST(GradCheckLuong, GeneralIncludingW_a) {
  Rng rng(10);
  const Inputs in{randn64(Shape{2, 1, 3}, rng), randn64(Shape{2, 4, 2}, rng), randn64(Shape{2, 4, 2}, rng),
                  randn64(Shape{3, 2}, rng)};
  EXPECT_TRUE(gradcheck(
      [](const Inputs& x) {
        const attention::GeneralScore s{.W_a = x[3]};
        return attention::attend(s.scores(x[0], x[1]), x[2], {.key_lengths = {4, 3}}).context;
      },
      in));
}

TEST(GradCheckLuong, ConcatIncludingW_aAndV_a) {
  Rng rng(11);
  const Inputs in{randn64(Shape{2, 2, 2}, rng), randn64(Shape{2, 3, 3}, rng), randn64(Shape{2, 3, 2}, rng),
                  randn64(Shape{4, 5}, rng), randn64(Shape{4}, rng)};
  EXPECT_TRUE(gradcheck(
      [](const Inputs& x) {
        const attention::ConcatScore s{.W_a = x[3], .v_a = x[4]};
        return attention::attend(s.scores(x[0], x[1]), x[2], {.key_lengths = {3, 2}}).context;
      },
      in));
}

TEST(GradCheckLuong, LocationIncludingW_a) {
  Rng rng(12);
  const Inputs in{randn64(Shape{2, 2, 3}, rng), randn64(Shape{2, 4, 2}, rng), randn64(Shape{6, 3}, rng)};
  EXPECT_TRUE(gradcheck(
      [](const Inputs& x) {
        const attention::LocationScore s{.W_a = x[2]};
        return attention::attend(s.scores(x[0], 4), x[1], {.key_lengths = {4, 2}}).context;
      },
      in));
}

TEST(GradCheckBahdanau, AdditiveIncludingW_qW_kBAndV) {
  Rng rng(13);
  const Inputs in{randn64(Shape{2, 2, 3}, rng), randn64(Shape{2, 3, 2}, rng), randn64(Shape{2, 3, 2}, rng),
                  randn64(Shape{4, 3}, rng),    randn64(Shape{4, 2}, rng),    randn64(Shape{4}, rng),
                  randn64(Shape{4}, rng)};
  EXPECT_TRUE(gradcheck(
      [](const Inputs& x) {
        const attention::AdditiveScore s{.W_q = x[3], .W_k = x[4], .b = x[5], .v = x[6]};
        return attention::attend(s.scores_projected(x[0], s.project_keys(x[1])), x[2], {.key_lengths = {3, 0}})
            .context;
      },
      in));
}

TEST(GradCheckLocal, LocalMonotonic) {
  Rng rng(14);
  const Inputs in{randn64(Shape{2, 3, 5}, rng), randn64(Shape{2, 5, 2}, rng)};
  for (Normalizer n : kNormalizers) {
    SCOPED_TRACE(n.name());
    EXPECT_TRUE(gradcheck(
        [&](const Inputs& x) {
          return attention::local_m_attention(x[0], x[1], {.key_lengths = {5, 2}},
                                              {.D = 1, .query_offset = 1, .attend = {.normalizer = n}})
              .context;
        },
        in));
  }
}

TEST(GradCheckLocal, LocalPredictiveThroughTheGaussianIntoW_pAndV_p) {
  Rng rng(15);
  const Inputs in{randn64(Shape{2, 2, 3}, rng), randn64(Shape{2, 6, 3}, rng), randn64(Shape{2, 6, 2}, rng),
                  randn64(Shape{4, 3}, rng), randn64(Shape{4}, rng)};
  EXPECT_TRUE(gradcheck(
      [](const Inputs& x) {
        const attention::LocalPosition pos{.W_p = x[3], .v_p = x[4]};
        const Tensor p = pos.positions(x[0], {6, 5});  // [B, Tq]
        return attention::local_p_attention(attention::dot_scores(x[0], x[1]), x[2], p, {.key_lengths = {6, 5}},
                                            {.D = 2})
            .context;
      },
      in));
  // The gradient really reaches W_p and v_p (through p_t in the Gaussian).
  Tensor W_p = in[3].clone(), v_p = in[4].clone();
  W_p.set_requires_grad(), v_p.set_requires_grad();
  const attention::LocalPosition pos{.W_p = W_p, .v_p = v_p};
  const Tensor p = pos.positions(in[0], {6, 5});
  sum(attention::local_p_attention(attention::dot_scores(in[0], in[1]), in[2], p, {}, {.D = 2}).context).backward();
  EXPECT_GT(max_abs_diff(W_p.grad(), Tensor::zeros(W_p.shape(), DType::f64)), 1e-8);
  EXPECT_GT(max_abs_diff(v_p.grad(), Tensor::zeros(v_p.shape(), DType::f64)), 1e-8);
}

}  // namespace
}  // namespace attend::test
