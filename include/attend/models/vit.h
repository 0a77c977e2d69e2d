// vit: a vision transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"), a
// classifier of images: self-attention over the image's patches and a class token.
//
//   image  x [B, S, S, C] in [0, 1]      the source's features [B, R = S*S, C], pixels row by row
//   z      = conv2d((x - mean) / std, W_p, b_p, stride P)        [B, D, S/P, S/P]  patch embedding
//   x_0    = dropout([cls; z as [B, N, D]] + E_pos)              [B, N + 1, D],   N = (S/P)^2
//   x_l    = x + drop(sa(ln1(x))), then + drop(ff(ln2(.)))      pre-norm encoder layers, GELU
//   logits = head(LN_f(x_L)[:, 0])                               [B, K]
//
// Shapes: S image_size, C channels, P patch (divides S), D d_model, H num_heads, F ffn_dim, L
// num_layers, K num_classes. Initialization: W_p and b_p as PyTorch's Conv2d (uniform in
// +-1/sqrt(C P P)), cls and E_pos N(0, 0.02), the layers as PyTorch's, the head N(0, 0.02) with
// bias 0 (timm's ViT). The self-attention runs through the fused kernel.
//
// Parameters: patch_embed.{weight [D, C, P, P], bias [D]}, cls_token [1, 1, D], pos_embed
// [1, N + 1, D], blocks.layers.<l>.* and blocks.norm.* (nn::LayerStack of encoder layers), head.*.
//
// Attention rollout (Abnar and Zuidema 2020): with A_l = mean over heads of layer l's weights
// [B, T, T], the residual connection added as 0.5 A_l + 0.5 I (rows renormalized), the rollout is
// R = A_L ... A_1; row 0 (the class token) over the patches, as a (S/P) x (S/P) grid, is the map
// of what the classification read.
#pragma once

#include <vector>

#include "attend/models/config.h"
#include "attend/models/tasks.h"
#include "attend/nn/transformer.h"

namespace attend::models {

struct VitConfig : ConfigOf<VitConfig, ClassifierConfig> {
  static constexpr const char* kName = "vit";
  int64_t image_size = 28;  // S: square images of S x S pixels
  int64_t channels = 1;     // C
  int64_t patch = 4;        // P
  int64_t d_model = 96;     // D
  int64_t num_heads = 4;    // H
  int64_t ffn_dim = 192;    // F
  int64_t num_layers = 6;   // L
  double dropout = 0.1;
  double attention_dropout = 0.0;
  double pixel_mean = 0.2860;  // Fashion-MNIST's training-set mean and standard deviation of x / 255
  double pixel_std = 0.3530;

  std::vector<Field> arch_fields() override;
  int64_t grid() const { return image_size / patch; }

 protected:
  void check_more() const override;
};

// The rollout of encoder_self maps (one per layer, [B, H, T, T], layer order) -> [B, T, T]; error
// "[attention_rollout] ..." for no maps or maps of other shapes.
Tensor attention_rollout(const std::vector<AttentionMap>& maps);

}  // namespace attend::models
