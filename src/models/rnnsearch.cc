// RNNsearch, Bahdanau, Cho & Bengio 2015 (rnnsearch.h has the equations). The recurrent part runs
// step by step (the attention query s_{t-1} and the context c_t feed the next state); the deep
// output and the vocabulary projection run once over all steps.
#include <cmath>

#include "attend/attention/additive.h"
#include "attend/models/rnnsearch.h"
#include "attend/nn/embedding.h"
#include "attend/nn/linear.h"
#include "attend/nn/rnn.h"
#include "attend/ops/ops.h"
#include "internal.h"
#include "models.h"

namespace attend::models {

namespace {

constexpr const char* kOp = "rnnsearch";

// Annotations, their projection by W_k, and s_0.
struct RnnsearchMemory : internal::AttentionMemory {
  Tensor s0;  // [B, H]
};

class RnnsearchState : public DecoderState {
 public:
  int64_t rows() const override { return s.size(0); }
  std::unique_ptr<DecoderState> select(const std::vector<int64_t>& rows) const override {
    auto out = std::make_unique<RnnsearchState>();
    out->memory = memory.select(rows);
    out->s = internal::select_rows(s, 0, rows);
    return out;
  }
  internal::MemoryRows memory;
  Tensor s;  // [N, H]: s_{t-1}
};

class Rnnsearch : public EncoderDecoder {
 public:
  Rnnsearch(const RnnsearchConfig& c, Rng& rng)
      : EncoderDecoder(c, rng),
        c_(static_cast<const RnnsearchConfig&>(*config_)),
        src_embed_(c.src_vocab, c.embed_dim, c.pad_id, rng),
        tgt_embed_(c.tgt_vocab, c.embed_dim, c.pad_id, rng),
        encoder_({.input_size = c.embed_dim, .hidden_size = c.hidden_dim, .batch_first = true, .bidirectional = true},
                 rng),
        init_state_(c.hidden_dim, c.hidden_dim, rng),
        attention_(c.hidden_dim, 2 * c.hidden_dim, c.attention_dim, rng, c.normalizer),
        decoder_({.input_size = c.embed_dim + 2 * c.hidden_dim, .hidden_size = c.hidden_dim}, rng),
        readout_(c.hidden_dim + c.embed_dim + 2 * c.hidden_dim, c.readout_dim, rng),
        output_(c.readout_dim, c.tgt_vocab, rng) {
    register_module("src_embed", src_embed_);
    register_module("tgt_embed", tgt_embed_);
    register_module("encoder", encoder_);
    register_module("init_state", init_state_);
    register_module("attention", attention_);
    register_module("decoder", decoder_);
    register_module("readout", readout_);
    register_module("output", output_);
  }

  // Annotations, their projection by W_k, and s_0 = tanh(W_s h_1^backward).
  std::shared_ptr<const Memory> encode(const Source& src) override {
    internal::check_token_source(kOp, c_.src_vocab, src);
    const bool training = is_training();
    auto m = std::make_shared<RnnsearchMemory>();
    const Tensor x = drop(src_embed_.forward(src.tokens), training);  // [B, S, E]
    const nn::GRUOutput enc = encoder_.forward(x, src.lengths);       // output [B, S, 2H], h_n [2, B, H]
    m->s0 = tanh(init_state_.forward(squeeze(slice(enc.h_n, 0, 1, 2), 0)));  // [B, H]
    m->keys = enc.output;                                                     // [B, S, 2H]
    m->projected = attention_.score.project_keys(enc.output);                 // [B, S, A]
    m->lengths = src.lengths;
    return m;
  }

  ForwardResult decode(const Memory& memory, const Index& tgt_in, const ForwardOptions& opt) override {
    const auto& m = internal::memory_as<RnnsearchMemory>(kOp, memory);
    internal::check_target(kOp, c_.tgt_vocab, m.rows(), tgt_in);
    const bool training = is_training();
    Tensor s = m.s0;                                                   // [B, H]
    const int64_t T = tgt_in.shape[1];
    const Tensor emb = drop(tgt_embed_.forward(tgt_in), training);     // [B, T, E]
    std::vector<Tensor> states, contexts, weights;
    for (int64_t t = 0; t < T; ++t) {
      const Tensor e_t = squeeze(slice(emb, 1, t, t + 1), 1);          // [B, E]
      Step r = advance(e_t, s, m, opt.need_attention);
      s = r.s;
      states.push_back(r.s);
      contexts.push_back(r.c);
      if (opt.need_attention) weights.push_back(r.weights);
    }
    ForwardResult out;
    out.logits = logits_of(stack(states, 1), emb, stack(contexts, 1), training);  // [B, T, V]
    if (opt.need_attention) out.attention = stack(weights, 1);                   // [B, T, S]
    return out;
  }

