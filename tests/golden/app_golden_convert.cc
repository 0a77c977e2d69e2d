// Weights between PyTorch and attend (app/convert.h) against PyTorch 1.13: the files of
// tests/data/convert and tests/golden/data/convert_*.json were made by
// scripts/golden/make_convert_golden.sh (random PyTorch models saved as safetensors with their
// logits, nn.MultiheadAttention state dicts with their outputs, and attend_postnorm.ckpt exported
// with `attend convert --to torch` and run by PyTorch).
//
//   import:  attend's logits of the imported model equal PyTorch's (attend's layout: pre-norm, gelu,
//            learned positions, one shared table, an output layer; the tutorial's nn.Transformer:
//            post-norm with final norms, relu, the sinusoidal buffer, separate vocabularies)
//   mha:     load_torch_mha gives nn.MultiheadAttention's output and weights (packed f32; kdim/vdim
//            in f64, so F64 values load into an f64 module exactly)
//   export:  the committed attend checkpoint's logits equal PyTorch's logits of its export; the
//            export holds the model's tensors under the same names; import after export gives the
//            same tensors and the same logits (round trip)
//   bad input: every refusal names the file and the tensor; nothing is written on failure.
//
// Tolerances: PyTorch and attend both compute in float32 in different orders; logits differ by a
// few float32 roundings (the worst seen is printed by each case).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "attend/app/convert.h"
#include "attend/autograd/autograd.h"
#include "attend/core/source.h"
#include "attend/io/safetensors.h"
#include "attend/models/tasks.h"
#include "attend/models/transformer.h"
#include "support/check.h"
#include "support/golden.h"
#include "support/temp_dir.h"

