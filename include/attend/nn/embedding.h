// Embedding: a lookup table of vectors (PyTorch's nn.Embedding), through attend::embedding.
// Parameter: weight [V, E] (state_dict name "weight"), initialized N(0, 1) from the given Rng, the
// padding row zero; the padding row never gets a gradient.
#pragma once

#include <cstdint>

#include "attend/core/index.h"
#include "attend/core/rng.h"
#include "attend/nn/module.h"

namespace attend::nn {

class Embedding : public Module {
 public:
  // padding_idx < 0 or >= num_embeddings: no padding row.
  Embedding(int64_t num_embeddings, int64_t dim, int64_t padding_idx, Rng& rng);
  // ids [...] (each in [0, V)) -> [..., E]. Errors "[embedding] ..." name an id out of range.
  Tensor forward(const Index& ids) const;
  int64_t num_embeddings() const { return weight.size(0); }
  int64_t dim() const { return weight.size(1); }

  Tensor weight;  // [V, E]

 private:
  int64_t padding_idx_;
};

}  // namespace attend::nn
