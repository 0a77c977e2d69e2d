#include "reference/structured_reference.h"

#include <cmath>
#include <limits>
#include <vector>

namespace attend::ref {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<double> doubles(const Tensor& x) {
  return dispatch_dtype(x.dtype(), [&]<typename T>() {
    const std::vector<T> v = x.contiguous().to_vector<T>();
    return std::vector<double>(v.begin(), v.end());
  });
}

// Is `head` (head[c] = -1 for the root, else a node) a tree: every node reaches the root?
bool is_tree(const std::vector<int>& head) {
  const int m = static_cast<int>(head.size());
  for (int c = 0; c < m; ++c) {
    int x = c, steps = 0;
    while (x != -1 && steps <= m) x = head[x], ++steps;
    if (x != -1) return false;
  }
  return true;
}

// Does h dominate d (h is d or an ancestor of d)? Node -1 (the root) dominates everything.
bool dominates(const std::vector<int>& head, int h, int d) {
  for (int x = d; x != -1; x = head[x])
    if (x == h) return true;
  return h == -1;
}

// Projective: for every arc h -> c (the root at position -1, left of all), each node strictly
// between them is dominated by h.
bool is_projective(const std::vector<int>& head) {
  const int m = static_cast<int>(head.size());
  for (int c = 0; c < m; ++c) {
    const int h = head[c];
    for (int k = std::min(h, c) + 1; k < std::max(h, c); ++k)
      if (!dominates(head, h, k)) return false;
  }
  return true;
}

}  // namespace

Tensor segment_marginals(const Tensor& scores, const Tensor& pairwise) {
  const std::vector<double> s = doubles(scores), psi = doubles(pairwise);
  const int64_t n = scores.shape().at(-1), rows = scores.numel() / n;
  const int64_t P = pairwise.size(0), tq = scores.dim() >= 2 ? scores.shape().at(-2) : 1;
  std::vector<double> out(s.size(), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = s.data() + r * n;
    const double* ps = psi.data() + (P == 1 ? 0 : (r / tq) % P) * 4;
    std::vector<int64_t> keys;
    for (int64_t i = 0; i < n; ++i)
      if (row[i] != -kInf) keys.push_back(i);
    const size_t m = keys.size();
    if (m == 0) continue;
    double z = 0;
    std::vector<double> acc(m, 0.0);
    for (uint64_t bits = 0; bits < (uint64_t{1} << m); ++bits) {
      double score = 0;
      for (size_t j = 0; j < m; ++j) {
        const int zj = (bits >> j) & 1;
        if (zj) score += row[keys[j]];
        if (j > 0) score += ps[2 * ((bits >> (j - 1)) & 1) + zj];
      }
      const double w = std::exp(score);
      z += w;
      for (size_t j = 0; j < m; ++j)
        if ((bits >> j) & 1) acc[j] += w;
    }
    for (size_t j = 0; j < m; ++j) out[r * n + keys[j]] = acc[j] / z;
  }
  return Tensor::from_vector(out, scores.shape(), DType::f64);
}

Tensor tree_marginals(const Tensor& scores, const attention::TreeOptions& opt) {
  const std::vector<double> s = doubles(scores);
  const int64_t T = scores.shape().at(-1), mats = scores.numel() / (T * T);
  std::vector<double> out(s.size(), 0.0);
  for (int64_t b = 0; b < mats; ++b) {
    const double* S = s.data() + b * T * T;
    std::vector<int> nodes;
    for (int q = 0; q < T; ++q)
      for (int k = 0; k < T; ++k)
        if (S[q * T + k] != -kInf) {
          nodes.push_back(q);
          break;
        }
    const int m = static_cast<int>(nodes.size());
    if (m == 0) continue;
    // head[c] in {-1 (root), 0..m-1}: count through every assignment in base m + 1.
    std::vector<int> head(m, -1);
    double z = 0;
    std::vector<double> acc(static_cast<size_t>(T * T), 0.0);
    while (true) {
      bool valid = is_tree(head) && (!opt.projective || is_projective(head));
      int roots = 0;
      for (int c = 0; c < m; ++c) roots += head[c] == -1;
      if (opt.single_root && roots != 1) valid = false;
      double score = 0;
      for (int c = 0; c < m && valid; ++c) {
        const int h = head[c] == -1 ? c : head[c];
        if (h == c && head[c] != -1) valid = false;  // no self-arcs
        score += S[nodes[c] * T + nodes[h]];
      }
      if (valid && score != -kInf) {
        const double w = std::exp(score);
        z += w;
        for (int c = 0; c < m; ++c) acc[nodes[c] * T + nodes[head[c] == -1 ? c : head[c]]] += w;
      }
      int c = 0;  // next assignment
      while (c < m && head[c] == m - 1) head[c++] = -1;
      if (c == m) break;
      ++head[c];
    }
    if (z == 0) continue;
    for (int64_t i = 0; i < T * T; ++i) out[b * T * T + i] = acc[i] / z;
  }
  return Tensor::from_vector(out, scores.shape(), DType::f64);
}

}  // namespace attend::ref
