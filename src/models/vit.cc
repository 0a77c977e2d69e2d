// The vision transformer (vit.h has the equations).
#include "attend/models/vit.h"

#include <cmath>
#include <string>

#include "attend/nn/linear.h"
#include "attend/ops/ops.h"
#include "internal.h"
#include "models.h"

namespace attend::models {

namespace {

constexpr const char* kOp = "vit";

nn::TransformerLayerOptions block_options(const VitConfig& c) {
  return {.d_model = c.d_model,
          .num_heads = c.num_heads,
          .ffn_dim = c.ffn_dim,
          .dropout = c.dropout,
          .attention_dropout = c.attention_dropout,
          .activation = nn::Activation::gelu,
          .norm_first = true};
}

class Vit : public Classifier {
 public:
  Vit(const VitConfig& c, Rng& rng)
      : Classifier(c, rng),
        c_(static_cast<const VitConfig&>(*config_)),
        blocks_(c.num_layers, block_options(c), rng),
        head_(c.d_model, c.num_classes, rng) {
    const int64_t fan_in = c.channels * c.patch * c.patch;
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    patch_weight_ = Tensor::uniform(Shape{c.d_model, c.channels, c.patch, c.patch}, rng, -bound, bound);
    patch_bias_ = Tensor::uniform(Shape{c.d_model}, rng, -bound, bound);
    cls_ = mul(Tensor::randn(Shape{1, 1, c.d_model}, rng), 0.02);
    pos_ = mul(Tensor::randn(Shape{1, c.grid() * c.grid() + 1, c.d_model}, rng), 0.02);
    register_parameter("patch_embed.weight", patch_weight_);
    register_parameter("patch_embed.bias", patch_bias_);
    register_parameter("cls_token", cls_);
    register_parameter("pos_embed", pos_);
    register_module("blocks", blocks_);
    register_module("head", head_);
    load_parameter("head.weight", mul(Tensor::randn(head_.weight.shape(), rng), 0.02));
    load_parameter("head.bias", Tensor::zeros(head_.bias.shape()));
  }

  ClassifierOutput classify(const Source& src) override {
    Tensor x = embed(src, is_training());  // [B, T, D]
    for (int64_t l = 0; l < blocks_.size(); ++l) x = blocks_[l].forward(x);
    return {.logits = head_.forward(class_state(x)), .weights = Tensor(), .aux = {}};  // [B, K]
  }

  std::vector<AttentionMap> attention_maps(const Source& src) override {
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    Tensor x = embed(src, false);
    std::vector<AttentionMap> maps;
    for (int64_t l = 0; l < blocks_.size(); ++l) {
      Tensor w;
      x = blocks_[l].forward(x, {}, &w);
      maps.push_back({.kind = AttentionKind::encoder_self, .layer = l, .weights = w});  // [B, H, T, T]
    }
    return maps;
  }

 private:
  // The source as images: features [B, S*S, C], every row of length S*S.

  // Patch embedding, class token, positions: [B, S*S, C] -> [B, N + 1, D].
  Tensor embed(const Source& src, bool training) {
    const int64_t B = src.batch(), D = c_.d_model, N = c_.grid() * c_.grid();
    Tensor x = internal::picture_tensor(kOp, src, c_.image_size, c_.channels, c_.pixel_mean, c_.pixel_std,
                                        pos_.dtype());                       // [B, C, S, S]
    x = conv2d(x, patch_weight_, patch_bias_, {.stride_h = c_.patch, .stride_w = c_.patch});  // [B, D, S/P, S/P]
    x = transpose(reshape(x, {B, D, N}), 1, 2);                             // [B, N, D]
    x = concat({expand(cls_, Shape{B, 1, D}), x}, 1);                       // [B, N + 1, D]
    return dropout(add(x, pos_), c_.dropout, training, dropout_rng_);
  }

  Tensor class_state(const Tensor& x) const {
    return squeeze(slice(blocks_.finish(x), 1, 0, 1), 1);  // [B, D]
  }

