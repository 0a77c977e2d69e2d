// GPT-2 style decoder-only language model (gpt.h has the equations). Training runs every position
// at once under a causal mask; generation keeps each layer's keys and values (nn::KVCache).
#include "attend/models/gpt.h"

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "attend/nn/embedding.h"
#include "attend/nn/linear.h"
#include "attend/ops/ops.h"
#include "internal.h"
#include "models.h"

namespace attend::models {

namespace {

constexpr const char* kOp = "gpt";

nn::TransformerLayerOptions block_options(const GptConfig& c) {
  return {.d_model = c.d_model,
          .num_heads = c.num_heads,
          .ffn_dim = c.ffn_dim,
          .dropout = c.dropout,
          .attention_dropout = c.attention_dropout,
          .activation = c.activation,
          .norm_first = true,
          .cross_attention = false,
          .normalizer = c.normalizer};
}

// The rows of a generation: every layer's keys and values of the positions so far, in one buffer
// (a beam's reordering is one gather).
class GptState : public DecoderState {
 public:
  int64_t rows() const override { return rows_; }
  std::unique_ptr<DecoderState> select(const std::vector<int64_t>& rows) const override {
    for (const int64_t r : rows)
      ATTEND_CHECK(r >= 0 && r < rows_, "DecoderState::select", "row ", r, " is outside a state of ", rows_, " rows");
    NoGrad no_grad;
    auto out = std::make_unique<GptState>();
    out->rows_ = static_cast<int64_t>(rows.size());
    out->position = position;
    out->self = self.select(rows);  // [N', L, 2, H, t, D]
    return out;
  }

  int64_t rows_ = 0;
  nn::KVCacheStack self;
  int64_t position = 0;  // positions fed so far
};

class Gpt : public LanguageModel {
 public:
  Gpt(const GptConfig& c, Rng& rng)
      : LanguageModel(c, rng),
        c_(static_cast<const GptConfig&>(*config_)),
        embed_(c.vocab, c.d_model, -1, rng),
        positions_(nn::PositionKind::learned, c.max_positions, c.d_model, rng),
        blocks_(c.num_layers, block_options(c), rng) {
    register_module("embed", embed_);
    register_module("positions", positions_);
    register_module("blocks", blocks_);
    if (!c.tie_output) {
      output_ = std::make_unique<nn::Linear>(c.d_model, c.vocab, rng, nn::LinearOptions{.bias = false});
      register_module("output", *output_);
    }
    initialize(rng);
  }

  LanguageModelOutput forward(const Index& tokens) override {
    return {project(features(tokens).states), {}};  // [B, T, V]
  }

  OutputFeatures features(const Index& tokens) override {
    internal::check_target(kOp, c_.vocab, -1, tokens, "tokens");
    const bool training = is_training();
    Tensor x = embed(tokens, 0, training);  // [B, T, C]
    const attention::Mask causal{.causal = true};
    for (int64_t l = 0; l < blocks_.size(); ++l) x = blocks_[l].forward(x, Tensor(), causal, {}).output;  // [B, T, C]
    return {.states = blocks_.finish(x), .weight = output_ ? output_->weight : embed_.weight};  // [B, T, C]
  }

  std::unique_ptr<DecoderState> start(int64_t rows) override {
    ATTEND_CHECK(rows >= 1, kOp, "start needs at least one row, got ", rows);
    auto state = std::make_unique<GptState>();
    state->rows_ = rows;
    state->self = nn::KVCacheStack(blocks_.size(), c_.num_heads, c_.d_model / c_.num_heads, DType::f32);
    return state;
  }

  StepOutput step(DecoderState& base, const Index& tokens) override {
    auto& state = internal::step_state<GptState>(kOp, c_.vocab, base, tokens);
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    const int64_t N = state.rows(), t = internal::step_length(tokens);
    if (state.position + t > c_.max_positions) return internal::end_of_positions(N, c_.vocab, c_.eos_id);
    Tensor x = embed(Index(tokens.data, Shape{N, t}), state.position, false);  // [N, t, C]
    const attention::Mask causal{.causal = true};  // bottom-right: the new positions see every cached one
    state.self.reserve(N, state.position + t);
    for (int64_t l = 0; l < blocks_.size(); ++l)
      x = blocks_[l].forward(x, Tensor(), causal, {}, {.self_cache = &state.self[l]}).output;
    state.position += t;
    const Tensor last = squeeze(slice(blocks_.finish(x), 1, t - 1, t), 1);  // [N, C]
    return {internal::step_log_probs(project(last)), Tensor()};
  }

