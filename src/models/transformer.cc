// The Transformer, Vaswani et al. 2017 (transformer.h has the equations). Teacher forcing runs
// every target position at once under a causal mask; incremental decoding keeps per-layer
// self-attention caches and the source's cross-attention keys/values, so each step attends
// only from the new position.
#include "attend/models/transformer.h"

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

constexpr const char* kOp = "transformer";

struct TransformerMemory : Memory {
  Tensor states;  // [B, S, C]: the encoder stack's output
};

// The cross-attention keys and values of every decoder layer, [R, H, S, D] each, and the source
// lengths of their R rows.
struct CrossKV {
  std::vector<nn::KVCache> layers;
  std::vector<int64_t> lengths;  // [R]
};

std::shared_ptr<const CrossKV> gather_cross(const CrossKV& base, const std::vector<int64_t>& src_index) {
  NoGrad no_grad;
  auto out = std::make_shared<CrossKV>();
  for (const nn::KVCache& c : base.layers)
    out->layers.push_back({internal::select_rows(c.k, 0, src_index), internal::select_rows(c.v, 0, src_index)});
  for (const int64_t s : src_index) out->lengths.push_back(base.lengths[static_cast<size_t>(s)]);
  return out;
}

// A search's rows: their self-attention caches, all layers in one buffer (reordered by one
// gather), and the cross-attention keys and values of their sources, held once per source while
// the rows come in groups per source (a beam), row by row otherwise (internal::SourceRows).
class TransformerState : public DecoderState {
 public:
  int64_t rows() const override { return static_cast<int64_t>(cross.src_index().size()); }
  std::unique_ptr<DecoderState> select(const std::vector<int64_t>& rows) const override {
    NoGrad no_grad;
    auto out = std::make_unique<TransformerState>();
    out->cross = cross.select(rows);  // checks the rows; shared while the rows read the same sources
    out->self = self.select(rows);    // [N', L, 2, H, T, D]
    out->position = position;
    return out;
  }

  nn::KVCacheStack self;                // every decoder layer's keys and values of the steps so far
  internal::SourceRows<CrossKV> cross;  // per decoder layer: [B, H, S, D], projected once per source
  int64_t position = 0;                 // steps taken (the next target position)
};

nn::TransformerLayerOptions layer_options(const TransformerConfig& c) {
  return {.d_model = c.d_model,
          .num_heads = c.num_heads,
          .ffn_dim = c.ffn_dim,
          .dropout = c.dropout,
          .attention_dropout = c.attention_dropout,
          .activation = c.activation,
          .norm_first = c.norm_first,
          .normalizer = c.normalizer};
}

