// `attend convert`: weights between PyTorch and attend (app/convert.h has the accepted layouts and
// the checks; docs/convert.md the walk-through).
//
//   attend convert --from torch model.safetensors --heads 4 [--post-norm] [--activation gelu]
//                  [--max-positions N] (--spm joint.model | --source-spm de.model --target-spm en.model)
//                  -o model.ckpt                  PyTorch Transformer -> attend checkpoint
//   attend convert --to torch model.ckpt -o model.safetensors
//                                                 attend transformer -> PyTorch state dict
#include <iostream>
#include <memory>
#include <string>

#include "attend/app/convert.h"
#include "attend/core/error.h"
#include "attend/models/transformer.h"
#include "commands.h"

namespace attend::cli {
namespace {

constexpr const char* kOp = "convert";

struct ConvertOptions {
  std::string from, to, input, output;
  app::TorchImport import;
  bool post_norm = false;
};

// "transformer: d_model 16, 2 heads, ffn 32, 2 + 2 layers, post-norm with final norms, relu,
// sinusoidal positions, vocabularies 60 / 60"
std::string summary(const app::ModelBundle& b) {
  const auto& c = dynamic_cast<const models::TransformerConfig&>(*b.spec.model);
  return detail::concat("transformer: d_model ", c.d_model, ", ", c.num_heads, " heads, ffn ", c.ffn_dim, ", ",
                        c.encoder_layers, " + ", c.decoder_layers, " layers, ", c.norm_first ? "pre-norm" : "post-norm",
                        c.has_final_norm() ? " with final norms" : " without final norms",
                        c.activation == nn::Activation::gelu ? ", gelu" : ", relu",
                        c.positions == nn::PositionKind::learned ? ", learned" : ", sinusoidal", " positions (",
                        c.max_positions, "), vocabularies ", c.src_vocab, " / ", c.tgt_vocab,
                        c.share_embeddings ? " (one table)" : "", c.tie_output ? ", tied output" : ", output layer");
}

void run_convert(ConvertOptions o) {
  ATTEND_CHECK(o.from.empty() != o.to.empty(), kOp, "give one of --from torch (PyTorch -> attend) and --to torch");
  ATTEND_CHECK(!o.output.empty(), kOp, "give the output file: -o FILE");
  if (!o.from.empty()) {
    o.import.norm_first = !o.post_norm;
    const app::ModelBundle b = app::import_torch_transformer(o.input, o.import);
    b.save(o.output);
    std::cerr << "attend convert: " << o.input << " -> " << o.output << " (" << summary(b) << ")\n";
  } else {
    const app::ModelBundle b = app::ModelBundle::load(o.input);
    app::export_torch_transformer(b, o.output);
    std::cerr << "attend convert: " << o.input << " -> " << o.output << " (" << summary(b)
              << "; load it with scripts/golden/torch_transformer.py)\n";
  }
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  CLI::App* c = app.add_subcommand("convert", "Convert weights between PyTorch (safetensors state dicts) and attend");
  c->footer(
      "PyTorch -> attend: --from torch IN.safetensors --heads H --spm M.model -o OUT.ckpt reads a Transformer "
      "saved with safetensors.torch.save_file(model.state_dict(), ...): attend's names (src_embed, tgt_embed, "
      "encoder, decoder, output) or torch.nn.Transformer as attribute 'transformer' with the PyTorch tutorial's "
      "src_tok_emb/tgt_tok_emb/generator/positional_encoding. Sizes come from the shapes; give what they cannot "
      "tell: --heads, --post-norm (torch.nn.Transformer's default norm_first=False), --activation.\n"
      "attend -> PyTorch: --to torch IN.ckpt -o OUT.safetensors writes a state dict with the model config in its "
      "metadata, for scripts/golden/torch_transformer.py's load_attend_safetensors.\n"
      "See docs/convert.md.");
  c->add_option("--from", o->from, "convert from this format to an attend checkpoint")->check(CLI::IsMember({"torch"}));
  c->add_option("--to", o->to, "convert an attend checkpoint to this format")->check(CLI::IsMember({"torch"}));
  c->add_option("input", o->input, "the file to convert (.safetensors with --from, .ckpt with --to)")->required();
  c->add_option("-o,--output", o->output, "the file to write (atomically)")->required();
  c->add_option("--heads", o->import.num_heads, "attention heads of the PyTorch model (--from; required)");
  c->add_flag("--post-norm", o->post_norm,
              "the PyTorch layers are post-norm (norm_first=False, torch.nn.Transformer's default); else pre-norm");
  c->add_option("--activation", o->import.activation, "feed-forward activation of the PyTorch model")
      ->capture_default_str()
      ->check(CLI::IsMember({"relu", "gelu"}));
  c->add_option("--max-positions", o->import.max_positions,
                "longest sequence with sinusoidal positions (learned tables and the tutorial's buffer give their own)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  c->add_option("--spm", o->import.spm, "SentencePiece model of both sides (--from)");
  c->add_option("--source-spm", o->import.source_spm, "SentencePiece model of the source side (--from)");
  c->add_option("--target-spm", o->import.target_spm, "SentencePiece model of the target side (--from)");
  c->callback([o] {
    if (!o->to.empty())
      ATTEND_CHECK(o->import.num_heads == 0 && !o->post_norm && o->import.spm.empty() && o->import.source_spm.empty() &&
                       o->import.target_spm.empty(),
                   kOp, "--heads, --post-norm and --spm/--source-spm/--target-spm describe a PyTorch model: use them with --from torch");
    run_convert(*o);
  });
}

}  // namespace attend::cli
