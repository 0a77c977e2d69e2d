// Structured attention (Kim et al. 2017): linear-chain CRF segment marginals by forward-backward,
// dependency-tree arc marginals by the matrix-tree theorem (non-projective) and by inside-outside
// over Eisner's chart (projective). Every algorithm is written once over dual numbers: the forward
// pass runs it with zero tangents, the backward with the incoming gradient as the tangent of the
// scores (the Hessian of log Z is symmetric, so its product with g is the vector-Jacobian product
// of the marginals; see structured.h).
#include "attend/attention/structured.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/ops/ops.h"

namespace attend::attention {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// x + eps * t: forward-mode differentiation of one direction.
struct Dual {
  double v = 0, t = 0;
};
Dual operator+(Dual a, Dual b) { return {a.v + b.v, a.t + b.t}; }
Dual operator-(Dual a, Dual b) { return {a.v - b.v, a.t - b.t}; }
Dual operator*(Dual a, Dual b) { return {a.v * b.v, a.t * b.v + a.v * b.t}; }
Dual operator/(Dual a, Dual b) { return {a.v / b.v, (a.t * b.v - a.v * b.t) / (b.v * b.v)}; }
Dual& operator+=(Dual& a, Dual b) { return a = a + b; }
Dual& operator-=(Dual& a, Dual b) { return a = a - b; }
Dual dexp(Dual a) {
  const double e = std::exp(a.v);
  return {e, a.v == -kInf ? 0.0 : e * a.t};
}
const Dual kNegInfD{-kInf, 0.0};

// log sum_k exp(x_k) over the finite x_k; -inf (with zero tangent) when none is finite.
// Tangent: sum_k softmax(x)_k t_k.
Dual dlse(const Dual* x, size_t n) {
  double m = -kInf;
  for (size_t k = 0; k < n; ++k) m = std::max(m, x[k].v);
  if (m == -kInf) return kNegInfD;
  double s = 0, st = 0;
  for (size_t k = 0; k < n; ++k) {
    if (x[k].v == -kInf) continue;
    const double e = std::exp(x[k].v - m);
    s += e;
    st += e * x[k].t;
  }
  return {m + std::log(s), st / s};
}
Dual dlse2(Dual a, Dual b) {
  const Dual x[2] = {a, b};
  return dlse(x, 2);
}
// exp(x - c) for a term x of the log-sum-exp c: the share of x in c (0 when x is -inf).
Dual share(Dual x, Dual c) { return x.v == -kInf ? Dual{} : dexp(x - c); }

std::vector<double> as_doubles(const Tensor& x) {
  return dispatch_dtype(x.dtype(), [&]<typename T>() {
    const std::vector<T> v = x.contiguous().to_vector<T>();
    return std::vector<double>(v.begin(), v.end());
  });
}

// ---- Linear-chain CRF (segmentation) ------------------------------------------------------------

// One row of n keys: s the scores (-inf = masked), g the tangent of the scores, psi the row's 2x2
// pairwise potentials. Writes p(z_i = 1) into mu (values and tangents); adds the tangents of the
// summed pairwise marginals into dpsi[4] (a, b) -> 2a + b.
void segment_row(const double* s, const double* g, const double* psi, int64_t n, Dual* mu, double* dpsi) {
  std::vector<int64_t> keys;
  for (int64_t i = 0; i < n; ++i) {
    mu[i] = Dual{};
    if (s[i] != -kInf) keys.push_back(i);
  }
  const size_t m = keys.size();
  if (m == 0) return;
  auto unary = [&](size_t j, int z) { return z == 0 ? Dual{} : Dual{s[keys[j]], g ? g[keys[j]] : 0.0}; };
  const Dual P[2][2] = {{{psi[0], 0}, {psi[1], 0}}, {{psi[2], 0}, {psi[3], 0}}};
  // alpha_j(b) = log sum over z_0..z_{j-1} of the potentials up to z_j = b (its own unary included);
  // beta_j(a) = the same for z_{j+1}.. given z_j = a.
  std::vector<Dual> alpha(2 * m), beta(2 * m);
  alpha[0] = unary(0, 0), alpha[1] = unary(0, 1);
  for (size_t j = 1; j < m; ++j)
    for (int b = 0; b < 2; ++b)
      alpha[2 * j + b] = dlse2(alpha[2 * (j - 1)] + P[0][b], alpha[2 * (j - 1) + 1] + P[1][b]) + unary(j, b);
  beta[2 * (m - 1)] = beta[2 * (m - 1) + 1] = Dual{};
  for (size_t j = m - 1; j-- > 0;)
    for (int a = 0; a < 2; ++a)
      beta[2 * j + a] = dlse2(P[a][0] + unary(j + 1, 0) + beta[2 * (j + 1)],
                              P[a][1] + unary(j + 1, 1) + beta[2 * (j + 1) + 1]);
  const Dual log_z = dlse2(alpha[2 * (m - 1)], alpha[2 * (m - 1) + 1]);
  for (size_t j = 0; j < m; ++j) mu[keys[j]] = dexp(alpha[2 * j + 1] + beta[2 * j + 1] - log_z);
  if (dpsi == nullptr) return;
  // d log Z / d psi[a][b] = sum_j p(z_{j-1} = a, z_j = b).
  for (size_t j = 1; j < m; ++j)
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b)
        dpsi[2 * a + b] += dexp(alpha[2 * (j - 1) + a] + P[a][b] + unary(j, b) + beta[2 * j + b] - log_z).t;
}

