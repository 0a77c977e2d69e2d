// Luong, Pham & Manning 2015 (seq2seq.h has the equations): stacked LSTMs, input feeding,
// attention on the top decoder state with any of the paper's scores and alignments, the
// attentional state h~_t = tanh(W_c [c_t; h_t]) and the softmax layer on h~_t.
#include <cmath>

#include "attend/attention/local.h"
#include "attend/attention/multiplicative.h"
#include "attend/nn/linear.h"
#include "attend/nn/rnn.h"
#include "attend/ops/ops.h"
#include "internal.h"
#include "models.h"

namespace attend::models {

namespace {

constexpr const char* kOp = "luong";

// Score and alignment of the paper, parameters registered under their paper names:
// general W_a [H, H]; concat W_a [A, 2H], v_a [A]; location W_a [L, H]; local-p W_p [A, H], v_p [A].
class LuongAttention : public nn::Module {
 public:
  LuongAttention(const Seq2SeqConfig& c, Rng& rng) : score_(c.score), alignment_(c.alignment), D_(c.window) {
    const int64_t H = c.hidden_dim;
    switch (score_) {
      case Score::dot: break;
      case Score::general:
        general_ = attention::GeneralScore::init(H, H, rng);
        register_parameter("W_a", general_.W_a);
        break;
      case Score::concat:
        concat_ = attention::ConcatScore::init(H, H, c.attention_dim, rng);
        register_parameter("W_a", concat_.W_a);
        register_parameter("v_a", concat_.v_a);
        break;
      case Score::location:
        location_ = attention::LocationScore::init(H, c.max_source_len, rng);
        register_parameter("W_a", location_.W_a);
        break;
    }
    if (alignment_ == Alignment::local_p) {
      position_ = attention::LocalPosition::init(H, c.attention_dim, rng);
      register_parameter("W_p", position_.W_p);
      register_parameter("v_p", position_.v_p);
    }
  }

  // keys [B, S, H] -> what the score reuses at every step ([B, S, H] or [B, S, A]; undefined for
  // dot and location).
  Tensor project(const Tensor& keys) const {
    if (score_ == Score::general) return general_.project_keys(keys);
    if (score_ == Score::concat) return concat_.project_keys(keys);
    if (score_ == Score::location)
      ATTEND_CHECK(keys.size(1) <= location_.max_source_len(), kOp, "source length ", keys.size(1),
                   " exceeds the location score's max_source_len ", location_.max_source_len(), " (keys ",
                   keys.shape().str(), ")");
    return Tensor();
  }

  // query h_t [N, 1, H] at target step t -> context [N, 1, H] and weights [N, 1, S].
  attention::AttentionResult attend(const Tensor& query, const internal::Memory& m, int64_t t,
                                    bool need_weights) const {
    Tensor scores;  // [N, 1, S]
    switch (score_) {
      case Score::dot: scores = attention::dot_scores(query, m.keys); break;
      case Score::general: scores = general_.scores_projected(query, m.projected); break;
      case Score::concat: scores = concat_.scores_projected(query, m.projected); break;
      case Score::location: scores = location_.scores(query, m.keys.size(1)); break;
    }
    const attention::Mask mask{.key_lengths = m.lengths};
    const attention::AttendOptions a{.need_weights = need_weights, .op = kOp};
    switch (alignment_) {
      case Alignment::global: return attention::attend(scores, m.keys, mask, a);
      case Alignment::local_m:
        return attention::local_m_attention(scores, m.keys, mask, {.D = D_, .query_offset = t, .attend = a});
      case Alignment::local_p:
        return attention::local_p_attention(scores, m.keys, position_.positions(query, m.lengths), mask,
                                            {.D = D_, .attend = a});
    }
    throw Error(kOp, "unknown alignment");
  }

 private:
  Score score_;
  Alignment alignment_;
  int64_t D_;
  attention::GeneralScore general_;
  attention::ConcatScore concat_;
  attention::LocationScore location_;
  attention::LocalPosition position_;
};

// The decoder's stacked cells, named "0", "1", ... (layer 0 reads [E y_{t-1}; h~_{t-1}]).
class CellStack : public nn::Module {
 public:
  CellStack(int64_t input_size, int64_t hidden, int64_t layers, Rng& rng) {
    for (int64_t k = 0; k < layers; ++k) {
      cells.push_back(std::make_unique<nn::LSTMCell>(
          nn::LSTMCellOptions{.input_size = k == 0 ? input_size : hidden, .hidden_size = hidden}, rng));
      register_module(std::to_string(k), *cells.back());
    }
  }
  std::vector<std::unique_ptr<nn::LSTMCell>> cells;
};

class LuongState : public DecoderState {
 public:
  int64_t rows() const override { return feed.size(0); }
  std::unique_ptr<DecoderState> select(const std::vector<int64_t>& rows) const override {
    auto out = std::make_unique<LuongState>();
    out->memory = memory.select(rows);
    for (const Tensor& x : h) out->h.push_back(internal::select_rows(x, 0, rows));
    for (const Tensor& x : c) out->c.push_back(internal::select_rows(x, 0, rows));
    out->feed = internal::select_rows(feed, 0, rows);
    out->t = t;
    return out;
  }
  internal::MemoryRows memory;
  std::vector<Tensor> h, c;  // L x [N, H]
  Tensor feed;               // [N, H]: h~_{t-1}
  int64_t t = 0;             // target position of the next step (local-m's p_t)
};

class Luong : public Seq2SeqModel {
 public:
  Luong(const Seq2SeqConfig& c, Rng& rng)
      : Seq2SeqModel(c, rng),
        src_embed_(c.src_vocab, c.embed_dim, c.pad_id, rng),
        tgt_embed_(c.tgt_vocab, c.embed_dim, c.pad_id, rng),
        encoder_({.input_size = c.embed_dim, .hidden_size = c.hidden_dim, .num_layers = c.num_layers,
                  .batch_first = true, .dropout = c.dropout},
                 rng),
        decoder_(c.embed_dim + c.hidden_dim, c.hidden_dim, c.num_layers, rng),
        attention_(c, rng),
        combine_(2 * c.hidden_dim, c.hidden_dim, rng, {.bias = false}),
        output_(c.hidden_dim, c.tgt_vocab, rng) {
    register_module("src_embed", src_embed_);
    register_module("tgt_embed", tgt_embed_);
    register_module("encoder", encoder_);
    register_module("decoder", decoder_);
    register_module("attention", attention_);
    register_module("combine", combine_);
    register_module("output", output_);
  }

