// Internal: float exp, tanh and erf for the elementwise ops and the per-instruction-set kernels
// (src/kernels/cpu: the same code compiled for AVX2 and AVX-512), written branch-free so that the
// compiler vectorizes the loops that call them (libm's expf/tanhf are opaque calls, one element at a time,
// and took a fifth of rnnsearch's training time). double keeps libm: the float64 paths are the
// references the tests trust.
//
// Accuracy over float inputs, measured against double libm (tests/unit/ops_fast_math.cc):
//   exp:  relative error <= 2e-7 on [-87.3, 88.3]; clamped outside (1.2e-38 and 2.4e38), NaN kept.
//   tanh: absolute error <= 6e-7, exactly x for |x| < 4e-4, +-1 beyond |x| = 7.905, NaN kept.
//   erf:  absolute error <= 5e-7 (worst near |x| = 3.6, where erf is 1 - 3e-7), +-1 beyond |x| = 4,
//         NaN kept. (libm's erff, one call per element, was a tenth of a GPT training step.)
// The lane selects below are written as ternaries on values (never && or ||) so that they stay
// branch-free; with -fno-trapping-math (CMakeLists.txt) GCC turns them into blends.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace attend::detail {

// exp(x) = 2^n e^r, n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two for exactness),
// e^r by Cephes' degree-7 polynomial.
inline float fast_exp(float x) {
  const float x0 = x;
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  x = x < -87.3365478515625f ? -87.3365478515625f : x;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to an integer
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  const float y = p * scale;
  return x0 != x0 ? x0 : y;
}

// tanh(x) as the [13/6] rational minimax approximation Eigen uses for float, on x clamped to
// [-7.905, 7.905] where it reaches +-1 in float.
inline float fast_tanh(float x) {
  constexpr float kClamp = 7.90531110763549805f;
  float c = x > kClamp ? kClamp : x;
  c = c < -kClamp ? -kClamp : c;
  const float c2 = c * c;
  float p = -2.76076847742355e-16f;
  p = p * c2 + 2.00018790482477e-13f;
  p = p * c2 + -8.60467152213735e-11f;
  p = p * c2 + 5.12229709037114e-08f;
  p = p * c2 + 1.48572235717979e-05f;
  p = p * c2 + 6.37261928875436e-04f;
  p = p * c2 + 4.89352455891786e-03f;
  p = p * c;
  float q = 1.19825839466702e-06f;
  q = q * c2 + 1.18534705686654e-04f;
  q = q * c2 + 2.26843463243900e-03f;
  q = q * c2 + 4.89352518554385e-03f;
  const float y = p / q;
  const bool keep = (std::fabs(x) < 0.0004f) | (x != x);
  return keep ? x : y;
}

// erf(x) as the [13/8] rational approximation Eigen uses for float, x P(x^2) / Q(x^2), on x
// clamped to [-4, 4].
inline float fast_erf(float x) {
  float c = x > 4.0f ? 4.0f : x;
  c = c < -4.0f ? -4.0f : c;
  const float c2 = c * c;
  float p = -2.72614225801306e-10f;
  p = p * c2 + 2.77068142495902e-08f;
  p = p * c2 + -2.10102402082508e-06f;
  p = p * c2 + -5.69250639462346e-05f;
  p = p * c2 + -7.34990630326855e-04f;
  p = p * c2 + -2.95459980854025e-03f;
  p = p * c2 + -1.60960333262415e-02f;
  p = p * c;
  float q = -1.45660718464996e-05f;
  q = q * c2 + -2.13374055278905e-04f;
  q = q * c2 + -1.68282697438203e-03f;
  q = q * c2 + -7.37332916720468e-03f;
  q = q * c2 + -1.42647390514189e-02f;
  const float y = p / q;
  return x != x ? x : y;
}

template <typename T>
inline T erf_of(T x) {
  if constexpr (sizeof(T) == sizeof(float)) return fast_erf(x);
  else return std::erf(x);
}

template <typename T>
inline T exp_of(T x) {
  if constexpr (sizeof(T) == sizeof(float)) return fast_exp(x);
  else return std::exp(x);
}

// exp(x) for the entries of a softmax row, x = score - row max <= 0: exactly 0 below -87.3 (so
// masked entries, -inf, get no weight at all), else exp_of.
template <typename T>
inline T softmax_exp(T x) {
  if constexpr (sizeof(T) == sizeof(float)) return x < -87.3365478515625f ? 0.0f : fast_exp(x);
  else return std::exp(x);
}

// sum_i x[i] in double, four independent partial sums so the adds pipeline.
template <typename T>
double sum_as_double(const T* x, int64_t n) {
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) s[k] += static_cast<double>(x[i + k]);
  for (; i < n; ++i) s[0] += static_cast<double>(x[i]);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

template <typename T>
inline T tanh_of(T x) {
  if constexpr (sizeof(T) == sizeof(float)) return fast_tanh(x);
  else return std::tanh(x);
}

}  // namespace attend::detail
