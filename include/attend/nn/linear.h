// Linear: y = x W^T + b (PyTorch's nn.Linear), through attend::linear.
// Parameters: weight [out, in], bias [out] (state_dict names "weight", "bias").
// Initialization as PyTorch's default: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)), drawn from
// the given attend::Rng, so a seed fixes the module.
#pragma once

#include <cstdint>

#include "attend/core/rng.h"
#include "attend/nn/module.h"

namespace attend::nn {

struct LinearOptions {
  bool bias = true;
  DType dtype = DType::f32;
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Rng& rng, const LinearOptions& opt = {});

  // x [..., in] -> [..., out]. Error "[Linear] ..." when the last dim of x is not in_features.
  Tensor forward(const Tensor& x) const;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

  Tensor weight;  // [out, in]
  Tensor bias;    // [out], undefined when opt.bias is false

 private:
  int64_t in_features_;
  int64_t out_features_;
};

}  // namespace attend::nn
