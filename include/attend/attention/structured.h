// Structured attention (Kim, Denton, Hoang & Rush 2017, "Structured Attention Networks"): the
// normalizer is the marginal distribution of a graphical model whose potentials are the scores,
// so the weights respect a structure (contiguous segments, a tree) instead of competing freely.
//
// Segmentation attention (section 3.1, a linear-chain CRF): a binary latent z_i per key i says
// whether key i is selected,
//   log p(z) = sum_i z_i s_i + sum_{i>0} psi[z_{i-1}, z_i] - log Z
// over the unmasked keys taken in order (a masked key is left out of the chain: it has no z, and
// its neighbours are adjacent in it). The weight of key i is the marginal p(z_i = 1), computed by
// forward-backward in log space; the weights of a row do not sum to 1 (any number of keys may be
// selected), as in the paper. psi [P, 2, 2] is learned: P = 1 shares it, P = H gives each head its
// own (scores then [..., H, Tq, Tk], head axis -3).
//
// Syntactic attention (section 3.2): the arc marginals of a dependency tree over the T positions.
//   scores [..., T, T]: scores[q, k] is the log-potential of the arc head k -> modifier q (k != q),
//                       scores[q, q] that of root -> q.
//   weights [..., T, T]: weights[q, k] = P(the head of q is k), weights[q, q] = P(q is a root);
//                       every row sums to 1 (each position has one head).
// Non-projective trees by the matrix-tree theorem (Koo, Globerson, Carreras & Collins 2007), and
// projective trees by the inside-outside algorithm over Eisner's (1996) chart, each with one root
// or several. A position whose row is entirely -inf (a fully masked query) is not in the tree: its
// row and column get weight 0. A matrix that admits no tree at all (every root arc masked) gives
// zeros.
//
// Gradients: the marginals are the gradient of log Z, so the vector-Jacobian product g -> g^T dmu
// is the Hessian of log Z applied to g, which is symmetric: the backward runs the same algorithm
// in dual numbers (value + eps * tangent) with tangent g on the scores and reads the tangents of
// the marginals (and, for the CRF, of the pairwise marginals, the gradient of psi). Exact, in
// float64, whatever the dtype (the result is cast back).
//
// Layouts differ from torch-struct's (its potentials are [head, child], the transpose of scores
// here); tests/golden/attention_golden_structured.cc checks both against it.
#pragma once

#include <cstdint>

#include "attend/attention/normalizers.h"
#include "attend/core/tensor.h"

namespace attend::attention {

// scores [..., Tk], pairwise [P, 2, 2] (P = 1, or the size of axis -3 of scores) -> p(z_i = 1)
// [..., Tk]. Differentiable in both.
Tensor segment_marginals(const Tensor& scores, const Tensor& pairwise);

struct TreeOptions {
  bool projective = false;   // Eisner's projective trees (inside-outside) instead of all trees
  bool single_root = false;  // exactly one root (Koo et al.'s single-root Laplacian; Eisner's root rule)
};

// scores [..., T, T] -> arc marginals [..., T, T], laid out as the file comment says.
Tensor tree_marginals(const Tensor& scores, const TreeOptions& opt = {});

// Normalizer objects (normalizers.h), registered by name:
//   "crf-segment"        segment_marginals with its own psi [heads, 2, 2], zeros at first (the
//                        keys then independent: p(z_i = 1) = sigmoid(s_i)); psi is its parameter
//                        "pairwise", learned by whoever holds the normalizer.
//   "dependency-tree"    tree_marginals, non-projective, several roots allowed.
//   "projective-tree"    tree_marginals, projective, several roots allowed.
Normalizer crf_segment_normalizer(int64_t heads = 1, DType dtype = DType::f32);
Normalizer tree_normalizer(const TreeOptions& opt = {});

}  // namespace attend::attention