// Runs segment_row over every row. g null: the forward (values). Otherwise the backward: returns
// the tangents (the gradient of the scores) and fills dpsi [P * 4].
std::vector<double> segment_all(const Tensor& scores, const std::vector<double>& s, const std::vector<double>& psi,
                                int64_t P, const double* g, std::vector<double>* dpsi) {
  const int64_t n = scores.shape().at(-1);
  const int64_t rows = n == 0 ? 0 : scores.numel() / n;
  const int64_t tq = scores.dim() >= 2 ? scores.shape().at(-2) : 1;
  std::vector<double> out(static_cast<size_t>(rows * n));
  std::vector<Dual> mu(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t head = P == 1 ? 0 : (r / tq) % P;
    segment_row(s.data() + r * n, g ? g + r * n : nullptr, psi.data() + head * 4, n, mu.data(),
                dpsi ? dpsi->data() + head * 4 : nullptr);
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(r * n + i)] = g ? mu[i].t : mu[i].v;
  }
  return out;
}

// ---- Dependency trees ---------------------------------------------------------------------------

// One tree over the positions `nodes` (indices into a T x T score matrix): theta(h, c) is the
// arc head h -> child c in compact indices, root(c) the root arc. Writes the marginals of arcs
// into arc[h * m + c] and of roots into rt[c]. Returns false if no tree exists (Z = 0).
struct TreeProblem {
  int64_t m = 0;
  std::vector<Dual> theta;  // [m * m], theta[h * m + c]; the diagonal unused
  std::vector<Dual> root;   // [m]
};

// Gauss-Jordan inverse with partial pivoting (on values); false when singular.
bool invert(std::vector<Dual>& a, int64_t n, std::vector<Dual>& inv) {
  inv.assign(static_cast<size_t>(n * n), Dual{});
  for (int64_t i = 0; i < n; ++i) inv[i * n + i] = Dual{1, 0};
  for (int64_t col = 0; col < n; ++col) {
    int64_t piv = col;
    for (int64_t r = col + 1; r < n; ++r)
      if (std::abs(a[r * n + col].v) > std::abs(a[piv * n + col].v)) piv = r;
    if (!(std::abs(a[piv * n + col].v) > 0) || !std::isfinite(a[piv * n + col].v)) return false;
    if (piv != col)
      for (int64_t k = 0; k < n; ++k) std::swap(a[col * n + k], a[piv * n + k]), std::swap(inv[col * n + k], inv[piv * n + k]);
    const Dual d = a[col * n + col];
    for (int64_t k = 0; k < n; ++k) a[col * n + k] = a[col * n + k] / d, inv[col * n + k] = inv[col * n + k] / d;
    for (int64_t r = 0; r < n; ++r) {
      if (r == col || (a[r * n + col].v == 0 && a[r * n + col].t == 0)) continue;
      const Dual f = a[r * n + col];
      for (int64_t k = 0; k < n; ++k) a[r * n + k] -= f * a[col * n + k], inv[r * n + k] -= f * inv[col * n + k];
    }
  }
  return true;
}

