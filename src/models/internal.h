// Pieces the encoder-decoders share (internal to src/models): input checks, the attention memory
// that the rows of a decoder state read, and inference-mode guards.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attend/attention/additive.h"
#include "attend/core/error.h"
#include "attend/core/index.h"
#include "attend/core/source.h"
#include "attend/core/tensor.h"
#include "attend/models/encoder_decoder.h"
#include "attend/nn/module.h"

namespace attend::models::internal {

// Validates a token source for the model called `op`: src.check(op), then ids in [0, src_vocab).
// A feature source is an error naming the model (it reads token ids).
void check_token_source(const char* op, int64_t src_vocab, const Source& src);
// A picture source for the model called `op`: features [B, side * side, channels], every row of
// length side * side (pictures are never padded); errors name the shapes and a token source.
void check_picture(const char* op, const Source& src, int64_t side, int64_t channels);
// The pictures of src (checked) as [B, channels, side, side] in `dtype`, normalized:
// (x - mean) / std.
Tensor picture_tensor(const char* op, const Source& src, int64_t side, int64_t channels, double mean, double std,
                      DType dtype);
// The config fields of a model that reads pictures: image_size, channels, pixel_mean, pixel_std.
std::vector<Field> picture_fields(int64_t& image_size, int64_t& channels, double& pixel_mean, double& pixel_std);
// tgt [B, T] with T > 0, ids in [0, vocab), B = rows (the memory's; any when rows < 0). `what`
// names it in errors ("tgt_in", "tokens").
void check_target(const char* op, int64_t vocab, int64_t rows, const Index& tgt, const char* what = "tgt_in");
// The tokens of a step, [N] or [N, t] with t >= 1: N = state rows, ids in [0, vocab).
void check_step_tokens(const char* op, int64_t vocab, int64_t rows, const Index& tokens);
// Column c of step tokens [N] or [N, t] (c = 0 for [N]): the c-th token fed to each row.
std::vector<int64_t> step_column(const Index& tokens, int64_t c);
// t of step tokens [N] (1) or [N, t].
inline int64_t step_length(const Index& tokens) { return tokens.shape.rank() == 1 ? 1 : tokens.shape[1]; }
// The memory a model's encode() made, as its own type; error naming `op` otherwise.
template <typename M>
const M& memory_as(const char* op, const Memory& m) {
  const auto* typed = dynamic_cast<const M*>(&m);
  ATTEND_CHECK(typed != nullptr, op, "got a Memory that this model's encode() did not make");
  return *typed;
}
template <typename M>
std::shared_ptr<const M> memory_as(const char* op, std::shared_ptr<const Memory> m) {
  memory_as<M>(op, *m);
  return std::static_pointer_cast<const M>(std::move(m));
}

// The state a step received, as the model's own type, after checking the step's tokens ([N] or
// [N, t], ids in [0, vocab)); errors name `op`.
template <typename S>
S& step_state(const char* op, int64_t vocab, DecoderState& base, const Index& tokens) {
  auto* typed = dynamic_cast<S*>(&base);
  ATTEND_CHECK(typed != nullptr, op, "step got a DecoderState that this model's start() did not make");
  check_step_tokens(op, vocab, typed->rows(), tokens);
  return *typed;
}

// The config a model's factory got, as its architecture's type; error naming `op` otherwise.
template <typename C>
const C& config_as(const char* op, const ModelConfig& c) {
  const auto* typed = dynamic_cast<const C*>(&c);
  ATTEND_CHECK(typed != nullptr, op, "got a ", c.architecture(), " config");
  return *typed;
}

// The additive score's parameters as a module (rnnsearch, sat): W_q [A, Dq], W_k [A, Dk], b [A], v [A],
// and its normalizer (a learned one's parameters as "normalizer.<name>").
class AdditiveAttention : public nn::Module {
 public:
  AdditiveAttention(int64_t query_dim, int64_t key_dim, int64_t attn_dim, Rng& rng,
                    const std::string& normalizer_name = "softmax")
      : score(attention::AdditiveScore::init(query_dim, key_dim, attn_dim, rng)),
        normalizer(attention::make_normalizer(normalizer_name, {.dtype = score.W_q.dtype()})) {
    register_parameter("W_q", score.W_q);
    register_parameter("W_k", score.W_k);
    register_parameter("b", score.b);
    register_parameter("v", score.v);
    register_normalizer(normalizer);
  }
  attention::AdditiveScore score;
  attention::Normalizer normalizer;
};

// Encoder states that a decoder attends to, one row per source.
struct AttentionMemory : Memory {
  Tensor keys;       // [N, S, Dk]: the encoder states (keys and values)
  Tensor projected;  // [N, S, A]: keys projected once by the score, or undefined
};

// Per-source data that the rows of a decoder state read: row r reads source src_index[r]. Two views:
//   get()     one row per state row: base gathered at src_index (base itself while the rows are
//             the sources in order)
//   grouped() when the rows come in runs of g equal source indices (a beam: g hypotheses per
//             sentence, kept together), one row per run and g, so the data is held once per
//             source; base itself when the runs are the sources in order. Otherwise get() and 1.
// Both are built on first use and shared by the selections that keep the same src_index (the
// usual beam step: hypotheses reorder within their sentence).
template <typename T>
class SourceRows {
 public:
  using Gather = std::shared_ptr<const T> (*)(const T& base, const std::vector<int64_t>& src_index);
  struct Groups {
    const T& data;  // rows = state rows / group
    int64_t group;
  };
  SourceRows() = default;
  SourceRows(std::shared_ptr<const T> base, int64_t sources, Gather gather)
      : base_(std::move(base)), sources_(sources), gather_(gather), views_(std::make_shared<Views>()) {
    for (int64_t i = 0; i < sources; ++i) src_index_.push_back(i);
  }
  SourceRows select(const std::vector<int64_t>& rows) const {
    SourceRows out;
    out.base_ = base_;
    out.sources_ = sources_;
    out.gather_ = gather_;
    out.src_index_.reserve(rows.size());
    for (const int64_t r : rows) {
      ATTEND_CHECK(r >= 0 && r < static_cast<int64_t>(src_index_.size()), "DecoderState::select", "row ", r,
                   " is outside a state of ", src_index_.size(), " rows");
      out.src_index_.push_back(src_index_[static_cast<size_t>(r)]);
    }
    out.views_ = out.src_index_ == src_index_ ? views_ : std::make_shared<Views>();
    return out;
  }
  const T& get() const {
    if (!views_->rows) views_->rows = is_base(src_index_) ? base_ : gather_(*base_, src_index_);
    return *views_->rows;
  }
  Groups grouped() const {
    if (views_->group == 0) {
      const auto N = static_cast<int64_t>(src_index_.size());
      int64_t g = 1;
      while (g < N && src_index_[static_cast<size_t>(g)] == src_index_[0]) ++g;
      std::vector<int64_t> sources;
      bool runs = N % g == 0;
      for (int64_t i = 0; runs && i < N; i += g) {
        sources.push_back(src_index_[static_cast<size_t>(i)]);
        for (int64_t j = i; runs && j < i + g; ++j) runs = src_index_[static_cast<size_t>(j)] == sources.back();
      }
      if (runs) {
        views_->grouped = is_base(sources) ? base_ : gather_(*base_, sources);
        views_->group = g;
      } else {
        views_->grouped = views_->rows ? views_->rows : (views_->rows = gather_(*base_, src_index_));
        views_->group = 1;
      }
    }
    return {*views_->grouped, views_->group};
  }
  const std::vector<int64_t>& src_index() const { return src_index_; }

