#include "attend/app/generator.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "attend/autograd/autograd.h"
#include "attend/decode/search.h"
#include "attend/train/objectives.h"

namespace attend::app {

int64_t count_words(const std::string& text) {
  int64_t n = 0;
  bool in_word = false;
  for (const char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    n += !space && !in_word;
    in_word = !space;
  }
  return n;
}

TextStream text_stream(const std::vector<std::string>& documents, const data::Tokenizer& tokenizer,
                       const data::Vocab& vocab, int64_t eos_id) {
  TextStream s;
  s.ids.push_back(eos_id);
  for (const std::string& doc : documents) {
    const std::vector<int64_t> ids = vocab.encode(tokenizer.tokenize(doc));
    if (ids.empty()) continue;
    s.ids.insert(s.ids.end(), ids.begin(), ids.end());
    s.ids.push_back(eos_id);
    ++s.documents;
    s.words += count_words(doc) + 1;
  }
  return s;
}

double PerplexityReport::per_token() const { return std::exp(nll / static_cast<double>(std::max<int64_t>(tokens, 1))); }
std::string PerplexityReport::json(const std::string& model) const {
  const nlohmann::json j{{"model", model},       {"documents", documents},       {"tokens", tokens},
                         {"words", words},       {"context", context},           {"nll", nll},
                         {"ppl_token", per_token()}, {"ppl_word", per_word()}};
  return j.dump(2) + "\n";
}

double PerplexityReport::per_word() const { return std::exp(nll / static_cast<double>(std::max<int64_t>(words, 1))); }

Generator::Generator(ModelSpec spec, data::Vocab vocab)
    : spec_(std::move(spec)), vocab_(std::move(vocab)), tok_(spec_.target_tokenizer()) {}

Generator::Generator(ModelBundle bundle, const std::string& what, const std::string& command)
    : Generator(bundle, bundle.as<models::LanguageModel>(what, command), what) {}

Generator::Generator(ModelBundle& bundle, models::LanguageModel& model, const std::string& what)
    : Generator(bundle.spec, bundle.vocab("target", what)) {
  model_ = &model;
  owned_ = std::move(bundle.model);
}

Generator Generator::load(const std::string& checkpoint, const std::string& command) {
  return Generator(ModelBundle::load(checkpoint), checkpoint, command);
}

Generator Generator::borrowed(models::LanguageModel& model, ModelSpec spec, data::Vocab vocab) {
  Generator g(std::move(spec), std::move(vocab));
  g.model_ = &model;
  return g;
}

std::vector<int64_t> Generator::encode(const std::string& text) const { return vocab_.encode(tok_.tokenize(text)); }

std::string Generator::detokenize(const std::vector<int64_t>& ids) const { return tok_.detokenize(vocab_.decode(ids)); }

std::vector<std::string> Generator::tokens(const std::vector<int64_t>& ids) const {
  return vocab_.decode(ids, {.strip_special = false, .stop_at_eos = false});
}

void Generator::check_prompts(const std::vector<std::string>& prompts, const std::string& source) const {
  const int64_t P = model_->max_positions();
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto n = static_cast<int64_t>(encode(prompts[i]).size());
    ATTEND_CHECK(n + 1 < P, "generate", source, ":", i + 1, ": the prompt has ", n, " tokens; with the end-of-text ",
                 "token before it that leaves no room in the model's context of ", P,
                 " tokens (its max_positions) for a new one");
  }
}

namespace {

// Text printed so far per prompt, for streaming: the new text is what the detokenized ids add.
struct Stream {
  std::vector<int64_t> context;  // the prompt's ids, then what was generated
  std::string printed;           // detokenized text already reported (prompt included)
  size_t prompt_text = 0;        // bytes of the prompt's own text in `printed`
};

}  // namespace