// Matrix-tree theorem. With W = exp(theta) (shifted by the largest finite score, which changes Z by
// a constant factor only), the Laplacian L[c][c] = sum_{h != c} W[h][c] (+ root(c) with several
// roots), L[h][c] = -W[h][c]; with one root, row 0 is replaced by the root weights. Z = det L and
// d log det L / d L[i][j] = Linv[j][i], so mu(h -> c) = W[h][c] (Linv[c][c] [row c kept] -
// Linv[c][h] [row h kept]) and mu(root -> c) = root(c) Linv[c][c] (several roots) or
// root(c) Linv[c][0] (one root).
bool matrix_tree(const TreeProblem& p, bool single_root, std::vector<Dual>& arc, std::vector<Dual>& rt) {
  const int64_t m = p.m;
  double shift = -kInf;
  for (int64_t h = 0; h < m; ++h) {
    shift = std::max(shift, p.root[h].v);
    for (int64_t c = 0; c < m; ++c)
      if (h != c) shift = std::max(shift, p.theta[h * m + c].v);
  }
  if (shift == -kInf) return false;
  const Dual sh{shift, 0};
  std::vector<Dual> W(static_cast<size_t>(m * m)), R(static_cast<size_t>(m)), L(static_cast<size_t>(m * m));
  for (int64_t h = 0; h < m; ++h) {
    R[h] = dexp(p.root[h] - sh);
    for (int64_t c = 0; c < m; ++c) W[h * m + c] = h == c ? Dual{} : dexp(p.theta[h * m + c] - sh);
  }
  for (int64_t c = 0; c < m; ++c) {
    Dual diag = single_root ? Dual{} : R[c];
    for (int64_t h = 0; h < m; ++h)
      if (h != c) diag += W[h * m + c], L[h * m + c] = Dual{} - W[h * m + c];
    L[c * m + c] = diag;
  }
  if (single_root)
    for (int64_t c = 0; c < m; ++c) L[c] = R[c];
  std::vector<Dual> inv;
  if (!invert(L, m, inv)) return false;
  const auto kept = [&](int64_t row) { return !single_root || row != 0; };
  for (int64_t h = 0; h < m; ++h)
    for (int64_t c = 0; c < m; ++c) {
      if (h == c) continue;
      Dual d{};
      if (kept(c)) d += inv[c * m + c];
      if (kept(h)) d -= inv[c * m + h];
      arc[h * m + c] = W[h * m + c] * d;
    }
  for (int64_t c = 0; c < m; ++c) rt[c] = R[c] * (single_root ? inv[c * m] : inv[c * m + c]);
  return true;
}

