// The encoder-decoder without attention (Sutskever et al. 2014; Cho et al. 2014): the encoder's
// final (h, c) per layer is the decoder's initial state, the only path from source to target.
// The decoder has no per-step input besides the previous token, so teacher forcing runs it as one
// nn::LSTM call over all steps and a step is the same call with T = 1.
#include "attend/nn/linear.h"
#include "attend/nn/rnn.h"
#include "attend/ops/ops.h"
#include "internal.h"
#include "models.h"

namespace attend::models {

namespace {

constexpr const char* kOp = "seq2seq";

class Seq2SeqState : public DecoderState {
 public:
  int64_t rows() const override { return h.size(1); }
  std::unique_ptr<DecoderState> select(const std::vector<int64_t>& rows) const override {
    for (const int64_t r : rows)
      ATTEND_CHECK(r >= 0 && r < this->rows(), "DecoderState::select", "row ", r, " is outside a state of ",
                   this->rows(), " rows");
    auto out = std::make_unique<Seq2SeqState>();
    out->h = internal::select_rows(h, 1, rows);
    out->c = internal::select_rows(c, 1, rows);
    return out;
  }
  Tensor h, c;  // [L, N, H]
};

class Seq2Seq : public Seq2SeqModel {
 public:
  Seq2Seq(const Seq2SeqConfig& c, Rng& rng)
      : Seq2SeqModel(c, rng),
        src_embed_(c.src_vocab, c.embed_dim, c.pad_id, rng),
        tgt_embed_(c.tgt_vocab, c.embed_dim, c.pad_id, rng),
        encoder_(options(c), rng),
        decoder_(options(c), rng),
        output_(c.hidden_dim, c.tgt_vocab, rng) {
    register_module("src_embed", src_embed_);
    register_module("tgt_embed", tgt_embed_);
    register_module("encoder", encoder_);
    register_module("decoder", decoder_);
    register_module("output", output_);
  }

  ForwardResult forward(const Index& src, const std::vector<int64_t>& src_lengths, const Index& tgt_in,
                        const ForwardOptions&) override {
    internal::check_source(kOp, config_, src, src_lengths);
    internal::check_target(kOp, config_, src, tgt_in);
    const bool training = is_training();
    const nn::LSTMState s0 = encode(src, src_lengths, training);                     // [L, B, H]
    const Tensor emb = drop(tgt_embed_.forward(tgt_in), training);                    // [B, T, E]
    const nn::LSTMOutput dec = decoder_.forward(emb, {}, s0);                         // [B, T, H]
    return {output_.forward(drop(dec.output, training)), Tensor()};                   // [B, T, V]
  }

  std::unique_ptr<DecoderState> start(const Index& src, const std::vector<int64_t>& src_lengths) override {
    internal::check_source(kOp, config_, src, src_lengths);
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    const nn::LSTMState s0 = encode(src, src_lengths, false);
    auto state = std::make_unique<Seq2SeqState>();
    state->h = s0.h;
    state->c = s0.c;
    return state;
  }

  StepOutput step(DecoderState& base, const std::vector<int64_t>& prev_tokens) override {
    auto* typed = dynamic_cast<Seq2SeqState*>(&base);
    ATTEND_CHECK(typed != nullptr, kOp, "step got a DecoderState that this model's start() did not make");
    auto& state = *typed;
    internal::check_step_tokens(kOp, config_, state.rows(), prev_tokens);
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    const int64_t N = state.rows();
    const Tensor e = tgt_embed_.forward(Index(prev_tokens, Shape{N, 1}));  // [N, 1, E]
    const nn::LSTMOutput dec = decoder_.forward(e, {}, {state.h, state.c});  // [N, 1, H]
    state.h = dec.h_n;
    state.c = dec.c_n;
    return {internal::step_log_probs(output_.forward(squeeze(dec.output, 1))), Tensor()};
  }

 private:
  static nn::LSTMOptions options(const Seq2SeqConfig& c) {
    return {.input_size = c.embed_dim, .hidden_size = c.hidden_dim, .num_layers = c.num_layers,
            .batch_first = true, .dropout = c.dropout};
  }
  Tensor drop(const Tensor& x, bool training) { return dropout(x, config_.dropout, training, dropout_rng_); }

  nn::LSTMState encode(const Index& src, const std::vector<int64_t>& lengths, bool training) {
    const Tensor x = drop(src_embed_.forward(src), training);  // [B, S, E]
    const nn::LSTMOutput enc = encoder_.forward(x, lengths);   // h_n, c_n [L, B, H]
    return {enc.h_n, enc.c_n};
  }

  internal::Embedding src_embed_, tgt_embed_;
  nn::LSTM encoder_, decoder_;
  nn::Linear output_;  // [V, H]
};

}  // namespace

std::unique_ptr<Seq2SeqModel> make_seq2seq(const Seq2SeqConfig& config, Rng& rng) {
  return std::make_unique<Seq2Seq>(config, rng);
}

}  // namespace attend::models
