// The fused path against the composed path and the float64 reference (DESIGN.md section 6,
// oracle 4), through the Tensor/autograd wrapper the library actually dispatches to. The
// FlashAttention rule: the fused error against float64 is at most twice the naive f32 error (plus
// a small absolute floor for outputs that are exactly representable), for outputs and gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "attend/attention/flash.h"
#include "attend/attention/scaled_dot.h"
#include "attend/kernels/flash_attention.h"
#include "attend/nn/multihead_attention.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

using attention::Mask;

struct Case {
  const char* name;
  int64_t B, H, Hkv, Tq, Tk, D;
};

struct Outputs {
  Tensor context, weights, lse, dq, dk, dv;
};

// Runs one path on copies of q, k, v (in `dtype`) and backpropagates dout through the context.
template <typename F>
Outputs run(F&& path, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& dout, DType dtype) {
  Tensor qq = q.to(dtype).clone().set_requires_grad(), kk = k.to(dtype).clone().set_requires_grad(),
         vv = v.to(dtype).clone().set_requires_grad();
  attention::AttentionResult r = path(qq, kk, vv);
  r.context.backward(dout.to(dtype));
  return {r.context, r.weights, r.lse, qq.grad(), kk.grad(), vv.grad()};
}

double max_err(const Tensor& a, const Tensor& ref) {
  const auto x = a.to_vector<double>(), y = ref.to_vector<double>();
  double m = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isinf(y[i]) && x[i] == y[i]) continue;
    m = std::max(m, std::fabs(x[i] - y[i]));
  }
  return m;
}

void expect_flash_rule(const char* what, const Tensor& fused, const Tensor& naive, const Tensor& ref,
                       const std::string& where) {
  ASSERT_EQ(fused.shape(), ref.shape()) << what << " " << where;
  const double ef = max_err(fused, ref), en = max_err(naive, ref);
  EXPECT_FALSE(std::isnan(ef)) << what << " " << where;
  EXPECT_LE(ef, 2.0 * en + 2e-6) << what << " " << where << ": fused error " << ef << ", naive f32 error " << en;
}

// The fused path, the composed path in f32 and the composed path in f64 (the reference) on the same
// inputs; every output the options ask for and the three gradients under the FlashAttention rule.
void expect_paths_agree(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& dout, const Mask& mask,
                        const attention::SdpaOptions& opt, const std::string& where, Outputs* fused_out = nullptr,
                        Outputs* ref_out = nullptr) {
  auto fused = run([&](auto& a, auto& b, auto& d) { return attention::scaled_dot_product_attention_fused(a, b, d, mask, opt); },
                   q, k, v, dout, DType::f32);
  auto naive = run([&](auto& a, auto& b, auto& d) { return attention::scaled_dot_product_attention_composed(a, b, d, mask, opt); },
                   q, k, v, dout, DType::f32);
  Mask mask64 = mask;
  if (mask.attn_mask.defined()) mask64.attn_mask = mask.attn_mask.to(DType::f64);
  auto ref = run([&](auto& a, auto& b, auto& d) { return attention::scaled_dot_product_attention_composed(a, b, d, mask64, opt); },
                 q, k, v, dout, DType::f64);
  expect_flash_rule("context", fused.context, naive.context, ref.context, where);
  if (opt.need_weights) expect_flash_rule("weights", fused.weights, naive.weights, ref.weights, where);
  if (opt.need_lse) expect_flash_rule("lse", fused.lse, naive.lse, ref.lse, where);
  expect_flash_rule("dq", fused.dq, naive.dq, ref.dq, where);
  expect_flash_rule("dk", fused.dk, naive.dk, ref.dk, where);
  expect_flash_rule("dv", fused.dv, naive.dv, ref.dv, where);
  if (fused_out) *fused_out = fused;
  if (ref_out) *ref_out = ref;
}