class Transformer : public EncoderDecoder {
 public:
  Transformer(const TransformerConfig& c, Rng& rng)
      : EncoderDecoder(c, rng),
        c_(static_cast<const TransformerConfig&>(*config_)),
        tgt_embed_(c.tgt_vocab, c.d_model, c.pad_id, rng),
        src_positions_(c.positions, c.max_positions, c.d_model, rng),
        tgt_positions_(c.positions, c.max_positions, c.d_model, rng),
        encoder_(c.encoder_layers, layer_options(c), rng, c.has_final_norm()),
        decoder_(c.decoder_layers, layer_options(c), rng, c.has_final_norm()) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.d_model));
    if (!c.share_embeddings) {
      src_embed_ = std::make_unique<nn::Embedding>(c.src_vocab, c.d_model, c.pad_id, rng);
      src_embed_->load_parameter("weight", mul(src_embed_->weight, scale));  // N(0, C^-1/2)
      register_module("src_embed", *src_embed_);
    }
    tgt_embed_.load_parameter("weight", mul(tgt_embed_.weight, scale));
    register_module("tgt_embed", tgt_embed_);
    register_module("src_positions", src_positions_);
    register_module("tgt_positions", tgt_positions_);
    register_module("encoder", encoder_);
    register_module("decoder", decoder_);
    if (!c.tie_output) {
      output_ = std::make_unique<nn::Linear>(c.d_model, c.tgt_vocab, rng);
      register_module("output", *output_);
    }
    const int64_t L = c.decoder_layers;
    align_layer_ = c.alignment_layer > 0 ? c.alignment_layer - 1 : (L >= 2 ? L - 2 : 0);
  }

  std::shared_ptr<const Memory> encode(const Source& src) override {
    internal::check_token_source(kOp, c_.src_vocab, src);
    Tensor x = embed_sources(src.tokens, is_training());  // [B, S, C]
    const attention::Mask mask{.key_lengths = src.lengths};
    for (const auto& layer : encoder_.layers.items) x = layer->forward(x, mask);           // [B, S, C]
    auto m = std::make_shared<TransformerMemory>();
    m->states = encoder_.finish(x);
    m->lengths = src.lengths;
    return m;
  }

  ForwardResult decode(const Memory& memory, const Index& tgt_in, const ForwardOptions& opt) override {
    ForwardResult out;
    out.logits = project(decoder_states(memory, tgt_in, opt.need_attention ? &out.attention : nullptr));  // [B, T, V]
    return out;
  }

  OutputFeatures features(const Source& src, const Index& tgt_in) override {
    const Tensor states = decoder_states(*encode(src), tgt_in, nullptr);  // [B, T, C]
    return {.states = states, .weight = output_ ? output_->weight : tgt_embed_.weight,
            .bias = output_ ? output_->bias : Tensor()};
  }

  std::vector<AttentionMap> attention_maps(const Source& src, const Index& tgt_in) override {
    internal::check_token_source(kOp, c_.src_vocab, src);
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    std::vector<AttentionMap> maps;
    Tensor x = embed_sources(src.tokens, false);  // [B, S, C]
    const attention::Mask source_mask{.key_lengths = src.lengths};
    for (size_t l = 0; l < encoder_.layers.items.size(); ++l) {
      Tensor w;
      x = encoder_.layers.items[l]->forward(x, source_mask, &w);
      maps.push_back({.kind = AttentionKind::encoder_self, .layer = static_cast<int64_t>(l), .weights = w});
    }
    const Tensor memory = encoder_.finish(x);  // [B, S, C]
    internal::check_target(kOp, c_.tgt_vocab, src.batch(), tgt_in);
    Tensor y = embed_targets(tgt_in, 0, false);  // [B, T, C]
    const attention::Mask causal{.causal = true};
    std::vector<AttentionMap> cross;
    for (size_t l = 0; l < decoder_.layers.items.size(); ++l) {
      nn::DecoderLayerOutput r =
          decoder_.layers.items[l]->forward(y, memory, causal, source_mask, {.need_head_weights = true});
      y = r.output;
      maps.push_back({.kind = AttentionKind::decoder_self, .layer = static_cast<int64_t>(l), .weights = r.self_weights});
      cross.push_back({.kind = AttentionKind::cross, .layer = static_cast<int64_t>(l), .weights = r.cross_weights});
    }
    maps.insert(maps.end(), cross.begin(), cross.end());
    return maps;
  }

  int64_t alignment_layer() const override { return align_layer_; }

  std::unique_ptr<DecoderState> init_state(std::shared_ptr<const Memory> memory) override {
    const auto m = internal::memory_as<TransformerMemory>(kOp, std::move(memory));
    NoGrad no_grad;
    auto state = std::make_unique<TransformerState>();
    auto cross = std::make_shared<CrossKV>();
    cross->lengths = m->lengths;
    for (const auto& layer : decoder_.layers.items) cross->layers.push_back(layer->memory_kv(m->states));  // [B, H, S, D]
    state->cross = internal::SourceRows<CrossKV>(std::move(cross), m->rows(), gather_cross);
    state->self = nn::KVCacheStack(decoder_.size(), c_.num_heads, c_.d_model / c_.num_heads, DType::f32);
    return state;
  }

  StepOutput step(DecoderState& base, const Index& tokens) override {
    auto& state = internal::step_state<TransformerState>(kOp, c_.tgt_vocab, base, tokens);
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    const int64_t N = state.rows(), t = internal::step_length(tokens);
    if (state.position + t > c_.max_positions)
      return internal::end_of_positions(N, c_.tgt_vocab, c_.eos_id, state.cross.grouped().data.layers.front().k.size(2));
    Tensor y = embed_targets(Index(tokens.data, Shape{N, t}), state.position, false);  // [N, t, C]
    const attention::Mask causal{.causal = true};  // bottom-right: the new position sees every cached one
    const auto [kv, group] = state.cross.grouped();  // [N / group, H, S, D] per layer
    const attention::Mask cross{.key_lengths = kv.lengths};
    state.self.reserve(N, state.position + t);
    Tensor weights;
    for (int64_t l = 0; l < decoder_.size(); ++l) {
      const bool want = l == align_layer_;
      nn::DecoderLayerOutput r = decoder_[l].forward(y, Tensor(), causal, cross,
                                                     {.need_weights = want,
                                                      .self_cache = &state.self[l],
                                                      .memory_kv = &kv.layers[static_cast<size_t>(l)],
                                                      .memory_groups = group});
      y = r.output;
      if (want) weights = r.cross_weights;  // [N, t, S]
    }
    state.position += t;
    const Tensor last = squeeze(slice(decoder_.finish(y), 1, t - 1, t), 1);  // [N, C]
    return {internal::step_log_probs(project(last)), squeeze(slice(weights, 1, t - 1, t), 1).to(DType::f32)};
  }

 private:
  Tensor drop(const Tensor& x, bool training) { return dropout(x, c_.dropout, training, dropout_rng_); }

  // sqrt(C) E_src[ids] + PE[0 .. S), dropped out: ids [B, S] -> [B, S, C].
  Tensor embed_sources(const Index& ids, bool training) {
    const nn::Embedding& embed = src_embed_ ? *src_embed_ : tgt_embed_;
    const Tensor x = mul(embed.forward(ids), std::sqrt(static_cast<double>(c_.d_model)));  // [B, S, C]
    return drop(add(x, src_positions_.forward(0, ids.shape[1], x.dtype(), kOp, "source")), training);
  }

  // sqrt(C) E[ids] + PE[offset .. offset + T), dropped out: ids [B, T] -> [B, T, C].
  Tensor embed_targets(const Index& ids, int64_t offset, bool training) {
    const int64_t T = ids.shape[1];
    const Tensor e = mul(tgt_embed_.forward(ids), std::sqrt(static_cast<double>(c_.d_model)));  // [B, T, C]
    return drop(add(e, tgt_positions_.forward(offset, T, e.dtype(), kOp, "target")), training);
  }

  // The decoder stack's output over tgt_in [B, T] -> [B, T, C]; with `attention`, the alignment
  // layer's cross-attention [B, T, S] is stored there.
  Tensor decoder_states(const Memory& memory, const Index& tgt_in, Tensor* attention) {
    const auto& m = internal::memory_as<TransformerMemory>(kOp, memory);
    internal::check_target(kOp, c_.tgt_vocab, m.rows(), tgt_in);
    Tensor y = embed_targets(tgt_in, 0, is_training());  // [B, T, C]
    const attention::Mask causal{.causal = true};
    const attention::Mask cross{.key_lengths = m.lengths};
    for (int64_t l = 0; l < decoder_.size(); ++l) {
      const bool want = attention != nullptr && l == align_layer_;
      nn::DecoderLayerOutput r = decoder_[l].forward(y, m.states, causal, cross, {.need_weights = want});
      y = r.output;
      if (want) *attention = r.cross_weights;  // [B, T, S]
    }
    return decoder_.finish(y);
  }

  // [..., C] -> [..., V]
  Tensor project(const Tensor& y) const {
    return output_ ? output_->forward(y) : linear(y, tgt_embed_.weight);
  }

  const TransformerConfig& c_;  // *config_, typed
  std::unique_ptr<nn::Embedding> src_embed_;  // absent with share_embeddings
  nn::Embedding tgt_embed_;
  nn::PositionalEncoding src_positions_, tgt_positions_;
  nn::LayerStack<nn::TransformerEncoderLayer> encoder_;
  nn::LayerStack<nn::TransformerDecoderLayer> decoder_;
  std::unique_ptr<nn::Linear> output_;  // absent with tie_output
  int64_t align_layer_ = 0;             // 0-based
};

}  // namespace