namespace attend {
namespace {

using test::Golden;

constexpr double kLogitTol = 2e-5;  // absolute and relative, float32 on both sides
const std::string kDir = std::string(ATTEND_TEST_DATA_DIR) + "/convert/";

app::TorchImport prenorm_options() {
  return {.num_heads = 2, .norm_first = true, .activation = "gelu", .spm = kDir + "joint.model"};
}
app::TorchImport tutorial_options() {
  return {.num_heads = 2, .norm_first = false, .source_spm = kDir + "de.model", .target_spm = kDir + "en.model"};
}

Tensor logits_of(const app::ModelBundle& b, const Golden& g) {
  NoGrad no_grad;
  auto& m = b.as<models::SequenceToSequence>("the converted model", "test");
  return m.logits(Source::of_tokens(g.ints("src"), g.ints("src_lengths").data), g.ints("tgt_in"));  // [B, T, V]
}

void expect_logits(const app::ModelBundle& b, const std::string& golden) {
  const Golden g = Golden::load(golden);
  const Tensor got = logits_of(b, g);
  const Tensor want = g.tensor("logits", DType::f32);
  EXPECT_TRUE(test::all_close(got, want, kLogitTol, kLogitTol)) << golden;
  std::cout << golden << ": max |attend - PyTorch| of the logits " << test::max_abs_diff(got, want) << "\n";
}

const models::TransformerConfig& config_of(const app::ModelBundle& b) {
  return dynamic_cast<const models::TransformerConfig&>(*b.spec.model);
}

// The same names and bit-identical values (after rounding to f32).
void expect_same_tensors(const io::TensorMap& a, const io::TensorMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_EQ(b.count(name), 1u) << name;
    EXPECT_EQ(t.to(DType::f32).to_vector<float>(), b.at(name).to(DType::f32).to_vector<float>()) << name;
    EXPECT_EQ(t.shape(), b.at(name).shape()) << name;
  }
}

TEST(ConvertGolden, ImportAttendLayoutGivesPyTorchLogits) {
  const app::ModelBundle b = app::import_torch_transformer(kDir + "prenorm.safetensors", prenorm_options());
  const auto& c = config_of(b);
  EXPECT_EQ(c.d_model, 16);
  EXPECT_EQ(c.ffn_dim, 32);
  EXPECT_EQ(c.encoder_layers, 2);
  EXPECT_EQ(c.decoder_layers, 2);
  EXPECT_TRUE(c.share_embeddings);
  EXPECT_FALSE(c.tie_output);
  EXPECT_EQ(c.positions, nn::PositionKind::learned);
  EXPECT_EQ(c.max_positions, 24);
  EXPECT_EQ(c.final_norm, models::FinalNorm::automatic);
  EXPECT_EQ(b.spec.source_spm, b.spec.target_spm);  // one joint model
  expect_logits(b, "convert_prenorm");
}

TEST(ConvertGolden, ImportTutorialNnTransformerGivesPyTorchLogits) {
  const app::ModelBundle b = app::import_torch_transformer(kDir + "tutorial_postnorm.safetensors", tutorial_options());
  const auto& c = config_of(b);
  EXPECT_FALSE(c.norm_first);
  EXPECT_EQ(c.final_norm, models::FinalNorm::on);  // nn.Transformer's stacks always end in a norm
  EXPECT_EQ(c.src_vocab, 52);
  EXPECT_EQ(c.tgt_vocab, 44);
  EXPECT_EQ(c.max_positions, 32);  // the buffer's rows
  EXPECT_EQ(c.positions, nn::PositionKind::sinusoidal);
  EXPECT_EQ(b.vocab("source").size(), 52);
  expect_logits(b, "convert_tutorial_postnorm");
}

// Saved and loaded as a checkpoint, the imported model still gives PyTorch's logits.
class ConvertFiles : public test::TempDirTest {};

TEST_F(ConvertFiles, ImportedCheckpointLoadsAndGivesTheSameLogits) {
  app::import_torch_transformer(kDir + "tutorial_postnorm.safetensors", tutorial_options()).save(path("t.ckpt"));
  const app::ModelBundle b = app::ModelBundle::load(path("t.ckpt"));
  EXPECT_EQ(b.spec.source_tokens, data::TokenizerKind::sentencepiece);
  expect_logits(b, "convert_tutorial_postnorm");
}

void check_mha(const std::string& name) {
  SCOPED_TRACE(name);
  const Golden g = Golden::load("convert_" + name);
  const DType dt = g.config_bool("f64") ? DType::f64 : DType::f32;
  Rng rng(3);
  nn::MultiheadAttention mha({.embed_dim = g.config_int("embed_dim"),
                              .num_heads = g.config_int("num_heads"),
                              .kdim = g.config_int("kdim"),
                              .vdim = g.config_int("vdim"),
                              .dtype = dt},
                             rng);
  const std::string file = kDir + name + ".safetensors";
  app::load_torch_mha(io::load_safetensors(file).tensors, mha, file);
  NoGrad no_grad;
  const nn::MhaOutput r = mha.forward(g.tensor("query", dt), g.tensor("key", dt), g.tensor("value", dt), {},
                                      {.need_weights = true});
  const double tol = dt == DType::f64 ? 1e-12 : 1e-6;
  EXPECT_TRUE(test::all_close(r.output, g.tensor("out", dt), tol, tol));
  EXPECT_TRUE(test::all_close(r.weights, g.tensor("weights", dt), tol, tol));
  // And back: the module's state dict is the file's.
  expect_same_tensors(app::torch_state_dict(mha), io::load_safetensors(file).tensors);
}

TEST(ConvertGolden, MhaImportGivesPyTorchOutputs) { check_mha("mha"); }
TEST(ConvertGolden, MhaImportKdimVdimF64GivesPyTorchOutputs) { check_mha("mha_kdim"); }

TEST_F(ConvertFiles, ExportedCheckpointGivesPyTorchLogitsAndRoundTrips) {
  const app::ModelBundle b = app::ModelBundle::load(kDir + "attend_postnorm.ckpt");
  // PyTorch ran the export of this checkpoint (make_convert_golden.py): the same logits.
  expect_logits(b, "convert_export");
  app::export_torch_transformer(b, path("e.safetensors"));
  const io::SafetensorsContents e = io::load_safetensors(path("e.safetensors"));
  EXPECT_EQ(e.metadata.at("format"), "attend-torch/1");
  EXPECT_EQ(e.metadata.at("model_config"), b.spec.to_json());
  expect_same_tensors(e.tensors, app::torch_state_dict(*b.model));
  EXPECT_EQ(e.tensors.count("encoder.norm.weight"), 0u);  // post-norm without final norms
  // Import of the export: the same config (given what the shapes cannot tell), tensors and logits.
  const app::ModelBundle back = app::import_torch_transformer(
      path("e.safetensors"), {.num_heads = 2, .norm_first = false, .max_positions = 64, .spm = kDir + "joint.model"});
  EXPECT_EQ(back.spec.to_json(), b.spec.to_json());
  expect_same_tensors(app::torch_state_dict(*back.model), e.tensors);
  expect_logits(back, "convert_export");
}

TEST_F(ConvertFiles, ImportThenExportGivesBackTheSameTensors) {
  // attend's layout: the same names and values.
  const app::ModelBundle b = app::import_torch_transformer(kDir + "prenorm.safetensors", prenorm_options());
  app::export_torch_transformer(b, path("p.safetensors"));
  expect_same_tensors(io::load_safetensors(path("p.safetensors")).tensors,
                      io::load_safetensors(kDir + "prenorm.safetensors").tensors);
  // The tutorial's: attend's names for the same values ("transformer." dropped, the buffer gone).
  const app::ModelBundle t = app::import_torch_transformer(kDir + "tutorial_postnorm.safetensors", tutorial_options());
  app::export_torch_transformer(t, path("t.safetensors"));
  const io::TensorMap mine = io::load_safetensors(path("t.safetensors")).tensors;
  io::TensorMap theirs = io::load_safetensors(kDir + "tutorial_postnorm.safetensors").tensors;
  EXPECT_EQ(theirs.erase("positional_encoding.pos_embedding"), 1u);
  io::TensorMap renamed;
  for (const auto& [name, v] : theirs) {
    std::string n = name;
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"transformer.", ""},
                                   {"src_tok_emb.embedding.", "src_embed."},
                                   {"tgt_tok_emb.embedding.", "tgt_embed."},
                                   {"generator.", "output."}})
      if (n.rfind(from, 0) == 0) n = to + n.substr(from.size());
    renamed.emplace(n, v);
  }
  expect_same_tensors(mine, renamed);
}