std::vector<std::pair<std::string, Mask>> masks(const Case& c, Rng& rng) {
  std::vector<int64_t> lengths;
  for (int64_t b = 0; b < c.B; ++b) lengths.push_back(std::max<int64_t>(1, c.Tk - 3 * b - 1));
  Tensor padding = Tensor::bernoulli({c.B, c.Tk}, rng, 0.8);
  Tensor boolean = Tensor::bernoulli({c.Tq, c.Tk}, rng, 0.7);
  // Row 0 of the boolean mask blocks everything: a fully masked row.
  for (int64_t j = 0; j < c.Tk; ++j) boolean.data<float>()[j] = 0.0f;
  Tensor additive = Tensor::randn({c.B, 1, c.Tq, c.Tk}, rng);
  return {
      {"none", Mask{}},
      {"key_lengths", Mask{.key_lengths = lengths}},
      {"key_padding", Mask{.key_padding = padding}},
      {"causal bottom-right", Mask{.causal = true}},
      {"causal top-left", Mask{.causal = true, .causal_align = attention::CausalAlign::top_left}},
      {"window 3,2", Mask{.window_left = 3, .window_right = 2}},
      {"boolean attn_mask with a fully masked row", Mask{.attn_mask = boolean}},
      {"additive attn_mask", Mask{.attn_mask = additive, .attn_mask_kind = attention::MaskKind::additive}},
      {"all combined", Mask{.key_lengths = lengths,
                            .key_padding = padding,
                            .causal = true,
                            .window_left = 5,
                            .window_right = -1,
                            .attn_mask = boolean}},
  };
}

TEST(FlashSweepTensor, FusedMatchesComposedAndFloat64ForEveryMaskAndShape) {
  const Case cases[] = {
      {"self, tile remainder", 2, 4, 4, 37, 37, 64}, {"decode step, GQA 4:1", 1, 8, 2, 1, 70, 32},
      {"Tq > Tk, MQA", 2, 2, 1, 65, 30, 16},        {"cross, D = 24", 1, 2, 2, 20, 131, 24},
  };
  for (const Case& c : cases) {
    Rng rng(17);
    const Tensor q = Tensor::randn({c.B, c.H, c.Tq, c.D}, rng), k = Tensor::randn({c.B, c.Hkv, c.Tk, c.D}, rng),
                 v = Tensor::randn({c.B, c.Hkv, c.Tk, c.D}, rng), dout = Tensor::randn({c.B, c.H, c.Tq, c.D}, rng);
    for (const auto& named : masks(c, rng)) {
      const std::string& mname = named.first;  // not a structured binding: clang 14 cannot capture those
      const Mask& mask = named.second;
      const std::string where = std::string(c.name) + ", mask " + mname;
      expect_paths_agree(q, k, v, dout, mask, {.need_weights = true, .need_lse = true}, where);
    }
  }
}

// The fused sparse kernel (kernels/sparse_attention.h) under the same rule, for sparsemax,
// 1.5-entmax (exact thresholds) and alpha-entmax by bisection on both sides of 1.5, with scores of
// the usual size (small supports) and flattened by 0.1 (supports of most keys).
TEST(FlashSweepTensor, FusedSparseMatchesComposedAndFloat64ForEveryMaskAndShape) {
  const Case cases[] = {
      {"self, block remainder", 2, 4, 4, 37, 37, 64}, {"decode step, GQA 4:1", 1, 8, 2, 1, 70, 32},
      {"Tq > Tk, MQA", 2, 2, 1, 65, 30, 16},          {"cross, D = 24", 1, 2, 2, 20, 131, 24},
  };
  const attention::Normalizer normalizers[] = {attention::Normalizer::sparsemax(), attention::Normalizer::entmax15(),
                                               attention::Normalizer::entmax(1.25), attention::Normalizer::entmax(1.75)};
  for (const Case& c : cases)
    for (const double flat : {1.0, 0.1})
      for (const attention::Normalizer& n : normalizers) {
        Rng rng(19);
        const Tensor q = mul(Tensor::randn({c.B, c.H, c.Tq, c.D}, rng), flat),
                     k = Tensor::randn({c.B, c.Hkv, c.Tk, c.D}, rng), v = Tensor::randn({c.B, c.Hkv, c.Tk, c.D}, rng),
                     dout = Tensor::randn({c.B, c.H, c.Tq, c.D}, rng);
        for (const auto& named : masks(c, rng)) {
          const Mask& mask = named.second;
          const std::string where = std::string(c.name) + ", " + n.name() + ", scores x" + std::to_string(flat) +
                                    ", mask " + named.first;
          const attention::SdpaOptions opt{.normalizer = n, .need_weights = true};
          ASSERT_EQ(attention::choose_attention_path(q, k, v, mask, opt).path, attention::AttentionPath::fused);
          Outputs fused, ref;
          expect_paths_agree(q, k, v, dout, mask, opt, where, &fused, &ref);
          // Exact zeros stay exact: the fused weights are zero exactly where the reference's are.
          const auto wf = fused.weights.to_vector<double>(), wr = ref.weights.to_vector<double>();
          int64_t differ = 0;
          for (size_t e = 0; e < wf.size(); ++e) differ += (wf[e] == 0.0) != (wr[e] == 0.0) && std::max(wf[e], wr[e]) > 1e-6;
          EXPECT_EQ(differ, 0) << where;
        }
      }
}