 private:
  struct Views {
    std::shared_ptr<const T> rows;     // get()
    std::shared_ptr<const T> grouped;  // grouped().data
    int64_t group = 0;                 // 0: not built yet
  };
  // Whether `index` is 0, 1, ..., sources - 1 (the base's own rows).
  bool is_base(const std::vector<int64_t>& index) const {
    for (size_t i = 0; i < index.size(); ++i)
      if (index[i] != static_cast<int64_t>(i)) return false;
    return static_cast<int64_t>(index.size()) == sources_;
  }

  std::shared_ptr<const T> base_;   // one row per source
  int64_t sources_ = 0;
  std::vector<int64_t> src_index_;  // [N]
  Gather gather_ = nullptr;
  std::shared_ptr<Views> views_;
};

using MemoryRows = SourceRows<AttentionMemory>;
// The rows of an encoder memory, one per source to begin with.
MemoryRows memory_rows(std::shared_ptr<const AttentionMemory> base);

// x with its `axis` entries picked at rows (no gradient needed: decoding).
Tensor select_rows(const Tensor& x, int axis, const std::vector<int64_t>& rows);

// Inference mode for the lifetime of the guard (StepDecoder calls run without dropout whatever
// the module's mode); restores the previous mode.
class EvalGuard {
 public:
  explicit EvalGuard(nn::Module& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalGuard() { m_.train(was_training_); }
  EvalGuard(const EvalGuard&) = delete;
  EvalGuard& operator=(const EvalGuard&) = delete;

 private:
  nn::Module& m_;
  bool was_training_;
};

// A [N, V] log-softmax of logits [N, V] (step outputs).
Tensor step_log_probs(const Tensor& logits);
// The step output of N rows that have no position left (a model with learned or bounded
// positions at its max_positions): all probability on eos_id, so every hypothesis ends there and
// a search whose length limit exceeds the positions stops instead of failing mid-batch. With
// source_length > 0, zero attention over that many source positions.
StepOutput end_of_positions(int64_t N, int64_t vocab, int64_t eos_id, int64_t source_length = 0);

}  // namespace attend::models::internal
