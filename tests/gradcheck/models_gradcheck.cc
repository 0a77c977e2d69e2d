// Finite-difference gradient checks in f64 (PyTorch's gradcheck defaults) of each model's
// sequence loss w.r.t. every parameter: rnnsearch, luong with each score (global) and with local-m
// and local-p alignment, seq2seq. Tiny sizes, padded sources and targets (pad targets ignored).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attend/models/seq2seq.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

using models::Alignment;
using models::Architecture;
using models::Score;
using models::Seq2SeqConfig;

Seq2SeqConfig tiny(Architecture a) {
  return {.architecture = a, .src_vocab = 6, .tgt_vocab = 6, .embed_dim = 2, .hidden_dim = 3, .attention_dim = 2,
          .readout_dim = 3, .window = 1, .max_source_len = 4, .dropout = 0.0};
}

void check_model(const Seq2SeqConfig& config, double label_smoothing = 0.0) {
  Rng rng(31);
  auto model = models::make_model(config, rng);
  model->to(DType::f64);
  model->eval();
  const Index src({4, 5, 1, 5, 4, 0}, Shape{2, 3});
  const std::vector<int64_t> lengths{3, 2};
  const Index tgt_in({2, 4, 5, 2, 5, 0}, Shape{2, 3});
  const Index tgt_out({4, 5, 3, 5, 3, 0}, Shape{2, 3});
  std::vector<std::string> names;
  std::vector<Tensor> inputs;
  for (const auto& [name, p] : model->named_parameters()) {
    names.push_back(name);
    inputs.push_back(p.detach().clone());
  }
  const auto f = [&](const std::vector<Tensor>& v) {
    for (size_t k = 0; k < names.size(); ++k) model->parameter(names[k]) = v[k];
    const Tensor logits = model->logits(src, lengths, tgt_in);
    return models::sequence_loss(logits, tgt_out, {.pad_id = 0, .label_smoothing = label_smoothing});
  };
  EXPECT_TRUE(test::gradcheck(f, inputs));
}

TEST(GradCheckModels, Rnnsearch) { check_model(tiny(Architecture::rnnsearch), 0.1); }

TEST(GradCheckModels, Seq2SeqTwoLayers) {
  Seq2SeqConfig c = tiny(Architecture::seq2seq);
  c.num_layers = 2;
  check_model(c);
}

TEST(GradCheckModels, LuongEveryScoreGlobal) {
  for (const Score s : {Score::dot, Score::general, Score::concat, Score::location}) {
    SCOPED_TRACE(models::score_name(s));
    Seq2SeqConfig c = tiny(Architecture::luong);
    c.score = s;
    check_model(c);
  }
}

TEST(GradCheckModels, LuongTwoLayersLocalM) {
  Seq2SeqConfig c = tiny(Architecture::luong);
  c.num_layers = 2;
  c.alignment = Alignment::local_m;
  check_model(c);
}

TEST(GradCheckModels, LuongLocalPGeneralAndConcat) {
  for (const Score s : {Score::general, Score::concat}) {
    SCOPED_TRACE(models::score_name(s));
    Seq2SeqConfig c = tiny(Architecture::luong);
    c.score = s;
    c.alignment = Alignment::local_p;
    check_model(c);
  }
}

}  // namespace
}  // namespace attend
