// What every attention path shares: its options and its result. attend() (the skeleton of
// attention.h), scaled_dot_product_attention (scaled_dot.h, composed or fused) and the families
// built on them take one AttendOptions and return one AttentionResult.
#pragma once

#include "attend/attention/normalizers.h"
#include "attend/core/rng.h"
#include "attend/core/tensor.h"

namespace attend::attention {

struct AttendOptions {
  // scaled_dot_product_attention's factor on Q K^T (0 = 1/sqrt(D)). attend() takes scores as they
  // are and requires 0 here.
  double scale = 0.0;
  Normalizer normalizer{};  // softmax by default; the fused kernel runs softmax only
  double dropout_p = 0.0;
  bool training = false;  // dropout applies only when training
  Rng* rng = nullptr;     // dropout's random stream (required when dropout applies)
  bool need_weights = false;
  bool need_lse = false;
  const char* op = "attend";  // the name attend()'s errors carry; composing families pass their own
};

// Scaled dot-product attention takes the same options.
using SdpaOptions = AttendOptions;

struct AttentionResult {
  Tensor context;
  Tensor weights;  // undefined unless requested (before dropout: the weights used)
  Tensor lse;      // per-row log-sum-exp of the masked scores; undefined unless requested
};

}  // namespace attend::attention
