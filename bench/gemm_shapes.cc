// The GEMMs of one training step of a decoder-only Transformer (the GPT of docs/models.md), timed
// shape by shape through kernels::gemm, against the square SGEMM of the same run: how much of a
// step is GEMM at best, and so how much of it any change outside the GEMMs can win.
//
// Per layer, with T tokens in the batch, C = d_model, F = ffn (row-major, y = x W^T as nn::Linear):
//   QKV [T, C] x [3C, C]^T, output [T, C] x [C, C]^T, FFN [T, C] x [F, C]^T and [T, F] x [C, F]^T,
//   each forward (y = x W^T), input gradient (dx = dy W) and weight gradient (dW = dy^T x);
// then the output layer and its loss as ops::linear_cross_entropy runs them: row chunks of
// R = 2^22 / V rows, logits [R, C] x [V, C]^T, dx = dl W, dW += dl^T x.
// Each shape: best of --repeats calls after one warm-up, warm caches, GFLOP/s = 2 M N K / s.
//
//   build/gemm_shapes [--tokens 4096] [--d-model 256] [--ffn 1024] [--vocab 8000] [--layers 4]
//                     [--threads 1] [--repeats 5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "attend/core/threads.h"
#include "attend/kernels/gemm.h"

namespace {

struct Shape {
  std::string name;
  bool ta, tb;
  int64_t M, N, K;
  float beta;
  int64_t count;  // times per step
};

double seconds_of(const Shape& s, int repeats) {
  std::vector<float> A(static_cast<size_t>(s.M * s.K), 0.01f), B(static_cast<size_t>(s.K * s.N), 0.02f),
      C(static_cast<size_t>(s.M * s.N), 0.0f);
  const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  const auto call = [&] {
    attend::kernels::gemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, s.beta, C.data(), s.N);
  };
  call();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

int64_t flag(int argc, char** argv, const std::string& name, int64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return std::atoll(argv[i + 1]);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::puts("gemm_shapes [--tokens 4096] [--d-model 256] [--ffn 1024] [--vocab 8000] [--layers 4] [--threads 1] "
                "[--repeats 5]");
      return 0;
    }
  const int64_t T = flag(argc, argv, "--tokens", 4096), C = flag(argc, argv, "--d-model", 256),
                F = flag(argc, argv, "--ffn", 1024), V = flag(argc, argv, "--vocab", 8000),
                L = flag(argc, argv, "--layers", 4);
  const int repeats = static_cast<int>(flag(argc, argv, "--repeats", 5));
  attend::set_num_threads(static_cast<int>(flag(argc, argv, "--threads", 1)));
  if (T < 1 || C < 1 || F < 1 || V < 1 || L < 0 || repeats < 1) {
    std::fprintf(stderr, "gemm_shapes: every size must be >= 1 (layers >= 0)\n");
    return 2;
  }
  std::vector<Shape> shapes;
  const auto linear = [&](const std::string& name, int64_t in, int64_t out) {  // y [T, out] = x [T, in] W^T
    shapes.push_back({name + " forward", false, true, T, out, in, 0.0f, L});
    shapes.push_back({name + " dx", false, false, T, in, out, 0.0f, L});
    shapes.push_back({name + " dW", true, false, out, in, T, 0.0f, L});
  };
  linear("qkv", C, 3 * C);
  linear("attn out", C, C);
  linear("ffn up", C, F);
  linear("ffn down", F, C);
  const int64_t R = std::min(T, std::clamp<int64_t>((int64_t{1} << 22) / V, 16, 2048));
  const int64_t chunks = (T + R - 1) / R;
  shapes.push_back({"logits", false, true, R, V, C, 0.0f, chunks});
  shapes.push_back({"logits dx", false, false, R, C, V, 0.0f, chunks});
  shapes.push_back({"logits dW", true, false, V, C, R, 1.0f, chunks});

  std::printf("GEMMs of one training step: %lld tokens, d_model %lld, ffn %lld, vocabulary %lld, %lld layers, "
              "%d thread(s)\n\n| GEMM | M | N | K | per step | GFLOP/s | ms per step |\n|---|---:|---:|---:|---:|---:|---:|\n",
              static_cast<long long>(T), static_cast<long long>(C), static_cast<long long>(F),
              static_cast<long long>(V), static_cast<long long>(L), attend::num_threads());
  double total_s = 0.0, total_flop = 0.0;
  for (const Shape& s : shapes) {
    const double flop = 2.0 * static_cast<double>(s.M) * static_cast<double>(s.N) * static_cast<double>(s.K);
    const double sec = seconds_of(s, repeats);
    total_s += sec * static_cast<double>(s.count);
    total_flop += flop * static_cast<double>(s.count);
    std::printf("| %s | %lld | %lld | %lld | %lld | %.1f | %.1f |\n", s.name.c_str(), static_cast<long long>(s.M),
                static_cast<long long>(s.N), static_cast<long long>(s.K), static_cast<long long>(s.count),
                flop / sec / 1e9, 1e3 * sec * static_cast<double>(s.count));
  }
  const Shape square{"square", false, false, 2048, 2048, 2048, 0.0f, 1};
  const double sq = 2.0 * 2048.0 * 2048.0 * 2048.0 / seconds_of(square, repeats) / 1e9;
  std::printf("\nall: %.1f GFLOP in %.1f ms, %.1f GFLOP/s; SGEMM 2048^3 in the same run: %.1f GFLOP/s\n",
              total_flop / 1e9, 1e3 * total_s, total_flop / total_s / 1e9, sq);
  return 0;
}