TEST(FlashSweepTensor, LargeLogitsStayFinite) {
  Rng rng(3);
  const Tensor q = mul(Tensor::randn({1, 2, 33, 64}, rng), 300.0), k = Tensor::randn({1, 2, 33, 64}, rng),
               v = Tensor::randn({1, 2, 33, 64}, rng), dout = Tensor::randn({1, 2, 33, 64}, rng);
  const Mask mask{.causal = true};
  auto fused = run([&](auto& a, auto& b, auto& d) { return attention::scaled_dot_product_attention_fused(a, b, d, mask, {}); },
                   q, k, v, dout, DType::f32);
  auto naive = run([&](auto& a, auto& b, auto& d) { return attention::scaled_dot_product_attention_composed(a, b, d, mask, {}); },
                   q, k, v, dout, DType::f32);
  auto ref = run([&](auto& a, auto& b, auto& d) { return attention::scaled_dot_product_attention_composed(a, b, d, mask, {}); },
                 q, k, v, dout, DType::f64);
  expect_flash_rule("context", fused.context, naive.context, ref.context, "logits ~1e4");
  expect_flash_rule("dv", fused.dv, naive.dv, ref.dv, "logits ~1e4");
  for (double x : fused.dq.to_vector<double>()) ASSERT_TRUE(std::isfinite(x));
}

TEST(FlashSweepTensor, StridedProjectionViewsNeedNoCopy) {
  // q as the [B, T, H, D] -> [B, H, T, D] permuted view a projection produces.
  Rng rng(9);
  const Tensor proj = Tensor::randn({2, 19, 4, 32}, rng);
  const Tensor q = permute(proj, {0, 2, 1, 3}), k = Tensor::randn({2, 4, 23, 32}, rng), v = Tensor::randn({2, 4, 23, 32}, rng);
  const auto f = attention::scaled_dot_product_attention_fused(q, k, v, {}, {});
  const auto c = attention::scaled_dot_product_attention_composed(q, k, v, {}, {});
  EXPECT_TRUE(test::all_close(f.context, c.context, 2e-5, 1e-4));
}