std::vector<Field> TransformerConfig::arch_fields() {
  return {int_field("d_model", "--d-model", "model width C (embeddings, every layer's input and output)", d_model),
          int_field("num_heads", "--heads", "attention heads (must divide d_model)", num_heads),
          int_field("ffn_dim", "--ffn", "position-wise feed-forward width", ffn_dim),
          int_field("encoder_layers", "--enc-layers", "encoder layers", encoder_layers),
          int_field("decoder_layers", "--dec-layers", "decoder layers", decoder_layers),
          real_field("dropout", "--dropout", "dropout on embeddings, residual branches and in the feed-forward",
                     dropout, 0.0, 1.0),
          real_field("attention_dropout", "--attention-dropout", "dropout on the attention weights",
                     attention_dropout, 0.0, 1.0),
          choice_field("activation", "--activation", "feed-forward activation", activation, kActivationNames),
          bool_field("norm_first", "--norm-first", "pre-norm (LayerNorm before each sublayer); false: post-norm (paper)",
                     norm_first),
          choice_field("final_norm", "--final-norm",
                       "a LayerNorm at the end of each stack: auto = with --norm-first only; on as torch.nn.Transformer",
                       final_norm, kFinalNormNames),
          choice_field("positions", "--positions", "positional encoding", positions, kPositionNames),
          int_field("max_positions", "--max-positions", "longest source or target (positions)", max_positions, 1,
                    1 << 20),
          bool_field("share_embeddings", "--share-embeddings", "one embedding table for source and target",
                     share_embeddings),
          bool_field("tie_output", "--tie-output", "the output projection is the target embedding", tie_output),
          int_field("alignment_layer", "--alignment-layer",
                    "decoder layer (1-based) whose cross-attention is shown; 0: the penultimate", alignment_layer, 0,
                    1 << 20),
          normalizer_field(normalizer)};
}

