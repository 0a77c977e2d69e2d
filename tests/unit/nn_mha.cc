// MultiheadAttention beyond what PyTorch 1.13 can check: grouped-query / multi-query heads against
// a float64 naive reference (oracle 1) and against the equivalent MHA with repeated key/value
// heads, the key/value cache against the full causal computation, dropout on the weights, and the
// "[MultiheadAttention] ..." errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attend/nn/multihead_attention.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

using test::all_close;

// Row-major [rows, cols] matrix of doubles.
struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  double operator()(int64_t r, int64_t c) const { return v[static_cast<size_t>(r * cols + c)]; }
};
Mat mat(const Tensor& t, int64_t row0 = 0, int64_t rows = -1) {
  const int64_t cols = t.size(-1);
  if (rows < 0) rows = t.size(0) - row0;
  const std::vector<double> all = t.to_vector<double>();
  Mat m{rows, cols, {}};
  m.v.assign(all.begin() + row0 * cols, all.begin() + (row0 + rows) * cols);
  return m;
}
std::vector<double> vec(const Tensor& t, int64_t start, int64_t n) {
  if (!t.defined()) return std::vector<double>(static_cast<size_t>(n), 0.0);
  const std::vector<double> all = t.to_vector<double>();
  return {all.begin() + start, all.begin() + start + n};
}

// y[t, o] = sum_i x[t, i] W[o, i] + b[o] for one batch row of x [B, T, in].
std::vector<double> project(const Tensor& x, int64_t b, const Mat& w, const std::vector<double>& bias) {
  const int64_t T = x.size(1), in = x.size(2);
  std::vector<double> y(static_cast<size_t>(T * w.rows));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < w.rows; ++o) {
      double s = bias[static_cast<size_t>(o)];
      for (int64_t i = 0; i < in; ++i) s += x.at({b, t, i}) * w(o, i);
      y[static_cast<size_t>(t * w.rows + o)] = s;
    }
  return y;
}

// The float64 naive reference of grouped-query multi-head attention with a bottom-right causal
// mask and per-batch key lengths: plain loops, no attend op involved. Returns [B, Tq, C].
Tensor reference_mha(const nn::MultiheadAttention& m, const Tensor& query, const Tensor& key, const Tensor& value,
                     bool causal, const std::vector<int64_t>& key_lengths) {
  const auto& o = m.options();
  const int64_t C = o.embed_dim, H = o.num_heads, Hkv = o.num_kv_heads, D = m.head_dim();
  const int64_t B = query.size(0), Tq = query.size(1), Tk = key.size(1);
  const Mat wq = m.packed_in_proj() ? mat(m.in_proj_weight, 0, C) : mat(m.q_proj_weight);
  const Mat wk = m.packed_in_proj() ? mat(m.in_proj_weight, C, Hkv * D) : mat(m.k_proj_weight);
  const Mat wv = m.packed_in_proj() ? mat(m.in_proj_weight, C + Hkv * D, Hkv * D) : mat(m.v_proj_weight);
  const std::vector<double> bq = vec(m.in_proj_bias, 0, C), bk = vec(m.in_proj_bias, C, Hkv * D),
                            bv = vec(m.in_proj_bias, C + Hkv * D, Hkv * D);
  const Mat wo = mat(m.out_proj.weight);
  const std::vector<double> bo = vec(m.out_proj.bias, 0, C);
  std::vector<double> out(static_cast<size_t>(B * Tq * C));
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<double> q = project(query, b, wq, bq);  // [Tq, C]
    const std::vector<double> k = project(key, b, wk, bk);    // [Tk, Hkv D]
    const std::vector<double> v = project(value, b, wv, bv);  // [Tk, Hkv D]
    std::vector<double> ctx(static_cast<size_t>(Tq * C), 0.0);  // [Tq, C]
    for (int64_t h = 0; h < H; ++h) {
      const int64_t g = h / (H / Hkv);
      for (int64_t i = 0; i < Tq; ++i) {
        std::vector<double> s(static_cast<size_t>(Tk));
        double mx = -INFINITY;
        for (int64_t j = 0; j < Tk; ++j) {
          const bool ok = (!causal || j <= i + Tk - Tq) && (key_lengths.empty() || j < key_lengths[size_t(b)]);
          double d = 0.0;
          for (int64_t e = 0; e < D; ++e) d += q[size_t(i * C + h * D + e)] * k[size_t(j * Hkv * D + g * D + e)];
          s[size_t(j)] = ok ? d / std::sqrt(double(D)) : -INFINITY;
          mx = std::max(mx, s[size_t(j)]);
        }
        if (mx == -INFINITY) continue;  // fully masked row: zero context
        double z = 0.0;
        for (double& x : s) z += (x = std::exp(x - mx));
        for (int64_t j = 0; j < Tk; ++j)
          for (int64_t e = 0; e < D; ++e)
            ctx[size_t(i * C + h * D + e)] += s[size_t(j)] / z * v[size_t(j * Hkv * D + g * D + e)];
      }
    }
    for (int64_t i = 0; i < Tq; ++i)
      for (int64_t c = 0; c < C; ++c) {
        double s = bo[size_t(c)];
        for (int64_t e = 0; e < C; ++e) s += ctx[size_t(i * C + e)] * wo(c, e);
        out[size_t((b * Tq + i) * C + c)] = s;
      }
  }
  return Tensor::from_vector(out, {B, Tq, C});
}

