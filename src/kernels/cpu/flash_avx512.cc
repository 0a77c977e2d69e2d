// AVX-512 (F, BW, DQ, VL) instance of the fused-attention kernel: 16 f32 lanes, 32 registers,
// 6 x 4 register blocks (24 accumulators), exp2 through vscalefps.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <limits>

// GCC 12 reports its own _mm512_undefined_ps() placeholders inside the masked intrinsics as
// "may be used uninitialized" (a false positive of the intrinsics headers).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define ATTEND_FLASH_NS cpu_avx512

namespace attend::kernels::cpu_avx512 {

struct Isa {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr int kAcc = 24;
  static constexpr int kMaxNV = 4;

  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float f) { return _mm512_set1_ps(f); }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static __mmask16 first(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static V load_part(const float* p, int n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_part(float* p, V v, int n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static float hsum(V a) { return _mm512_reduce_add_ps(a); }
  static float hmax(V a) { return _mm512_reduce_max_ps(a); }
  // One lane of fma(), rounded exactly as the vector version.
  static float fma1(float a, float b, float c) { return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c))); }
  static V iota() { return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static V select_in(V x, V j, V lo, V hi, V fill) {
    const __mmask16 k = _mm512_cmp_ps_mask(j, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(j, hi, _CMP_LE_OQ);
    return _mm512_mask_blend_ps(k, fill, x);
  }
  static V eq_neg_inf(V m, V fill) {
    const __mmask16 k = _mm512_cmp_ps_mask(m, set1(-std::numeric_limits<float>::infinity()), _CMP_EQ_OQ);
    return _mm512_mask_blend_ps(k, m, fill);
  }
  // Philox4x32-10 at counters c .. c + 15 (key seed): out[4 l + w] = word w of counter c + l as a
  // dropout uniform (core/rng.h, philox_uniform), 64 floats.
  static void mul_hi_lo(__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
    const __m512i even = _mm512_mul_epu32(a, m);
    const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
    lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  }
  static void philox_block(uint64_t seed, uint64_t c, float* out) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u));
    const __m512i m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
    const __m512i lo_base = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(c)));
    const __m512i hi_base = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(c >> 32)));
    __m512i c0 = _mm512_add_epi32(lo_base, lane);
    const __mmask16 carry = _mm512_cmplt_epu32_mask(c0, lo_base);
    __m512i c1 = _mm512_mask_add_epi32(hi_base, carry, hi_base, _mm512_set1_epi32(1));
    __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int r = 0; r < 10; ++r) {
      __m512i hi0, lo0, hi1, lo1;
      mul_hi_lo(c0, m0, hi0, lo0);
      mul_hi_lo(c2, m1, hi1, lo1);
      const __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int>(k0)));
      const __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int>(k1)));
      c0 = n0;
      c1 = lo1;
      c2 = n2;
      c3 = lo0;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const V s = set1(1.0f / 16777216.0f);
    const auto unit = [&](__m512i w) { return _mm512_castps_si512(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w, 8)), s)); };
    const __m512i w0 = unit(c0), w1 = unit(c1), w2 = unit(c2), w3 = unit(c3);
    // (w0, w1) and (w2, w3) interleaved by lane, then pairs of pairs: counter l's 4 words together.
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i p01l = _mm512_permutex2var_epi32(w0, lo, w1), p01h = _mm512_permutex2var_epi32(w0, hi, w1);
    const __m512i p23l = _mm512_permutex2var_epi32(w2, lo, w3), p23h = _mm512_permutex2var_epi32(w2, hi, w3);
    const __m512i q0 = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    const __m512i q1 = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
    _mm512_storeu_si512(out, _mm512_permutex2var_epi32(p01l, q0, p23l));
    _mm512_storeu_si512(out + 16, _mm512_permutex2var_epi32(p01l, q1, p23l));
    _mm512_storeu_si512(out + 32, _mm512_permutex2var_epi32(p01h, q0, p23h));
    _mm512_storeu_si512(out + 48, _mm512_permutex2var_epi32(p01h, q1, p23h));
  }
  // Bits of u[e] >= p for e < 16: bit e % 8 of out[e / 8] (the mask register's bit order).
  static void ge_bits16(const float* u, float p, uint8_t* out) {
    const __mmask16 k = _mm512_cmp_ps_mask(loadu(u), set1(p), _CMP_GE_OQ);
    std::memcpy(out, &k, 2);
  }
  // y[e] = x[e] * (bit e of keep ? scale : 0) for e < 16 (a NaN stays NaN, as x * 0 does).
  static void apply16(const uint8_t* keep, float scale, const float* x, float* y) {
    __mmask16 k;
    std::memcpy(&k, keep, 2);
    storeu(y, _mm512_mul_ps(loadu(x), _mm512_maskz_mov_ps(k, set1(scale))));
  }
  // 2^x = 2^n * 2^f, n = round(x), f in [-1/2, 1/2]; 2^f by the Cephes exp2f polynomial (about
  // 1 ulp). Lanes with x < -126 (including -inf and NaN) give exactly 0.
  static V exp2(V x) {
    const __mmask16 k = _mm512_cmp_ps_mask(x, set1(-126.0f), _CMP_GE_OQ);
    x = _mm512_min_ps(x, set1(128.0f));
    const V n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const V f = _mm512_sub_ps(x, n);
    V p = set1(1.535336188319500e-4f);
    p = fma(p, f, set1(1.339887440266574e-3f));
    p = fma(p, f, set1(9.618437357674640e-3f));
    p = fma(p, f, set1(5.550332471162809e-2f));
    p = fma(p, f, set1(2.402264791363012e-1f));
    p = fma(p, f, set1(6.931472028550421e-1f));
    p = fma(p, f, set1(1.0f));
    return _mm512_maskz_scalef_ps(k, p, n);
  }
};

}  // namespace attend::kernels::cpu_avx512

#include "flash_impl.h"