TEST_F(ConvertFiles, F64StateDictsLoadRoundedToF32) {
  io::TensorMap state = io::load_safetensors(kDir + "prenorm.safetensors").tensors;
  for (auto& [name, t] : state) t = t.to(DType::f64);
  io::save_safetensors(path("f64.safetensors"), state);
  expect_logits(app::import_torch_transformer(path("f64.safetensors"), prenorm_options()), "convert_prenorm");
}

// ---------------------------------------------------------------------------------------------
// Bad input: each refusal names the file and the tensor.

class ConvertBadInput : public test::TempDirTest {
 protected:
  // prenorm.safetensors (or the tutorial's) changed by `edit`, written to bad.safetensors.
  template <typename F>
  std::string edited(const std::string& file, F edit) {
    io::TensorMap state = io::load_safetensors(kDir + file).tensors;
    edit(state);
    io::save_safetensors(path("bad.safetensors"), state);
    return path("bad.safetensors");
  }
};

TEST_F(ConvertBadInput, MissingTensorIsNamed) {
  const std::string f = edited("prenorm.safetensors", [](io::TensorMap& s) { s.erase("decoder.layers.1.norm3.bias"); });
  test::expect_error([&] { app::import_torch_transformer(f, prenorm_options()); }, "[convert]",
                     {f, "tensor 'decoder.layers.1.norm3.bias' (shape [16]) is missing"});
  // In the tutorial's layout, under the file's name.
  const std::string t =
      edited("tutorial_postnorm.safetensors", [](io::TensorMap& s) { s.erase("transformer.encoder.layers.1.linear1.bias"); });
  test::expect_error([&] { app::import_torch_transformer(t, tutorial_options()); }, "[convert]",
                     {"tensor 'transformer.encoder.layers.1.linear1.bias' (shape [32]) is missing"});
  const std::string n = edited("prenorm.safetensors", [](io::TensorMap& s) { s.erase("tgt_embed.weight"); });
  test::expect_error([&] { app::import_torch_transformer(n, prenorm_options()); }, "[convert]",
                     {"tensor 'tgt_embed.weight' is missing"});
}

TEST_F(ConvertBadInput, UnexpectedTensorIsNamed) {
  const std::string f = edited("prenorm.safetensors", [](io::TensorMap& s) {
    s["encoder.layers.0.self_attn.bias_k"] = Tensor::zeros({1, 1, 16});
  });
  test::expect_error([&] { app::import_torch_transformer(f, prenorm_options()); }, "[convert]",
                     {f, "unexpected tensor 'encoder.layers.0.self_attn.bias_k' [1, 1, 16]"});
  // One norm without the other.
  const std::string g = edited("prenorm.safetensors", [](io::TensorMap& s) {
    s.erase("decoder.norm.weight");
    s.erase("decoder.norm.bias");
  });
  test::expect_error([&] { app::import_torch_transformer(g, prenorm_options()); }, "[convert]",
                     {"'encoder.norm.weight' is present but 'decoder.norm.weight' is absent"});
  // Two names for one attend tensor.
  const std::string d = edited("tutorial_postnorm.safetensors",
                               [](io::TensorMap& s) { s["output.bias"] = s.at("generator.bias"); });
  test::expect_error([&] { app::import_torch_transformer(d, tutorial_options()); }, "[convert]",
                     {"'generator.bias' and 'output.bias' are both attend's 'output.bias'"});
}

