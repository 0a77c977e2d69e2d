// AVX2 + FMA instance of the fused-attention kernel: 8 f32 lanes, 16 registers, 6 x 2 register
// blocks (12 accumulators), exp2 by building 2^n in the exponent bits.
#include <immintrin.h>

#include <cstdint>
#include <limits>

#define ATTEND_FLASH_NS cpu_avx2

namespace attend::kernels::cpu_avx2 {

struct Isa {
  using V = __m256;
  static constexpr int W = 8;
  static constexpr int kAcc = 12;
  static constexpr int kMaxNV = 2;

  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float f) { return _mm256_set1_ps(f); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load_part(const float* p, int n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_part(float* p, V v, int n) { _mm256_maskstore_ps(p, first(n), v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static float hsum(V a) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
  }
  static float hmax(V a) {
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_max_ss(x, _mm_movehdup_ps(x)));
  }
  // One lane of fma(), rounded exactly as the vector version.
  static float fma1(float a, float b, float c) { return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c))); }
  static V iota() { return _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7); }
  static V select_in(V x, V j, V lo, V hi, V fill) {
    const V k = _mm256_and_ps(_mm256_cmp_ps(j, lo, _CMP_GE_OQ), _mm256_cmp_ps(j, hi, _CMP_LE_OQ));
    return _mm256_blendv_ps(fill, x, k);
  }
  static V eq_neg_inf(V m, V fill) {
    const V k = _mm256_cmp_ps(m, set1(-std::numeric_limits<float>::infinity()), _CMP_EQ_OQ);
    return _mm256_blendv_ps(m, fill, k);
  }
  // Philox4x32-10 at counters c .. c + 7 (key seed): out[4 l + w] = word w of counter c + l as a
  // dropout uniform (core/rng.h, philox_uniform), 32 floats.
  static void mul_hi_lo(__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
    const __m256i even = _mm256_mul_epu32(a, m);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  }
  static void philox_block(uint64_t seed, uint64_t c, float* out) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
    const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
    const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
    const __m256i lo_base = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(c)));
    __m256i c0 = _mm256_add_epi32(lo_base, lane);
    // unsigned c0 < lo_base (a carry into the high word), via signed compare of biased values
    const __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(lo_base, sign), _mm256_xor_si256(c0, sign));
    __m256i c1 = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(c >> 32))), carry);
    __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int r = 0; r < 10; ++r) {
      __m256i hi0, lo0, hi1, lo1;
      mul_hi_lo(c0, m0, hi0, lo0);
      mul_hi_lo(c2, m1, hi1, lo1);
      const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
      const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
      c0 = n0;
      c1 = lo1;
      c2 = n2;
      c3 = lo0;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const V s = set1(1.0f / 16777216.0f);
    const auto unit = [&](__m256i w) { return _mm256_castps_si256(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w, 8)), s)); };
    const __m256i w0 = unit(c0), w1 = unit(c1), w2 = unit(c2), w3 = unit(c3);
    // A 4x4 transpose within each 128-bit half (counter l's words together: counters l and l + 4),
    // then the halves put in counter order.
    const __m256i t0 = _mm256_unpacklo_epi32(w0, w1), t1 = _mm256_unpackhi_epi32(w0, w1);
    const __m256i t2 = _mm256_unpacklo_epi32(w2, w3), t3 = _mm256_unpackhi_epi32(w2, w3);
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    auto* o = reinterpret_cast<__m256i*>(out);
    _mm256_storeu_si256(o, _mm256_permute2x128_si256(u0, u1, 0x20));
    _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
    _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
    _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
  }
  // Bits of u[e] >= p for e < 16: bit e % 8 of out[e / 8].
  static void ge_bits16(const float* u, float p, uint8_t* out) {
    out[0] = static_cast<uint8_t>(_mm256_movemask_ps(_mm256_cmp_ps(loadu(u), set1(p), _CMP_GE_OQ)));
    out[1] = static_cast<uint8_t>(_mm256_movemask_ps(_mm256_cmp_ps(loadu(u + 8), set1(p), _CMP_GE_OQ)));
  }
  // y[e] = x[e] * (bit e of keep ? scale : 0) for e < 16 (a NaN stays NaN, as x * 0 does).
  static void apply16(const uint8_t* keep, float scale, const float* x, float* y) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    for (int h = 0; h < 2; ++h) {
      const __m256i b = _mm256_and_si256(_mm256_set1_epi32(keep[h]), bit);
      const V s = _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(b, bit)), set1(scale));
      storeu(y + 8 * h, _mm256_mul_ps(loadu(x + 8 * h), s));
    }
  }
  // 2^x = 2^n * 2^f as in the AVX-512 instance; 2^n is assembled in the exponent field
  // (n clamped to [-126, 127]). Lanes with x < -126 (including -inf and NaN) give exactly 0.
  static V exp2(V x) {
    const V k = _mm256_cmp_ps(x, set1(-126.0f), _CMP_GE_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, set1(-126.0f)), set1(127.0f));
    const V n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const V f = _mm256_sub_ps(x, n);
    V p = set1(1.535336188319500e-4f);
    p = fma(p, f, set1(1.339887440266574e-3f));
    p = fma(p, f, set1(9.618437357674640e-3f));
    p = fma(p, f, set1(5.550332471162809e-2f));
    p = fma(p, f, set1(2.402264791363012e-1f));
    p = fma(p, f, set1(6.931472028550421e-1f));
    p = fma(p, f, set1(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), k);
  }
};

}  // namespace attend::kernels::cpu_avx2

#include "flash_impl.h"
