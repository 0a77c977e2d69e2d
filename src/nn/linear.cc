#include "attend/nn/linear.h"

#include <cmath>

#include "attend/ops/linalg.h"

namespace attend::nn {

Linear::Linear(int64_t in_features, int64_t out_features, Rng& rng, const LinearOptions& opt)
    : in_features_(in_features), out_features_(out_features) {
  ATTEND_CHECK(in_features > 0 && out_features > 0, "Linear", "in_features ", in_features, " and out_features ",
               out_features, " must be positive");
  // PyTorch: kaiming_uniform_(a=sqrt(5)) on [out, in] is U(-1/sqrt(in), 1/sqrt(in)); the bias uses
  // the same bound.
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight = Tensor::uniform(Shape{out_features, in_features}, rng, -bound, bound, opt.dtype);  // [out, in]
  if (opt.bias) bias = Tensor::uniform(Shape{out_features}, rng, -bound, bound, opt.dtype);  // [out]
  register_parameter("weight", weight);
  register_parameter("bias", bias);
}

Tensor Linear::forward(const Tensor& x) const {
  ATTEND_CHECK(x.dim() >= 1 && x.size(-1) == in_features_, "Linear", "input ", x.shape().str(),
               " must end in in_features ", in_features_, " (weight ", weight.shape().str(), ")");
  return linear(x, weight, bias);  // [..., out]
}

}  // namespace attend::nn