// Random non-zero biases so that every parameter matters.
void randomize(nn::Module& m, Rng& rng) {
  for (auto& [n, p] : m.named_parameters()) m.load_parameter(n, mul(Tensor::randn(p.shape(), rng, DType::f64), 0.5));
}

struct GqaCase {
  int64_t H, Hkv, kdim;
};

TEST(ReferenceMultiheadAttention, GroupedAndMultiQueryMatchFloat64Reference) {
  for (const GqaCase c : {GqaCase{4, 2, 0}, GqaCase{4, 1, 0}, GqaCase{4, 4, 0}, GqaCase{4, 2, 6}}) {
    for (const DType dt : {DType::f64, DType::f32}) {
      SCOPED_TRACE("H " + std::to_string(c.H) + " Hkv " + std::to_string(c.Hkv) + " kdim " + std::to_string(c.kdim) +
                   (dt == DType::f64 ? " f64" : " f32"));
      Rng rng(21);
      nn::MultiheadAttention m({.embed_dim = 8, .num_heads = c.H, .num_kv_heads = c.Hkv, .kdim = c.kdim, .dtype = dt},
                               rng);
      randomize(m, rng);
      const int64_t kd = c.kdim ? c.kdim : 8;
      const Tensor q = Tensor::randn({2, 3, 8}, rng, dt), k = Tensor::randn({2, 5, kd}, rng, dt),
                   v = Tensor::randn({2, 5, 8}, rng, dt);
      const std::vector<int64_t> lengths{5, 3};
      const Tensor out = m.forward(q, k, v, {.key_lengths = lengths, .causal = true}).output;
      const Tensor ref = reference_mha(m, q, k, v, /*causal=*/true, lengths);
      EXPECT_TRUE(all_close(out, ref, dt == DType::f64 ? 1e-12 : 2e-5, dt == DType::f64 ? 1e-12 : 1e-5));
    }
  }
}

