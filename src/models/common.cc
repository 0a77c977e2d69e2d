// What the models share: the root's constructor, the task interfaces' defaults, input checks, the
// encoder memory of a decoder state and the search entry point of the encoder-decoders.
#include <cmath>
#include <limits>

#include "attend/ops/ops.h"
#include "internal.h"

namespace attend::models {

namespace internal {

void check_token_source(const char* op, int64_t src_vocab, const Source& src) {
  ATTEND_CHECK(src.kind() == SourceKind::tokens, op, "reads token ids, not a ", source_kind_name(src.kind()),
               " source ", src.features.shape().str());
  src.check(op);
  const Index& ids = src.tokens;
  const int64_t S = ids.shape[1];
  for (int64_t i = 0; i < ids.numel(); ++i) {
    const int64_t id = ids.data[static_cast<size_t>(i)];
    ATTEND_CHECK(id >= 0 && id < src_vocab, op, "src id ", id, " at [", i / S, ", ", i % S,
                 "] is outside the source vocabulary [0, ", src_vocab, ") (src ", ids.shape.str(), ")");
  }
}

void check_picture(const char* op, const Source& src, int64_t side, int64_t channels) {
  ATTEND_CHECK(src.kind() == SourceKind::features, op, "reads images (a feature source [B, ", side, " * ", side, ", ",
               channels, "]), not token ids ", src.tokens.shape.str());
  src.check(op);
  const Shape& s = src.features.shape();
  const int64_t R = side * side;
  ATTEND_CHECK(s[1] == R && s[2] == channels, op, "an image source must be [B, ", R, " (", side, "x", side,
               " pixels), ", channels, "], got ", s.str());
  for (size_t b = 0; b < src.lengths.size(); ++b)
    ATTEND_CHECK(src.lengths[b] == R, op, "image ", b, " has length ", src.lengths[b], "; images are never padded (", R,
                 " pixels)");
}

std::vector<Field> picture_fields(int64_t& image_size, int64_t& channels, double& pixel_mean, double& pixel_std) {
  return {int_field("image_size", "--image-size", "pictures are S x S pixels (attend train: the data's)", image_size),
          int_field("channels", "--channels", "colour channels of the pictures", channels),
          real_field("pixel_mean", "--pixel-mean", "mean of the pixels (in [0, 1]) the input is normalized by",
                     pixel_mean, 0.0, 1.0),
          real_field("pixel_std", "--pixel-std", "standard deviation the input is normalized by", pixel_std, 1e-6,
                     1e6)};
}

Tensor picture_tensor(const char* op, const Source& src, int64_t side, int64_t channels, double mean, double std,
                      DType dtype) {
  check_picture(op, src, side, channels);
  const Tensor x = mul(add(to_dtype(src.features, dtype), -mean), 1.0 / std);                // [B, S*S, C]
  return contiguous(permute(reshape(x, {src.batch(), side, side, channels}), {0, 3, 1, 2}));  // [B, C, S, S]
}

void check_target(const char* op, int64_t vocab, int64_t rows, const Index& tgt, const char* what) {
  ATTEND_CHECK(tgt.shape.rank() == 2 && tgt.shape[1] > 0, op, what, " ", tgt.shape.str(), " must be [B, T] with T > 0");
  ATTEND_CHECK(rows < 0 || tgt.shape[0] == rows, op, "batch sizes differ: the source has ", rows, " rows, ", what, " ",
               tgt.shape.str());
  const int64_t T = tgt.shape[1];
  for (int64_t i = 0; i < tgt.numel(); ++i) {
    const int64_t id = tgt.data[static_cast<size_t>(i)];
    ATTEND_CHECK(id >= 0 && id < vocab, op, what, " id ", id, " at [", i / T, ", ", i % T,
                 "] is outside the vocabulary [0, ", vocab, ") (", what, " ", tgt.shape.str(), ")");
  }
}

void check_step_tokens(const char* op, int64_t vocab, int64_t rows, const Index& tokens) {
  const int64_t r = tokens.shape.rank();
  ATTEND_CHECK((r == 1 || (r == 2 && tokens.shape[1] >= 1)) && tokens.shape[0] == rows, op, "step got ",
               r >= 1 ? tokens.shape[0] : 0, " tokens for a state of ", rows, " rows (tokens ", tokens.shape.str(),
               " must be [N] or [N, t] with t >= 1)");
  for (size_t i = 0; i < tokens.data.size(); ++i)
    ATTEND_CHECK(tokens.data[i] >= 0 && tokens.data[i] < vocab, op, "step token ", tokens.data[i], " (element ", i,
                 " of ", tokens.shape.str(), ") is outside the vocabulary [0, ", vocab, ")");
}

std::vector<int64_t> step_column(const Index& tokens, int64_t c) {
  const int64_t N = tokens.shape[0], t = step_length(tokens);
  std::vector<int64_t> col(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) col[static_cast<size_t>(n)] = tokens.data[static_cast<size_t>(n * t + c)];
  return col;
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

StepOutput end_of_positions(int64_t N, int64_t vocab, int64_t eos_id, int64_t source_length) {
  std::vector<float> lp(static_cast<size_t>(N * vocab), -std::numeric_limits<float>::infinity());
  for (int64_t r = 0; r < N; ++r) lp[static_cast<size_t>(r * vocab + eos_id)] = 0.0f;
  return {Tensor::from_vector(lp, Shape{N, vocab}),
          source_length > 0 ? Tensor::zeros(Shape{N, source_length}) : Tensor()};
}

}  // namespace internal

Model::Model(const ModelConfig& config, Rng& rng) : config_(config.clone()) {
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
    case AttentionKind::pooling: return "pooling";
  }
  return "?";
}

std::vector<AttentionMap> SequenceToSequence::attention_maps(const Source& src, const Index& tgt_in) {
  NoGrad no_grad;
  internal::EvalGuard eval(*this);
  const ForwardResult r = forward(src, tgt_in, {.need_attention = true});
  ATTEND_CHECK(r.attention.defined(), config().architecture(), "has no attention to return");
  return {{.kind = AttentionKind::cross, .layer = 0, .weights = unsqueeze(r.attention, 1)}};  // [B, 1, T, S]
}

std::vector<AttentionMap> Classifier::attention_maps(const Source& src) {
  NoGrad no_grad;
  internal::EvalGuard eval(*this);
  const ClassifierOutput r = classify(src);
  ATTEND_CHECK(r.weights.defined(), config().architecture(), "pools without attention: no weights to return");
  return {{.kind = AttentionKind::pooling, .layer = 0, .weights = unsqueeze(r.weights, 2)}};  // [B, H, 1, S]
}

}  // namespace attend::models