// Inputs that are the [B, T, H, D] memory of split_heads (transposed views) give outputs and
// gradients in that memory too (no copy when transposed back), bit for bit the values of
// contiguous inputs, with an incoming gradient in that layout as well; GQA, every mask.
TEST(FlashSweepTensor, ProjectionLayoutsKeepTheirLayoutAndValues) {
  const Case cases[] = {{"self, tile remainder", 2, 4, 4, 37, 37, 64}, {"cross, GQA 2:1", 1, 4, 2, 20, 45, 32}};
  for (const Case& c : cases) {
    Rng rng(21);
    const Tensor q = Tensor::randn({c.B, c.H, c.Tq, c.D}, rng), k = Tensor::randn({c.B, c.Hkv, c.Tk, c.D}, rng),
                 v = Tensor::randn({c.B, c.Hkv, c.Tk, c.D}, rng), dout = Tensor::randn({c.B, c.H, c.Tq, c.D}, rng);
    // The same values as [B, H, T, D] views of [B, T, H, D] buffers.
    auto bthd = [](const Tensor& t) { return transpose(transpose(t, 1, 2).contiguous(), 1, 2); };
    for (const auto& named : masks(c, rng)) {
      const std::string where = std::string(c.name) + ", mask " + named.first;
      Tensor q1 = q.clone().set_requires_grad(), k1 = k.clone().set_requires_grad(), v1 = v.clone().set_requires_grad();
      Tensor q2 = bthd(q).detach().set_requires_grad(), k2 = bthd(k).detach().set_requires_grad(),
             v2 = bthd(v).detach().set_requires_grad();
      const auto a = attention::scaled_dot_product_attention_fused(q1, k1, v1, named.second, {});
      const auto b = attention::scaled_dot_product_attention_fused(q2, k2, v2, named.second, {});
      EXPECT_TRUE(transpose(b.context, 1, 2).is_contiguous()) << where << ": the context in q's layout";
      EXPECT_EQ(test::max_abs_diff(a.context, b.context), 0.0) << where;
      // The node's own gradients (a leaf's .grad() is a contiguous copy), then through the engine.
      const std::vector<Tensor> ga = a.context.grad_fn()->backward({dout}),
                                gb = b.context.grad_fn()->backward({bthd(dout)});
      ASSERT_EQ(gb.size(), 3u);
      for (size_t i = 0; i < 3; ++i) {
        EXPECT_TRUE(transpose(gb[i], 1, 2).is_contiguous()) << where << ": gradient " << i << " in its input's layout";
        EXPECT_EQ(test::max_abs_diff(ga[i], gb[i]), 0.0) << where << ": gradient " << i;
      }
      a.context.backward(dout);
      b.context.backward(bthd(dout));
      EXPECT_EQ(test::max_abs_diff(q1.grad(), q2.grad()), 0.0) << where;
      EXPECT_EQ(test::max_abs_diff(v1.grad(), v2.grad()), 0.0) << where;
    }
  }
}