// GQA with Hkv key/value heads is MHA with H heads whose key/value projections repeat each group's
// rows H / Hkv times; with Hkv == H it is MHA itself.
TEST(SemanticsMultiheadAttention, GroupedQueryEqualsMhaWithRepeatedKvHeads) {
  Rng rng(22);
  const int64_t C = 8, H = 4, Hkv = 2, D = 2;
  nn::MultiheadAttention gqa({.embed_dim = C, .num_heads = H, .num_kv_heads = Hkv, .dtype = DType::f64}, rng);
  nn::MultiheadAttention mha({.embed_dim = C, .num_heads = H, .dtype = DType::f64}, rng);
  randomize(gqa, rng);
  // Build MHA's [3C, C] packed weight (and bias) from GQA's [(H + 2 Hkv) D, C].
  std::vector<Tensor> w_rows{slice(gqa.in_proj_weight, 0, 0, C)}, b_rows{slice(gqa.in_proj_bias, 0, 0, C)};
  for (int64_t block = 0; block < 2; ++block)  // k, then v
    for (int64_t h = 0; h < H; ++h) {
      const int64_t start = C + block * Hkv * D + (h / (H / Hkv)) * D;
      w_rows.push_back(slice(gqa.in_proj_weight, 0, start, start + D));
      b_rows.push_back(slice(gqa.in_proj_bias, 0, start, start + D));
    }
  mha.load_parameter("in_proj_weight", concat(w_rows, 0));
  mha.load_parameter("in_proj_bias", concat(b_rows, 0));
  mha.load_parameter("out_proj.weight", gqa.out_proj.weight);
  mha.load_parameter("out_proj.bias", gqa.out_proj.bias);

  const Tensor x = test::randn64({2, 4, C}, rng);
  const attention::Mask causal{.causal = true};
  const nn::MhaOutput a = gqa.forward(x, x, x, causal, {.need_weights = true, .average_attn_weights = false});
  const nn::MhaOutput b = mha.forward(x, x, x, causal, {.need_weights = true, .average_attn_weights = false});
  EXPECT_TRUE(all_close(a.output, b.output, 1e-13));
  EXPECT_TRUE(all_close(a.weights, b.weights, 1e-13));
}

// Incremental decoding: feeding the sequence one step (or a few steps) at a time through a KVCache
// must give exactly the rows of the full causal computation (bottom-right causal alignment makes
// the new queries see every cached key and the new keys up to themselves).
TEST(SemanticsMultiheadAttention, KVCacheStepByStepEqualsFullCausal) {
  for (const int64_t Hkv : {int64_t{2}, int64_t{1}}) {
    SCOPED_TRACE("Hkv " + std::to_string(Hkv));
    Rng rng(23);
    nn::MultiheadAttention m({.embed_dim = 8, .num_heads = 2, .num_kv_heads = Hkv, .dtype = DType::f64}, rng);
    randomize(m, rng);
    const int64_t B = 2, T = 6;
    const Tensor x = test::randn64({B, T, 8}, rng);
    const nn::MhaOutput full = m.forward(x, x, x, {.causal = true}, {.need_weights = true});  // [B, T, C]

    // One step at a time.
    nn::KVCache cache;
    std::vector<Tensor> steps;
    for (int64_t t = 0; t < T; ++t) {
      const Tensor xt = slice(x, 1, t, t + 1);  // [B, 1, C]
      const nn::MhaOutput r = m.forward(xt, xt, xt, {.causal = true}, {.need_weights = true, .cache = &cache});
      EXPECT_EQ(cache.length(), t + 1);
      EXPECT_EQ(r.weights.shape(), Shape({B, 1, t + 1}));
      // The step's weights are row t of the full causal weights (the future columns are zero there).
      EXPECT_TRUE(all_close(r.weights, slice(slice(full.weights, 1, t, t + 1), 2, 0, t + 1), 1e-13));
      steps.push_back(r.output);
    }
    EXPECT_TRUE(all_close(concat(steps, 1), full.output, 1e-13));

    // Chunks of 2, 3 and 1 steps: the queries of a chunk also see each other causally.
    cache.clear();
    std::vector<Tensor> chunks;
    for (const auto& [s, e] : {std::pair<int64_t, int64_t>{0, 2}, {2, 5}, {5, 6}}) {
      const Tensor xc = slice(x, 1, s, e);
      chunks.push_back(m.forward(xc, xc, xc, {.causal = true}, {.cache = &cache}).output);
    }
    EXPECT_EQ(cache.length(), T);
    EXPECT_TRUE(all_close(concat(chunks, 1), full.output, 1e-13));
  }
}

