// The task objectives against their definitions computed here from the model's outputs: the
// language model's mean next-token cross-entropy over windows (pad targets ignored) and its
// validation perplexities per token and per word; the classifier's cross-entropy, accuracy and
// macro-F1; auxiliary terms added to the loss and reported by name.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/models/registry.h"
#include "attend/models/tasks.h"
#include "attend/nn/embedding.h"
#include "attend/nn/linear.h"
#include "attend/ops/ops.h"
#include "attend/train/metrics.h"
#include "attend/train/objectives.h"
#include "support/check.h"

namespace attend {
namespace {

std::unique_ptr<models::LanguageModel> tiny_gpt() {
  Rng rng(5);
  return models::make_model_as<models::LanguageModel>(
      *models::make_config("gpt", {{"vocab", "11"}, {"d_model", "8"}, {"num_heads", "2"}, {"ffn_dim", "12"},
                                   {"num_layers", "2"}, {"max_positions", "8"}, {"dropout", "0"}}),
      rng);
}

// Summed -log p(target) of windows [B, T + 1] from the model's logits, and the count (pad 0 ignored).
std::pair<double, int64_t> nll_by_hand(models::LanguageModel& m, const Index& w) {
  const int64_t B = w.shape[0], W = w.shape[1];
  std::vector<int64_t> in;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < W - 1; ++t) in.push_back(w.data[static_cast<size_t>(b * W + t)]);
  const Tensor lp = log_softmax(m.forward(Index(in, Shape{B, W - 1})).logits, 2);  // [B, T, V]
  double nll = 0;
  int64_t n = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + 1 < W; ++t) {
      const int64_t y = w.data[static_cast<size_t>(b * W + t + 1)];
      if (y == 0) continue;
      nll -= lp.at({b, t, y});
      ++n;
    }
  return {nll, n};
}

TEST(TrainObjectives, LanguageModelLossAndPerplexities) {
  auto model = tiny_gpt();
  model->eval();
  std::vector<int64_t> stream{3};
  for (int64_t i = 0; i < 30; ++i) stream.push_back(4 + (i * 7) % 7), stream.push_back(i % 5 == 4 ? 3 : 5);
  const data::TokenWindows windows(stream, {.context = 8, .batch = 3, .shuffle = false});
  // Training loss of each batch: the mean over its non-pad targets (the last window is short).
  train::LanguageModelObjective objective(*model, &windows, 42);
  double total = 0;
  int64_t count = 0;
  NoGrad no_grad;
  for (const data::Batch& b : windows.epoch_batches(0)) {
    const train::StepLoss s = objective.loss(b);
    const auto [nll, n] = nll_by_hand(*model, b.tokens);
    EXPECT_EQ(s.tokens, n);
    EXPECT_NEAR(s.loss.item(), nll / static_cast<double>(n), 1e-5);
    EXPECT_TRUE(s.terms.empty());
    total += nll;
    count += n;
  }
  EXPECT_EQ(count, static_cast<int64_t>(stream.size()) - 1);  // every token after the first, once
  const train::Metrics m = objective.validate();
  EXPECT_NEAR(m.at("loss"), total / static_cast<double>(count), 1e-5);
  EXPECT_NEAR(m.at("ppl"), std::exp(total / static_cast<double>(count)), 1e-3);
  EXPECT_NEAR(m.at("ppl_word"), std::exp(total / 42.0), 1e-5 * std::exp(total / 42.0));  // relative
  EXPECT_FALSE(train::LanguageModelObjective(*model, &windows).validate().count("ppl_word"));
  EXPECT_FALSE(train::LanguageModelObjective(*model, nullptr).validates());
  // A batch of another task is an error naming what is wrong.
  data::Batch pairs;
  pairs.target = Index({4, 5}, Shape{1, 2});
  test::expect_error([&] { objective.loss(pairs); }, {"[LanguageModelObjective]", "windows", "[B, T + 1]"});
}

