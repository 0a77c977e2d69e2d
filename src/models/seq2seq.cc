// The encoder-decoder without attention (Sutskever et al. 2014; Cho et al. 2014): the encoder's
// final (h, c) per layer is the decoder's initial state, the only path from source to target.
// The decoder has no per-step input besides the previous token, so teacher forcing runs it as one
// nn::LSTM call over all steps and a step is the same call with T = 1.
#include "attend/models/seq2seq.h"
#include "attend/nn/embedding.h"
#include "attend/nn/linear.h"
#include "attend/nn/rnn.h"
#include "attend/ops/ops.h"
#include "internal.h"
#include "models.h"

namespace attend::models {

namespace {

constexpr const char* kOp = "seq2seq";

// The encoder's final (h, c) per layer: the decoder's initial state.
struct Seq2SeqMemory : Memory {
  Tensor h, c;  // [L, B, H]
};

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

class Seq2Seq : public EncoderDecoder {
 public:
  Seq2Seq(const Seq2SeqConfig& c, Rng& rng)
      : EncoderDecoder(c, rng),
        c_(static_cast<const Seq2SeqConfig&>(*config_)),
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

  std::shared_ptr<const Memory> encode(const Source& src) override {
    internal::check_token_source(kOp, c_.src_vocab, src);
    const Tensor x = drop(src_embed_.forward(src.tokens), is_training());  // [B, S, E]
    const nn::LSTMOutput enc = encoder_.forward(x, src.lengths);           // h_n, c_n [L, B, H]
    auto m = std::make_shared<Seq2SeqMemory>();
    m->h = enc.h_n;
    m->c = enc.c_n;
    m->lengths = src.lengths;
    return m;
  }

  ForwardResult decode(const Memory& memory, const Index& tgt_in, const ForwardOptions&) override {
    const auto& m = internal::memory_as<Seq2SeqMemory>(kOp, memory);
    internal::check_target(kOp, c_.tgt_vocab, m.rows(), tgt_in);
    const bool training = is_training();
    const Tensor emb = drop(tgt_embed_.forward(tgt_in), training);                    // [B, T, E]
    const nn::LSTMOutput dec = decoder_.forward(emb, {}, {m.h, m.c});                 // [B, T, H]
    return {output_.forward(drop(dec.output, training)), Tensor()};                   // [B, T, V]
  }

  std::unique_ptr<DecoderState> init_state(std::shared_ptr<const Memory> memory) override {
    const auto& m = internal::memory_as<Seq2SeqMemory>(kOp, *memory);
    auto state = std::make_unique<Seq2SeqState>();
    state->h = m.h;
    state->c = m.c;
    return state;
  }

  StepOutput step(DecoderState& base, const Index& tokens) override {
    auto& state = internal::step_state<Seq2SeqState>(kOp, c_.tgt_vocab, base, tokens);
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    const int64_t N = state.rows(), t = internal::step_length(tokens);
    const Tensor e = tgt_embed_.forward(Index(tokens.data, Shape{N, t}));      // [N, t, E]
    const nn::LSTMOutput dec = decoder_.forward(e, {}, {state.h, state.c});  // [N, t, H]
    state.h = dec.h_n;
    state.c = dec.c_n;
    const Tensor last = squeeze(slice(dec.output, 1, t - 1, t), 1);         // [N, H]
    return {internal::step_log_probs(output_.forward(last)), Tensor()};
  }

 private:
  static nn::LSTMOptions options(const Seq2SeqConfig& c) {
    return {.input_size = c.embed_dim, .hidden_size = c.hidden_dim, .num_layers = c.num_layers,
            .batch_first = true, .dropout = c.dropout};
  }
  Tensor drop(const Tensor& x, bool training) { return dropout(x, c_.dropout, training, dropout_rng_); }

  const Seq2SeqConfig& c_;  // *config_, typed
  nn::Embedding src_embed_, tgt_embed_;
  nn::LSTM encoder_, decoder_;
  nn::Linear output_;  // [V, H]
};

}  // namespace

std::vector<Field> Seq2SeqConfig::arch_fields() {
  return {int_field("embed_dim", "--embed", "embedding width", embed_dim),
          int_field("hidden_dim", "--hidden", "recurrent state width", hidden_dim),
          int_field("num_layers", "--layers", "stacked LSTM layers", num_layers),
          real_field("dropout", "--dropout", "dropout on embeddings, between layers and before the output", dropout,
                     0.0, 1.0)};
}

void Seq2SeqConfig::check_more() const {
  ATTEND_CHECK(src_vocab > 0, op(), "key 'src_vocab': ", src_vocab, " must be positive (seq2seq reads token ids)");
}

ArchitectureInfo seq2seq_architecture() {
  return {.name = Seq2SeqConfig::kName,
          .summary = "Sutskever et al. 2014: LSTM encoder-decoder without attention (the baseline)",
          .task = Task::sequence_to_sequence,
          .has_attention = false,
          .source = SourceKind::tokens,
          .make_config = [] { return std::make_unique<Seq2SeqConfig>(); },
          .make_model = [](const ModelConfig& c, Rng& rng) -> std::unique_ptr<Model> {
            return std::make_unique<Seq2Seq>(internal::config_as<Seq2SeqConfig>(kOp, c), rng);
          }};
}

}  // namespace attend::models
