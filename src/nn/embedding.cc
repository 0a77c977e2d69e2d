#include "attend/nn/embedding.h"

#include "attend/ops/ops.h"

namespace attend::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t dim, int64_t padding_idx, Rng& rng) : padding_idx_(padding_idx) {
  weight = Tensor::randn(Shape{num_embeddings, dim}, rng);  // [V, E]
  if (padding_idx >= 0 && padding_idx < num_embeddings) {
    Tensor pad_row = squeeze(slice(weight, 0, padding_idx, padding_idx + 1), 0);  // [E]
    fill(pad_row, 0.0);
  }
  register_parameter("weight", weight);
}

Tensor Embedding::forward(const Index& ids) const { return embedding(weight, ids, padding_idx_); }

}  // namespace attend::nn
