// The text classifier with attention pooling (classifier.h has the equations).
#include "attend/models/classifier.h"

#include <cmath>
#include <memory>
#include <string>

#include "attend/attention/attention.h"
#include "attend/attention/mask.h"
#include "attend/nn/embedding.h"
#include "attend/nn/linear.h"
#include "attend/nn/rnn.h"
#include "attend/nn/transformer.h"
#include "attend/ops/ops.h"
#include "internal.h"
#include "models.h"

namespace attend::models {

namespace {

constexpr const char* kOp = "classifier";
using Encoder = ClassifierModelConfig::Encoder;
using Pooling = ClassifierModelConfig::Pooling;

constexpr std::pair<const char*, Encoder> kEncoderNames[] = {
    {"bigru", Encoder::bigru}, {"bilstm", Encoder::bilstm}, {"transformer", Encoder::transformer}};
constexpr std::pair<const char*, Pooling> kPoolingNames[] = {{"self-attentive", Pooling::self_attentive},
                                                             {"additive", Pooling::additive}};

Tensor uniform_init(const Shape& s, int64_t fan_in, Rng& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return Tensor::uniform(s, rng, -bound, bound);
}

// The attention that pools the encoder states: W_s1 [d_a, C] and W_s2 [r, d_a] (Lin et al.), or
// W [d_a, C], b [d_a] and the query u [1, d_a] (Yang et al.); and the normalizer.
class AttentionPooling : public nn::Module {
 public:
  AttentionPooling(const ClassifierModelConfig& c, Rng& rng)
      : pooling_(c.pooling), normalizer_(attention::make_normalizer(c.normalizer, {.heads = 1})) {
    const int64_t C = c.state_dim(), A = c.attention_dim;
    if (pooling_ == Pooling::self_attentive) {
      w1_ = uniform_init(Shape{A, C}, C, rng);
      w2_ = uniform_init(Shape{c.hops, A}, A, rng);
      register_parameter("W_s1", w1_);
      register_parameter("W_s2", w2_);
    } else {
      w1_ = uniform_init(Shape{A, C}, C, rng);
      b_ = Tensor::zeros(Shape{A});
      w2_ = uniform_init(Shape{1, A}, A, rng);
      register_parameter("W", w1_);
      register_parameter("b", b_);
      register_parameter("u", w2_);
    }
    register_normalizer(normalizer_);
  }

  // h [B, S, C] -> weights [B, r, S] (zero past each length) and pooled M [B, r, C].
  attention::AttentionResult forward(const Tensor& h, const std::vector<int64_t>& lengths) const {
    Tensor u = matmul(h, transpose(w1_, 0, 1));               // [B, S, d_a]
    if (b_.defined()) u = add(u, b_);
    const Tensor scores = transpose(matmul(tanh(u), transpose(w2_, 0, 1)), 1, 2);  // [B, r, S]
    return attention::attend(scores, h, {.key_lengths = lengths},
                             {.normalizer = normalizer_, .need_weights = true, .op = kOp});  // context [B, r, C]
  }

 private:
  Pooling pooling_;
  Tensor w1_, w2_, b_;
  attention::Normalizer normalizer_;
};

class TextClassifier : public Classifier {
 public:
  TextClassifier(const ClassifierModelConfig& c, Rng& rng)
      : Classifier(c, rng),
        c_(static_cast<const ClassifierModelConfig&>(*config_)),
        embed_(c.src_vocab, c.embed_dim, c.pad_id, rng),
        pool_(c, rng),
        mlp_(c.pooled_hops() * c.state_dim(), c.mlp_dim, rng),
        out_(c.mlp_dim, c.num_classes, rng) {
    register_module("embed", embed_);
    const nn::RNNOptions rnn{.input_size = c.embed_dim,
                             .hidden_size = c.hidden_dim,
                             .num_layers = c.num_layers,
                             .batch_first = true,
                             .dropout = c.dropout,
                             .bidirectional = true};
    switch (c.encoder) {
      case Encoder::bigru:
        gru_ = std::make_unique<nn::GRU>(rnn, rng);
        register_module("encoder", *gru_);
        break;
      case Encoder::bilstm:
        lstm_ = std::make_unique<nn::LSTM>(rnn, rng);
        register_module("encoder", *lstm_);
        break;
      case Encoder::transformer:
        positions_ = std::make_unique<nn::PositionalEncoding>(nn::PositionKind::sinusoidal, c.max_positions,
                                                              c.embed_dim, rng);
        layers_ = std::make_unique<nn::LayerStack<nn::TransformerEncoderLayer>>(
            c.num_layers,
            nn::TransformerLayerOptions{.d_model = c.embed_dim,
                                        .num_heads = c.num_heads,
                                        .ffn_dim = c.ffn_dim,
                                        .dropout = c.dropout,
                                        .activation = nn::Activation::gelu,
                                        .norm_first = true},
            rng);
        register_module("layers", *layers_);
        break;
    }
    register_module("pool", pool_);
    register_module("mlp", mlp_);
    register_module("out", out_);
  }

