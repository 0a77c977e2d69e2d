// PyTorch <-> attend weights (convert.h has the accepted layouts). Import: read the state dict, map
// the tutorial layout's names onto attend's, read the config off the shapes (plus TorchImport),
// check the vocabularies against the SentencePiece models, build the model under an allocation
// budget and load it through load_checked, which validates everything before changing anything.
#include "attend/app/convert.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "attend/core/error.h"
#include "attend/data/sentencepiece.h"
#include "attend/models/registry.h"
#include "attend/models/transformer.h"
#include "attend/nn/transformer.h"
#include "attend/train/optimizer.h"

namespace attend::app {
namespace {

constexpr const char* kOp = "convert";
constexpr const char* kExportFormat = "attend-torch/1";
constexpr const char* kTutorialPositions = "positional_encoding.pos_embedding";

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// A tensor under attend's name, with the name it has in the file (what messages show).
struct Named {
  std::string file_name;
  Tensor tensor;
};
using Canonical = std::map<std::string, Named>;

// PyTorch's translation tutorial (Seq2SeqTransformer) -> attend's names: prefix in the file, prefix
// in attend. "transformer." is torch.nn.Transformer held as attribute `transformer`.
constexpr std::pair<const char*, const char*> kAliases[] = {{"transformer.", ""},
                                                            {"src_tok_emb.embedding.", "src_embed."},
                                                            {"tgt_tok_emb.embedding.", "tgt_embed."},
                                                            {"generator.", "output."}};

Canonical identity_names(const io::TensorMap& state) {
  Canonical out;
  for (const auto& [name, t] : state) out.emplace(name, Named{name, t});
  return out;
}

// The state under attend's names; two file names meaning one attend name is an error naming both.
Canonical canonical_names(const io::TensorMap& state, const std::string& source, bool& tutorial) {
  Canonical out;
  tutorial = false;
  for (const auto& [name, t] : state) {
    std::string mine = name;
    for (const auto& [from, to] : kAliases)
      if (starts_with(name, from)) {
        mine = to + name.substr(std::strlen(from));
        tutorial = true;
        break;
      }
    const auto [it, fresh] = out.emplace(mine, Named{name, t});
    ATTEND_CHECK(fresh, kOp, source, ": tensors '", it->second.file_name, "' and '", name,
                 "' are both attend's '", mine, "' (give one layout of names, convert.h)");
  }
  return out;
}

// The name attend's parameter `name` has in a file of the tutorial layout (for "missing" messages).
std::string file_name_of(const std::string& name, bool tutorial) {
  if (!tutorial) return name;
  if (starts_with(name, "encoder.") || starts_with(name, "decoder.")) return "transformer." + name;
  for (const auto& [from, to] : kAliases)
    if (*to != '\0' && starts_with(name, to)) return from + name.substr(std::strlen(to));
  return name;
}

// Every parameter of `module` present with its shape, nothing else, every value finite; then the
// values are copied (F64 rounded to the parameter's dtype by load_parameter).
void load_checked(const Canonical& state, nn::Module& module, const std::string& source, bool tutorial,
                  const char* what) {
  const auto params = module.named_parameters();
  std::set<std::string> own;
  for (const auto& [name, p] : params) {
    own.insert(name);
    const auto it = state.find(name);
    ATTEND_CHECK(it != state.end(), kOp, source, ": tensor '", file_name_of(name, tutorial), "' (shape ",
                 p.shape().str(), ") is missing");
    ATTEND_CHECK(it->second.tensor.shape() == p.shape(), kOp, source, ": tensor '", it->second.file_name,
                 "' has shape ", it->second.tensor.shape().str(), ", ", what, " expects ", p.shape().str());
  }
  for (const auto& [name, n] : state) {
    ATTEND_CHECK(own.count(name) == 1, kOp, source, ": unexpected tensor '", n.file_name, "' ", n.tensor.shape().str(),
                 " (", what, " has no such parameter)");
    ATTEND_CHECK(train::all_finite(n.tensor), kOp, source, ": tensor '", n.file_name, "' holds NaN or Inf");
  }
  for (const auto& [name, p] : params) module.load_parameter(name, state.at(name).tensor);
}

// The tensor attend calls `name`, which must be there with rank 2 (one the config is read from).
const Named& matrix(const Canonical& state, const std::string& name, const std::string& source, bool tutorial) {
  const auto it = state.find(name);
  ATTEND_CHECK(it != state.end(), kOp, source, ": tensor '", file_name_of(name, tutorial),
               "' is missing (not a PyTorch Transformer of convert.h's layouts)");
  ATTEND_CHECK(it->second.tensor.dim() == 2 && it->second.tensor.numel() > 0, kOp, source, ": tensor '",
               it->second.file_name, "' has shape ", it->second.tensor.shape().str(), ", expected a non-empty matrix");
  return it->second;
}

// Layers of a stack: 1 + the largest i of "<stack>.layers.<i>.*" (missing ones below it are then
// "missing" errors of load_checked).
int64_t count_layers(const Canonical& state, const std::string& stack, const std::string& source, bool tutorial) {
  const std::string prefix = stack + ".layers.";
  int64_t n = 0;
  for (const auto& [name, t] : state) {
    if (!starts_with(name, prefix)) continue;
    const std::string rest = name.substr(prefix.size());
    const std::string digits = rest.substr(0, rest.find('.'));
    int64_t i = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
    ATTEND_CHECK(ec == std::errc() && end == digits.data() + digits.size() && i >= 0 && i < 100000, kOp, source,
                 ": tensor '", t.file_name, "': layer index '", digits, "' is not a number below 100000");
    n = std::max(n, i + 1);
  }
  ATTEND_CHECK(n > 0, kOp, source, ": no tensor '", file_name_of(prefix, tutorial),
               "0.*' (not a PyTorch Transformer of convert.h's layouts: nn.TransformerEncoder/Decoder as '", stack,
               "' or inside nn.Transformer as 'transformer')");
  return n;
}

// The tutorial's sinusoidal buffer [P, 1, C] or [P, C] must be attend's PE (nn::sinusoidal_positions,
// computed in double) up to the float32 rounding of its angle p * 10000^(-2i/C), a few ulps of p.
// Returns P.
int64_t check_tutorial_positions(const Named& pe, int64_t C, const std::string& source) {
  const Tensor& t = pe.tensor;
  ATTEND_CHECK((t.dim() == 3 && t.size(1) == 1 && t.size(2) == C) || (t.dim() == 2 && t.size(1) == C), kOp, source,
               ": tensor '", pe.file_name, "' has shape ", t.shape().str(), ", expected [P, 1, ", C, "] or [P, ", C,
               "] (sinusoidal positions of d_model ", C, ")");
  const int64_t P = t.size(0);
  ATTEND_CHECK(P > 0 && P <= (int64_t{1} << 20), kOp, source, ": tensor '", pe.file_name, "' has ", P,
               " positions (expected 1 to 2^20)");
  const Tensor mine = nn::sinusoidal_positions(0, P, C, DType::f64);  // [P, C]
  const Tensor theirs = t.to(DType::f64).contiguous();
  const double* a = mine.data<double>();
  const double* b = theirs.data<double>();
  for (int64_t p = 0; p < P; ++p)
    for (int64_t c = 0; c < C; ++c) {
      const double want = a[p * C + c], got = b[p * C + c];
      ATTEND_CHECK(std::abs(got - want) <= 1e-5 + 4e-7 * static_cast<double>(p), kOp, source, ": tensor '",
                   pe.file_name, "' holds ", got, " at position ", p, ", column ", c,
                   " where attend's sinusoidal encoding (PE[p, 2i] = sin(p / 10000^(2i / C)), PE[p, 2i + 1] = cos) has ",
                   want, ": the model's positions are not attend's");
    }
  return P;
}

// The SentencePiece models of TorchImport: one joint model (shared) or one per side.
struct SpmSides {
  std::shared_ptr<const data::SentencePiece> source, target;
  std::string source_file, target_file;
};

SpmSides load_spm(const TorchImport& opts) {
  const bool joint = !opts.spm.empty();
  ATTEND_CHECK(joint != (!opts.source_spm.empty() || !opts.target_spm.empty()), kOp,
               "give the vocabulary as one SentencePiece model for both sides (--spm FILE.model) or one per side "
               "(--source-spm A.model --target-spm B.model)");
  ATTEND_CHECK(joint || (!opts.source_spm.empty() && !opts.target_spm.empty()), kOp,
               "--source-spm and --target-spm go together (or --spm for both sides)");
  SpmSides s;
  s.source_file = joint ? opts.spm : opts.source_spm;
  s.target_file = joint ? opts.spm : opts.target_spm;
  s.source = std::make_shared<const data::SentencePiece>(data::SentencePiece::load(s.source_file));
  s.target = s.target_file == s.source_file
                 ? s.source
                 : std::make_shared<const data::SentencePiece>(data::SentencePiece::load(s.target_file));
  return s;
}

// The embedding rows of a side must be its SentencePiece model's pieces.
void check_vocab(const Named& table, const data::SentencePiece& sp, const char* side, const std::string& file,
                 const std::string& source) {
  ATTEND_CHECK(table.tensor.size(0) == sp.vocab_size(), kOp, source, ": tensor '", table.file_name, "' has ",
               table.tensor.size(0), " rows, the ", side, " SentencePiece model ", file, " has ", sp.vocab_size(),
               " pieces (the embedding rows must be the model's pieces, id for id)");
}

size_t state_bytes(const io::TensorMap& state) {
  size_t bytes = 0;
  for (const auto& [name, t] : state) bytes += static_cast<size_t>(t.numel()) * (t.dtype() == DType::f64 ? 8 : 4);
  return bytes;
}

}  // namespace

ModelBundle import_torch_transformer(const io::TensorMap& state, const TorchImport& opts, const std::string& source) {
  ATTEND_CHECK(opts.num_heads > 0, kOp, source,
               ": the number of attention heads is required (--heads H): the weights do not tell it");
  bool tutorial = false;
  Canonical c = canonical_names(state, source, tutorial);

  // What the shapes tell: C and V from the target table, F from the first encoder layer.
  const Named& tgt = matrix(c, "tgt_embed.weight", source, tutorial);  // [V, C]
  const int64_t C = tgt.tensor.size(1);
  const bool shared = c.count("src_embed.weight") == 0;
  const Named& src = shared ? tgt : matrix(c, "src_embed.weight", source, tutorial);  // [Vs, C]
  const int64_t F = matrix(c, "encoder.layers.0.linear1.weight", source, tutorial).tensor.size(0);  // [F, C]
  const bool enc_norm = c.count("encoder.norm.weight") == 1, dec_norm = c.count("decoder.norm.weight") == 1;
  ATTEND_CHECK(enc_norm == dec_norm, kOp, source, ": tensor '", file_name_of("encoder.norm.weight", tutorial), "' is ",
               enc_norm ? "present" : "absent", " but '", file_name_of("decoder.norm.weight", tutorial), "' is ",
               dec_norm ? "present" : "absent", " (attend's stacks both end in a LayerNorm or neither does)");

  // Positions: learned tables, the tutorial's sinusoidal buffer (checked, then dropped: attend
  // computes it) or neither (sinusoidal, opts.max_positions).
  const bool learned = c.count("src_positions.weight") == 1 || c.count("tgt_positions.weight") == 1;
  int64_t max_positions = opts.max_positions;
  if (learned) {
    const Named& sp = matrix(c, "src_positions.weight", source, tutorial);
    const Named& tp = matrix(c, "tgt_positions.weight", source, tutorial);
    ATTEND_CHECK(sp.tensor.size(0) == tp.tensor.size(0), kOp, source, ": tensors '", sp.file_name, "' ",
                 sp.tensor.shape().str(), " and '", tp.file_name, "' ", tp.tensor.shape().str(),
                 " differ in positions (attend has one max_positions)");
    max_positions = sp.tensor.size(0);
  }
  if (const auto pe = c.find(kTutorialPositions); pe != c.end()) {
    ATTEND_CHECK(!learned, kOp, source, ": both learned positions and '", kTutorialPositions, "'");
    max_positions = check_tutorial_positions(pe->second, C, source);
    c.erase(pe);
  }

  const SpmSides spm = load_spm(opts);
  check_vocab(src, *spm.source, "source", spm.source_file, source);
  check_vocab(tgt, *spm.target, "target", spm.target_file, source);

  const bool norm_first = opts.norm_first;
  const std::map<std::string, std::string> values = {
      {"src_vocab", std::to_string(src.tensor.size(0))},
      {"tgt_vocab", std::to_string(tgt.tensor.size(0))},
      {"d_model", std::to_string(C)},
      {"num_heads", std::to_string(opts.num_heads)},
      {"ffn_dim", std::to_string(F)},
      {"encoder_layers", std::to_string(count_layers(c, "encoder", source, tutorial))},
      {"decoder_layers", std::to_string(count_layers(c, "decoder", source, tutorial))},
      {"activation", opts.activation},
      {"norm_first", norm_first ? "true" : "false"},
      // auto where the norms are what norm_first implies, so the checkpoint reads as one trained here.
      {"final_norm", enc_norm == norm_first ? "auto" : enc_norm ? "on" : "off"},
      {"positions", learned ? "learned" : "sinusoidal"},
      {"max_positions", std::to_string(max_positions)},
      {"share_embeddings", shared ? "true" : "false"},
      {"tie_output", c.count("output.weight") == 1 ? "false" : "true"}};
  ModelBundle b;
  try {
    b.spec.model = models::make_config(models::TransformerConfig::kName, values);
  } catch (const Error& e) {
    throw Error(kOp, source + ": " + e.what());
  }
  b.spec.source_tokens = b.spec.target_tokens = data::TokenizerKind::sentencepiece;
  b.spec.source_spm = spm.source;
  b.spec.target_spm = spm.target;
  b.vocabs.emplace("source", spm_vocab(*spm.source, spm.source_file));
  b.vocabs.emplace("target", spm_vocab(*spm.target, spm.target_file));
  {
    // Layer counts come from names: "encoder.layers.99999.x" alone must not build a huge model.
    // The weights of a model the state can fill take its size; as ModelBundle::load, four times
    // that plus 64 MiB for construction's temporaries.
    const AllocationBudget budget(4 * state_bytes(state) + (size_t{64} << 20), kOp,
                                  source + ": the layer names describe a model larger than the file's weights");
    Rng rng(0);
    b.model = models::make_model(*b.spec.model, rng);
  }
  load_checked(c, *b.model, source, tutorial, "attend's transformer of these shapes");
  b.model->eval();
  return b;
}

ModelBundle import_torch_transformer(const std::string& safetensors_path, const TorchImport& opts) {
  io::SafetensorsContents contents;
  try {
    contents = io::load_safetensors(safetensors_path);
  } catch (const Error& e) {
    // The reader names the tensor and its dtype; say what to do about a half-precision model.
    const std::string what = e.what();
    if (what.find("unsupported dtype") != std::string::npos)
      throw Error(kOp, what + "; save the model in float32 (model.float()) before save_file");
    throw;
  }
  return import_torch_transformer(contents.tensors, opts, safetensors_path);
}

void export_torch_transformer(const ModelBundle& bundle, const std::string& safetensors_path) {
  ATTEND_CHECK(bundle.model != nullptr && bundle.spec.model != nullptr, kOp, safetensors_path, ": no model to export");
  const auto* c = dynamic_cast<const models::TransformerConfig*>(bundle.spec.model.get());
  ATTEND_CHECK(c != nullptr, kOp, safetensors_path, ": the model is a ", bundle.spec.model->architecture(),
               "; only a transformer converts to a PyTorch state dict");
  ATTEND_CHECK(c->normalizer == "softmax", kOp, safetensors_path, ": the model's attention normalizer is ",
               c->normalizer, "; PyTorch's nn.MultiheadAttention has softmax only");
  const std::string bad = train::first_nonfinite(bundle.model->named_parameters(), train::Check::values);
  ATTEND_CHECK(bad.empty(), kOp, safetensors_path, ": parameter '", bad, "' holds NaN or Inf; nothing written");
  io::save_safetensors(safetensors_path, torch_state_dict(*bundle.model),
                       {{"format", kExportFormat}, {"model_config", bundle.spec.to_json()}});
}

void load_torch_state_dict(const io::TensorMap& state, nn::Module& module, const std::string& source) {
  load_checked(identity_names(state), module, source, false, "the module");
}

void load_torch_mha(const io::TensorMap& state, nn::MultiheadAttention& mha, const std::string& source) {
  for (const char* kv : {"bias_k", "bias_v"})
    ATTEND_CHECK(state.count(kv) == 0, kOp, source, ": unexpected tensor '", kv,
                 "': nn.MultiheadAttention(add_bias_kv=True) has no attend counterpart");
  // PyTorch packs q, k and v into in_proj_weight exactly when kdim == vdim == embed_dim.
  const bool packed = state.count("in_proj_weight") == 1;
  ATTEND_CHECK(packed == mha.packed_in_proj() || (!packed && state.count("q_proj_weight") == 0), kOp, source,
               ": the state dict has ", packed ? "in_proj_weight (kdim == vdim == embed_dim)" : "q/k/v_proj_weight (kdim or vdim differ from embed_dim)",
               ", the module ", mha.packed_in_proj() ? "one packed in_proj_weight" : "separate q/k/v_proj_weight",
               ": build it with the PyTorch module's kdim and vdim");
  load_checked(identity_names(state), mha, source, false, "the MultiheadAttention");
}

io::TensorMap torch_state_dict(const nn::Module& module) {
  io::TensorMap out;
  for (const auto& [name, p] : module.named_parameters()) out.emplace(name, p.detach());
  return out;
}

}  // namespace attend::app
