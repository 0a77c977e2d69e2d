// Reference* tests: the f32 attention paths against the float64 naive references of
// tests/reference/attention_reference.h, on seeded random inputs of several shapes
// (Tq = 1, Tq != Tk, grouped-query heads), every mask kind and their combinations.
#include <cmath>
#include <limits>

#include "attend/attention/additive.h"
#include "attend/attention/local.h"
#include "attend/attention/multiplicative.h"
#include "attend/attention/scaled_dot.h"
#include "attend/ops/ops.h"
#include "reference/attention_reference.h"
#include "support/check.h"

namespace attend::test {
namespace {

using attention::CausalAlign;
using attention::Mask;
using attention::MaskKind;
using attention::Normalizer;

constexpr double kAtol = 2e-5, kRtol = 1e-4;

Tensor bernoulli01(const Shape& s, Rng& rng, double p) { return Tensor::bernoulli(s, rng, p); }

// A catalogue of masks for scores [B, H, Tq, Tk]; every kind alone and combined.
std::vector<std::pair<std::string, Mask>> masks(int64_t B, int64_t H, int64_t Tq, int64_t Tk, Rng& rng) {
  std::vector<int64_t> lengths;
  for (int64_t b = 0; b < B; ++b) lengths.push_back(std::max<int64_t>(1, Tk - b));
  lengths[0] = 0;  // a fully masked batch entry
  std::vector<std::pair<std::string, Mask>> out;
  out.emplace_back("none", Mask{});
  out.emplace_back("key_lengths", Mask{.key_lengths = lengths});
  out.emplace_back("key_padding", Mask{.key_padding = bernoulli01(Shape{B, Tk}, rng, 0.7)});
  out.emplace_back("causal_bottom_right", Mask{.causal = true});
  out.emplace_back("causal_top_left", Mask{.causal = true, .causal_align = CausalAlign::top_left});
  out.emplace_back("window", Mask{.window_left = 1, .window_right = 2});
  out.emplace_back("window_top_left", Mask{.causal_align = CausalAlign::top_left, .window_left = 2, .window_right = 0});
  out.emplace_back("bool_attn_per_head",
                   Mask{.attn_mask = bernoulli01(Shape{B, H, Tq, Tk}, rng, 0.6), .attn_mask_kind = MaskKind::boolean});
  out.emplace_back("bool_attn_broadcast",
                   Mask{.attn_mask = bernoulli01(Shape{Tq, Tk}, rng, 0.6), .attn_mask_kind = MaskKind::boolean});
  out.emplace_back("additive",
                   Mask{.attn_mask = Tensor::randn(Shape{1, H, Tq, Tk}, rng), .attn_mask_kind = MaskKind::additive});
  out.emplace_back("everything", Mask{.key_lengths = lengths,
                                      .key_padding = bernoulli01(Shape{B, Tk}, rng, 0.8),
                                      .causal = true,
                                      .window_left = 3,
                                      .attn_mask = Tensor::randn(Shape{B, 1, 1, Tk}, rng),
                                      .attn_mask_kind = MaskKind::additive});
  return out;
}

struct SdpaShape {
  int64_t B, H, Hkv, Tq, Tk, D, Dv;
};
const SdpaShape kSdpaShapes[] = {
    {2, 4, 4, 5, 5, 8, 8},   // self-attention
    {2, 4, 2, 3, 7, 8, 6},   // grouped-query, Tq < Tk, Dv != D
    {1, 3, 1, 1, 9, 16, 4},  // multi-query, one decoder step
    {3, 2, 2, 6, 4, 5, 5},   // Tq > Tk: leading rows fully masked under bottom-right causal
};

TEST(ReferenceMask, MaterializedEqualsRulesForEveryKind) {
  Rng rng(11);
  for (const SdpaShape& s : kSdpaShapes)
    for (const auto& [name, mask] : masks(s.B, s.H, s.Tq, s.Tk, rng)) {
      SCOPED_TRACE(name);
      const Shape scores{s.B, s.H, s.Tq, s.Tk};
      const Tensor add = attention::additive_mask(mask, scores, DType::f32);
      const Tensor want = ref::mask_additive(mask, s.B, s.H, s.Tq, s.Tk);
      if (mask.empty()) {
        EXPECT_FALSE(add.defined());
        continue;
      }
      EXPECT_TRUE(all_close(expand(add, scores), want, 1e-6));
      const attention::MaskTensors parts = attention::materialize(mask, scores, DType::f32);
      if (parts.allowed.defined()) {
        EXPECT_TRUE(all_close(expand(parts.allowed, scores), ref::mask_allowed(mask, s.B, s.H, s.Tq, s.Tk), 0.0));
      }
    }
}

TEST(ReferenceNormalizers, SoftmaxSparsemaxEntmaxWithMaskedEntries) {
  Rng rng(12);
  for (const Shape& shape : {Shape{7, 9}, Shape{2, 3, 1, 5}, Shape{4, 1}}) {
    // Some entries masked to -inf, and the whole first row when there are several rows.
    std::vector<float> x = Tensor::randn(shape, rng).to_vector<float>();
    const std::vector<float> drop = Tensor::bernoulli(shape, rng, 0.25).to_vector<float>();
    const int64_t cols = shape.at(-1);
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] *= 2.0f;
      if (drop[i] != 0.0f || (shape.numel() > cols && static_cast<int64_t>(i) < cols))
        x[i] = -std::numeric_limits<float>::infinity();
    }
    const Tensor masked = Tensor::from_vector(x, shape);
    for (Normalizer n : {Normalizer::softmax(), Normalizer::sparsemax(), Normalizer::entmax15(),
                 Normalizer::entmax(1.25), Normalizer::entmax(1.75)}) {
      SCOPED_TRACE(n.name());
      const Tensor got = n(masked);
      EXPECT_TRUE(all_close(got, ref::normalize(masked, n), 1e-6, 1e-5));
    }
    EXPECT_TRUE(all_close(attention::logsumexp(masked), ref::logsumexp(masked), 1e-5, 1e-5));
  }
}

