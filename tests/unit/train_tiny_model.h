// A tiny tagger for the train tests: logits[b, t] = proj(dropout(emb[source[b, t]])), trained to
// map each source token to a target token at the same position. Small enough that a whole
// training run takes milliseconds, with dropout so that the training Rng matters for resuming.
#pragma once

#include <cstdint>
#include <vector>

#include "attend/core/rng.h"
#include "attend/data/batching.h"
#include "attend/nn/linear.h"
#include "attend/nn/module.h"
#include "attend/ops/nn_ops.h"
#include "attend/ops/shape_ops.h"
#include "attend/train/trainer.h"

namespace attend::test {

class TinyTagger : public nn::Module {
 public:
  TinyTagger(int64_t vocab, int64_t width, Rng& rng, double dropout_p = 0.1)
      : emb(Tensor::randn(Shape{vocab, width}, rng)), proj(width, vocab, rng), p_(dropout_p) {
    register_parameter("emb", emb);
    register_module("proj", proj);
  }
  // source [B, T] -> logits [B, T, V]
  Tensor forward(const Index& source, Rng& rng) const {
    Tensor x = embedding(emb, source, 0);  // [B, T, C]
    x = dropout(x, p_, is_training(), rng);
    return proj.forward(x);  // [B, T, V]
  }

  Tensor emb;  // [V, C]
  nn::Linear proj;

 private:
  double p_;
};

// Random pairs of equal length: target = a fixed permutation of the source ids (ids >= 4).
inline std::vector<data::Example> tiny_examples(int64_t n, int64_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<data::Example> out;
  for (int64_t i = 0; i < n; ++i) {
    const auto len = static_cast<int64_t>(1 + rng.next_u64() % 6);
    data::Example e;
    for (int64_t t = 0; t < len; ++t) {
      const auto s = static_cast<int64_t>(4 + rng.next_u64() % static_cast<uint64_t>(vocab - 4));
      e.source.push_back(s);
      e.target.push_back(4 + (s * 7) % (vocab - 4));
    }
    out.push_back(std::move(e));
  }
  return out;
}

// Mean token cross-entropy of the tagger on a batch (pad targets ignored).
inline train::StepLoss tiny_loss(const TinyTagger& model, const data::Batch& batch, Rng& rng) {
  const Tensor logits = model.forward(batch.source.tokens, rng);  // [B, T, V]
  const int64_t n = logits.size(0) * logits.size(1);
  const Tensor flat = reshape(logits, {n, logits.size(2)});
  const Index targets(batch.target.data, Shape{n});
  int64_t tokens = 0;
  for (const int64_t l : batch.target_lengths) tokens += l;
  return {cross_entropy(flat, targets, CrossEntropyOptions{.ignore_index = 0}), tokens};
}

}  // namespace attend::test