  ForwardResult forward(const Index& src, const std::vector<int64_t>& src_lengths, const Index& tgt_in,
                        const ForwardOptions& opt) override {
    internal::check_source(kOp, config_, src, src_lengths);
    internal::check_target(kOp, config_, src, tgt_in);
    const bool training = is_training();
    LuongState st;
    const internal::Memory m = encode(src, src_lengths, training, st);
    const Tensor emb = drop(tgt_embed_.forward(tgt_in), training);  // [B, T, E]
    const int64_t T = tgt_in.shape[1];
    std::vector<Tensor> attentional, weights;
    for (int64_t t = 0; t < T; ++t) {
      const Tensor w = advance(squeeze(slice(emb, 1, t, t + 1), 1), st, m, training, opt.need_attention);
      attentional.push_back(st.feed);
      if (opt.need_attention) weights.push_back(w);
    }
    ForwardResult out;
    out.logits = output_.forward(drop(stack(attentional, 1), training));  // [B, T, V]
    if (opt.need_attention) out.attention = stack(weights, 1);           // [B, T, S]
    return out;
  }

  std::unique_ptr<DecoderState> start(const Index& src, const std::vector<int64_t>& src_lengths) override {
    internal::check_source(kOp, config_, src, src_lengths);
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    auto state = std::make_unique<LuongState>();
    state->memory = internal::MemoryRows(std::make_shared<internal::Memory>(encode(src, src_lengths, false, *state)));
    return state;
  }

  StepOutput step(DecoderState& base, const std::vector<int64_t>& prev_tokens) override {
    auto* typed = dynamic_cast<LuongState*>(&base);
    ATTEND_CHECK(typed != nullptr, kOp, "step got a DecoderState that this model's start() did not make");
    auto& state = *typed;
    internal::check_step_tokens(kOp, config_, state.rows(), prev_tokens);
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    const Tensor w = advance(tgt_embed_.forward(Index(prev_tokens)), state, state.memory.get(), false, true);
    return {internal::step_log_probs(output_.forward(state.feed)), w.to(DType::f32)};
  }

 private:
  Tensor drop(const Tensor& x, bool training) { return dropout(x, config_.dropout, training, dropout_rng_); }

  // Encoder states (the keys) and the decoder's initial state: the encoder's final (h, c) per
  // layer, h~_0 = 0.
  internal::Memory encode(const Index& src, const std::vector<int64_t>& lengths, bool training, LuongState& st) {
    const Tensor x = drop(src_embed_.forward(src), training);  // [B, S, E]
    const nn::LSTMOutput enc = encoder_.forward(x, lengths);   // output [B, S, H], h_n, c_n [L, B, H]
    const int64_t B = src.shape[0], H = config_.hidden_dim;
    for (int64_t k = 0; k < config_.num_layers; ++k) {
      st.h.push_back(squeeze(slice(enc.h_n, 0, k, k + 1), 0));  // [B, H]
      st.c.push_back(squeeze(slice(enc.c_n, 0, k, k + 1), 0));  // [B, H]
    }
    st.feed = Tensor::zeros(Shape{B, H}, enc.output.dtype());  // [B, H]
    st.t = 0;
    return {enc.output, attention_.project(enc.output), lengths};
  }

  // One step: the stacked cells on [E y_{t-1}; h~_{t-1}], attention on the top state, h~_t into
  // st.feed. Returns the attention weights [N, S] (undefined unless need_weights).
  Tensor advance(const Tensor& e_prev, LuongState& st, const internal::Memory& m, bool training, bool need_weights) {
    Tensor x = concat({e_prev, st.feed}, 1);  // [N, E + H]
    const int64_t L = config_.num_layers;
    for (int64_t k = 0; k < L; ++k) {
      const nn::LSTMState next = decoder_.cells[static_cast<size_t>(k)]->forward(
          x, {st.h[static_cast<size_t>(k)], st.c[static_cast<size_t>(k)]});  // [N, H] each
      st.h[static_cast<size_t>(k)] = next.h;
      st.c[static_cast<size_t>(k)] = next.c;
      x = k + 1 < L ? drop(next.h, training) : next.h;
    }
    const attention::AttentionResult a = attention_.attend(unsqueeze(x, 1), m, st.t, need_weights);  // [N, 1, H]
    st.feed = tanh(combine_.forward(concat({squeeze(a.context, 1), x}, 1)));  // h~_t [N, H]
    ++st.t;
    return need_weights ? squeeze(a.weights, 1) : Tensor();  // [N, S]
  }

  internal::Embedding src_embed_, tgt_embed_;
  nn::LSTM encoder_;
  CellStack decoder_;
  LuongAttention attention_;
  nn::Linear combine_;  // W_c [H, 2H]
  nn::Linear output_;   // W_s [V, H]
};

}  // namespace

std::unique_ptr<Seq2SeqModel> make_luong(const Seq2SeqConfig& config, Rng& rng) {
  return std::make_unique<Luong>(config, rng);
}

}  // namespace attend::models
