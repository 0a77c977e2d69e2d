// What the encoder-decoders share: the embedding table, input checks, the encoder memory of a
// decoder state, the loss and the teacher-forcing split of a target batch.
#include <cmath>

#include "attend/ops/ops.h"
#include "internal.h"
#include "models.h"

namespace attend::models {

namespace internal {

Embedding::Embedding(int64_t num_embeddings, int64_t dim, int64_t padding_idx, Rng& rng)
    : padding_idx_(padding_idx) {
  weight = Tensor::randn(Shape{num_embeddings, dim}, rng);  // [V, E]
  if (padding_idx >= 0 && padding_idx < num_embeddings) {
    Tensor pad_row = squeeze(slice(weight, 0, padding_idx, padding_idx + 1), 0);  // [E]
    fill(pad_row, 0.0);
  }
  register_parameter("weight", weight);
}

Tensor Embedding::forward(const Index& ids) const { return embedding(weight, ids, padding_idx_); }

void check_source(const char* op, const Seq2SeqConfig& config, const Index& src,
                  const std::vector<int64_t>& lengths) {
  ATTEND_CHECK(src.shape.rank() == 2 && src.shape[0] > 0 && src.shape[1] > 0, op, "src ", src.shape.str(),
               " must be [B, S] with B, S > 0");
  const int64_t B = src.shape[0], S = src.shape[1];
  ATTEND_CHECK(static_cast<int64_t>(lengths.size()) == B, op, "src_lengths has ", lengths.size(),
               " entries for src ", src.shape.str());
  for (size_t b = 0; b < lengths.size(); ++b)
    ATTEND_CHECK(lengths[b] >= 1 && lengths[b] <= S, op, "src_lengths[", b, "] = ", lengths[b],
                 " is outside [1, S = ", S, "] (src ", src.shape.str(), ")");
  for (int64_t i = 0; i < src.numel(); ++i) {
    const int64_t id = src.data[static_cast<size_t>(i)];
    ATTEND_CHECK(id >= 0 && id < config.src_vocab, op, "src id ", id, " at [", i / S, ", ", i % S,
                 "] is outside the source vocabulary [0, ", config.src_vocab, ") (src ", src.shape.str(), ")");
  }
}

void check_target(const char* op, const Seq2SeqConfig& config, const Index& src, const Index& tgt) {
  ATTEND_CHECK(tgt.shape.rank() == 2 && tgt.shape[1] > 0, op, "tgt_in ", tgt.shape.str(),
               " must be [B, T] with T > 0");
  ATTEND_CHECK(tgt.shape[0] == src.shape[0], op, "batch sizes differ: src ", src.shape.str(), " vs tgt_in ",
               tgt.shape.str());
  const int64_t T = tgt.shape[1];
  for (int64_t i = 0; i < tgt.numel(); ++i) {
    const int64_t id = tgt.data[static_cast<size_t>(i)];
    ATTEND_CHECK(id >= 0 && id < config.tgt_vocab, op, "tgt_in id ", id, " at [", i / T, ", ", i % T,
                 "] is outside the target vocabulary [0, ", config.tgt_vocab, ") (tgt_in ", tgt.shape.str(), ")");
  }
}

void check_step_tokens(const char* op, const Seq2SeqConfig& config, int64_t rows,
                       const std::vector<int64_t>& prev_tokens) {
  ATTEND_CHECK(static_cast<int64_t>(prev_tokens.size()) == rows, op, "step got ", prev_tokens.size(),
               " tokens for a state of ", rows, " rows");
  for (size_t i = 0; i < prev_tokens.size(); ++i)
    ATTEND_CHECK(prev_tokens[i] >= 0 && prev_tokens[i] < config.tgt_vocab, op, "prev_tokens[", i, "] = ",
                 prev_tokens[i], " is outside the target vocabulary [0, ", config.tgt_vocab, ")");
}

Tensor select_rows(const Tensor& x, int axis, const std::vector<int64_t>& rows) {
  return index_select(x, axis, Index(rows));
}

MemoryRows::MemoryRows(std::shared_ptr<const Memory> base) : base_(std::move(base)), rows_(base_) {
  src_index_.resize(base_->lengths.size());
  for (size_t i = 0; i < src_index_.size(); ++i) src_index_[i] = static_cast<int64_t>(i);
}

MemoryRows MemoryRows::select(const std::vector<int64_t>& rows) const {
  MemoryRows out;
  out.base_ = base_;
  out.src_index_.reserve(rows.size());
  for (const int64_t r : rows) {
    ATTEND_CHECK(r >= 0 && r < static_cast<int64_t>(src_index_.size()), "DecoderState::select", "row ", r,
                 " is outside a state of ", src_index_.size(), " rows");
    out.src_index_.push_back(src_index_[static_cast<size_t>(r)]);
  }
  if (out.src_index_ == src_index_) {
    out.rows_ = rows_;
    return out;
  }
  NoGrad no_grad;
  auto m = std::make_shared<Memory>();
  m->keys = select_rows(base_->keys, 0, out.src_index_);  // [N', S, Dk]
  if (base_->projected.defined()) m->projected = select_rows(base_->projected, 0, out.src_index_);  // [N', S, A]
  for (const int64_t s : out.src_index_) m->lengths.push_back(base_->lengths[static_cast<size_t>(s)]);
  out.rows_ = std::move(m);
  return out;
}

Tensor step_log_probs(const Tensor& logits) { return log_softmax(logits, 1).to(DType::f32); }

}  // namespace internal

Seq2SeqModel::Seq2SeqModel(const Seq2SeqConfig& config, Rng& rng) : config_(config) {
  config_.validate();
  dropout_rng_ = Rng(rng.next_u64());
}

std::unique_ptr<Seq2SeqModel> make_model(const Seq2SeqConfig& config, Rng& rng) {
  config.validate();
  switch (config.architecture) {
    case Architecture::rnnsearch: return make_rnnsearch(config, rng);
    case Architecture::luong: return make_luong(config, rng);
    case Architecture::seq2seq: return make_seq2seq(config, rng);
  }
  throw Error("make_model", "unknown architecture");
}

DecoderIO decoder_io(const Index& target, const std::vector<int64_t>& target_lengths, const Seq2SeqConfig& config) {
  constexpr const char* op = "decoder_io";
  ATTEND_CHECK(target.shape.rank() == 2, op, "target ", target.shape.str(), " must be [B, T]");
  const int64_t B = target.shape[0], T = target.shape[1];
  ATTEND_CHECK(static_cast<int64_t>(target_lengths.size()) == B, op, "target_lengths has ", target_lengths.size(),
               " entries for target ", target.shape.str());
  std::vector<int64_t> in(static_cast<size_t>(B * (T + 1)), config.pad_id), out(in.size(), config.pad_id);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = target_lengths[static_cast<size_t>(b)];
    ATTEND_CHECK(n >= 0 && n <= T, op, "target_lengths[", b, "] = ", n, " is outside [0, T = ", T, "] (target ",
                 target.shape.str(), ")");
    const size_t row = static_cast<size_t>(b * (T + 1));
    in[row] = config.bos_id;
    for (int64_t t = 0; t < n; ++t) {
      const int64_t y = target.data[static_cast<size_t>(b * T + t)];
      in[row + static_cast<size_t>(t) + 1] = y;
      out[row + static_cast<size_t>(t)] = y;
    }
    out[row + static_cast<size_t>(n)] = config.eos_id;
  }
  return {Index(std::move(in), Shape{B, T + 1}), Index(std::move(out), Shape{B, T + 1})};
}

Tensor sequence_loss(const Tensor& logits, const Index& tgt_out, const LossOptions& opt) {
  constexpr const char* op = "sequence_loss";
  ATTEND_CHECK(logits.defined() && logits.dim() == 3, op, "logits must be [B, T, V], got ",
               logits.defined() ? logits.shape().str() : "undefined");
  ATTEND_CHECK(tgt_out.shape.rank() == 2 && tgt_out.shape[0] == logits.size(0) && tgt_out.shape[1] == logits.size(1),
               op, "tgt_out ", tgt_out.shape.str(), " must be [B, T] of logits ", logits.shape().str());
  const int64_t V = logits.size(2);
  const Index flat(tgt_out.data, Shape{tgt_out.numel()});  // [B*T]
  return cross_entropy(reshape(logits, {-1, V}), flat,
                       {.ignore_index = opt.pad_id, .label_smoothing = opt.label_smoothing});
}

}  // namespace attend::models