  const VitConfig& c_;
  Tensor patch_weight_, patch_bias_, cls_, pos_;
  nn::LayerStack<nn::TransformerEncoderLayer> blocks_;
  nn::Linear head_;
};

}  // namespace

Tensor attention_rollout(const std::vector<AttentionMap>& maps) {
  constexpr const char* op = "attention_rollout";
  ATTEND_CHECK(!maps.empty(), op, "no attention maps");
  NoGrad no_grad;
  Tensor r, half_eye;  // 0.5 I [1, T, T], made at the first layer
  for (const AttentionMap& m : maps) {
    const Tensor& w = m.weights;
    ATTEND_CHECK(w.defined() && w.dim() == 4 && w.size(2) == w.size(3), op, "layer ", m.layer,
                 ": weights must be [B, H, T, T], got ", w.defined() ? w.shape().str() : "undefined");
    const int64_t B = w.size(0), T = w.size(2);
    ATTEND_CHECK(!r.defined() || (r.size(0) == B && r.size(1) == T), op, "layer ", m.layer, ": weights ",
                 w.shape().str(), " do not match the earlier layers' [", r.defined() ? r.size(0) : 0, ", H, ",
                 r.defined() ? r.size(1) : 0, ", ...]");
    if (!half_eye.defined()) {
      std::vector<double> v(static_cast<size_t>(T * T), 0.0);
      for (int64_t i = 0; i < T; ++i) v[static_cast<size_t>(i * T + i)] = 0.5;
      half_eye = Tensor::from_vector(v, Shape{1, T, T}, DType::f64);
    }
    Tensor a = add(mul(mean(to_dtype(w, DType::f64), {1}), 0.5), half_eye);  // [B, T, T]
    a = div(a, sum(a, {2}, true));
    r = r.defined() ? matmul(a, r) : a;
  }
  return to_dtype(r, DType::f32);
}

std::vector<Field> VitConfig::arch_fields() {
  std::vector<Field> f = internal::picture_fields(image_size, channels, pixel_mean, pixel_std);
  f.insert(f.end(), {
          int_field("patch", "--patch", "patch side in pixels (divides --image-size)", patch),
          int_field("d_model", "--d-model", "model width D", d_model),
          int_field("num_heads", "--heads", "attention heads (must divide d_model)", num_heads),
          int_field("ffn_dim", "--ffn", "feed-forward width", ffn_dim),
          int_field("num_layers", "--layers", "encoder layers", num_layers),
          real_field("dropout", "--dropout", "dropout on the embeddings, residual branches and in the feed-forward",
                     dropout, 0.0, 1.0),
          real_field("attention_dropout", "--attention-dropout", "dropout on the attention weights",
                     attention_dropout, 0.0, 1.0)});
  return f;
}

void VitConfig::check_more() const {
  ATTEND_CHECK(src_vocab == 0, op(), "key 'src_vocab': ", src_vocab, " must be 0 (vit reads images, not tokens)");
  ATTEND_CHECK(image_size % patch == 0, op(), "key 'patch': ", patch, " does not divide image_size ", image_size);
  ATTEND_CHECK(d_model % num_heads == 0, op(), "key 'd_model': ", d_model, " is not divisible by num_heads ",
               num_heads);
}

ArchitectureInfo vit_architecture() {
  return {.name = VitConfig::kName,
          .summary = "Dosovitskiy et al. 2021: vision transformer, self-attention over image patches and a class "
                     "token (images)",
          .task = Task::classification,
          .has_attention = true,
          .source = SourceKind::features,
          .make_config = [] { return std::make_unique<VitConfig>(); },
          .make_model = [](const ModelConfig& c, Rng& rng) -> std::unique_ptr<Model> {
            return std::make_unique<Vit>(internal::config_as<VitConfig>(kOp, c), rng);
          }};
}

}  // namespace attend::models