TEST(ReferenceScaledDot, EveryShapeAndMask) {
  Rng rng(13);
  for (const SdpaShape& s : kSdpaShapes) {
    const Tensor q = randn32(Shape{s.B, s.H, s.Tq, s.D}, rng);
    const Tensor k = randn32(Shape{s.B, s.Hkv, s.Tk, s.D}, rng);
    const Tensor v = randn32(Shape{s.B, s.Hkv, s.Tk, s.Dv}, rng);
    for (const auto& [name, mask] : masks(s.B, s.H, s.Tq, s.Tk, rng)) {
      SCOPED_TRACE(name + " q " + q.shape().str() + " k " + k.shape().str());
      const auto got = attention::scaled_dot_product_attention_composed(
          q, k, v, mask, {.need_weights = true, .need_lse = true});
      const ref::Attention want = ref::sdpa(q, k, v, mask);
      EXPECT_TRUE(all_close(got.context, want.context, kAtol, kRtol));
      EXPECT_TRUE(all_close(got.weights, want.weights, kAtol, kRtol));
      EXPECT_TRUE(all_close(got.lse, want.lse, kAtol, kRtol));
      const auto entry = attention::scaled_dot_product_attention(q, k, v, mask, {.need_weights = true});
      EXPECT_TRUE(all_close(entry.context, want.context, kAtol, kRtol));
    }
  }
}

TEST(ReferenceScaledDot, ExplicitScale) {
  Rng rng(14);
  const Tensor q = randn32(Shape{2, 2, 3, 4}, rng), k = randn32(Shape{2, 1, 5, 4}, rng),
               v = randn32(Shape{2, 1, 5, 3}, rng);
  const auto got = attention::scaled_dot_product_attention(q, k, v, {}, {.scale = 0.9, .need_lse = true});
  const ref::Attention want = ref::sdpa(q, k, v, {}, 0.9);
  EXPECT_TRUE(all_close(got.context, want.context, kAtol, kRtol));
  EXPECT_TRUE(all_close(got.lse, want.lse, kAtol, kRtol));
}

