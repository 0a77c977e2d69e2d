// Benchmark of the fused attention kernel (attend::kernels::flash_attention_*).
//
// 1. Checks forward and backward against the float64 reference on small shapes (exits 1 if off).
// 2. Measures this machine's SGEMM ceiling (kernels::gemm, oneDNN) per thread count, same run.
// 3. Times forward and forward+backward for B in {1, 4}, H = 8, D = 64, N = Tq = Tk, causal and
//    not, per thread count: median ms, GFLOP/s (forward = 4 B H Tq Tk D, halved when causal;
//    forward+backward = 3.5 x forward), fraction of the SGEMM ceiling, and the workspace the
//    kernel allocated (peak over forward and backward).
//
//   flash_attention_bench [--quick] [--max-n N] [--max-n-b4 N] [--threads 1,2] [--batch 1,4]
//                         [--causal 0,1] [--csv] [--cpu-time]
// --quick: N <= 2048 and a 2048^3 SGEMM (under a minute). --csv: machine-readable rows (for
// bench/compare_torch.py) instead of the table. --cpu-time: time by process CPU seconds instead of
// wall seconds (for 1 thread on a machine shared with other jobs: time-slicing then does not
// count; with n threads it measures total CPU cost, not speed).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../tests/reference/flash_reference.h"
#include "attend/core/rng.h"
#include "attend/core/threads.h"
#include "attend/kernels/flash_attention.h"
#include "attend/kernels/gemm.h"

namespace {

using attend::kernels::CausalMode;
using attend::kernels::FlashBackwardParams;
using attend::kernels::FlashParams;
using attend::kernels::FlashStats;
using Clock = std::chrono::steady_clock;

struct Options {
  bool quick = false, csv = false, cpu_time = false;
  int64_t max_n = 16384, max_n_b4 = 4096;
  std::vector<int> threads{1, 2};
  std::vector<int64_t> batches{1, 4};
  std::vector<int> causal{0, 1};
};

std::vector<int64_t> parse_list(const char* s) {
  std::vector<int64_t> out;
  for (const char* p = s; *p;) {
    char* end = nullptr;
    out.push_back(std::strtoll(p, &end, 10));
    p = *end == ',' ? end + 1 : end;
    if (end == p && *p) break;
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value after %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--quick") {
      o.quick = true;
      o.max_n = std::min<int64_t>(o.max_n, 2048);
      o.max_n_b4 = std::min<int64_t>(o.max_n_b4, 1024);
    } else if (a == "--cpu-time") {
      o.cpu_time = true;
    } else if (a == "--csv") {
      o.csv = true;
    } else if (a == "--max-n") {
      o.max_n = std::atoll(next());
    } else if (a == "--max-n-b4") {
      o.max_n_b4 = std::atoll(next());
    } else if (a == "--threads") {
      o.threads.clear();
      for (int64_t t : parse_list(next())) o.threads.push_back(static_cast<int>(t));
    } else if (a == "--batch") {
      o.batches = parse_list(next());
    } else if (a == "--causal") {
      o.causal.clear();
      for (int64_t c : parse_list(next())) o.causal.push_back(static_cast<int>(c));
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      std::exit(2);
    }
  }
  return o;
}

std::vector<float> normals(uint64_t seed, int64_t n) {
  attend::Rng rng(seed);
  const uint64_t base = rng.advance(static_cast<uint64_t>(n));
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = static_cast<float>(rng.normal_at(base, i));
  return x;
}

struct Problem {
  int64_t B, H, T, D;
  CausalMode causal;
  std::vector<float> q, k, v, o, lse, g, dq, dk, dv;
  FlashStats fstats, bstats;
  Problem(int64_t b, int64_t h, int64_t t, int64_t d, bool c)
      : B(b), H(h), T(t), D(d), causal(c ? CausalMode::BottomRight : CausalMode::None) {
    const int64_t n = B * H * T * D;
    q = normals(1, n), k = normals(2, n), v = normals(3, n), g = normals(4, n);
    o.resize(static_cast<size_t>(n)), dq.resize(static_cast<size_t>(n)), dk.resize(static_cast<size_t>(n));
    dv.resize(static_cast<size_t>(n)), lse.resize(static_cast<size_t>(B * H * T));
  }
  FlashParams params() {
    using attend::kernels::flash_contiguous;
    FlashParams p{.B = B, .H = H, .Hkv = H, .Tq = T, .Tk = T, .D = D};
    p.q = flash_contiguous<const float>(q.data(), H, T, D);
    p.k = flash_contiguous<const float>(k.data(), H, T, D);
    p.v = flash_contiguous<const float>(v.data(), H, T, D);
    p.o = flash_contiguous(o.data(), H, T, D);
    p.lse = lse.data();
    p.mask.causal = causal;
    p.stats = &fstats;
    return p;
  }
  void forward() { attend::kernels::flash_attention_forward(params()); }
  void backward() {
    using attend::kernels::flash_contiguous;
    FlashBackwardParams bp{.fwd = params(),
                           .dout = flash_contiguous<const float>(g.data(), H, T, D),
                           .dq = flash_contiguous(dq.data(), H, T, D),
                           .dk = flash_contiguous(dk.data(), H, T, D),
                           .dv = flash_contiguous(dv.data(), H, T, D)};
    bp.fwd.stats = &bstats;
    attend::kernels::flash_attention_backward(bp);
  }
};

double max_rel_err(const std::vector<float>& x, const std::vector<double>& ref) {
  double e = 0, m = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isinf(ref[i])) continue;
    e = std::max(e, std::fabs(static_cast<double>(x[i]) - ref[i]));
    m = std::max(m, std::fabs(ref[i]));
  }
  return e / std::max(m, 1e-30);
}

