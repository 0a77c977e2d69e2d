// Finite-difference gradient checks in f64 (PyTorch's gradcheck defaults) of each model's
// sequence loss w.r.t. every parameter: rnnsearch, luong with each score (global) and with local-m
// and local-p alignment, seq2seq, transformer. Tiny sizes, padded sources and targets (pad targets ignored).
// And gpt's language-model loss (train::LanguageModelObjective over a window batch whose second row
// is a short last window: pad inputs and pad targets at its end), tied and untied, w.r.t. every
// parameter, at random values (GPT-2's initialization has zero biases and unit norms).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "attend/data/batching.h"
#include "attend/models/encoder_decoder.h"
#include "attend/models/registry.h"
#include "attend/models/tasks.h"
#include "attend/nn/module.h"
#include "attend/train/objectives.h"
#include "attend/ops/ops.h"
#include "support/check.h"
#include "support/models.h"

namespace attend {
namespace {

using Values = std::map<std::string, std::string>;

// Every parameter of a model as gradcheck inputs: their names, and their own values (rng null) or
// random ones, N(0, 0.25) with the norms' weights around 1 (GPT-2-style initializations have zero
// biases and unit norms, which would leave terms untested). assign() writes perturbed inputs back
// into the model's slots, so it computes with exactly the tensors being differentiated.
struct ParameterInputs {
  std::vector<std::string> names;
  std::vector<Tensor> values;
  void assign(nn::Module& m, const std::vector<Tensor>& v) const {
    for (size_t k = 0; k < names.size(); ++k) m.parameter(names[k]) = v[k];
  }
};

ParameterInputs parameter_inputs(const nn::Module& m, Rng* rng = nullptr) {
  ParameterInputs in;
  for (const auto& [name, p] : m.named_parameters()) {
    in.names.push_back(name);
    const bool norm_weight = name.find("norm") != std::string::npos && name.ends_with("weight");
    in.values.push_back(rng ? add(mul(test::randn64(p.shape(), *rng), 0.5), norm_weight ? 1.0 : 0.0)
                            : p.detach().clone());
  }
  return in;
}

void check_model(const std::string& arch, const Values& more, double label_smoothing = 0.0) {
  Values values{{"src_vocab", "6"},   {"tgt_vocab", "6"}, {"embed_dim", "2"},      {"hidden_dim", "3"},
                {"attention_dim", "2"}, {"readout_dim", "3"}, {"window", "1"}, {"max_source_len", "4"},
                {"dropout", "0"}};
  for (const auto& [key, value] : more) values[key] = value;
  Rng rng(31);
  auto model = models::make_model_as<models::EncoderDecoder>(*test::model_config(arch, values), rng);
  model->to(DType::f64);
  model->eval();
  const Index src({4, 5, 1, 5, 4, 0}, Shape{2, 3});
  const std::vector<int64_t> lengths{3, 2};
  const Index tgt_in({2, 4, 5, 2, 5, 0}, Shape{2, 3});
  const Index tgt_out({4, 5, 3, 5, 3, 0}, Shape{2, 3});
  const ParameterInputs inputs = parameter_inputs(*model);
  const auto f = [&](const std::vector<Tensor>& v) {
    inputs.assign(*model, v);
    const Tensor logits = model->logits(test::tokens(src, lengths), tgt_in);
    return train::sequence_loss(logits, tgt_out, {.pad_id = 0, .label_smoothing = label_smoothing});
  };
  EXPECT_TRUE(test::gradcheck(f, inputs.values));
}

TEST(GradCheckModels, Rnnsearch) { check_model("rnnsearch", {}, 0.1); }

TEST(GradCheckModels, Seq2SeqTwoLayers) { check_model("seq2seq", {{"num_layers", "2"}}); }

TEST(GradCheckModels, TransformerPreNormTiedAndPostNormUntied) {
  const Values sizes{{"d_model", "4"}, {"num_heads", "2"}, {"ffn_dim", "4"}, {"encoder_layers", "1"},
                     {"decoder_layers", "2"}};
  check_model("transformer", sizes, 0.1);
  Values post = sizes;
  post.insert({{"norm_first", "0"}, {"tie_output", "0"}, {"positions", "learned"}, {"max_positions", "4"},
               {"activation", "gelu"}});
  check_model("transformer", post);
}

TEST(GradCheckModels, LuongEveryScoreGlobal) {
  for (const char* s : {"dot", "general", "concat", "location"}) {
    SCOPED_TRACE(s);
    check_model("luong", {{"score", s}});
  }
}

TEST(GradCheckModels, LuongTwoLayersLocalM) { check_model("luong", {{"num_layers", "2"}, {"alignment", "local-m"}}); }

TEST(GradCheckModels, LuongLocalPGeneralAndConcat) {
  for (const char* s : {"general", "concat"}) {
    SCOPED_TRACE(s);
    check_model("luong", {{"score", s}, {"alignment", "local-p"}});
  }
}

void check_gpt(bool tie_output) {
  SCOPED_TRACE(tie_output ? "tied output" : "output layer of its own");
  const Values values{{"vocab", "7"},         {"d_model", "4"},  {"num_heads", "2"},    {"ffn_dim", "6"},
                      {"num_layers", "2"},    {"dropout", "0"},  {"max_positions", "4"}, {"activation", "gelu"},
                      {"tie_output", tie_output ? "1" : "0"}};
  Rng rng(37);
  auto model = models::make_model_as<models::LanguageModel>(*models::make_config("gpt", values), rng);
  model->to(DType::f64);
  model->eval();
  // Windows [B, T + 1] of context T 4 as data::TokenWindows cuts the stream 4 6 3 5 4 5 6 (3 = EOS):
  // a full one, then the stream's rest of three tokens padded with 0, whose last two targets are pad.
  data::Batch batch;
  batch.tokens = Index({4, 6, 3, 5, 4, 4, 5, 6, 0, 0}, Shape{2, 5});
  batch.example_ids = {0, 1};
  train::LanguageModelObjective objective(*model, nullptr);
  const ParameterInputs inputs = parameter_inputs(*model, &rng);
  const auto f = [&](const std::vector<Tensor>& v) {
    inputs.assign(*model, v);
    const train::StepLoss step = objective.loss(batch);
    EXPECT_EQ(step.tokens, 6);  // 4 + 2 targets, the 2 pads not counted
    return step.loss;
  };
  EXPECT_TRUE(test::gradcheck(f, inputs.values));
}

TEST(GradCheckModels, GptLanguageModelLossTiedAndUntied) {
  check_gpt(true);
  check_gpt(false);
}

}  // namespace
}  // namespace attend