// Without gradients the cache appends into buffers with room to grow: the same rows as the full
// causal computation, the cached keys are views of the buffer (no copy per step), copies of a
// cache that diverge never see each other's steps, and select() gathers rows with the room kept.
TEST(SemanticsMultiheadAttention, KVCacheInPlaceWithoutGradients) {
  Rng rng(29);
  nn::MultiheadAttention m({.embed_dim = 8, .num_heads = 2, .dtype = DType::f64}, rng);
  randomize(m, rng);
  const int64_t B = 3, T = 7;
  const Tensor x = test::randn64({B, T, 8}, rng);
  NoGrad no_grad;
  const Tensor full = m.forward(x, x, x, {.causal = true}).output;  // [B, T, C]
  nn::KVCache cache;
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < T; ++t) {
    const Tensor xt = slice(x, 1, t, t + 1);
    steps.push_back(m.forward(xt, xt, xt, {.causal = true}, {.cache = &cache}).output);
    ASSERT_TRUE(cache.k_buf.defined());
    EXPECT_GE(cache.k_buf.size(2), t + 1);
    EXPECT_EQ(*cache.used, t + 1);
  }
  EXPECT_TRUE(all_close(concat(steps, 1), full, 1e-13));
  EXPECT_EQ(cache.k.data<double>(), cache.k_buf.data<double>());  // a view, not a copy

  // Two copies at length 4 each take a different step 5: neither overwrites the other.
  nn::KVCache a;
  for (int64_t t = 0; t < 4; ++t) a.append(slice(cache.k, 2, t, t + 1), slice(cache.v, 2, t, t + 1));
  nn::KVCache b = a;
  const Tensor ka = Tensor::full(Shape{B, 2, 1, 4}, 1.0, DType::f64), kb = Tensor::full(Shape{B, 2, 1, 4}, 2.0, DType::f64);
  a.append(ka, ka);
  b.append(kb, kb);
  EXPECT_TRUE(all_close(slice(a.k, 2, 4, 5), ka, 0.0));
  EXPECT_TRUE(all_close(slice(b.k, 2, 4, 5), kb, 0.0));
  EXPECT_TRUE(all_close(slice(a.k, 2, 0, 4), slice(cache.k, 2, 0, 4), 0.0));
  EXPECT_TRUE(all_close(slice(b.k, 2, 0, 4), slice(cache.k, 2, 0, 4), 0.0));

  // select: rows reordered and repeated, positions kept, room to grow kept.
  const nn::KVCache s = cache.select({2, 0, 0});
  ASSERT_EQ(s.k.shape(), Shape({3, 2, T, 4}));
  EXPECT_EQ(s.k_buf.size(2), cache.k_buf.size(2));
  EXPECT_TRUE(all_close(slice(s.k, 0, 0, 1), slice(cache.k, 0, 2, 3), 0.0));
  EXPECT_TRUE(all_close(slice(s.v, 0, 2, 3), slice(cache.v, 0, 0, 1), 0.0));
  test::expect_error([&] { cache.select({3}); }, {"[KVCache::select]", "row 3", "3 rows"});
}

