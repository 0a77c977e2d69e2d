// Luong, Pham & Manning 2015 (luong.h has the equations): stacked LSTMs, input feeding,
// attention on the top decoder state with any of the paper's scores and alignments, the
// attentional state h~_t = tanh(W_c [c_t; h_t]) and the softmax layer on h~_t.
#include <cmath>

#include "attend/attention/local.h"
#include "attend/attention/multiplicative.h"
#include "attend/nn/linear.h"
#include "attend/models/luong.h"
#include "attend/nn/embedding.h"
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
  LuongAttention(const LuongConfig& c, Rng& rng)
      : score_(c.score), alignment_(c.alignment), D_(c.window), normalizer_(attention::make_normalizer(c.normalizer)) {
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
    register_normalizer(normalizer_);
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
  attention::AttentionResult attend(const Tensor& query, const internal::AttentionMemory& m, int64_t t,
                                    bool need_weights) const {
    Tensor scores;  // [N, 1, S]
    switch (score_) {
      case Score::dot: scores = attention::dot_scores(query, m.keys); break;
      case Score::general: scores = general_.scores_projected(query, m.projected); break;
      case Score::concat: scores = concat_.scores_projected(query, m.projected); break;
      case Score::location: scores = location_.scores(query, m.keys.size(1)); break;
    }
    const attention::Mask mask{.key_lengths = m.lengths};
    const attention::AttendOptions a{.normalizer = normalizer_, .need_weights = need_weights, .op = kOp};
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
  attention::Normalizer normalizer_;
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

// Encoder states (the keys, projected once by the score) and the encoder's final (h, c) per layer.
struct LuongMemory : internal::AttentionMemory {
  Tensor h_n, c_n;  // [L, B, H]
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

class Luong : public EncoderDecoder {
 public:
  Luong(const LuongConfig& c, Rng& rng)
      : EncoderDecoder(c, rng),
        c_(static_cast<const LuongConfig&>(*config_)),
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

  std::shared_ptr<const Memory> encode(const Source& src) override {
    internal::check_token_source(kOp, c_.src_vocab, src);
    const Tensor x = drop(src_embed_.forward(src.tokens), is_training());  // [B, S, E]
    const nn::LSTMOutput enc = encoder_.forward(x, src.lengths);  // output [B, S, H], h_n, c_n [L, B, H]
    auto m = std::make_shared<LuongMemory>();
    m->keys = enc.output;
    m->projected = attention_.project(enc.output);
    m->h_n = enc.h_n;
    m->c_n = enc.c_n;
    m->lengths = src.lengths;
    return m;
  }

  ForwardResult decode(const Memory& memory, const Index& tgt_in, const ForwardOptions& opt) override {
    const auto& m = internal::memory_as<LuongMemory>(kOp, memory);
    internal::check_target(kOp, c_.tgt_vocab, m.rows(), tgt_in);
    const bool training = is_training();
    LuongState st;
    initial_state(m, st);
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

  std::unique_ptr<DecoderState> init_state(std::shared_ptr<const Memory> memory) override {
    auto m = internal::memory_as<LuongMemory>(kOp, std::move(memory));
    auto state = std::make_unique<LuongState>();
    initial_state(*m, *state);
    state->memory = internal::memory_rows(std::move(m));
    return state;
  }

  StepOutput step(DecoderState& base, const Index& tokens) override {
    auto& state = internal::step_state<LuongState>(kOp, c_.tgt_vocab, base, tokens);
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    Tensor w;
    for (int64_t c = 0; c < internal::step_length(tokens); ++c)
      w = advance(tgt_embed_.forward(Index(internal::step_column(tokens, c))), state, state.memory.get(), false, true);
    return {internal::step_log_probs(output_.forward(state.feed)), w.to(DType::f32)};
  }

 private:
  Tensor drop(const Tensor& x, bool training) { return dropout(x, c_.dropout, training, dropout_rng_); }

  // The decoder's initial state: the encoder's final (h, c) per layer, h~_0 = 0.
  void initial_state(const LuongMemory& m, LuongState& st) const {
    for (int64_t k = 0; k < c_.num_layers; ++k) {
      st.h.push_back(squeeze(slice(m.h_n, 0, k, k + 1), 0));  // [B, H]
      st.c.push_back(squeeze(slice(m.c_n, 0, k, k + 1), 0));  // [B, H]
    }
    st.feed = Tensor::zeros(Shape{m.rows(), c_.hidden_dim}, m.keys.dtype());  // [B, H]
    st.t = 0;
  }

  // One step: the stacked cells on [E y_{t-1}; h~_{t-1}], attention on the top state, h~_t into
  // st.feed. Returns the attention weights [N, S] (undefined unless need_weights).
  Tensor advance(const Tensor& e_prev, LuongState& st, const internal::AttentionMemory& m, bool training, bool need_weights) {
    Tensor x = concat({e_prev, st.feed}, 1);  // [N, E + H]
    const int64_t L = c_.num_layers;
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

  const LuongConfig& c_;  // *config_, typed
  nn::Embedding src_embed_, tgt_embed_;
  nn::LSTM encoder_;
  CellStack decoder_;
  LuongAttention attention_;
  nn::Linear combine_;  // W_c [H, 2H]
  nn::Linear output_;   // W_s [V, H]
};

}  // namespace

std::vector<Field> LuongConfig::arch_fields() {
  return {int_field("embed_dim", "--embed", "embedding width", embed_dim),
          int_field("hidden_dim", "--hidden", "recurrent state width", hidden_dim),
          int_field("attention_dim", "--attention-dim", "concat score and local-p position network width",
                    attention_dim),
          int_field("num_layers", "--layers", "stacked LSTM layers", num_layers),
          choice_field("score", "--score", "score function", score, kScoreNames),
          choice_field("alignment", "--align", "global or local attention", alignment, kAlignmentNames),
          int_field("window", "--window", "local attention: half window D", window),
          int_field("max_source_len", "--max-source-len", "location score: longest source (0 on the command line: "
                    "from the data)", max_source_len),
          real_field("dropout", "--dropout", "dropout on embeddings, between layers and before the output", dropout,
                     0.0, 1.0),
          normalizer_field(normalizer)};
}

void LuongConfig::check_more() const {
  ATTEND_CHECK(src_vocab > 0, op(), "key 'src_vocab': ", src_vocab, " must be positive (luong reads token ids)");
}

ArchitectureInfo luong_architecture() {
  return {.name = LuongConfig::kName,
          .summary = "Luong et al. 2015: stacked LSTMs, input feeding, dot/general/concat/location scores, "
                     "global/local-m/local-p attention",
          .task = Task::sequence_to_sequence,
          .has_attention = true,
          .source = SourceKind::tokens,
          .make_config = [] { return std::make_unique<LuongConfig>(); },
          .make_model = [](const ModelConfig& c, Rng& rng) -> std::unique_ptr<Model> {
            return std::make_unique<Luong>(internal::config_as<LuongConfig>(kOp, c), rng);
          }};
}

}  // namespace attend::models
