// Multiplicative attention, Luong, Pham & Manning 2015, "Effective Approaches to Attention-based
// Neural Machine Translation": score(h_t, hs_s) = h_t^T hs_s (dot), h_t^T W_a hs_s (general),
// v_a^T tanh(W_a [h_t; hs_s]) (concat), and the location-based a_t = softmax(W_a h_t).
#include "attend/attention/multiplicative.h"

#include <cmath>

#include "attend/ops/ops.h"

namespace attend::attention {

namespace {

// nn.Linear's default initialization: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
Tensor param(const Shape& shape, int64_t fan_in, Rng& rng, DType dtype) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  Tensor t = Tensor::uniform(shape, rng, -bound, bound, dtype);
  t.set_requires_grad(true);
  return t;
}

void check_seq(const Tensor& x, const char* what, const char* op) {
  ATTEND_CHECK(x.defined() && x.dim() == 3, op, what, " must be [B, T, D], got ",
               x.defined() ? x.shape().str() : std::string("an undefined tensor"));
}

}  // namespace

Tensor dot_scores(const Tensor& query, const Tensor& keys) {
  constexpr const char* op = "dot_scores";
  check_seq(query, "query", op);
  check_seq(keys, "keys", op);
  ATTEND_CHECK(query.size(0) == keys.size(0), op, "batch sizes differ: query ", query.shape().str(), " vs keys ",
               keys.shape().str());
  ATTEND_CHECK(query.size(2) == keys.size(2), op, "feature sizes differ: query ", query.shape().str(), " vs keys ",
               keys.shape().str());
  return matmul(query, transpose(keys, 1, 2));  // [B, Tq, D] @ [B, D, Tk] -> [B, Tq, Tk]
}

GeneralScore GeneralScore::init(int64_t query_dim, int64_t key_dim, Rng& rng, DType dtype) {
  return GeneralScore{.W_a = param(Shape{query_dim, key_dim}, key_dim, rng, dtype)};
}

Tensor GeneralScore::project_keys(const Tensor& keys) const {
  constexpr const char* op = "general_score";
  check_seq(keys, "keys", op);
  ATTEND_CHECK(W_a.dim() == 2 && keys.size(2) == W_a.size(1), op, "keys ", keys.shape().str(),
               " do not match W_a [Dq, Dk] = ", W_a.shape().str());
  return linear(keys, W_a);  // [B, Tk, Dk] -> [B, Tk, Dq]
}

Tensor GeneralScore::scores_projected(const Tensor& query, const Tensor& projected_keys) const {
  constexpr const char* op = "general_score";
  check_seq(query, "query", op);
  ATTEND_CHECK(query.size(2) == W_a.size(0), op, "query ", query.shape().str(), " does not match W_a [Dq, Dk] = ",
               W_a.shape().str());
  return dot_scores(query, projected_keys);  // [B, Tq, Tk]
}

Tensor GeneralScore::scores(const Tensor& query, const Tensor& keys) const {
  return scores_projected(query, project_keys(keys));
}

ConcatScore ConcatScore::init(int64_t query_dim, int64_t key_dim, int64_t attn_dim, Rng& rng, DType dtype) {
  return ConcatScore{.W_a = param(Shape{attn_dim, query_dim + key_dim}, query_dim + key_dim, rng, dtype),
                     .v_a = param(Shape{attn_dim}, attn_dim, rng, dtype)};
}

Tensor ConcatScore::project_keys(const Tensor& keys) const {
  constexpr const char* op = "concat_score";
  check_seq(keys, "keys", op);
  ATTEND_CHECK(W_a.dim() == 2 && keys.size(2) < W_a.size(1), op, "keys ", keys.shape().str(),
               " do not fit W_a [A, Dq + Dk] = ", W_a.shape().str());
  const int64_t Dq = W_a.size(1) - keys.size(2);
  return linear(keys, slice(W_a, 1, Dq, W_a.size(1)));  // [B, Tk, Dk] -> [B, Tk, A]
}

Tensor ConcatScore::scores_projected(const Tensor& query, const Tensor& projected_keys) const {
  constexpr const char* op = "concat_score";
  check_seq(query, "query", op);
  check_seq(projected_keys, "projected keys", op);
  ATTEND_CHECK(query.size(2) < W_a.size(1), op, "query ", query.shape().str(), " does not fit W_a [A, Dq + Dk] = ",
               W_a.shape().str());
  ATTEND_CHECK(query.size(0) == projected_keys.size(0) && projected_keys.size(2) == W_a.size(0) &&
                   v_a.dim() == 1 && v_a.size(0) == W_a.size(0),
               op, "query ", query.shape().str(), ", projected keys ", projected_keys.shape().str(), ", W_a ",
               W_a.shape().str(), " and v_a ", v_a.shape().str(), " do not agree");
  const Tensor qp = linear(query, slice(W_a, 1, 0, query.size(2)));        // [B, Tq, A]
  const Tensor h = tanh(unsqueeze(qp, 2) + unsqueeze(projected_keys, 1));  // [B, Tq, Tk, A]
  return matmul(h, v_a);                                                   // [B, Tq, Tk]
}

Tensor ConcatScore::scores(const Tensor& query, const Tensor& keys) const {
  check_seq(query, "query", "concat_score");
  check_seq(keys, "keys", "concat_score");
  ATTEND_CHECK(W_a.dim() == 2 && query.size(2) + keys.size(2) == W_a.size(1), "concat_score", "query ",
               query.shape().str(), " and keys ", keys.shape().str(), " do not fit W_a [A, Dq + Dk] = ",
               W_a.shape().str());
  return scores_projected(query, project_keys(keys));
}

LocationScore LocationScore::init(int64_t query_dim, int64_t max_source_len, Rng& rng, DType dtype) {
  return LocationScore{.W_a = param(Shape{max_source_len, query_dim}, query_dim, rng, dtype)};
}

Tensor LocationScore::scores(const Tensor& query, int64_t source_len) const {
  constexpr const char* op = "location_score";
  check_seq(query, "query", op);
  ATTEND_CHECK(W_a.dim() == 2 && query.size(2) == W_a.size(1), op, "query ", query.shape().str(),
               " does not match W_a [L, Dq] = ", W_a.shape().str());
  ATTEND_CHECK(source_len >= 1 && source_len <= W_a.size(0), op, "source length ", source_len,
               " outside [1, L = ", W_a.size(0), "] (W_a ", W_a.shape().str(), ")");
  const Tensor logits = linear(query, W_a);  // [B, Tq, L]
  return slice(logits, 2, 0, source_len);    // [B, Tq, Tk]
}

}  // namespace attend::attention
