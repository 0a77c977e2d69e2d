// Additive attention, Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly Learning
// to Align and Translate": score(q, k) = v^T tanh(W_q q + W_k k + b).
#include "attend/attention/additive.h"

#include <cmath>

#include "attend/ops/ops.h"

namespace attend::attention {

namespace {
constexpr const char* kOp = "additive_score";

Tensor param(const Shape& shape, int64_t fan_in, Rng& rng, DType dtype) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  Tensor t = Tensor::uniform(shape, rng, -bound, bound, dtype);
  t.set_requires_grad(true);
  return t;
}

void check_seq(const Tensor& x, const char* what) {
  ATTEND_CHECK(x.defined() && x.dim() == 3, kOp, what, " must be [B, T, D], got ",
               x.defined() ? x.shape().str() : std::string("an undefined tensor"));
}
}  // namespace

AdditiveScore AdditiveScore::init(int64_t query_dim, int64_t key_dim, int64_t attn_dim, Rng& rng, DType dtype) {
  return AdditiveScore{.W_q = param(Shape{attn_dim, query_dim}, query_dim, rng, dtype),
                       .W_k = param(Shape{attn_dim, key_dim}, key_dim, rng, dtype),
                       .b = param(Shape{attn_dim}, key_dim, rng, dtype),
                       .v = param(Shape{attn_dim}, attn_dim, rng, dtype)};
}

Tensor AdditiveScore::project_keys(const Tensor& keys) const {
  check_seq(keys, "keys");
  ATTEND_CHECK(W_k.dim() == 2 && keys.size(2) == W_k.size(1), kOp, "keys ", keys.shape().str(),
               " do not match W_k [A, Dk] = ", W_k.shape().str());
  return linear(keys, W_k, b);  // [B, Tk, Dk] -> [B, Tk, A]
}

Tensor AdditiveScore::scores_projected(const Tensor& query, const Tensor& projected_keys) const {
  check_seq(query, "query");
  check_seq(projected_keys, "projected keys");
  ATTEND_CHECK(W_q.dim() == 2 && query.size(2) == W_q.size(1), kOp, "query ", query.shape().str(),
               " does not match W_q [A, Dq] = ", W_q.shape().str());
  ATTEND_CHECK(query.size(0) == projected_keys.size(0) && projected_keys.size(2) == W_q.size(0) && v.dim() == 1 &&
                   v.size(0) == W_q.size(0),
               kOp, "query ", query.shape().str(), ", projected keys ", projected_keys.shape().str(), ", W_q ",
               W_q.shape().str(), " and v ", v.shape().str(), " do not agree");
  const Tensor qp = linear(query, W_q);                                    // [B, Tq, A]
  const Tensor h = tanh(unsqueeze(qp, 2) + unsqueeze(projected_keys, 1));  // [B, Tq, Tk, A]
  return matmul(h, v);                                                     // [B, Tq, Tk]
}

Tensor AdditiveScore::scores(const Tensor& query, const Tensor& keys) const {
  return scores_projected(query, project_keys(keys));
}

}  // namespace attend::attention