void TransformerConfig::check_more() const {
  ATTEND_CHECK(src_vocab > 0, op(), "key 'src_vocab': ", src_vocab, " must be positive (the transformer reads token ids)");
  ATTEND_CHECK(d_model % num_heads == 0, op(), "key 'd_model': ", d_model, " is not divisible by num_heads ",
               num_heads);
  ATTEND_CHECK(alignment_layer <= decoder_layers, op(), "key 'alignment_layer': ", alignment_layer,
               " is beyond decoder_layers ", decoder_layers);
  ATTEND_CHECK(!share_embeddings || src_vocab == tgt_vocab, op(), "key 'share_embeddings': src_vocab ", src_vocab,
               " and tgt_vocab ", tgt_vocab, " differ (a shared table needs one vocabulary)");
}

ArchitectureInfo transformer_architecture() {
  return {.name = TransformerConfig::kName,
          .summary = "Vaswani et al. 2017: self-attention encoder and decoder, multi-head cross-attention",
          .task = Task::sequence_to_sequence,
          .has_attention = true,
          .source = SourceKind::tokens,
          .make_config = [] { return std::make_unique<TransformerConfig>(); },
          .make_model = [](const ModelConfig& c, Rng& rng) -> std::unique_ptr<Model> {
            return std::make_unique<Transformer>(internal::config_as<TransformerConfig>(kOp, c), rng);
          }};
}

}  // namespace attend::models