// Eisner's chart over nodes 0..m (0 the root, node i + 1 the compact position i), in log space:
//   IR[s][t] = theta(s -> t) + lse_{s<=r<t} CR[s][r] + CL[r+1][t]    (incomplete, head s)
//   IL[s][t] = theta(t -> s) + the same                             (incomplete, head t)
//   CR[s][t] = lse_{s<r<=t} IR[s][r] + CR[r][t]                     (complete, head s)
//   CL[s][t] = lse_{s<=r<t} CL[s][r] + IL[r][t]                     (complete, head t)
// CR[s][s] = CL[s][s] = 0. Several roots: log Z = CR[0][m]; one root: log Z = lse_r theta(0 -> r) +
// CL[1][r] + CR[r][m]. The marginal of an arc is d log Z / d theta, the adjoint of the incomplete
// span that adds it, found by running the recursions backwards (outside).
bool eisner(const TreeProblem& p, bool single_root, std::vector<Dual>& arc, std::vector<Dual>& rt) {
  const int64_t m = p.m, n = m + 1;
  auto th = [&](int64_t h, int64_t c) -> Dual {  // chart nodes
    if (c == 0) return kNegInfD;
    if (h == 0) return single_root ? kNegInfD : p.root[c - 1];
    return p.theta[(h - 1) * m + (c - 1)];
  };
  const auto at = [n](int64_t s, int64_t t) { return static_cast<size_t>(s * n + t); };
  std::vector<Dual> IR(n * n, kNegInfD), IL(n * n, kNegInfD), CR(n * n, kNegInfD), CL(n * n, kNegInfD);
  for (int64_t s = 0; s < n; ++s) CR[at(s, s)] = CL[at(s, s)] = Dual{};
  std::vector<Dual> terms(static_cast<size_t>(n));
  for (int64_t w = 1; w < n; ++w) {
    for (int64_t s = 0; s + w < n; ++s) {
      const int64_t t = s + w;
      for (int64_t r = s; r < t; ++r) terms[r - s] = CR[at(s, r)] + CL[at(r + 1, t)];
      const Dual inner = dlse(terms.data(), static_cast<size_t>(w));
      IR[at(s, t)] = th(s, t) + inner;
      IL[at(s, t)] = th(t, s) + inner;
    }
    for (int64_t s = 0; s + w < n; ++s) {
      const int64_t t = s + w;
      for (int64_t r = s + 1; r <= t; ++r) terms[r - s - 1] = IR[at(s, r)] + CR[at(r, t)];
      CR[at(s, t)] = dlse(terms.data(), static_cast<size_t>(w));
      for (int64_t r = s; r < t; ++r) terms[r - s] = CL[at(s, r)] + IL[at(r, t)];
      CL[at(s, t)] = dlse(terms.data(), static_cast<size_t>(w));
    }
  }
  // Outside: adjoints of every chart cell; an lse term x of cell c receives adj(c) exp(x - c).
  std::vector<Dual> aIR(n * n), aIL(n * n), aCR(n * n), aCL(n * n), aRoot(static_cast<size_t>(m));
  if (single_root) {
    std::vector<Dual> fin(static_cast<size_t>(m));
    for (int64_t r = 1; r < n; ++r) fin[r - 1] = p.root[r - 1] + CL[at(1, r)] + CR[at(r, m)];
    const Dual log_z = dlse(fin.data(), fin.size());
    if (log_z.v == -kInf) return false;
    for (int64_t r = 1; r < n; ++r) {
      const Dual q = share(fin[r - 1], log_z);
      aRoot[r - 1] = q, aCL[at(1, r)] += q, aCR[at(r, m)] += q;
    }
  } else {
    if (CR[at(0, m)].v == -kInf) return false;
    aCR[at(0, m)] = Dual{1, 0};
  }
  for (int64_t w = n - 1; w >= 1; --w) {
    for (int64_t s = 0; s + w < n; ++s) {
      const int64_t t = s + w;
      const Dual cr = CR[at(s, t)], cl = CL[at(s, t)];
      for (int64_t r = s + 1; r <= t && cr.v != -kInf; ++r) {
        const Dual q = aCR[at(s, t)] * share(IR[at(s, r)] + CR[at(r, t)], cr);
        aIR[at(s, r)] += q, aCR[at(r, t)] += q;
      }
      for (int64_t r = s; r < t && cl.v != -kInf; ++r) {
        const Dual q = aCL[at(s, t)] * share(CL[at(s, r)] + IL[at(r, t)], cl);
        aCL[at(s, r)] += q, aIL[at(r, t)] += q;
      }
    }
    for (int64_t s = 0; s + w < n; ++s) {
      const int64_t t = s + w;
      const Dual ir = IR[at(s, t)], il = IL[at(s, t)];
      // IR - theta = IL - theta' = the shared inner lse: both adjoints flow into its terms.
      const Dual inner = ir.v != -kInf ? ir - th(s, t) : il.v != -kInf ? il - th(t, s) : kNegInfD;
      if (inner.v == -kInf) continue;
      const Dual a_inner = (ir.v != -kInf ? aIR[at(s, t)] : Dual{}) + (il.v != -kInf ? aIL[at(s, t)] : Dual{});
      for (int64_t r = s; r < t; ++r) {
        const Dual q = a_inner * share(CR[at(s, r)] + CL[at(r + 1, t)], inner);
        aCR[at(s, r)] += q, aCL[at(r + 1, t)] += q;
      }
    }
  }
  for (int64_t h = 0; h < m; ++h) {
    rt[h] = single_root ? aRoot[h] : aIR[at(0, h + 1)];
    for (int64_t c = 0; c < m; ++c) {
      if (h == c) continue;
      // Arc (h + 1) -> (c + 1): IR when the head is on the left, IL when it is on the right.
      arc[h * m + c] = h < c ? aIR[at(h + 1, c + 1)] : aIL[at(c + 1, h + 1)];
    }
  }
  return true;
}

