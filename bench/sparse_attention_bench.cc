// The fused sparse attention kernel (kernels/sparse_attention.h) against the composed path
// (scores, mask, sparsemax/entmax, weighted sum as separate ops) on the same Tensors:
// 1. Validates first: on a small case with padding and a causal band, the fused error against the
//    float64 composition must be at most twice the naive f32 composition's (outputs and
//    gradients); nothing is timed otherwise.
// 2. Measures this machine's SGEMM ceiling (kernels::gemm) per thread count, in the same run.
// 3. Times forward and forward+backward of both paths, B 1, H 8, D 64, per N and normalizer:
//    median ms, the ratio composed / fused, the mean support (keys with a weight > 0 per query),
//    GFLOP/s counted as dense attention (4 B H N^2 D forward, 2.5x that for forward+backward)
//    and its fraction of the ceiling. (Memory: the fused path holds 32 x N scores per thread; the
//    composed one materializes [B, H, N, N] scores, masked scores and weights.)
//
//   build/sparse_attention_bench [--n 512,1024,2048,4096] [--threads 1,2] [--quick]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "attend/attention/flash.h"
#include "attend/attention/scaled_dot.h"
#include "attend/core/threads.h"
#include "attend/kernels/gemm.h"
#include "attend/ops/ops.h"

using namespace attend;