TEST(TrainObjectives, AuxiliaryTermsAreAddedAndReportedByName) {
  const Tensor task = Tensor::scalar(1.5).set_requires_grad();
  const Tensor reg = Tensor::scalar(0.25).set_requires_grad();
  const train::StepLoss s = train::with_aux(task, 7, {{.name = "reg", .value = mul(reg, 2.0)}});
  EXPECT_DOUBLE_EQ(s.loss.item(), 2.0);
  EXPECT_EQ(s.tokens, 7);
  ASSERT_EQ(s.terms.size(), 1u);
  EXPECT_EQ(s.terms[0].first, "reg");
  EXPECT_DOUBLE_EQ(s.terms[0].second, 0.5);
  s.loss.backward();
  EXPECT_DOUBLE_EQ(reg.grad().item(), 2.0);  // the term's gradient flows
  test::expect_error([&] { train::with_aux(task, 1, {{.name = "bad", .value = Tensor::zeros(Shape{2})}}); },
                     {"[Objective]", "'bad' is not a scalar"});
}

// A classifier of token sources: mean of the embeddings, then a linear layer; no pooling weights.
class MeanClassifier : public models::Classifier {
 public:
  MeanClassifier(const models::ClassifierConfig& c, Rng& rng)
      : models::Classifier(c, rng), embed_(c.src_vocab, 6, c.pad_id, rng), head_(6, c.num_classes, rng) {
    register_module("embed", embed_);
    register_module("head", head_);
  }
  models::ClassifierOutput classify(const Source& src) override {
    const Tensor e = embed_.forward(src.tokens);  // [B, S, 6]; pad rows are zero
    std::vector<double> inv;
    for (const int64_t n : src.lengths) inv.push_back(1.0 / static_cast<double>(n));
    const Tensor mean = mul(sum(e, {1}), unsqueeze(Tensor::from_vector(inv, Shape{src.batch()}, e.dtype()), 1));
    return {.logits = head_.forward(mean)};  // [B, K]
  }

 private:
  nn::Embedding embed_;
  nn::Linear head_;
};

struct ClassifierConfig : models::ConfigOf<ClassifierConfig, models::ClassifierConfig> {
  static constexpr const char* kName = "mean_classifier_test";
  std::vector<models::Field> arch_fields() override { return {}; }
};

TEST(TrainObjectives, ClassificationLossAccuracyAndMacroF1) {
  ClassifierConfig c;
  c.src_vocab = 9;
  c.num_classes = 3;
  Rng rng(2);
  MeanClassifier model(c, rng);
  model.eval();
  std::vector<data::Example> ex;
  for (int64_t i = 0; i < 20; ++i) ex.push_back({.source = std::vector<int64_t>(1 + i % 4, 4 + i % 5), .label = i % 3});
  const data::Batcher batches(ex, {.max_sentences = 6, .shuffle = false});
  train::ClassificationObjective objective(model, &batches);
  NoGrad no_grad;
  std::vector<int64_t> predicted, gold;
  double nll = 0;
  for (const data::Batch& b : batches.epoch_batches(0)) {
    const Tensor logits = model.classify(b.source).logits;
    const Tensor lp = log_softmax(logits, 1);
    double batch_nll = 0;
    for (int64_t r = 0; r < b.size(); ++r) {
      batch_nll -= lp.at({r, b.labels[static_cast<size_t>(r)]});
      int64_t best = 0;
      for (int64_t k = 1; k < 3; ++k) best = logits.at({r, k}) > logits.at({r, best}) ? k : best;
      predicted.push_back(best);
    }
    gold.insert(gold.end(), b.labels.begin(), b.labels.end());
    const train::StepLoss s = objective.loss(b);
    EXPECT_EQ(s.tokens, b.size());
    EXPECT_NEAR(s.loss.item(), batch_nll / static_cast<double>(b.size()), 1e-6);
    nll += batch_nll;
  }
  const train::Metrics m = objective.validate();
  EXPECT_NEAR(m.at("loss"), nll / 20.0, 1e-6);
  EXPECT_DOUBLE_EQ(m.at("accuracy"), 100.0 * train::classification_accuracy(predicted, gold));
  EXPECT_DOUBLE_EQ(m.at("macro_f1"), 100.0 * train::macro_f1(predicted, gold, 3));
  data::Batch unlabelled = batches.make_batch({0, 1});
  unlabelled.labels.clear();
  test::expect_error([&] { objective.loss(unlabelled); }, {"[ClassificationObjective]", "0 labels for 2 examples"});
  data::Batch out_of_range = batches.make_batch({0});
  out_of_range.labels = {3};
  test::expect_error([&] { objective.loss(out_of_range); }, {"[ClassificationObjective]", "label 3", "[0, 3)"});
}

}  // namespace
}  // namespace attend