  ClassifierOutput classify(const Source& src) override {
    internal::check_token_source(kOp, c_.src_vocab, src);
    const bool training = is_training();
    const Tensor h = encode(src, training);                                 // [B, S, C]
    const attention::AttentionResult a = pool_.forward(h, src.lengths);     // M [B, r, C], A [B, r, S]
    const int64_t B = h.size(0);
    const Tensor m = reshape(a.context, {B, c_.pooled_hops() * c_.state_dim()});  // [B, r C]
    const Tensor f = dropout(relu(mlp_.forward(m)), c_.dropout, training, dropout_rng_);  // [B, F]
    ClassifierOutput out{.logits = out_.forward(f), .weights = a.weights, .aux = {}};  // [B, K]
    if (training && c_.pooling == Pooling::self_attentive && c_.penalty > 0.0) {
      // || A A^T - I ||_F^2 per example, averaged over the batch.
      const Tensor g = matmul(a.weights, transpose(a.weights, 1, 2));      // [B, r, r]
      const Tensor eye = Tensor::from_vector(identity(c_.hops), Shape{1, c_.hops, c_.hops}, g.dtype());
      const Tensor p = sum(square(sub(g, eye)));
      out.aux.push_back({"penalization", mul(p, c_.penalty / static_cast<double>(B))});
    }
    return out;
  }

  std::vector<AttentionMap> attention_maps(const Source& src) override {
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    const Tensor w = classify(src).weights;  // [B, r, S]
    // One "head" per hop, one query each: [B, r, 1, S].
    return {{.kind = AttentionKind::pooling, .layer = 0, .weights = unsqueeze(w, 2)}};
  }

 private:
  static std::vector<double> identity(int64_t n) {
    std::vector<double> v(static_cast<size_t>(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i * n + i)] = 1.0;
    return v;
  }

  Tensor encode(const Source& src, bool training) {
    Tensor x = dropout(embed_.forward(src.tokens), c_.dropout, training, dropout_rng_);  // [B, S, E]
    if (gru_) return gru_->forward(x, src.lengths).output;                              // [B, S, 2H]
    if (lstm_) return lstm_->forward(x, src.lengths).output;                            // [B, S, 2H]
    const int64_t S = x.size(1);
    x = add(mul(x, std::sqrt(static_cast<double>(c_.embed_dim))),
            positions_->forward(0, S, x.dtype(), kOp, "source"));                       // [B, S, E]
    const attention::Mask mask{.key_lengths = src.lengths};
    for (int64_t l = 0; l < layers_->size(); ++l) x = (*layers_)[l].forward(x, mask);
    return layers_->finish(x);                                                           // [B, S, E]
  }

  const ClassifierModelConfig& c_;
  nn::Embedding embed_;
  std::unique_ptr<nn::GRU> gru_;
  std::unique_ptr<nn::LSTM> lstm_;
  std::unique_ptr<nn::PositionalEncoding> positions_;
  std::unique_ptr<nn::LayerStack<nn::TransformerEncoderLayer>> layers_;
  AttentionPooling pool_;
  nn::Linear mlp_, out_;
};

}  // namespace

std::vector<Field> ClassifierModelConfig::arch_fields() {
  return {int_field("embed_dim", "--embed", "embedding width (the Transformer encoder's width)", embed_dim),
          int_field("hidden_dim", "--hidden", "recurrent state width (per direction in the encoder)", hidden_dim),
          choice_field("encoder", "--encoder", "sentence encoder", encoder, kEncoderNames),
          int_field("num_layers", "--layers", "encoder layers", num_layers),
          int_field("num_heads", "--heads", "Transformer encoder: attention heads (must divide --embed)", num_heads),
          int_field("ffn_dim", "--ffn", "Transformer encoder: feed-forward width", ffn_dim),
          int_field("max_positions", "--max-positions", "Transformer encoder: longest source", max_positions, 1,
                    1 << 20),
          choice_field("pooling", "--pooling", "attention pooling (Lin et al. 2017 or Yang et al. 2016)", pooling,
                       kPoolingNames),
          int_field("hops", "--hops", "self-attentive pooling: attention hops r", hops),
          int_field("attention_dim", "--attention-dim", "pooling attention width d_a", attention_dim),
          real_field("penalty", "--penalty", "self-attentive pooling: weight of || A A^T - I ||_F^2", penalty, 0.0,
                     1e6),
          int_field("mlp_dim", "--mlp", "hidden width of the output MLP", mlp_dim),
          real_field("dropout", "--dropout", "dropout on embeddings, between layers and in the MLP", dropout, 0.0, 1.0),
          normalizer_field(normalizer)};
}

void ClassifierModelConfig::check_more() const {
  ATTEND_CHECK(src_vocab > 0, op(), "key 'src_vocab': ", src_vocab, " must be positive (the classifier reads tokens)");
  ATTEND_CHECK(encoder != Encoder::transformer || embed_dim % num_heads == 0, op(), "key 'embed_dim': ", embed_dim,
               " is not divisible by num_heads ", num_heads);
}

ArchitectureInfo classifier_architecture() {
  return {.name = ClassifierModelConfig::kName,
          .summary = "Lin et al. 2017 / Yang et al. 2016: a BiGRU, BiLSTM or Transformer sentence encoder pooled by "
                     "attention (r hops with the ||AA^T - I|| penalization, or one learned query)",
          .task = Task::classification,
          .has_attention = true,
          .source = SourceKind::tokens,
          .make_config = [] { return std::make_unique<ClassifierModelConfig>(); },
          .make_model = [](const ModelConfig& c, Rng& rng) -> std::unique_ptr<Model> {
            return std::make_unique<TextClassifier>(internal::config_as<ClassifierModelConfig>(kOp, c), rng);
          }};
}

}  // namespace attend::models
