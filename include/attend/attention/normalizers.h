// Normalizers: turn a row of scores into a distribution over keys (the third step of the attention
// skeleton, DESIGN.md section 2). Each works along the last axis of x [..., Tk] and returns the
// same shape. Entries equal to -inf (masked keys) get weight exactly 0; a row that is entirely
// -inf (a fully masked query) gives all zeros and a zero gradient, never NaN.
//
// - softmax:   p_i = exp(z_i - m) / sum_j exp(z_j - m), m = max_j z_j (attend::softmax).
// - sparsemax: Martins & Astudillo 2016, "From Softmax to Sparsemax": the Euclidean projection
//              of z onto the simplex, p_i = max(z_i - tau, 0) with tau chosen so that sum p = 1
//              (exact, by sorting). Jacobian on the support S: dp/dz = I_S - 1_S 1_S^T / |S|.
// - entmax15:  Peters, Niculae & Martins 2019, "Sparse Sequence-to-Sequence Models": 1.5-entmax,
//              p_i = max(z_i / 2 - tau, 0)^2 with sum p = 1 (exact sort-based threshold).
//              Gradient: with s_i = sqrt(p_i), dz = s * g - s * (sum_j s_j g_j) / sum_j s_j.
// Numerical notes: computed in the input dtype; the threshold search runs on max-shifted values.
#pragma once

#include "attend/core/tensor.h"

namespace attend::attention {

enum class Normalizer { softmax, sparsemax, entmax15 };

const char* normalizer_name(Normalizer n);

// Dispatches to one of the functions below (last axis).
Tensor normalize(const Tensor& scores, Normalizer normalizer);

// softmax over the last axis; fully masked rows give zeros (and zero gradient).
Tensor masked_softmax(const Tensor& scores);
Tensor sparsemax(const Tensor& scores);
Tensor entmax15(const Tensor& scores);

// Per-row log-sum-exp over the last axis: x [..., Tk] -> [...]; -inf for a row of all -inf.
// Gradient: dL/dx_i = g * softmax(x)_i (zero on a fully masked row).
Tensor logsumexp(const Tensor& scores);

}  // namespace attend::attention