// A stack of two layers' caches in one buffer: each layer's steps equal its own KVCache's, appends
// write into the stack's buffer, select gathers every layer's rows at once (positions and room
// kept), shares the buffer when the rows keep their order, and two states sharing a buffer that
// then diverge do not see each other's steps.
TEST(SemanticsMultiheadAttention, KVCacheStackHoldsEveryLayerInOneBuffer) {
  Rng rng(31);
  nn::MultiheadAttention m0({.embed_dim = 8, .num_heads = 2, .dtype = DType::f64}, rng),
      m1({.embed_dim = 8, .num_heads = 2, .dtype = DType::f64}, rng);
  randomize(m0, rng);
  randomize(m1, rng);
  const int64_t B = 3, T = 6;
  const Tensor x = test::randn64({B, T, 8}, rng);
  NoGrad no_grad;
  nn::KVCacheStack stack(2, 2, 4, DType::f64);
  nn::KVCache own0, own1;
  for (int64_t t = 0; t < T; ++t) {
    const Tensor xt = slice(x, 1, t, t + 1);
    stack.reserve(B, t + 1);
    const Tensor a0 = m0.forward(xt, xt, xt, {.causal = true}, {.cache = &stack[0]}).output;
    const Tensor a1 = m1.forward(a0, a0, a0, {.causal = true}, {.cache = &stack[1]}).output;
    const Tensor b0 = m0.forward(xt, xt, xt, {.causal = true}, {.cache = &own0}).output;
    const Tensor b1 = m1.forward(b0, b0, b0, {.causal = true}, {.cache = &own1}).output;
    EXPECT_TRUE(all_close(a1, b1, 0.0)) << "step " << t;
  }
  EXPECT_EQ(stack.length(), T);
  EXPECT_TRUE(all_close(stack[1].k, own1.k, 0.0));
  EXPECT_TRUE(all_close(stack[0].v, own0.v, 0.0));

  // One gather: rows reordered and repeated, in every layer.
  const nn::KVCacheStack s = stack.select({2, 0, 0});
  ASSERT_EQ(s.rows(), 3);
  for (int64_t l = 0; l < 2; ++l) {
    const nn::KVCache& src = l == 0 ? own0 : own1;
    nn::KVCacheStack& mutable_s = const_cast<nn::KVCacheStack&>(s);
    EXPECT_TRUE(all_close(slice(mutable_s[l].k, 0, 0, 1), slice(src.k, 0, 2, 3), 0.0)) << "layer " << l;
    EXPECT_TRUE(all_close(slice(mutable_s[l].v, 0, 1, 3), concat({slice(src.v, 0, 0, 1), slice(src.v, 0, 0, 1)}, 0), 0.0));
  }
  // The same order: no copy (the layer views point into the same buffer).
  nn::KVCacheStack same = stack.select({0, 1, 2});
  EXPECT_EQ(same[0].k.data<double>(), stack[0].k.data<double>());
  EXPECT_EQ(same[1].v.data<double>(), stack[1].v.data<double>());
  // Both take a different next step: the second to append gets its own buffer.
  const Tensor ka = Tensor::full(Shape{B, 2, 1, 4}, 1.0, DType::f64), kb = Tensor::full(Shape{B, 2, 1, 4}, 2.0, DType::f64);
  stack.reserve(B, T + 1);
  stack[0].append(ka, ka);
  stack[1].append(ka, ka);
  same.reserve(B, T + 1);
  same[0].append(kb, kb);
  same[1].append(kb, kb);
  EXPECT_TRUE(all_close(slice(stack[1].k, 2, T, T + 1), ka, 0.0));
  EXPECT_TRUE(all_close(slice(same[1].k, 2, T, T + 1), kb, 0.0));
  EXPECT_TRUE(all_close(slice(same[0].k, 2, 0, T), own0.k, 0.0));
  test::expect_error([&] { stack.select({3}); }, {"[KVCacheStack::select]", "row 3", "3 rows"});
}

TEST(SemanticsMultiheadAttention, PerHeadWeightsAverageToTheAveragedWeights) {
  Rng rng(24);
  nn::MultiheadAttention m({.embed_dim = 8, .num_heads = 4, .dtype = DType::f64}, rng);
  const Tensor q = test::randn64({2, 3, 8}, rng), kv = test::randn64({2, 5, 8}, rng);
  const Tensor per_head = m.forward(q, kv, kv, {}, {.need_weights = true, .average_attn_weights = false}).weights;
  const Tensor averaged = m.forward(q, kv, kv, {}, {.need_weights = true}).weights;
  EXPECT_EQ(per_head.shape(), Shape({2, 4, 3, 5}));
  EXPECT_EQ(averaged.shape(), Shape({2, 3, 5}));
  EXPECT_TRUE(all_close(mean(per_head, {1}), averaged, 1e-15));
  EXPECT_TRUE(all_close(sum(averaged, {-1}), Tensor::ones({2, 3}, DType::f64), 1e-14));
  EXPECT_FALSE(m.forward(q, kv, kv).weights.defined());  // not requested, not computed
}

