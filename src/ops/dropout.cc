// Inverted dropout (Srivastava et al. 2014): y = x * keep / (1 - p), keep ~ Bernoulli(1 - p).
//
// The mask comes from the Rng's Philox stream: the call reserves numel(x) counters,
// base = rng.advance(numel), and element i (row-major position in x's shape) is kept iff
//   philox_uniform(rng.seed(), base, i) >= float(p)
// (attend/core/rng.h: 24 bits of one word of a Philox4x32-10 block as a float in [0, 1), four
// positions per block). A fused kernel that reproduces the mask needs only (seed, base, i). The
// mask is kept for the backward as bits (kernels::dropout_keep_bits, many counters per
// instruction), a block at a time, blocks spread over the threads: the mask does not depend on the
// thread count. A dropped NaN stays NaN (x * 0), so non-finite values still reach the trainer's check.
#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/core/threads.h"
#include "attend/kernels/flash_attention.h"
#include "attend/ops/elementwise.h"
#include "attend/ops/nn_ops.h"

namespace attend {

namespace {

constexpr int64_t kBlock = 4096;  // elements per task: 512 bytes of bits, whole bytes per block

// y = x * (kept ? scale : 0) over n elements, blocks spread over the threads.
template <typename T>
void apply_bits(const std::vector<uint8_t>& keep, int64_t n, double scale, const T* x, T* y) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) num_threads(blocks > 8 ? num_threads() : 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t i0 = b * kBlock, len = std::min(kBlock, n - i0);
    const uint8_t* kb = keep.data() + i0 / 8;
    if constexpr (std::is_same_v<T, float>) {
      kernels::dropout_apply(kb, len, static_cast<float>(scale), x + i0, y + i0);
    } else {
      const T s = static_cast<T>(scale);
      for (int64_t e = 0; e < len; ++e) y[i0 + e] = x[i0 + e] * (((kb[e / 8] >> (e % 8)) & 1) ? s : T(0));
    }
  }
}

}  // namespace

// Backward: dx = g * keep / (1 - p), the same bits as the forward.
Tensor dropout(const Tensor& x, double p, bool training, Rng& rng) {
  ATTEND_CHECK(p >= 0.0 && p < 1.0, "dropout", "p = ", p, " must be in [0, 1) (x ", x.shape().str(), ")");
  if (!training || p == 0.0) return x;  // the identity; consumes no counters
  const int64_t n = x.numel();
  const uint64_t seed = rng.seed();
  const uint64_t base = rng.advance(static_cast<uint64_t>(n));
  const double scale = 1.0 / (1.0 - p);
  auto keep = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>((n + 7) / 8));
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) num_threads(blocks > 8 ? num_threads() : 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t i0 = b * kBlock, len = std::min(kBlock, n - i0);
    kernels::dropout_keep_bits(seed, base + static_cast<uint64_t>(i0), len, static_cast<float>(p),
                               keep->data() + i0 / 8);
  }
  const Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&]<typename T>() { apply_bits(*keep, n, scale, xc.data<T>(), out.data<T>()); });
  autograd::record("dropout", {x}, out, [keep, n, scale](const std::vector<Tensor>& g) -> std::vector<Tensor> {
    const Tensor gc = g[0].contiguous();
    Tensor dx = Tensor::empty(gc.shape(), gc.dtype());
    dispatch_dtype(gc.dtype(), [&]<typename T>() { apply_bits(*keep, n, scale, gc.data<T>(), dx.data<T>()); });
    return {dx};
  });
  return out;
}

}  // namespace attend