namespace {

using Clock = std::chrono::steady_clock;

std::vector<int64_t> parse_list(const char* s) {
  std::vector<int64_t> out;
  for (const char* p = s; *p;) {
    out.push_back(std::strtoll(p, const_cast<char**>(&p), 10));
    if (*p == ',') ++p;
  }
  return out;
}

template <typename F>
double median_seconds(F&& f) {
  auto once = [&] {
    const auto t0 = Clock::now();
    f();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  const double warm = once();
  const int reps = warm > 4.0 ? 1 : warm > 1.0 ? 3 : 5;
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) t.push_back(once());
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double sgemm_ceiling(int64_t n) {
  Rng rng(5);
  const Tensor a = Tensor::randn({n, n}, rng), b = Tensor::randn({n, n}, rng);
  Tensor c = Tensor::empty({n, n});
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = Clock::now();
    kernels::gemm(false, false, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f, c.data<float>(), n);
    best = std::max(best, 2.0 * n * n * n / std::chrono::duration<double>(Clock::now() - t0).count() * 1e-9);
  }
  return best;
}

struct Grads {
  Tensor o, dq, dk, dv;
};

Grads run(bool fused, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& dout, DType dt,
          const attention::Mask& mask, const attention::Normalizer& n, bool backward) {
  Tensor qq = q.to(dt).clone().set_requires_grad(backward), kk = k.to(dt).clone().set_requires_grad(backward),
         vv = v.to(dt).clone().set_requires_grad(backward);
  const attention::SdpaOptions opt{.normalizer = n};
  attention::AttentionResult r = fused ? attention::scaled_dot_product_attention_fused(qq, kk, vv, mask, opt)
                                       : attention::scaled_dot_product_attention_composed(qq, kk, vv, mask, opt);
  if (!backward) return {r.context, {}, {}, {}};
  r.context.backward(dout.to(dt));
  return {r.context, qq.grad(), kk.grad(), vv.grad()};
}

double max_err(const Tensor& a, const Tensor& ref) {
  const auto x = a.to_vector<double>(), y = ref.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

bool validate(const std::vector<attention::Normalizer>& norms) {
  Rng rng(7);
  const int64_t B = 2, H = 2, T = 77, D = 64;
  const Tensor q = Tensor::randn({B, H, T, D}, rng), k = Tensor::randn({B, H, T, D}, rng),
               v = Tensor::randn({B, H, T, D}, rng), dout = Tensor::randn({B, H, T, D}, rng);
  const attention::Mask mask{.key_lengths = {77, 50}, .causal = true};
  bool ok = true;
  for (const auto& n : norms) {
    const Grads f = run(true, q, k, v, dout, DType::f32, mask, n, true);
    const Grads c = run(false, q, k, v, dout, DType::f32, mask, n, true);
    const Grads r = run(false, q, k, v, dout, DType::f64, mask, n, true);
    const std::pair<const char*, std::pair<const Tensor*, const Tensor*>> outs[] = {
        {"o", {&f.o, &c.o}}, {"dq", {&f.dq, &c.dq}}, {"dk", {&f.dk, &c.dk}}, {"dv", {&f.dv, &c.dv}}};
    const Tensor* refs[] = {&r.o, &r.dq, &r.dk, &r.dv};
    for (int i = 0; i < 4; ++i) {
      const double ef = max_err(*outs[i].second.first, *refs[i]), en = max_err(*outs[i].second.second, *refs[i]);
      const bool pass = ef <= 2.0 * en + 2e-6;
      ok = ok && pass;
      std::printf("check %-10s %-3s fused err %.2e, composed f32 err %.2e: %s\n", n.name().c_str(), outs[i].first, ef,
                  en, pass ? "ok" : "FAIL");
    }
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> ns{512, 1024, 2048, 4096}, threads{1, 2};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--n") && i + 1 < argc) ns = parse_list(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = parse_list(argv[++i]);
    else if (!std::strcmp(argv[i], "--quick")) ns = {512, 1024};
    else {
      std::fprintf(stderr, "usage: %s [--n 512,1024,...] [--threads 1,2] [--quick]\n", argv[0]);
      return 2;
    }
  }
  const std::vector<attention::Normalizer> norms{attention::Normalizer::sparsemax(), attention::Normalizer::entmax15(),
                                                 attention::Normalizer::entmax(1.25)};
  std::printf("attend fused sparse attention against the composed path\n");
  if (!validate(norms)) {
    std::fprintf(stderr, "the fused sparse kernel disagrees with the float64 reference: not timing\n");
    return 1;
  }
  const int64_t B = 1, H = 8, D = 64;
  for (const int64_t t : threads) {
    set_num_threads(static_cast<int>(t));
    const double ceiling = sgemm_ceiling(2048);
    std::printf("\nthreads %lld, SGEMM ceiling (kernels::gemm 2048^3, best of 3): %.1f GFLOP/s\n",
                static_cast<long long>(t), ceiling);
    std::printf("%-10s %5s %8s | %9s %9s %6s | %9s %9s %6s | %7s %7s\n", "normalizer", "N", "support", "fwd fused",
                "composed", "ratio", "f+b fused", "composed", "ratio", "GF/s", "ceil");
    for (const int64_t N : ns)
      for (const auto& n : norms) {
        Rng rng(11);
        const Tensor q = Tensor::randn({B, H, N, D}, rng), k = Tensor::randn({B, H, N, D}, rng),
                     v = Tensor::randn({B, H, N, D}, rng), dout = Tensor::randn({B, H, N, D}, rng);
        const attention::Mask none;
        // Mean support: keys with a weight > 0 per query row, from the fused weights.
        const auto w = attention::scaled_dot_product_attention_fused(q, k, v, none, {.normalizer = n, .need_weights = true})
                           .weights.to_vector<float>();
        double support = 0;
        for (const float x : w) support += x > 0.0f;
        support /= static_cast<double>(B * H * N);
        const double ff = median_seconds([&] { run(true, q, k, v, dout, DType::f32, none, n, false); });
        const double fb = median_seconds([&] { run(true, q, k, v, dout, DType::f32, none, n, true); });
        const double cf = median_seconds([&] { run(false, q, k, v, dout, DType::f32, none, n, false); });
        const double cb = median_seconds([&] { run(false, q, k, v, dout, DType::f32, none, n, true); });
        const double flops = 4.0 * B * H * N * N * D;
        std::printf("%-10s %5lld %8.1f | %7.1fms %7.1fms %5.2fx | %7.1fms %7.1fms %5.2fx | %7.1f %6.1f%%\n",
                    n.name().c_str(), static_cast<long long>(N), support, ff * 1e3, cf * 1e3, cf / ff, fb * 1e3,
                    cb * 1e3, cb / fb, flops / ff * 1e-9, 100.0 * flops / ff * 1e-9 / ceiling);
      }
  }
  return 0;
}