struct SeqShape {
  int64_t B, Tq, Tk, Dq, Dk, Dv;
};
const SeqShape kSeqShapes[] = {{2, 4, 6, 5, 5, 3}, {3, 1, 7, 4, 4, 2}, {1, 6, 3, 3, 3, 5}};

// The Luong/Bahdanau masks: padding by lengths (one fully masked entry), causal, a boolean attn mask.
std::vector<Mask> seq_masks(const SeqShape& s, Rng& rng) {
  std::vector<int64_t> lengths;
  for (int64_t b = 0; b < s.B; ++b) lengths.push_back(s.Tk - b);
  std::vector<int64_t> with_empty = lengths;
  with_empty.back() = 0;
  return {Mask{},
          Mask{.key_lengths = lengths},
          Mask{.key_lengths = with_empty, .causal = true},
          Mask{.attn_mask = Tensor::bernoulli(Shape{s.B, 1, s.Tq, s.Tk}, rng, 0.7)}};
}

TEST(ReferenceLuong, DotGeneralConcatWithEveryNormalizer) {
  Rng rng(15);
  for (const SeqShape& s : kSeqShapes) {
    const Tensor q = randn32(Shape{s.B, s.Tq, s.Dq}, rng), k = randn32(Shape{s.B, s.Tk, s.Dk}, rng),
                 v = randn32(Shape{s.B, s.Tk, s.Dv}, rng);
    const auto general = attention::GeneralScore::init(s.Dq, s.Dk, rng);
    const auto concat_score = attention::ConcatScore::init(s.Dq, s.Dk, 6, rng);
    const std::vector<std::pair<Tensor, Tensor>> scores = {
        {attention::dot_scores(q, k), ref::dot_scores(q, k)},
        {general.scores(q, k), ref::general_scores(q, k, general.W_a)},
        {concat_score.scores(q, k), ref::concat_scores(q, k, concat_score.W_a, concat_score.v_a)}};
    for (const auto& [got_s, want_s] : scores) {
      EXPECT_TRUE(all_close(got_s, want_s, kAtol, kRtol));
      for (const Mask& mask : seq_masks(s, rng))
        for (Normalizer n : {Normalizer::softmax(), Normalizer::sparsemax(), Normalizer::entmax15(),
                 Normalizer::entmax(1.25), Normalizer::entmax(1.75)}) {
          SCOPED_TRACE(std::string(n.name()) + " scores " + got_s.shape().str());
          const auto got = attention::attend(got_s, v, mask, {.normalizer = n, .need_weights = true, .need_lse = true});
          const ref::Attention want = ref::attend(want_s, v, mask, n);
          EXPECT_TRUE(all_close(got.context, want.context, kAtol, kRtol));
          EXPECT_TRUE(all_close(got.weights, want.weights, kAtol, kRtol));
          EXPECT_TRUE(all_close(got.lse, want.lse, kAtol, kRtol));
        }
    }
  }
}

TEST(ReferenceLuong, LocationCutToRealLengthAndRenormalized) {
  Rng rng(16);
  for (const SeqShape& s : kSeqShapes) {
    const int64_t L = s.Tk + 3;
    const auto loc = attention::LocationScore::init(s.Dq, L, rng);
    const Tensor q = randn32(Shape{s.B, s.Tq, s.Dq}, rng) * 2.0, v = randn32(Shape{s.B, s.Tk, s.Dv}, rng);
    std::vector<int64_t> lengths;
    for (int64_t b = 0; b < s.B; ++b) lengths.push_back(std::max<int64_t>(1, s.Tk - 2 * b));
    const auto got = attention::attend(loc.scores(q, s.Tk), v, Mask{.key_lengths = lengths}, {.need_weights = true});
    const Tensor want_w = ref::location_weights(q, loc.W_a, s.Tk, lengths);
    EXPECT_TRUE(all_close(got.weights, want_w, kAtol, kRtol));
    // context = weights @ values, in float64.
    const Tensor want_ctx = matmul(want_w, v.to(DType::f64));
    EXPECT_TRUE(all_close(got.context, want_ctx, kAtol, kRtol));
  }
}