std::vector<Generation> Generator::generate(const std::vector<std::string>& prompts, const GenerateSettings& s) const {
  constexpr const char* op = "generate";
  ATTEND_CHECK(s.max_new >= 1 && s.batch >= 1 && s.beam >= 1, op, "max_new ", s.max_new, ", batch ", s.batch,
               " and beam ", s.beam, " must be >= 1");
  ATTEND_CHECK(std::isfinite(s.temperature) && s.temperature >= 0.0, op, "temperature ", s.temperature,
               " must be >= 0 (0: greedy)");
  ATTEND_CHECK(s.top_k >= 0, op, "top_k ", s.top_k, " must be >= 0 (0: every token)");
  ATTEND_CHECK(s.top_p > 0.0 && s.top_p <= 1.0, op, "top_p ", s.top_p, " must be in (0, 1]");
  check_prompts(prompts, "prompt");
  NoGrad no_grad;
  const int64_t eos = model_->eos_id(), P = model_->max_positions();
  std::vector<Generation> out(prompts.size());
  for (size_t begin = 0; begin < prompts.size(); begin += static_cast<size_t>(s.batch)) {
    const size_t end = std::min(prompts.size(), begin + static_cast<size_t>(s.batch));
    decode::SearchStart start;
    start.state = model_->start(static_cast<int64_t>(end - begin));
    std::vector<Stream> streams(end - begin);
    std::vector<uint64_t> stream_ids;
    std::vector<int64_t> max_new;  // per row: s.max_new, or less where the context is shorter
    for (size_t i = begin; i < end; ++i) {
      Stream& st = streams[i - begin];
      st.context = encode(prompts[i]);
      st.printed = detokenize(st.context);
      st.prompt_text = st.printed.size();
      std::vector<int64_t> prefix{eos};
      prefix.insert(prefix.end(), st.context.begin(), st.context.end());
      // The context holds </s>, the prompt and every generated token but the last one.
      max_new.push_back(std::min<int64_t>(s.max_new, P - static_cast<int64_t>(prefix.size()) + 1));
      start.max_new.push_back(max_new.back());
      start.prefix.push_back(std::move(prefix));
      stream_ids.push_back(static_cast<uint64_t>(i));
    }
    const decode::TokenCallback on_token = [&](int64_t row, int64_t token) {
      if (!s.on_text || token == eos) return;
      Stream& st = streams[static_cast<size_t>(row)];
      st.context.push_back(token);
      const std::string text = detokenize(st.context);
      if (!text.starts_with(st.printed)) return;  // a detokenizer that rewrote earlier text: wait
      s.on_text(begin + static_cast<size_t>(row), text.substr(st.printed.size()));
      st.printed = text;
    };
    std::vector<decode::Hypothesis> hyps;
    if (s.beam > 1) {
      for (auto& nbest : decode::beam_search(*model_, std::move(start),
                                             {.beam_size = s.beam, .length_penalty = decode::LengthPenalty::average}))
        hyps.push_back(std::move(nbest.front()));
    } else if (s.temperature == 0.0) {
      hyps = decode::greedy(*model_, std::move(start), on_token);
    } else {
      hyps = decode::sample(*model_, std::move(start),
                            {.temperature = s.temperature, .top_k = s.top_k, .top_p = s.top_p, .seed = s.seed,
                             .streams = stream_ids, .on_token = on_token});
    }
    for (size_t r = 0; r < hyps.size(); ++r) {
      Generation& g = out[begin + r];
      decode::Hypothesis& h = hyps[r];
      g.ended = h.finished && !h.tokens.empty() && h.tokens.back() == eos;
      g.log_prob = h.log_prob;
      g.ids = h.tokens;
      if (g.ended) g.ids.pop_back();
      const std::vector<int64_t> prompt_ids = encode(prompts[begin + r]);
      g.context_full = !g.ended && std::ssize(h.tokens) == max_new[r] && max_new[r] < s.max_new;
      std::vector<int64_t> all = prompt_ids;
      all.insert(all.end(), g.ids.begin(), g.ids.end());
      const std::string full = detokenize(all), prompt_text = detokenize(prompt_ids);
      g.text = full.starts_with(prompt_text) ? full.substr(prompt_text.size()) : detokenize(g.ids);
    }
  }
  return out;
}

PerplexityReport Generator::perplexity(const std::vector<std::string>& documents, int64_t context, int64_t batch) const {
  constexpr const char* op = "perplexity";
  ATTEND_CHECK(context >= 1 && context <= model_->max_positions(), op, "context ", context, " must be in [1, ",
               model_->max_positions(), "] (the model's max_positions)");
  ATTEND_CHECK(batch >= 1, op, "batch ", batch, " must be >= 1");
  const TextStream text = text_stream(documents, tok_, vocab_, model_->eos_id());
  ATTEND_CHECK(text.documents > 0, op, "no text to score (every document is empty)");
  NoGrad no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  PerplexityReport r{.documents = text.documents, .words = text.words, .context = context};
  const data::TokenWindows windows(text.ids, {.context = context, .batch = batch, .shuffle = false,
                                              .pad_id = model_->task_config().pad_id});
  for (const data::Batch& b : windows.epoch_batches(0)) {
    const train::NllSum s = train::language_model_nll(*model_, b.tokens);
    r.nll += s.nll;
    r.tokens += s.tokens;
  }
  model_->train(was_training);
  return r;
}

}  // namespace attend::app
