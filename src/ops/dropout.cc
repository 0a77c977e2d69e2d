// Inverted dropout (Srivastava et al. 2014): y = x * keep / (1 - p), keep ~ Bernoulli(1 - p).
//
// The mask comes from the Rng's Philox stream: the call reserves numel(x) counters,
// base = rng.advance(numel), and element i (row-major position in x's shape) is kept iff
//   philox_uniform(rng.seed(), base, i) >= float(p)
// (attend/core/rng.h: the first 32-bit word of philox4x32(seed, base + i), 24 bits as a float in
// [0, 1)). A fused kernel that reproduces the mask needs only (seed, base, i).
#include <vector>

#include "attend/autograd/autograd.h"
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
    for (int64_t i = 0; i < n; ++i) {
      pm[i] = philox_uniform(seed, base, static_cast<uint64_t>(i)) >= pf ? s : T(0);
      po[i] = px[i] * pm[i];
    }
  });
  autograd::record("dropout", {x}, out,
                   [mask](const std::vector<Tensor>& g) -> std::vector<Tensor> { return {mul(g[0], mask)}; });
  return out;
}

}  // namespace attend