namespace attend {
namespace {

// Pictures [B, S*S, 1] in [0, 1] as the image models read them.
Source pictures(int64_t B, int64_t S, Rng& rng) {
  return Source::of_features(Tensor::uniform(Shape{B, S * S, 1}, rng, 0.0, 1.0, DType::f64),
                             std::vector<int64_t>(static_cast<size_t>(B), S * S));
}

// vit's classification loss w.r.t. every parameter (patch convolution, class token, positions,
// a pre-norm layer, the final norm, the head), at random values.
TEST(GradCheckModels, VitClassificationLoss) {
  const Values values{{"num_classes", "3"}, {"image_size", "4"}, {"patch", "2"},     {"d_model", "4"},
                      {"num_heads", "2"},   {"ffn_dim", "4"},    {"num_layers", "1"}, {"dropout", "0"}};
  Rng rng(41);
  auto model = models::make_model_as<models::Classifier>(*models::make_config("vit", values), rng);
  model->to(DType::f64);
  model->eval();
  const Source src = pictures(2, 4, rng);
  const Index labels({2, 0}, Shape{2});
  const ParameterInputs inputs = parameter_inputs(*model, &rng);
  const auto f = [&](const std::vector<Tensor>& v) {
    inputs.assign(*model, v);
    return cross_entropy(model->classify(src).logits, labels);
  };
  EXPECT_TRUE(test::gradcheck(f, inputs.values));
}

// The attention-pooling classifier's loss with the penalization (training mode, no dropout), for
// each encoder and pooling, w.r.t. every parameter, on padded sentences; the last case pools with
// the CRF segment normalizer, whose pairwise potentials are parameters too.
TEST(GradCheckModels, ClassifierPoolingLossWithPenalization) {
  const std::vector<Values> variants{
      {{"encoder", "bigru"}, {"pooling", "self-attentive"}, {"hops", "2"}},
      {{"encoder", "bilstm"}, {"pooling", "additive"}},
      {{"encoder", "transformer"}, {"pooling", "self-attentive"}, {"hops", "2"}, {"num_heads", "2"}},
      {{"encoder", "bigru"}, {"pooling", "self-attentive"}, {"hops", "2"}, {"normalizer", "crf-segment"}},
  };
  for (Values values : variants) {
    SCOPED_TRACE(values["encoder"] + ", " + values["pooling"]);
    values.insert({{"src_vocab", "7"}, {"num_classes", "3"}, {"embed_dim", "4"}, {"hidden_dim", "2"},
                   {"attention_dim", "3"}, {"mlp_dim", "3"}, {"ffn_dim", "4"}, {"dropout", "0"}, {"penalty", "0.5"}});
    Rng rng(43);
    auto model = models::make_model_as<models::Classifier>(*models::make_config("classifier", values), rng);
    model->to(DType::f64);
    model->train();
    const Source src = Source::of_tokens(Index({4, 5, 6, 3, 1, 1, 2, 6, 5}, Shape{3, 3}), {3, 1, 3});
    const Index labels({2, 0, 1}, Shape{3});
    const ParameterInputs inputs = parameter_inputs(*model, &rng);
    const auto f = [&](const std::vector<Tensor>& v) {
      inputs.assign(*model, v);
      const models::ClassifierOutput out = model->classify(src);
      EXPECT_EQ(out.aux.size(), values["pooling"] == "self-attentive" ? 1u : 0u);
      Tensor loss = cross_entropy(out.logits, labels);
      for (const models::AuxLoss& a : out.aux) loss = add(loss, a.value);
      return loss;
    };
    EXPECT_TRUE(test::gradcheck(f, inputs.values));
  }
}

// sat's loss with its doubly stochastic term (training mode, no dropout), with and without the
// gate, w.r.t. every parameter: CNN, initial state, attention, gate, LSTM, deep output.
TEST(GradCheckModels, SatSoftAttentionWithDoublyStochasticTerm) {
  for (const char* gate : {"true", "false"}) {
    SCOPED_TRACE(gate);
    const Values values{{"tgt_vocab", "6"},   {"image_size", "4"},  {"conv_layers", "1"},   {"cnn_width", "2"},
                        {"feature_dim", "3"}, {"embed_dim", "2"},   {"hidden_dim", "3"},    {"attention_dim", "2"},
                        {"dropout", "0"},     {"gate", gate},       {"doubly_stochastic", "0.7"}};
    Rng rng(43);
    auto model = models::make_model_as<models::EncoderDecoder>(*models::make_config("sat", values), rng);
    model->to(DType::f64);
    model->train();
    const Source src = pictures(2, 4, rng);
    const Index tgt_in({2, 4, 5, 2, 5, 0}, Shape{2, 3});
    const Index tgt_out({4, 5, 3, 5, 3, 0}, Shape{2, 3});
    const ParameterInputs inputs = parameter_inputs(*model);
    const auto f = [&](const std::vector<Tensor>& v) {
      inputs.assign(*model, v);
      const models::ForwardResult r = model->forward(src, tgt_in);
      EXPECT_EQ(r.aux.size(), 1u);
      return add(train::sequence_loss(r.logits, tgt_out, {.pad_id = 0}), r.aux.at(0).value);
    };
    EXPECT_TRUE(test::gradcheck(f, inputs.values));
  }
}

}  // namespace
}  // namespace attend
