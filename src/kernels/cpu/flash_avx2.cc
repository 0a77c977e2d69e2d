// AVX2 + FMA instance of the fused-attention kernel: 8 f32 lanes, 16 registers, 6 x 2 register
// blocks (12 accumulators), exp2 by building 2^n in the exponent bits.
#include <immintrin.h>

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