TEST_F(ConvertBadInput, WrongShapeIsNamed) {
  const std::string f = edited("prenorm.safetensors",
                               [](io::TensorMap& s) { s["encoder.layers.1.linear2.weight"] = Tensor::zeros({16, 31}); });
  test::expect_error([&] { app::import_torch_transformer(f, prenorm_options()); }, "[convert]",
                     {f, "tensor 'encoder.layers.1.linear2.weight' has shape [16, 31]", "expects [16, 32]"});
  const std::string r = edited("prenorm.safetensors", [](io::TensorMap& s) { s["tgt_embed.weight"] = Tensor::zeros({60}); });
  test::expect_error([&] { app::import_torch_transformer(r, prenorm_options()); }, "[convert]",
                     {"tensor 'tgt_embed.weight' has shape [60], expected a non-empty matrix"});
  const std::string p = edited("prenorm.safetensors",
                               [](io::TensorMap& s) { s["tgt_positions.weight"] = Tensor::zeros({20, 16}); });
  test::expect_error([&] { app::import_torch_transformer(p, prenorm_options()); }, "[convert]",
                     {"'src_positions.weight' [24, 16] and 'tgt_positions.weight' [20, 16] differ in positions"});
}

TEST_F(ConvertBadInput, WrongDtypeIsNamed) {
  // A bfloat16 tensor, as safetensors.torch.save_file writes one: refused by the reader, by name.
  const std::string header = R"({"tgt_embed.weight":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}})";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  bytes += header + std::string(8, '\0');
  std::ofstream(path("bf16.safetensors"), std::ios::binary) << bytes;
  test::expect_error([&] { app::import_torch_transformer(path("bf16.safetensors"), prenorm_options()); }, "[convert]",
                     {"bf16.safetensors", "tensor 'tgt_embed.weight'", "unsupported dtype BF16", "model.float()"});
}

TEST_F(ConvertBadInput, NonFiniteValueIsNamed) {
  const std::string f = edited("prenorm.safetensors", [](io::TensorMap& s) {
    Tensor t = s.at("decoder.layers.0.multihead_attn.in_proj_bias").clone();
    t.data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
    s["decoder.layers.0.multihead_attn.in_proj_bias"] = t;
  });
  test::expect_error([&] { app::import_torch_transformer(f, prenorm_options()); }, "[convert]",
                     {f, "tensor 'decoder.layers.0.multihead_attn.in_proj_bias' holds NaN or Inf"});
}

TEST_F(ConvertBadInput, WrongVocabularySizeNamesTheTensorAndBothSizes) {
  const std::string f = kDir + "prenorm.safetensors";
  test::expect_error([&] { app::import_torch_transformer(f, {.num_heads = 2, .spm = kDir + "en.model"}); }, "[convert]",
                     {f, "tensor 'tgt_embed.weight' has 60 rows", "en.model has 44 pieces"});
  const std::string t = kDir + "tutorial_postnorm.safetensors";
  test::expect_error(
      [&] {
        app::import_torch_transformer(t, {.num_heads = 2, .source_spm = kDir + "en.model", .target_spm = kDir + "de.model"});
      },
      "[convert]", {"tensor 'src_tok_emb.embedding.weight' has 52 rows, the source SentencePiece model", "en.model has 44 pieces"});
  test::expect_error([&] { app::import_torch_transformer(f, {.num_heads = 2}); }, "[convert]", {"--spm FILE.model"});
  test::expect_error([&] { app::import_torch_transformer(f, {.num_heads = 2, .source_spm = kDir + "de.model"}); },
                     "[convert]", {"--source-spm and --target-spm go together"});
}