TEST(ReferenceBahdanau, AdditiveScoresAndAttention) {
  Rng rng(17);
  for (const SeqShape& s : kSeqShapes) {
    const auto add = attention::AdditiveScore::init(s.Dq, s.Dk, 7, rng);
    const Tensor q = randn32(Shape{s.B, s.Tq, s.Dq}, rng), k = randn32(Shape{s.B, s.Tk, s.Dk}, rng),
                 v = randn32(Shape{s.B, s.Tk, s.Dv}, rng);
    const Tensor want_s = ref::additive_scores(q, k, add.W_q, add.W_k, add.b, add.v);
    EXPECT_TRUE(all_close(add.scores(q, k), want_s, kAtol, kRtol));
    for (const Mask& mask : seq_masks(s, rng)) {
      const auto got = attention::attend(add.scores(q, k), v, mask, {.need_weights = true});
      const ref::Attention want = ref::attend(want_s, v, mask);
      EXPECT_TRUE(all_close(got.context, want.context, kAtol, kRtol));
      EXPECT_TRUE(all_close(got.weights, want.weights, kAtol, kRtol));
    }
  }
}

TEST(ReferenceLocal, LocalMonotonic) {
  Rng rng(18);
  for (const SeqShape& s : kSeqShapes)
    for (int64_t D : {0, 1, 2})
      for (int64_t offset : {int64_t{0}, s.Tk / 2}) {
        const Tensor scores = randn32(Shape{s.B, s.Tq, s.Tk}, rng), v = randn32(Shape{s.B, s.Tk, s.Dv}, rng);
        for (const Mask& mask : seq_masks(s, rng)) {
          SCOPED_TRACE("D " + std::to_string(D) + " offset " + std::to_string(offset));
          const auto got = attention::local_m_attention(
              scores, v, mask, {.D = D, .query_offset = offset, .attend = {.need_weights = true, .need_lse = true}});
          const ref::Attention want = ref::local_m(scores, v, mask, D, offset);
          EXPECT_TRUE(all_close(got.context, want.context, kAtol, kRtol));
          EXPECT_TRUE(all_close(got.weights, want.weights, kAtol, kRtol));
          EXPECT_TRUE(all_close(got.lse, want.lse, kAtol, kRtol));
        }
      }
}

TEST(ReferenceLocal, LocalPredictive) {
  Rng rng(19);
  for (const SeqShape& s : kSeqShapes)
    for (int64_t D : {1, 2}) {
      const auto pos = attention::LocalPosition::init(s.Dq, 5, rng);
      const Tensor q = randn32(Shape{s.B, s.Tq, s.Dq}, rng) * 3.0;
      const Tensor scores = randn32(Shape{s.B, s.Tq, s.Tk}, rng), v = randn32(Shape{s.B, s.Tk, s.Dv}, rng);
      std::vector<int64_t> S;
      for (int64_t b = 0; b < s.B; ++b) S.push_back(s.Tk - b);
      const Tensor p = pos.positions(q, S);
      const Tensor want_p = ref::local_p_positions(q, pos.W_p, pos.v_p, S);
      EXPECT_TRUE(all_close(p, want_p, kAtol, kRtol));
      for (const Mask& mask : {Mask{}, Mask{.key_lengths = S}}) {
        const auto got = attention::local_p_attention(scores, v, p, mask, {.D = D, .attend = {.need_weights = true}});
        // The window is decided on the f32 positions in both (an edge must not flip between them).
        const ref::Attention want = ref::local_p(scores, v, p, mask, D);
        EXPECT_TRUE(all_close(got.context, want.context, kAtol, kRtol));
        EXPECT_TRUE(all_close(got.weights, want.weights, kAtol, kRtol));
      }
    }
}

}  // namespace
}  // namespace attend::test
