// Embedding lookup: out[p, :] = weight[ids[p], :] for every position p of ids.
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/ops/nn_ops.h"

namespace attend {

// Backward: dweight[v, :] = sum over positions p with ids[p] == v of g[p, :], except that the
// row padding_idx gets nothing (PyTorch's padding_idx: that row stays a fixed vector).
Tensor embedding(const Tensor& weight, const Index& ids, int64_t padding_idx) {
  ATTEND_CHECK(weight.dim() == 2, "embedding", "weight must be [V, C], got ", weight.shape().str());
  const int64_t V = weight.shape()[0], C = weight.shape()[1];
  ATTEND_CHECK(ids.shape.rank() < kMaxRank, "embedding", "ids of shape ", ids.shape.str(),
               " would give an output above rank ", kMaxRank);
  ATTEND_CHECK(padding_idx < V, "embedding", "padding_idx ", padding_idx, " out of range for weight ",
               weight.shape().str());
  for (int64_t id : ids.data)
    ATTEND_CHECK(id >= 0 && id < V, "embedding", "id ", id, " out of range [0, ", V, ") for weight ",
                 weight.shape().str(), " (ids shape ", ids.shape.str(), ")");
  Shape out_shape = ids.shape;
  out_shape.push_back(C);  // [ids.shape..., C]
  const Tensor w = weight.detach().contiguous();  // [V, C]
  Tensor out = Tensor::empty(out_shape, weight.dtype());
  dispatch_dtype(weight.dtype(), [&]<typename T>() {
    const T* pw = w.data<T>();
    T* po = out.data<T>();
    for (int64_t p = 0; p < ids.numel(); ++p) {
      const T* row = pw + ids.data[static_cast<size_t>(p)] * C;
      for (int64_t c = 0; c < C; ++c) po[p * C + c] = row[c];
    }
  });
  autograd::record("embedding", {weight}, out,
                   [ids, padding_idx, V, C, dt = weight.dtype()](const std::vector<Tensor>& g) -> std::vector<Tensor> {
                     Tensor dw = Tensor::zeros(Shape{V, C}, dt);
                     const Tensor gc = g[0].contiguous();
                     dispatch_dtype(dt, [&]<typename T>() {
                       const T* pg = gc.data<T>();
                       T* pd = dw.data<T>();
                       for (int64_t p = 0; p < ids.numel(); ++p) {
                         const int64_t id = ids.data[static_cast<size_t>(p)];
                         if (id == padding_idx) continue;
                         for (int64_t c = 0; c < C; ++c) pd[id * C + c] += pg[p * C + c];
                       }
                     });
                     return {dw};
                   });
  return out;
}

}  // namespace attend
