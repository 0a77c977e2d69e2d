// Generator: a language model with its tokenizer and vocabulary (a ModelBundle of the
// language-model task), and what people do with one: continue prompts (sampling, greedy or beam
// search over the model's key/value cache, streamed as text while it is produced), score a text
// (perplexity per token and per word) and look at its self-attention. What `attend generate`,
// `eval --text` and `show` run.
//
// Text as the model sees it: documents (lines) joined into one stream, each document's tokens
// followed by the end-of-text token, the stream starting with one:  </s> doc_1 </s> doc_2 </s> ...
// Training cuts that stream into windows; a generation's context is </s> and the prompt's tokens,
// so a prompt is read as the beginning of a document, and a generation ends when the model writes
// </s> (the document's end), after max_new tokens, or at the model's context (max_positions).
// Perplexity predicts every token of the stream after the first, in windows of `context` tokens
// that do not overlap (each token sees the tokens before it in its window):
//   ppl per token = exp(nll / tokens),   ppl per word = exp(nll / words)
// with words = the whitespace-separated words of the documents plus one per document end.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attend/app/model_bundle.h"
#include "attend/data/tokenizer.h"
#include "attend/data/vocab.h"
#include "attend/models/tasks.h"

namespace attend::app {

// Words as a perplexity per word counts them: maximal runs of non-whitespace bytes.
int64_t count_words(const std::string& text);

// Documents as one token stream (see the header comment). Empty documents are skipped.
struct TextStream {
  std::vector<int64_t> ids;  // </s> doc_1 </s> doc_2 </s> ...
  int64_t documents = 0;
  int64_t words = 0;  // whitespace words of the documents + one per document end
};
TextStream text_stream(const std::vector<std::string>& documents, const data::Tokenizer& tokenizer,
                       const data::Vocab& vocab, int64_t eos_id);

struct GenerateSettings {
  int64_t max_new = 200;     // tokens generated per prompt at most (the end-of-text token included)
  double temperature = 1.0;  // sampling temperature; 0: greedy search
  int64_t top_k = 0;         // sampling: keep the k most probable tokens (0: all)
  double top_p = 1.0;        // sampling: nucleus mass in (0, 1]
  uint64_t seed = 1;         // sampling: prompt i draws from stream i of this seed, whatever the batch
  int64_t beam = 1;          // > 1: beam search of this width, ranked by log P / length (sampling unused)
  int64_t batch = 16;        // prompts per search call
  // Streaming: called with (prompt index, new text) as each prompt's text grows.
  std::function<void(size_t prompt, const std::string& text)> on_text;
};

struct Generation {
  std::vector<int64_t> ids;  // the generated tokens, the final end-of-text token not included
  std::string text;          // the generated text (the prompt not included)
  double log_prob = 0.0;     // log P(ids, end | prompt)
  bool ended = false;        // the model wrote the end-of-text token
  bool context_full = false;  // stopped because the context (max_positions) was full
};

struct PerplexityReport {
  int64_t documents = 0;
  int64_t tokens = 0;  // tokens predicted
  int64_t words = 0;
  int64_t context = 0;  // tokens per window
  double nll = 0.0;  // summed, natural log
  double per_token() const;
  double per_word() const;
  std::string json(const std::string& model) const;  // the numbers as JSON
};

class Generator {
 public:
  // The bundle's model as a language model; otherwise the error "[<command>] <what> is a
  // sequence-to-sequence model; <command> needs a language model".
  explicit Generator(ModelBundle bundle, const std::string& what = "the model", const std::string& command = "generate");
  static Generator load(const std::string& checkpoint, const std::string& command = "generate");
  // A generator over a model owned elsewhere (the trainer's).
  static Generator borrowed(models::LanguageModel& model, ModelSpec spec, data::Vocab vocab);

  // A prompt's ids (no special tokens) and back.
  std::vector<int64_t> encode(const std::string& text) const;
  std::string detokenize(const std::vector<int64_t>& ids) const;
  std::vector<std::string> tokens(const std::vector<int64_t>& ids) const;

  // Checks every prompt before any generation: error "[generate] <source>:<line>: ..." for a
  // prompt whose context (end-of-text token and its tokens) does not fit the model's positions.
  void check_prompts(const std::vector<std::string>& prompts, const std::string& source) const;
  // Continues each prompt (result i belongs to prompt i); errors "[generate] ..." name a bad setting.
  std::vector<Generation> generate(const std::vector<std::string>& prompts, const GenerateSettings& s) const;
  // The perplexity of documents (one per entry; empty ones skipped) in windows of `context` tokens
  // (at most the model's positions), `batch` windows per forward pass.
  PerplexityReport perplexity(const std::vector<std::string>& documents, int64_t context, int64_t batch = 16) const;

  models::LanguageModel& model() const { return *model_; }
  const ModelSpec& spec() const { return spec_; }
  const data::Vocab& vocab() const { return vocab_; }
  const models::ArchitectureInfo& architecture() const { return models::architecture(spec_.model->architecture()); }

 private:
  Generator(ModelSpec spec, data::Vocab vocab);
  // Takes the bundle's model, whose task was checked (model is *bundle.model).
  Generator(ModelBundle& bundle, models::LanguageModel& model, const std::string& what);
  std::unique_ptr<models::Model> owned_;  // null when borrowed
  models::LanguageModel* model_ = nullptr;
  ModelSpec spec_;
  data::Vocab vocab_;
  data::Tokenizer tok_;
};

}  // namespace attend::app