// Can every position be reached from the root through arcs that are not masked? If not, no tree
// exists (Z = 0), which the determinant would only show as a rounding-sized pivot.
bool spans_a_tree(const TreeProblem& p) {
  std::vector<char> seen(static_cast<size_t>(p.m), 0);
  std::vector<int64_t> frontier;  // reached, their children not yet visited (depth-first)
  for (int64_t c = 0; c < p.m; ++c)
    if (p.root[c].v != -kInf) seen[c] = 1, frontier.push_back(c);
  while (!frontier.empty()) {
    const int64_t h = frontier.back();
    frontier.pop_back();
    for (int64_t c = 0; c < p.m; ++c)
      if (!seen[c] && c != h && p.theta[h * p.m + c].v != -kInf) seen[c] = 1, frontier.push_back(c);
  }
  return std::all_of(seen.begin(), seen.end(), [](char x) { return x != 0; });
}

// Every T x T matrix of scores: values (g null) or the tangents along g.
std::vector<double> trees_all(const Tensor& scores, const std::vector<double>& s, const TreeOptions& opt,
                              const double* g) {
  const int64_t T = scores.shape().at(-1);
  const int64_t mats = T == 0 ? 0 : scores.numel() / (T * T);
  std::vector<double> out(s.size(), 0.0);
  for (int64_t b = 0; b < mats; ++b) {
    const double* S = s.data() + b * T * T;
    const double* G = g ? g + b * T * T : nullptr;
    std::vector<int64_t> nodes;  // positions with a row that is not fully masked
    for (int64_t q = 0; q < T; ++q)
      if (std::any_of(S + q * T, S + (q + 1) * T, [](double v) { return v != -kInf; })) nodes.push_back(q);
    TreeProblem p;
    p.m = static_cast<int64_t>(nodes.size());
    if (p.m == 0) continue;
    p.theta.assign(static_cast<size_t>(p.m * p.m), kNegInfD);
    p.root.assign(static_cast<size_t>(p.m), kNegInfD);
    const auto score = [&](int64_t q, int64_t k) {
      const double v = S[q * T + k];
      return v == -kInf ? kNegInfD : Dual{v, G ? G[q * T + k] : 0.0};
    };
    for (int64_t c = 0; c < p.m; ++c) {
      p.root[c] = score(nodes[c], nodes[c]);
      for (int64_t h = 0; h < p.m; ++h)
        if (h != c) p.theta[h * p.m + c] = score(nodes[c], nodes[h]);
    }
    if (!spans_a_tree(p)) continue;
    std::vector<Dual> arc(static_cast<size_t>(p.m * p.m)), rt(static_cast<size_t>(p.m));
    const bool ok = opt.projective ? eisner(p, opt.single_root, arc, rt) : matrix_tree(p, opt.single_root, arc, rt);
    if (!ok) continue;
    double* O = out.data() + b * T * T;
    for (int64_t c = 0; c < p.m; ++c) {
      O[nodes[c] * T + nodes[c]] = G ? rt[c].t : rt[c].v;
      for (int64_t h = 0; h < p.m; ++h)
        if (h != c) O[nodes[c] * T + nodes[h]] = G ? arc[h * p.m + c].t : arc[h * p.m + c].v;
    }
  }
  return out;
}

}  // namespace

