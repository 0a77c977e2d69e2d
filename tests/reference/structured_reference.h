// Float64 references for structured attention (attention/structured.h) by brute force: every
// segmentation z in {0,1}^n and every head assignment of the positions is enumerated, weighted by
// exp(its score) and summed. A different algorithm from the library's (no forward-backward, no
// determinant, no chart), exponential in size: for n <= 10 keys and T <= 6 positions.
#pragma once

#include "attend/attention/structured.h"
#include "attend/core/tensor.h"

namespace attend::ref {

// scores [..., Tk] (-inf = masked key, left out of the chain), pairwise [P, 2, 2] -> p(z_i = 1).
Tensor segment_marginals(const Tensor& scores, const Tensor& pairwise);
// scores [..., T, T] (scores[q, k]: arc k -> q, diagonal: root -> q) -> arc marginals, same layout.
Tensor tree_marginals(const Tensor& scores, const attention::TreeOptions& opt);

}  // namespace attend::ref