TEST_F(ConvertBadInput, OptionsTheShapesCannotTell) {
  const std::string f = kDir + "prenorm.safetensors";
  test::expect_error([&] { app::import_torch_transformer(f, {.spm = kDir + "joint.model"}); }, "[convert]",
                     {f, "number of attention heads is required (--heads H)"});
  test::expect_error([&] { app::import_torch_transformer(f, {.num_heads = 3, .spm = kDir + "joint.model"}); }, "[convert]",
                     {f, "[transformer config]", "not divisible by num_heads 3"});
  test::expect_error(
      [&] { app::import_torch_transformer(f, {.num_heads = 2, .activation = "tanh", .spm = kDir + "joint.model"}); },
      "[convert]", {"activation", "tanh"});
}

TEST_F(ConvertBadInput, TutorialPositionsMustBeAttends) {
  const std::string f = edited("tutorial_postnorm.safetensors", [](io::TensorMap& s) {
    Tensor t = s.at("positional_encoding.pos_embedding").clone();  // [32, 1, 16]
    t.data<float>()[3 * 16 + 2] += 0.01f;
    s["positional_encoding.pos_embedding"] = t;
  });
  test::expect_error([&] { app::import_torch_transformer(f, tutorial_options()); }, "[convert]",
                     {"tensor 'positional_encoding.pos_embedding' holds", "at position 3, column 2",
                      "the model's positions are not attend's"});
}

TEST_F(ConvertBadInput, LayerNamesCannotAskForAHugeModel) {
  const std::string f = edited("prenorm.safetensors",
                               [](io::TensorMap& s) { s["encoder.layers.99999.norm1.weight"] = Tensor::ones({16}); });
  test::expect_error([&] { app::import_torch_transformer(f, prenorm_options()); },
                     {"describe a model larger than the file's weights"});
  const std::string g = edited("prenorm.safetensors",
                               [](io::TensorMap& s) { s["encoder.layers.x1.norm1.weight"] = Tensor::ones({16}); });
  test::expect_error([&] { app::import_torch_transformer(g, prenorm_options()); }, "[convert]",
                     {"tensor 'encoder.layers.x1.norm1.weight': layer index 'x1' is not a number"});
}

TEST_F(ConvertBadInput, MhaStateDictsAreChecked) {
  const io::TensorMap good = io::load_safetensors(kDir + "mha.safetensors").tensors;
  Rng rng(1);
  nn::MultiheadAttention packed({.embed_dim = 16, .num_heads = 2}, rng);
  nn::MultiheadAttention separate({.embed_dim = 16, .num_heads = 2, .kdim = 8, .vdim = 12}, rng);
  io::TensorMap s = good;
  s.erase("out_proj.bias");
  test::expect_error([&] { app::load_torch_mha(s, packed, "sd"); }, "[convert]",
                     {"sd: tensor 'out_proj.bias' (shape [16]) is missing"});
  s = good;
  s["bias_k"] = Tensor::zeros({1, 1, 16});
  test::expect_error([&] { app::load_torch_mha(s, packed, "sd"); }, "[convert]", {"'bias_k'", "add_bias_kv"});
  test::expect_error([&] { app::load_torch_mha(good, separate, "sd"); }, "[convert]",
                     {"sd: the state dict has in_proj_weight", "kdim and vdim"});
  s = good;
  s["in_proj_weight"] = Tensor::zeros({48, 8});
  test::expect_error([&] { app::load_torch_mha(s, packed, "sd"); }, "[convert]",
                     {"tensor 'in_proj_weight' has shape [48, 8]", "expects [48, 16]"});
  // Nothing changed by the refusals.
  const Tensor before = packed.out_proj.weight.clone();
  s = good;
  s["out_proj.weight"] = Tensor::full({16, 16}, std::numeric_limits<double>::infinity());
  test::expect_error([&] { app::load_torch_mha(s, packed, "sd"); }, "[convert]", {"'out_proj.weight' holds NaN or Inf"});
  EXPECT_EQ(packed.out_proj.weight.to_vector<float>(), before.to_vector<float>());
}

TEST_F(ConvertBadInput, ExportRefusesOtherArchitecturesAndWritesNothing) {
  const app::ModelBundle b = app::ModelBundle::load(std::string(ATTEND_TEST_DATA_DIR) + "/legacy/luong_v1.ckpt");
  test::expect_error([&] { app::export_torch_transformer(b, path("x.safetensors")); }, "[convert]",
                     {"x.safetensors", "the model is a luong; only a transformer converts"});
  EXPECT_FALSE(std::filesystem::exists(path("x.safetensors")));
}

}  // namespace
}  // namespace attend