// Step 1: correctness before timing.
bool validate(bool csv) {
  bool ok = true;
  for (bool causal : {false, true}) {
    Problem p(1, 2, 131, 64, causal);
    p.forward();
    p.backward();
    const auto ref = attend::flash_ref::attention<double>(p.params(), p.g.data());
    const double errs[] = {max_rel_err(p.o, ref.o), max_rel_err(p.lse, ref.lse), max_rel_err(p.dq, ref.dq),
                           max_rel_err(p.dk, ref.dk), max_rel_err(p.dv, ref.dv)};
    const double worst = *std::max_element(std::begin(errs), std::end(errs));
    if (!csv)
      std::printf("check vs float64 reference (B=1 H=2 N=131 D=64 %s): max relative error %.2e %s\n",
                  causal ? "causal" : "full", worst, worst < 1e-4 ? "ok" : "FAILED");
    ok = ok && worst < 1e-4;
  }
  return ok;
}

bool g_cpu_time = false;

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

template <typename F>
double seconds(F&& f) {
  if (g_cpu_time) {
    const double t0 = process_cpu_seconds();
    f();
    return process_cpu_seconds() - t0;
  }
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Median of a few runs after one warm-up; long runs are repeated fewer times.
template <typename F>
double median_seconds(F&& f) {
  const double warm = seconds(f);
  const int reps = warm > 4.0 ? 1 : warm > 1.0 ? 3 : warm > 0.05 ? 5 : 11;
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) t.push_back(seconds(f));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double sgemm_ceiling(int64_t n) {
  std::vector<float> a = normals(5, n * n), b = normals(6, n * n), c(static_cast<size_t>(n * n));
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    const double s = seconds(
        [&] { attend::kernels::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); });
    best = std::max(best, 2.0 * static_cast<double>(n) * n * n / s * 1e-9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  g_cpu_time = opt.cpu_time;
  if (!opt.csv)
    std::printf("attend fused attention benchmark, ISA %s (%s), %s time\n", attend::kernels::flash_isa_name(),
                attend::kernels::flash_isa_reason().c_str(), opt.cpu_time ? "process CPU" : "wall-clock");
  if (!validate(opt.csv)) {
    std::fprintf(stderr, "fused attention disagrees with the float64 reference: not timing\n");
    return 1;
  }
  const int64_t gemm_n = opt.quick ? 2048 : 4096;
  std::vector<double> ceiling;
  for (int t : opt.threads) {
    attend::set_num_threads(t);
    ceiling.push_back(sgemm_ceiling(gemm_n));
    if (!opt.csv)
      std::printf("SGEMM ceiling (kernels::gemm %lld^3, best of 3), %d thread%s: %.1f GFLOP/s\n",
                  static_cast<long long>(gemm_n), t, t > 1 ? "s" : "", ceiling.back());
  }
  if (opt.csv) {
    std::printf("isa,%s\n", attend::kernels::flash_isa_name());
    std::printf("clock,%s\n", opt.cpu_time ? "cpu" : "wall");
    for (size_t ti = 0; ti < opt.threads.size(); ++ti) std::printf("sgemm,%d,%.2f\n", opt.threads[ti], ceiling[ti]);
    std::printf("row,B,H,N,D,causal,threads,fwd_ms,fwd_gflops,fwd_frac,fwdbwd_ms,fwdbwd_gflops,fwdbwd_frac,extra_mib\n");
  } else {
    std::printf("\n%2s %2s %6s %6s %3s | %9s %7s %6s | %9s %7s %6s | %9s\n", "B", "H", "N", "causal", "thr", "fwd ms",
                "GFLOP/s", "%SGEMM", "f+b ms", "GFLOP/s", "%SGEMM", "extra MiB");
  }
  const int64_t H = 8, D = 64;
  for (int64_t B : opt.batches)
    for (int64_t N = 128; N <= (B >= 4 ? opt.max_n_b4 : opt.max_n); N *= (N < 512 ? 4 : 2))
      for (int causal : opt.causal) {
        Problem p(B, H, N, D, causal != 0);
        for (size_t ti = 0; ti < opt.threads.size(); ++ti) {
          attend::set_num_threads(opt.threads[ti]);
          const double fwd = median_seconds([&] { p.forward(); });
          const double fb = median_seconds([&] {
            p.forward();
            p.backward();
          });
          const double flops = 4.0 * B * H * N * N * D * (causal ? 0.5 : 1.0);
          const double gf = flops / fwd * 1e-9, gfb = 3.5 * flops / fb * 1e-9;
          const double mib = static_cast<double>(std::max(p.fstats.workspace_bytes, p.bstats.workspace_bytes)) /
                             (1024.0 * 1024.0);
          if (opt.csv)
            std::printf("row,%lld,%lld,%lld,%lld,%d,%d,%.3f,%.1f,%.3f,%.3f,%.1f,%.3f,%.2f\n",
                        static_cast<long long>(B), static_cast<long long>(H), static_cast<long long>(N),
                        static_cast<long long>(D), causal, opt.threads[ti], fwd * 1e3, gf, gf / ceiling[ti], fb * 1e3,
                        gfb, gfb / ceiling[ti], mib);
          else
            std::printf("%2lld %2lld %6lld %6s %3d | %9.2f %7.1f %5.0f%% | %9.2f %7.1f %5.0f%% | %9.2f\n",
                        static_cast<long long>(B), static_cast<long long>(H), static_cast<long long>(N),
                        causal ? "yes" : "no", opt.threads[ti], fwd * 1e3, gf, 100.0 * gf / ceiling[ti], fb * 1e3,
                        gfb, 100.0 * gfb / ceiling[ti], mib);
          std::fflush(stdout);
        }
      }
  return 0;
}
