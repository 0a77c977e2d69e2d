// Portable instance of the fused-attention kernel, the ground truth: plain C++ on 4-float
// "vectors" (the compiler maps them to SSE2), multiply and add rounded separately (no FMA).
#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>

#define ATTEND_FLASH_NS cpu_generic

namespace attend::kernels::cpu_generic {

struct Isa {
  static constexpr int W = 4;
  static constexpr int kAcc = 12;
  static constexpr int kMaxNV = 4;
  struct V {
    float x[W];
  };

  template <typename F>
  static V map(F f) {
    V r;
    for (int i = 0; i < W; ++i) r.x[i] = f(i);
    return r;
  }
  static V zero() { return set1(0.0f); }
  static V set1(float f) { return map([&](int) { return f; }); }
  static V loadu(const float* p) { return map([&](int i) { return p[i]; }); }
  static void storeu(float* p, V v) {
    for (int i = 0; i < W; ++i) p[i] = v.x[i];
  }
  static V load_part(const float* p, int n) { return map([&](int i) { return i < n ? p[i] : 0.0f; }); }
  static void store_part(float* p, V v, int n) {
    for (int i = 0; i < n; ++i) p[i] = v.x[i];
  }
  static V add(V a, V b) { return map([&](int i) { return a.x[i] + b.x[i]; }); }
  static V sub(V a, V b) { return map([&](int i) { return a.x[i] - b.x[i]; }); }
  static V mul(V a, V b) { return map([&](int i) { return a.x[i] * b.x[i]; }); }
  static V max(V a, V b) { return map([&](int i) { return a.x[i] > b.x[i] ? a.x[i] : b.x[i]; }); }
  static V fma(V a, V b, V c) { return map([&](int i) { return a.x[i] * b.x[i] + c.x[i]; }); }
  static float hsum(V a) { return (a.x[0] + a.x[1]) + (a.x[2] + a.x[3]); }
  static float hmax(V a) { return std::max(std::max(a.x[0], a.x[1]), std::max(a.x[2], a.x[3])); }
  // One lane of fma(), rounded exactly as the vector version.
  static float fma1(float a, float b, float c) { return a * b + c; }
  static V iota() { return map([](int i) { return static_cast<float>(i); }); }
  static V select_in(V x, V j, V lo, V hi, V fill) {
    return map([&](int i) { return (j.x[i] >= lo.x[i] && j.x[i] <= hi.x[i]) ? x.x[i] : fill.x[i]; });
  }
  static V eq_neg_inf(V m, V fill) {
    return map([&](int i) { return m.x[i] == -std::numeric_limits<float>::infinity() ? fill.x[i] : m.x[i]; });
  }
  // out[4 l + w] = word w of Philox4x32-10 at counter c + l, l < W, as a dropout uniform.
  static void philox_block(uint64_t seed, uint64_t c, float* out);
  // Bits of u[e] >= p for e < 16: bit e % 8 of out[e / 8].
  static void ge_bits16(const float* u, float p, uint8_t* out) {
    for (int h = 0; h < 2; ++h) {
      unsigned b = 0;
      for (int e = 0; e < 8; ++e) b |= static_cast<unsigned>(u[8 * h + e] >= p) << e;
      out[h] = static_cast<uint8_t>(b);
    }
  }
  // y[e] = x[e] * (bit e of keep ? scale : 0) for e < 16.
  static void apply16(const uint8_t* keep, float scale, const float* x, float* y) {
    for (int e = 0; e < 16; ++e) y[e] = x[e] * (((keep[e >> 3] >> (e & 7)) & 1) ? scale : 0.0f);
  }
  // 2^x = 2^n * 2^f, n = round-to-nearest-even(x) (by the 1.5 * 2^23 trick), f in [-1/2, 1/2], the
  // same Cephes polynomial as the SIMD instances. x < -126 (including -inf and NaN) gives 0.
  static float exp2_1(float x) {
    if (!(x >= -126.0f)) return 0.0f;
    x = x < 127.0f ? x : 127.0f;
    const float big = 12582912.0f;  // without -ffast-math (x + big) - big rounds x to an integer
    const float n = (x + big) - big;
    const float f = x - n;
    float p = 1.535336188319500e-4f;
    p = p * f + 1.339887440266574e-3f;
    p = p * f + 9.618437357674640e-3f;
    p = p * f + 5.550332471162809e-2f;
    p = p * f + 2.402264791363012e-1f;
    p = p * f + 6.931472028550421e-1f;
    p = p * f + 1.0f;
    const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
    return p * std::bit_cast<float>(bits);
  }
  static V exp2(V x) { return map([&](int i) { return exp2_1(x.x[i]); }); }
};

}  // namespace attend::kernels::cpu_generic

#include "attend/core/rng.h"
#include "flash_impl.h"

namespace attend::kernels::cpu_generic {

void Isa::philox_block(uint64_t seed, uint64_t c, float* out) {
  for (int l = 0; l < W; ++l) {
    const auto w = philox4x32(seed, c + static_cast<uint64_t>(l));
    for (int k = 0; k < 4; ++k) out[4 * l + k] = u32_to_unit_float(w[static_cast<size_t>(k)]);
  }
}

}  // namespace attend::kernels::cpu_generic
