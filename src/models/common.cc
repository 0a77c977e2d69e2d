// What the encoder-decoders share: input checks, the encoder memory of a decoder state, the search
// entry point, the loss and the teacher-forcing split of a target batch.
#include <cmath>

#include "attend/ops/ops.h"
#include "internal.h"

namespace attend::models {

namespace internal {

void check_token_source(const char* op, const ModelConfig& config, const Source& src) {
  ATTEND_CHECK(src.kind() == SourceKind::tokens, op, "reads token ids, not a ", source_kind_name(src.kind()),
               " source ", src.features.shape().str());
  src.check(op);
  const Index& ids = src.tokens;
  const int64_t S = ids.shape[1];
  for (int64_t i = 0; i < ids.numel(); ++i) {
    const int64_t id = ids.data[static_cast<size_t>(i)];
    ATTEND_CHECK(id >= 0 && id < config.src_vocab, op, "src id ", id, " at [", i / S, ", ", i % S,
                 "] is outside the source vocabulary [0, ", config.src_vocab, ") (src ", ids.shape.str(), ")");
  }
}

void check_target(const char* op, const ModelConfig& config, int64_t rows, const Index& tgt) {
  ATTEND_CHECK(tgt.shape.rank() == 2 && tgt.shape[1] > 0, op, "tgt_in ", tgt.shape.str(),
               " must be [B, T] with T > 0");
  ATTEND_CHECK(tgt.shape[0] == rows, op, "batch sizes differ: the source has ", rows, " rows, tgt_in ",
               tgt.shape.str());
  const int64_t T = tgt.shape[1];
  for (int64_t i = 0; i < tgt.numel(); ++i) {
    const int64_t id = tgt.data[static_cast<size_t>(i)];
    ATTEND_CHECK(id >= 0 && id < config.tgt_vocab, op, "tgt_in id ", id, " at [", i / T, ", ", i % T,
                 "] is outside the target vocabulary [0, ", config.tgt_vocab, ") (tgt_in ", tgt.shape.str(), ")");
  }
}

void check_step_tokens(const char* op, const ModelConfig& config, int64_t rows,
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

namespace {

std::shared_ptr<const AttentionMemory> gather_memory(const AttentionMemory& base,
                                                     const std::vector<int64_t>& src_index) {
  NoGrad no_grad;
  auto m = std::make_shared<AttentionMemory>();
  m->keys = select_rows(base.keys, 0, src_index);  // [N', S, Dk]
  if (base.projected.defined()) m->projected = select_rows(base.projected, 0, src_index);  // [N', S, A]
  for (const int64_t s : src_index) m->lengths.push_back(base.lengths[static_cast<size_t>(s)]);
  return m;
}

}  // namespace

MemoryRows memory_rows(std::shared_ptr<const AttentionMemory> base) {
  const auto sources = static_cast<int64_t>(base->lengths.size());
  return MemoryRows(std::move(base), sources, gather_memory);
}

Tensor step_log_probs(const Tensor& logits) { return log_softmax(logits, 1).to(DType::f32); }

}  // namespace internal

EncoderDecoder::EncoderDecoder(const ModelConfig& config, Rng& rng) : config_(config.clone()) {
  config_->validate();
  dropout_rng_ = Rng(rng.next_u64());
}

std::unique_ptr<DecoderState> EncoderDecoder::start(const Source& src) {
  NoGrad no_grad;
  internal::EvalGuard eval(*this);
  return init_state(encode(src));
}

const char* to_string(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::encoder_self: return "encoder";
    case AttentionKind::decoder_self: return "decoder";
    case AttentionKind::cross: return "cross";
  }
  return "?";
}

std::vector<AttentionMap> EncoderDecoder::attention_maps(const Source& src, const Index& tgt_in) {
  NoGrad no_grad;
  internal::EvalGuard eval(*this);
  const ForwardResult r = forward(src, tgt_in, {.need_attention = true});
  return {{.kind = AttentionKind::cross, .layer = 0, .weights = unsqueeze(r.attention, 1)}};  // [B, 1, T, S]
}

DecoderIO decoder_io(const Index& target, const std::vector<int64_t>& target_lengths, const ModelConfig& config) {
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