Tensor segment_marginals(const Tensor& scores, const Tensor& pairwise) {
  ATTEND_CHECK(scores.defined() && scores.dim() >= 1, "crf-segment", "scores must have at least one axis, got ",
               scores.defined() ? scores.shape().str() : std::string("an undefined tensor"));
  ATTEND_CHECK(pairwise.defined() && pairwise.dim() == 3 && pairwise.size(1) == 2 && pairwise.size(2) == 2,
               "crf-segment", "pairwise potentials must be [P, 2, 2], got ",
               pairwise.defined() ? pairwise.shape().str() : std::string("an undefined tensor"));
  const int64_t P = pairwise.size(0);
  ATTEND_CHECK(P == 1 || (scores.dim() >= 3 && scores.shape().at(-3) == P), "crf-segment",
               "pairwise potentials for ", P, " heads need scores [..., ", P, ", Tq, Tk], got ", scores.shape().str());
  const std::vector<double> s = as_doubles(scores), psi = as_doubles(pairwise);
  for (double v : s)
    ATTEND_CHECK(!std::isnan(v) && v != kInf, "crf-segment", "scores ", scores.shape().str(),
                 " hold NaN or +inf");
  Tensor out = Tensor::from_vector(segment_all(scores, s, psi, P, nullptr, nullptr), scores.shape(), scores.dtype());
  const Tensor sc = scores.detach(), pw = pairwise.detach();
  autograd::record("crf_segment", {scores, pairwise}, out,
                   [sc, pw, s, psi, P](const std::vector<Tensor>& g) -> std::vector<Tensor> {
                     std::vector<double> gv = as_doubles(g[0]);
                     for (size_t i = 0; i < gv.size(); ++i)
                       if (s[i] == -kInf) gv[i] = 0;
                     std::vector<double> dpsi(psi.size(), 0.0);
                     const std::vector<double> ds = segment_all(sc, s, psi, P, gv.data(), &dpsi);
                     return {Tensor::from_vector(ds, sc.shape(), sc.dtype()), Tensor::from_vector(dpsi, pw.shape(), pw.dtype())};
                   });
  return out;
}

Tensor tree_marginals(const Tensor& scores, const TreeOptions& opt) {
  const char* op = opt.projective ? "projective-tree" : "dependency-tree";
  ATTEND_CHECK(scores.defined() && scores.dim() >= 2 && scores.shape().at(-1) == scores.shape().at(-2), op,
               "scores must be [..., T, T], got ", scores.defined() ? scores.shape().str() : std::string("undefined"));
  const std::vector<double> s = as_doubles(scores);
  for (double v : s) ATTEND_CHECK(!std::isnan(v) && v != kInf, op, "scores ", scores.shape().str(), " hold NaN or +inf");
  Tensor out = Tensor::from_vector(trees_all(scores, s, opt, nullptr), scores.shape(), scores.dtype());
  const Tensor sc = scores.detach();
  autograd::record(op, {scores}, out, [sc, s, opt](const std::vector<Tensor>& g) -> std::vector<Tensor> {
    std::vector<double> gv = as_doubles(g[0]);
    for (size_t i = 0; i < gv.size(); ++i)
      if (s[i] == -kInf) gv[i] = 0;
    return {Tensor::from_vector(trees_all(sc, s, opt, gv.data()), sc.shape(), sc.dtype())};
  });
  return out;
}

namespace {

class CrfSegmentNormalizer : public NormalizerImpl {
 public:
  CrfSegmentNormalizer(int64_t heads, DType dtype) : pairwise_(Tensor::zeros(Shape{heads, 2, 2}, dtype)) {
    pairwise_.set_requires_grad(true);
  }
  std::string name() const override { return "crf-segment"; }
  Tensor apply(const Tensor& scores) const override { return segment_marginals(scores, pairwise_); }
  std::vector<std::pair<std::string, Tensor*>> parameters() override { return {{"pairwise", &pairwise_}}; }

 private:
  Tensor pairwise_;
};

class TreeNormalizer : public NormalizerImpl {
 public:
  explicit TreeNormalizer(TreeOptions opt) : opt_(opt) {}
  std::string name() const override {
    return std::string(opt_.projective ? "projective-tree" : "dependency-tree") + (opt_.single_root ? "-single-root" : "");
  }
  Tensor apply(const Tensor& scores) const override { return tree_marginals(scores, opt_); }

 private:
  TreeOptions opt_;
};

}  // namespace

Normalizer crf_segment_normalizer(int64_t heads, DType dtype) {
  ATTEND_CHECK(heads >= 1, "crf-segment", "heads must be >= 1, got ", heads);
  return Normalizer(std::make_shared<CrfSegmentNormalizer>(heads, dtype));
}

Normalizer tree_normalizer(const TreeOptions& opt) { return Normalizer(std::make_shared<TreeNormalizer>(opt)); }

}  // namespace attend::attention