TEST(SemanticsMultiheadAttention, DropoutActsOnWeightsOnlyInTrainingAndReproduces) {
  Rng rng(25);
  nn::MultiheadAttention m({.embed_dim = 8, .num_heads = 2, .dropout = 0.5, .dtype = DType::f64}, rng);
  randomize(m, rng);
  const Tensor x = test::randn64({2, 4, 8}, rng);
  m.eval();
  const Tensor plain = m.forward(x, x, x).output;
  m.train();
  m.dropout_rng().set_state(99, 0);
  const Tensor dropped = m.forward(x, x, x).output;
  EXPECT_GT(test::max_abs_diff(dropped, plain), 1e-3);  // dropout changed the context
  m.dropout_rng().set_state(99, 0);
  EXPECT_EQ(test::max_abs_diff(m.forward(x, x, x).output, dropped), 0.0);  // same stream, same mask
}

// ---- errors ----

using test::error_of;

TEST(BadInputMultiheadAttention, HeadCountsMustDivide) {
  Rng rng(26);
  EXPECT_EQ(error_of([&] { nn::MultiheadAttention m({.embed_dim = 10, .num_heads = 3}, rng); }),
            "[MultiheadAttention] embed_dim 10 is not divisible by num_heads 3");
  EXPECT_EQ(error_of([&] { nn::MultiheadAttention m({.embed_dim = 12, .num_heads = 4, .num_kv_heads = 3}, rng); }),
            "[MultiheadAttention] num_heads 4 is not divisible by num_kv_heads 3");
}

TEST(BadInputMultiheadAttention, InputsAndMasksNameTheirShapes) {
  Rng rng(27);
  nn::MultiheadAttention m({.embed_dim = 8, .num_heads = 2, .kdim = 6}, rng);
  const Tensor q = test::randn32({2, 3, 8}, rng), k = test::randn32({2, 5, 6}, rng), v = test::randn32({2, 5, 8}, rng);
  EXPECT_EQ(error_of([&] { m.forward(test::randn32({2, 3, 7}, rng), k, v); }),
            "[MultiheadAttention] query [2, 3, 7] must be [B, Tq, 8] (embed_dim 8)");
  EXPECT_EQ(error_of([&] { m.forward(q, v, v); }), "[MultiheadAttention] key [2, 5, 8] must be [B, Tk, 6] (kdim 6)");
  EXPECT_EQ(error_of([&] { m.forward(q, k, test::randn32({2, 4, 8}, rng)); }),
            "[MultiheadAttention] query [2, 3, 8], key [2, 5, 6] and value [2, 4, 8] must share B, and key and "
            "value Tk");
  EXPECT_EQ(error_of([&] { m.forward(q, k, v, {.key_padding = Tensor::ones({2, 4})}); }),
            "[MultiheadAttention] key_padding [2, 4] must be [B, Tk] = [2, 5]");
  EXPECT_EQ(error_of([&] { m.forward(q, k, v, {.attn_mask = Tensor::ones({3, 4})}); }),
            "[MultiheadAttention] attn_mask [3, 4] does not broadcast to [B, H, Tq, Tk] = [2, 2, 3, 5]");
  EXPECT_EQ(error_of([&] { m.forward(q, k, v, {.key_lengths = {5, 5, 5}}); }),
            "[MultiheadAttention] key_lengths has 3 entries for batch 2");
  EXPECT_EQ(error_of([&] { m.forward(q.to(DType::f64), k, v); }),
            "[MultiheadAttention] query f64[2, 3, 8], key f32[2, 5, 6], value f32[2, 5, 8] must have the "
            "parameters' dtype f32");
}

TEST(BadInputMultiheadAttention, CacheMustFitTheBatchAndHeads) {
  Rng rng(28);
  nn::MultiheadAttention m({.embed_dim = 8, .num_heads = 2}, rng);
  nn::KVCache cache;
  const Tensor x = test::randn32({2, 1, 8}, rng);
  m.forward(x, x, x, {.causal = true}, {.cache = &cache});
  const Tensor other_batch = test::randn32({3, 1, 8}, rng);
  EXPECT_EQ(error_of([&] { m.forward(other_batch, other_batch, other_batch, {}, {.cache = &cache}); }),
            "[MultiheadAttention] cache k f32[2, 2, 1, 4] does not fit batch 3, 2 kv heads of size 4");
}

}  // namespace
}  // namespace attend
