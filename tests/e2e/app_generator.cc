// attend::app for language models, with no CLI code: app::train trains a tiny GPT on a text file,
// the checkpoint loads back as a Generator, whose perplexity is the definition's (computed here
// from the model's logits), whose greedy generation is decode::greedy from </s> and the prompt,
// whose streamed text adds up to the final text, and which stops at the model's context.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "attend/app/generator.h"
#include "attend/app/training.h"
#include "attend/app/translator.h"
#include "attend/autograd/autograd.h"
#include "attend/core/threads.h"
#include "attend/decode/search.h"
#include "attend/ops/ops.h"
#include "support/check.h"
#include "support/temp_dir.h"

namespace attend {
namespace {

class AppGenerator : public test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    set_num_threads(1);
    std::ofstream text(path("train.txt"));
    for (int i = 0; i < 40; ++i)
      text << "the cat sat on the mat " << i % 7 << " and the dog ran " << (i % 3 == 0 ? "far" : "home") << "\n";
    std::ofstream valid(path("valid.txt"));
    valid << "the dog sat on the mat\n\nthe cat ran far 3\n";
  }
  app::TrainRecipe recipe(int64_t context = 12) const {
    return {.train_text = path("train.txt"),
            .valid_text = path("valid.txt"),
            .context = context,
            .arch = "gpt",
            .model = {{"d_model", "16"}, {"num_heads", "2"}, {"ffn_dim", "24"}, {"num_layers", "2"}},
            .batch = 4,
            .epochs = 3,
            .out = path("gpt.ckpt"),
            .show_examples = 0,
            .seed = 3};
  }
};

TEST_F(AppGenerator, TrainLoadGenerateAndScore) {
  std::ostringstream log, out;
  app::TrainResult trained = app::train(recipe(), log, out);
  EXPECT_NE(log.str().find("attend train: gpt"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("validation: loss"), std::string::npos) << log.str();
  EXPECT_EQ(trained.model.model->task(), models::Task::language_model);
  const app::Generator g = app::Generator::load(path("gpt.ckpt"));
  EXPECT_EQ(g.model().max_positions(), 12);  // max_positions followed --context
  EXPECT_EQ(g.spec().target_tokens, data::TokenizerKind::word);

  // Perplexity: the stream </s> doc </s> doc </s> in windows of 12, every token after the first.
  const std::vector<std::string> docs{"the dog sat on the mat", "", "the cat ran far 3"};
  const app::PerplexityReport r = g.perplexity(docs, 12, 2);
  EXPECT_EQ(r.documents, 2);
  EXPECT_EQ(r.words, 6 + 1 + 5 + 1);
  const app::TextStream stream = app::text_stream(docs, data::Tokenizer({.kind = data::TokenizerKind::word}), g.vocab(), 3);
  EXPECT_EQ(r.tokens, static_cast<int64_t>(stream.ids.size()) - 1);
  double nll = 0;
  {
    NoGrad no_grad;
    for (size_t begin = 0; begin + 1 < stream.ids.size(); begin += 12) {
      const size_t end = std::min(stream.ids.size(), begin + 13);
      const std::vector<int64_t> w(stream.ids.begin() + static_cast<std::ptrdiff_t>(begin),
                                   stream.ids.begin() + static_cast<std::ptrdiff_t>(end));
      const auto T = static_cast<int64_t>(w.size()) - 1;
      const Tensor lp = log_softmax(g.model().forward(Index(std::vector<int64_t>(w.begin(), w.end() - 1), Shape{1, T})).logits, 2);
      for (int64_t t = 0; t < T; ++t) nll -= lp.at({0, t, w[static_cast<size_t>(t + 1)]});
    }
  }
  EXPECT_NEAR(r.nll, nll, 1e-4);
  EXPECT_NEAR(r.per_token(), std::exp(nll / static_cast<double>(r.tokens)), 1e-3);
  EXPECT_NEAR(r.per_word(), std::exp(nll / 13.0), 1e-3 * r.per_word());

  // Greedy generation is decode::greedy from </s> and the prompt.
  const std::string prompt = "the cat sat";
  const app::Generation greedy = g.generate({prompt}, {.max_new = 5, .temperature = 0.0}).at(0);
  std::vector<int64_t> prefix{3};
  for (const int64_t id : g.encode(prompt)) prefix.push_back(id);
  decode::SearchStart start;
  start.state = g.model().start(1);
  start.prefix = {prefix};
  start.max_new = {5};
  const decode::Hypothesis h = decode::greedy(g.model(), std::move(start)).at(0);
  std::vector<int64_t> ids = h.tokens;
  if (h.finished) ids.pop_back();
  EXPECT_EQ(greedy.ids, ids);
  EXPECT_EQ(greedy.ended, h.finished);
  EXPECT_NEAR(greedy.log_prob, h.log_prob, 1e-6);

  // Streaming: the pieces handed over add up to the generation's text, prompt by prompt, and a
  // sampled prompt's text does not depend on the batch.
  std::map<size_t, std::string> streamed;
  const app::GenerateSettings sampled{.max_new = 6, .temperature = 0.9, .top_p = 0.95, .seed = 11, .batch = 1,
                                      .on_text = [&](size_t i, const std::string& t) { streamed[i] += t; }};
  const auto one_by_one = g.generate({prompt, "the dog"}, sampled);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(streamed[i], one_by_one[i].text) << i;
  app::GenerateSettings batched = sampled;
  batched.batch = 2;
  batched.on_text = nullptr;
  const auto together = g.generate({prompt, "the dog"}, batched);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(together[i].ids, one_by_one[i].ids) << i;
}

TEST_F(AppGenerator, GenerationStopsAtTheContextAndLongPromptsAreErrors) {
  std::ostringstream log, out;
  app::train(recipe(6), log, out);
  const app::Generator g = app::Generator::load(path("gpt.ckpt"));
  // </s> + 3 prompt tokens leave room for 3 new tokens in a context of 6 (the last is never fed).
  const app::Generation x = g.generate({"the cat sat"}, {.max_new = 10, .temperature = 0.0}).at(0);
  EXPECT_TRUE(x.ended || (x.context_full && x.ids.size() == 3u)) << x.ids.size();
  const app::Generation y = g.generate({"the cat sat"}, {.max_new = 2, .temperature = 0.0}).at(0);
  EXPECT_FALSE(y.context_full);
  test::expect_error([&] { g.check_prompts({"the cat", "the cat sat on the"}, "prompts.txt"); },
                     {"[generate]", "prompts.txt:2", "5 tokens", "context of 6 tokens"});
  test::expect_error([&] { g.generate({"x"}, {.top_p = 0.0}); }, {"[generate]", "top_p 0"});
  test::expect_error([&] { g.generate({"x"}, {.temperature = -1.0}); }, {"[generate]", "temperature -1"});
  test::expect_error([&] { g.perplexity({"the cat"}, 7); }, {"[perplexity]", "context 7", "[1, 6]"});
  test::expect_error([&] { g.perplexity({"", ""}, 6); }, {"[perplexity]", "no text"});
  // The checkpoint is a language model: the sequence-to-sequence classes refuse it, naming it.
  test::expect_error([&] { app::Translator::load(path("gpt.ckpt")); },
                     {"[translate]", "gpt.ckpt is a language model; translate needs a sequence-to-sequence model"});
}

}  // namespace
}  // namespace attend
