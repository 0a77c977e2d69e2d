// Weights both ways between PyTorch and attend (`attend convert`, docs/convert.md).
//
// PyTorch -> attend: a PyTorch encoder-decoder Transformer with its embeddings, saved with
// safetensors.torch.save_file(model.state_dict(), path), becomes an attend `transformer` bundle
// (then bundle.save(checkpoint)). Accepted names, each a PyTorch module's state_dict name:
//
//   attend's layout (scripts/golden/torch_transformer.py, AttendTransformer; what export writes)
//     src_embed.weight [Vs, C]          absent when the tables are shared (then Vs = V)
//     tgt_embed.weight [V, C]
//     src_positions.weight, tgt_positions.weight [P, C]   learned positions (else sinusoidal)
//     encoder.layers.<i>.*, encoder.norm.*               nn.TransformerEncoder (its norm optional)
//     decoder.layers.<i>.*, decoder.norm.*               nn.TransformerDecoder
//     output.weight [V, C], output.bias [V]              absent when the output is tied to tgt_embed
//   torch.nn.Transformer held as attribute `transformer`, as in PyTorch's translation tutorial
//   (Seq2SeqTransformer; TutorialTransformer in the same script): "transformer." is dropped, and
//     src_tok_emb.embedding.weight -> src_embed.weight    tgt_tok_emb.embedding.weight -> tgt_embed.weight
//     generator.*                  -> output.*
//     positional_encoding.pos_embedding [P, 1, C] or [P, C]: the tutorial's sinusoidal buffer; it must
//       be attend's encoding (checked, within float32 rounding), P becomes max_positions.
//
// The model computes (models/transformer.h) x_0 = sqrt(C) E_src[src] + PE, y_0 = sqrt(C) E_tgt[y] +
// PE, the stacks, logits = y_L W_out^T (+ b); the PyTorch model must do the same (the tutorial's
// does). Shapes give C, F, the layer counts, both vocabulary sizes, shared tables, a tied output,
// learned positions and whether the stacks end in a norm (torch.nn.Transformer's always do:
// final_norm on); the options below give what they cannot. LayerNorm eps is 1e-5 (PyTorch's
// default), attention is softmax.
//
// Vocabularies: SentencePiece models (`attend vocab`), one joint or one per side; each side's
// vocabulary is its model's pieces (app/model_spec.h) and the checkpoint embeds the models, as
// `attend train --spm` does. The embedding rows must equal the piece count.
//
// attend -> PyTorch: export_torch_transformer writes the bundle's parameters under attend's names
// (the first layout) with metadata "format" = "attend-torch/1" and "model_config" (the checkpoint's
// JSON, ModelSpec::to_json), from which torch_transformer.py builds the module that
// load_state_dict(strict=True) fills.
//
// Validation: files from other programs are input. Every path refuses, before anything is built or
// written, a missing tensor, an unexpected tensor, a wrong shape or rank, a NaN or Inf and a
// vocabulary of the wrong size; errors "[convert] <file>: tensor '<its name in the file>' ..."
// name the file and the tensor. Dtypes: F32 and F64 tensors load (F64 rounded to the model's f32);
// F16/BF16 and the rest are refused by the safetensors reader, naming the tensor ("save the model
// with model.float() first").
#pragma once

#include <cstdint>
#include <string>

#include "attend/app/model_bundle.h"
#include "attend/io/safetensors.h"
#include "attend/nn/module.h"
#include "attend/nn/multihead_attention.h"

namespace attend::app {

// What the shapes of a PyTorch Transformer cannot tell.
struct TorchImport {
  int64_t num_heads = 0;           // H, required (C / H is the head size)
  bool norm_first = true;          // pre-norm; false: post-norm (torch.nn.Transformer's default)
  std::string activation = "relu";  // of the feed-forward: relu or gelu (exact erf form)
  int64_t max_positions = 1024;    // sinusoidal positions without a table or buffer to count
  // SentencePiece models: `spm` for both sides, or source_spm and target_spm (one of each).
  std::string spm, source_spm, target_spm;
};

// Reads `safetensors_path` and returns the attend transformer it holds, with its spec (spm sides)
// and vocabularies; save it with bundle.save(checkpoint). Errors "[convert] ..." as above.
ModelBundle import_torch_transformer(const std::string& safetensors_path, const TorchImport& opts);

// The same from tensors already read; `source` names them in errors. Vocabulary sizes are checked
// against the SentencePiece models of `opts`.
ModelBundle import_torch_transformer(const io::TensorMap& state, const TorchImport& opts, const std::string& source);

// Writes a bundle of architecture `transformer` as a PyTorch state dict (safetensors, atomically).
// Errors "[convert] <path>: ..." for another architecture, a normalizer PyTorch lacks (anything but
// softmax) or weights that are not finite.
void export_torch_transformer(const ModelBundle& bundle, const std::string& safetensors_path);

// Loads a PyTorch state dict (names of module.state_dict(), no prefix) into `module`: every
// parameter present with its shape, no tensor the module lacks, every value finite, checked before
// any parameter changes; F64 values are rounded to the parameter's dtype. Errors "[convert]
// <source>: tensor '<name>' ...".
void load_torch_state_dict(const io::TensorMap& state, nn::Module& module, const std::string& source);

// nn.MultiheadAttention's state dict into `mha`, which must have been built with the same
// embed_dim, num_heads, kdim/vdim and bias: in_proj_weight [3E, E] and in_proj_bias [3E] (or
// q_proj_weight [E, E], k_proj_weight [E, kdim], v_proj_weight [E, vdim] when kdim or vdim differ
// from E), out_proj.weight [E, E], out_proj.bias [E]. load_torch_state_dict's checks, plus a hint
// for a packed/separate mismatch (kdim/vdim) and for add_bias_kv's bias_k/bias_v (unsupported).
void load_torch_mha(const io::TensorMap& state, nn::MultiheadAttention& mha, const std::string& source);

// A module's parameters as a PyTorch state dict (the names of named_parameters(), detached): what
// load_state_dict(strict=True) of the PyTorch counterpart takes, e.g. nn.MultiheadAttention's.
io::TensorMap torch_state_dict(const nn::Module& module);

}  // namespace attend::app