  std::unique_ptr<DecoderState> init_state(std::shared_ptr<const Memory> memory) override {
    auto m = internal::memory_as<RnnsearchMemory>(kOp, std::move(memory));
    auto state = std::make_unique<RnnsearchState>();
    state->s = m->s0;
    state->memory = internal::memory_rows(std::move(m));
    return state;
  }

  StepOutput step(DecoderState& base, const Index& tokens) override {
    auto& state = internal::step_state<RnnsearchState>(kOp, c_.tgt_vocab, base, tokens);
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    Tensor e;
    Step r;
    for (int64_t c = 0; c < internal::step_length(tokens); ++c) {
      e = tgt_embed_.forward(Index(internal::step_column(tokens, c)));  // [N, E]
      r = advance(e, state.s, state.memory.get(), true);
      state.s = r.s;
    }
    return {internal::step_log_probs(logits_of(r.s, e, r.c, false)), r.weights.to(DType::f32)};
  }

 private:
  struct Step {
    Tensor s;        // [N, H]   s_t
    Tensor c;        // [N, 2H]  c_t
    Tensor weights;  // [N, S]   a_t (when asked)
  };

  Tensor drop(const Tensor& x, bool training) { return dropout(x, c_.dropout, training, dropout_rng_); }

  // a_t from s_{t-1}, c_t, then s_t = GRU([E y_{t-1}; c_t], s_{t-1}).
  Step advance(const Tensor& e_prev, const Tensor& s_prev, const internal::AttentionMemory& m, bool need_weights) {
    const Tensor scores = attention_.score.scores_projected(unsqueeze(s_prev, 1), m.projected);  // [N, 1, S]
    const attention::AttentionResult a = attention::attend(
        scores, m.keys, {.key_lengths = m.lengths},
        {.normalizer = attention_.normalizer, .need_weights = need_weights, .op = kOp});  // [N, 1, 2H]
    Step r;
    r.c = squeeze(a.context, 1);                                  // [N, 2H]
    r.s = decoder_.forward(concat({e_prev, r.c}, 1), s_prev);     // [N, H]
    if (need_weights) r.weights = squeeze(a.weights, 1);          // [N, S]
    return r;
  }

  // Deep output: W_o dropout(tanh(U_o [s_t; E y_{t-1}; c_t] + b_o)), over any leading dims.
  Tensor logits_of(const Tensor& s, const Tensor& e, const Tensor& c, bool training) {
    const int last = s.dim() - 1;
    const Tensor t = tanh(readout_.forward(concat({s, e, c}, last)));  // [..., R]
    return output_.forward(drop(t, training));                         // [..., V]
  }

  const RnnsearchConfig& c_;  // *config_, typed
  nn::Embedding src_embed_, tgt_embed_;
  nn::GRU encoder_;
  nn::Linear init_state_;  // W_s [H, H]
  internal::AdditiveAttention attention_;
  nn::GRUCell decoder_;
  nn::Linear readout_;  // [R, H + E + 2H]
  nn::Linear output_;   // [V, R]
};

}  // namespace

std::vector<Field> RnnsearchConfig::arch_fields() {
  return {int_field("embed_dim", "--embed", "embedding width", embed_dim),
          int_field("hidden_dim", "--hidden", "recurrent state width (per direction in the encoder)", hidden_dim),
          int_field("attention_dim", "--attention-dim", "additive attention width", attention_dim),
          int_field("readout_dim", "--readout", "deep-output width", readout_dim),
          real_field("dropout", "--dropout", "dropout on embeddings and the output layer's input", dropout, 0.0, 1.0),
          normalizer_field(normalizer)};
}

void RnnsearchConfig::check_more() const {
  ATTEND_CHECK(src_vocab > 0, op(), "key 'src_vocab': ", src_vocab, " must be positive (rnnsearch reads token ids)");
}

ArchitectureInfo rnnsearch_architecture() {
  return {.name = RnnsearchConfig::kName,
          .summary = "Bahdanau et al. 2015: bidirectional GRU encoder, additive attention, GRU decoder",
          .task = Task::sequence_to_sequence,
          .has_attention = true,
          .source = SourceKind::tokens,
          .make_config = [] { return std::make_unique<RnnsearchConfig>(); },
          .make_model = [](const ModelConfig& c, Rng& rng) -> std::unique_ptr<Model> {
            return std::make_unique<Rnnsearch>(internal::config_as<RnnsearchConfig>(kOp, c), rng);
          }};
}

}  // namespace attend::models
