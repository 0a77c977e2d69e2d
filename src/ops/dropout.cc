// Inverted dropout (Srivastava et al. 2014): y = x * keep / (1 - p), keep ~ Bernoulli(1 - p).
//
// The mask comes from the Rng's Philox stream: the call reserves numel(x) counters,
// base = rng.advance(numel), and element i (row-major position in x's shape) is kept iff
//   philox_uniform(rng.seed(), base, i) >= float(p)
// (attend/core/rng.h: the first 32-bit word of philox4x32(seed, base + i), 24 bits as a float in
// [0, 1)). A fused kernel that reproduces the mask needs only (seed, base, i). The uniforms come
// from kernels::dropout_uniforms (16 counters per AVX-512 instruction), a block at a time, blocks
// spread over the threads: the mask does not depend on the thread count.
#include <algorithm>
#include <array>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/core/threads.h"
#include "attend/kernels/flash_attention.h"
#include "attend/ops/elementwise.h"
#include "attend/ops/nn_ops.h"

namespace attend {

// Backward: dx = g * keep / (1 - p), the same scaled mask as the forward.
Tensor dropout(const Tensor& x, double p, bool training, Rng& rng) {
  ATTEND_CHECK(p >= 0.0 && p < 1.0, "dropout", "p = ", p, " must be in [0, 1) (x ", x.shape().str(), ")");
  if (!training || p == 0.0) return x;  // the identity; consumes no counters
  const int64_t n = x.numel();
  const uint64_t seed = rng.seed();
  const uint64_t base = rng.advance(static_cast<uint64_t>(n));
  const float pf = static_cast<float>(p);
  const double scale = 1.0 / (1.0 - p);
  const Tensor xc = x.contiguous();
  Tensor mask = Tensor::empty(x.shape(), x.dtype());  // keep / (1 - p), x's shape
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&]<typename T>() {
    const T* px = xc.data<T>();
    T* pm = mask.data<T>();
    T* po = out.data<T>();
    const T s = static_cast<T>(scale);
    constexpr int64_t kBlock = 4096;
    const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) num_threads(blocks > 8 ? num_threads() : 1)
    for (int64_t b = 0; b < blocks; ++b) {
      std::array<float, kBlock> u;
      const int64_t i0 = b * kBlock, len = std::min(kBlock, n - i0);
      kernels::dropout_uniforms(seed, base + static_cast<uint64_t>(i0), len, u.data());
      for (int64_t e = 0; e < len; ++e) {
        pm[i0 + e] = u[static_cast<size_t>(e)] >= pf ? s : T(0);
        po[i0 + e] = px[i0 + e] * pm[i0 + e];
      }
    }
  });
  autograd::record("dropout", {x}, out,
                   [mask](const std::vector<Tensor>& g) -> std::vector<Tensor> { return {mul(g[0], mask)}; });
  return out;
}

}  // namespace attend