TEST(FlashDropoutTensor, FusedDrawsTheComposedPathsMask) {
  Rng data(4);
  const Tensor q = Tensor::randn({2, 2, 17, 32}, data), k = Tensor::randn({2, 2, 29, 32}, data),
               v = Tensor::randn({2, 2, 29, 32}, data), dout = Tensor::randn({2, 2, 17, 32}, data);
  Rng r1(77), r2(77);
  const attention::SdpaOptions o1{.dropout_p = 0.3, .training = true, .rng = &r1};
  const attention::SdpaOptions o2{.dropout_p = 0.3, .training = true, .rng = &r2};
  auto fused = run([&](auto& a, auto& b, auto& d) { return attention::scaled_dot_product_attention_fused(a, b, d, {}, o1); },
                   q, k, v, dout, DType::f32);
  auto comp = run([&](auto& a, auto& b, auto& d) { return attention::scaled_dot_product_attention_composed(a, b, d, {}, o2); },
                  q, k, v, dout, DType::f32);
  EXPECT_EQ(r1.offset(), r2.offset());  // both consumed B*H*Tq*Tk counters
  EXPECT_TRUE(test::all_close(fused.context, comp.context, 2e-5, 1e-4));
  EXPECT_TRUE(test::all_close(fused.dq, comp.dq, 2e-5, 1e-4));
  EXPECT_TRUE(test::all_close(fused.dk, comp.dk, 2e-5, 1e-4));
  EXPECT_TRUE(test::all_close(fused.dv, comp.dv, 2e-5, 1e-4));
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(FlashDispatch, ChoosesFusedForF32AndSaysWhyOtherwise) {
  ScopedEnv env("ATTEND_ATTENTION", "auto");
  Rng rng(1);
  const Tensor q = Tensor::randn({1, 2, 5, 8}, rng), k = Tensor::randn({1, 2, 6, 8}, rng);
  auto d = attention::choose_attention_path(q, k, k, {}, {});
  EXPECT_EQ(d.path, attention::AttentionPath::fused) << d.reason;
  EXPECT_NE(d.reason.find("fused"), std::string::npos);
  auto d64 = attention::choose_attention_path(q.to(DType::f64), k.to(DType::f64), k.to(DType::f64), {}, {});
  EXPECT_EQ(d64.path, attention::AttentionPath::composed);
  EXPECT_NE(d64.reason.find("f32 only"), std::string::npos) << d64.reason;
  const Tensor v16 = Tensor::randn({1, 2, 6, 16}, rng);
  auto dv = attention::choose_attention_path(q, k, v16, {}, {});
  EXPECT_EQ(dv.path, attention::AttentionPath::composed);
  EXPECT_NE(dv.reason.find("Dv = 16"), std::string::npos) << dv.reason;
}

TEST(FlashDispatch, SparseNormalizersTakeTheSparseKernelUnlessItCannot) {
  ScopedEnv env("ATTEND_ATTENTION", "auto");
  Rng rng(4);
  const Tensor q = Tensor::randn({1, 2, 5, 8}, rng), k = Tensor::randn({1, 2, 6, 8}, rng);
  auto d = attention::choose_attention_path(q, k, k, {}, {.normalizer = attention::Normalizer::entmax15()});
  EXPECT_EQ(d.path, attention::AttentionPath::fused) << d.reason;
  EXPECT_NE(d.reason.find("sparse kernel (entmax15)"), std::string::npos) << d.reason;
  Rng drop(1);
  auto dd = attention::choose_attention_path(
      q, k, k, {}, {.normalizer = attention::Normalizer::sparsemax(), .dropout_p = 0.1, .training = true, .rng = &drop});
  EXPECT_EQ(dd.path, attention::AttentionPath::composed);
  EXPECT_NE(dd.reason.find("dropout with sparsemax"), std::string::npos) << dd.reason;
  auto dc = attention::choose_attention_path(q, k, k, {}, {.normalizer = attention::make_normalizer("crf-segment")});
  EXPECT_EQ(dc.path, attention::AttentionPath::composed);
  EXPECT_NE(dc.reason.find("crf-segment"), std::string::npos) << dc.reason;
  auto d3 = attention::choose_attention_path(q, k, k, {}, {.normalizer = attention::Normalizer::entmax(3.0)});
  EXPECT_EQ(d3.path, attention::AttentionPath::composed);
  EXPECT_NE(d3.reason.find("alpha in (1, 2]"), std::string::npos) << d3.reason;
}

TEST(FlashDispatch, EnvironmentForcesEitherPath) {
  Rng rng(2);
  const Tensor q = Tensor::randn({1, 2, 5, 8}, rng), k = Tensor::randn({1, 2, 6, 8}, rng);
  {
    ScopedEnv env("ATTEND_ATTENTION", "composed");
    EXPECT_EQ(attention::choose_attention_path(q, k, k, {}, {}).path, attention::AttentionPath::composed);
  }
  {
    ScopedEnv env("ATTEND_ATTENTION", "fused");
    EXPECT_EQ(attention::choose_attention_path(q, k, k, {}, {}).path, attention::AttentionPath::fused);
    try {
      (void)attention::scaled_dot_product_attention(q.to(DType::f64), k.to(DType::f64), k.to(DType::f64));
      FAIL() << "forcing fused on f64 must fail";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("[scaled_dot_product_attention] ATTEND_ATTENTION=fused", 0), 0u) << e.what();
      EXPECT_NE(std::string(e.what()).find("[1, 2, 5, 8]"), std::string::npos) << e.what();
    }
  }
  {
    ScopedEnv env("ATTEND_ATTENTION", "fastest");
    EXPECT_THROW((void)attention::choose_attention_path(q, k, k, {}, {}), Error);
  }
}

TEST(FlashDispatch, MultiheadAttentionUsesTheFusedPathAndAgrees) {
  Rng rng(8);
  nn::MultiheadAttention mha({.embed_dim = 32, .num_heads = 4, .num_kv_heads = 2}, rng);
  const Tensor x = Tensor::randn({2, 9, 32}, rng);
  const Mask mask{.key_lengths = {9, 6}, .causal = true};
  Tensor fused_out, composed_out;
  {
    ScopedEnv env("ATTEND_ATTENTION", "fused");  // would throw if MHA could not take it
    fused_out = mha.forward(x, x, x, mask).output;
  }
  {
    ScopedEnv env("ATTEND_ATTENTION", "composed");
    composed_out = mha.forward(x, x, x, mask).output;
  }
  EXPECT_TRUE(test::all_close(fused_out, composed_out, 1e-5, 1e-4));
}

}  // namespace
}  // namespace attend