  std::vector<AttentionMap> attention_maps(const Index& tokens) override {
    internal::check_target(kOp, c_.vocab, -1, tokens, "tokens");
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    Tensor x = embed(tokens, 0, false);  // [B, T, C]
    const attention::Mask causal{.causal = true};
    std::vector<AttentionMap> maps;
    for (int64_t l = 0; l < blocks_.size(); ++l) {
      nn::DecoderLayerOutput r = blocks_[l].forward(x, Tensor(), causal, {}, {.need_head_weights = true});
      x = r.output;
      maps.push_back({.kind = AttentionKind::decoder_self, .layer = l, .weights = r.self_weights});  // [B, H, T, T]
    }
    return maps;
  }

  int64_t max_positions() const override { return c_.max_positions; }

 private:
  // GPT-2's initialization (gpt.h), drawn from rng in parameter order.
  void initialize(Rng& rng) {
    const double std = 0.02, residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(c_.num_layers));
    for (const auto& [name, p] : named_parameters()) {
      const bool is_bias = name.ends_with("bias");
      const bool is_norm = name.find("norm") != std::string::npos;
      if (is_norm) continue;  // LayerNorm: ones and zeros already
      if (is_bias) {
        load_parameter(name, Tensor::zeros(p.shape(), p.dtype()));
        continue;
      }
      const bool residual = name.ends_with("out_proj.weight") || name.ends_with("linear2.weight");
      load_parameter(name, mul(Tensor::randn(p.shape(), rng, p.dtype()), residual ? residual_std : std));
    }
  }

  // E[ids] + P[offset .. offset + T), dropped out: ids [B, T] -> [B, T, C].
  Tensor embed(const Index& ids, int64_t offset, bool training) {
    const Tensor e = embed_.forward(ids);  // [B, T, C]
    const Tensor x = add(e, positions_.forward(offset, ids.shape[1], e.dtype(), kOp, "context"));
    return dropout(x, c_.dropout, training, dropout_rng_);
  }

  // [..., C] -> [..., V]
  Tensor project(const Tensor& x) const { return output_ ? output_->forward(x) : linear(x, embed_.weight); }

  const GptConfig& c_;  // *config_, typed
  nn::Embedding embed_;
  nn::PositionalEncoding positions_;
  nn::LayerStack<nn::TransformerDecoderLayer> blocks_;
  std::unique_ptr<nn::Linear> output_;  // absent with tie_output
};

}  // namespace

std::vector<Field> GptConfig::arch_fields() {
  return {int_field("d_model", "--d-model", "model width C (embeddings, every layer's input and output)", d_model),
          int_field("num_heads", "--heads", "attention heads (must divide d_model)", num_heads),
          int_field("ffn_dim", "--ffn", "position-wise feed-forward width", ffn_dim),
          int_field("num_layers", "--layers", "Transformer blocks", num_layers),
          real_field("dropout", "--dropout", "dropout on embeddings, residual branches and in the feed-forward",
                     dropout, 0.0, 1.0),
          real_field("attention_dropout", "--attention-dropout", "dropout on the attention weights",
                     attention_dropout, 0.0, 1.0),
          choice_field("activation", "--activation", "feed-forward activation", activation, kActivationNames),
          int_field("max_positions", "--max-positions",
                    "longest context in tokens (attend train: --context unless given)", max_positions, 1, 1 << 20),
          bool_field("tie_output", "--tie-output", "the output projection is the token embedding", tie_output),
          normalizer_field(normalizer)};
}

void GptConfig::check_more() const {
  ATTEND_CHECK(d_model % num_heads == 0, op(), "key 'd_model': ", d_model, " is not divisible by num_heads ",
               num_heads);
}

ArchitectureInfo gpt_architecture() {
  return {.name = GptConfig::kName,
          .summary = "Radford et al. 2019 (GPT-2): decoder-only Transformer language model, learned positions, "
                     "pre-norm, GELU, tied embeddings",
          .task = Task::language_model,
          .has_attention = true,
          .source = SourceKind::tokens,
          .make_config = [] { return std::make_unique<GptConfig>(); },
          .make_model = [](const ModelConfig& c, Rng& rng) -> std::unique_ptr<Model> {
            return std::make_unique<Gpt>(internal::config_as<GptConfig>(kOp, c), rng);
          }};
}

}  // namespace attend::models
