#include "attend/app/translator.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "attend/autograd/autograd.h"
#include "attend/train/checkpoint.h"

namespace attend::app {

Translator::Translator(ModelSpec spec, data::Vocab source_vocab, data::Vocab target_vocab)
    : spec_(std::move(spec)),
      source_vocab_(std::move(source_vocab)),
      target_vocab_(std::move(target_vocab)),
      source_tok_(spec_.source_tokenizer()),
      target_tok_(spec_.target_tokenizer()) {}

namespace {

// The bundle's model as a sequence-to-sequence model of text; errors name the checkpoint.
models::SequenceToSequence& text_model(const ModelBundle& bundle, const std::string& what, const std::string& command) {
  auto& model = bundle.as<models::SequenceToSequence>(what, command);
  ATTEND_CHECK(bundle.architecture().source == SourceKind::tokens, command, what, " is ", bundle.architecture().name,
               ", which reads pictures, not text: caption a picture with `attend show -m ", what,
               " --image FILE.png -o OUT.html`, score scenes with `attend eval -m ", what, " --scenes DIR`");
  return model;
}

}  // namespace

Translator::Translator(ModelBundle bundle, const std::string& what, const std::string& command)
    : Translator(bundle, text_model(bundle, what, command), what) {}

Translator::Translator(ModelBundle& bundle, models::SequenceToSequence& model, const std::string& what)
    : Translator(bundle.spec, bundle.vocab("source", what), bundle.vocab("target", what)) {
  model_ = &model;
  owned_ = std::move(bundle.model);
}

Translator Translator::load(const std::string& checkpoint, const std::string& command) {
  return Translator(ModelBundle::load(checkpoint), checkpoint, command);
}

void Translator::save(const std::string& checkpoint) const {
  train::CheckpointInfo info;
  spec_.to_checkpoint(info);
  info.vocabs = {{"source", source_vocab_}, {"target", target_vocab_}};
  train::save_checkpoint(checkpoint, *model_, nullptr, info);
}

const models::ArchitectureInfo& Translator::architecture() const {
  return models::architecture(spec_.model->architecture());
}

Translator Translator::borrowed(models::SequenceToSequence& model, ModelSpec spec, data::Vocab source_vocab,
                                data::Vocab target_vocab) {
  Translator t(std::move(spec), std::move(source_vocab), std::move(target_vocab));
  t.model_ = &model;
  return t;
}

std::vector<int64_t> Translator::encode_source(const std::string& sentence) const {
  return source_vocab_.encode(source_tok_.tokenize(sentence));
}

std::vector<int64_t> Translator::encode_target(const std::string& sentence) const {
  return target_vocab_.encode(target_tok_.tokenize(sentence));
}

std::vector<std::string> Translator::target_tokens(const std::vector<int64_t>& ids) const {
  return target_vocab_.decode(ids);
}

std::string Translator::detokenize_target(const std::vector<int64_t>& ids) const {
  return target_tok_.detokenize(target_vocab_.decode(ids));
}

namespace {

std::string too_long(int64_t tokens, const SearchSettings& s) {
  return detail::concat(tokens, " source tokens, more than the limit of ", s.max_input_tokens,
                        " (--max-input-length; --truncate translates the first ", s.max_input_tokens, ")");
}

}  // namespace

void Translator::check_lengths(const std::vector<std::string>& sentences, const SearchSettings& s,
                               const std::string& source) const {
  ATTEND_CHECK(s.max_input_tokens >= 1, "translate", "--max-input-length must be >= 1, got ", s.max_input_tokens);
  if (s.truncate) return;
  for (size_t i = 0; i < sentences.size(); ++i) {
    const auto n = static_cast<int64_t>(source_tok_.tokenize(sentences[i]).size());
    ATTEND_CHECK(n <= s.max_input_tokens, "translate", source, ":", i + 1, ": ", too_long(n, s));
  }
}

std::vector<Translation> Translator::translate(const std::vector<std::string>& sentences,
                                               const SearchSettings& s) const {
  NoGrad no_grad;
  std::vector<Translation> out(sentences.size());
  const decode::LengthLimit limit{.max_len_ratio = s.max_len_ratio, .max_len_offset = s.max_len_offset};
  for (size_t begin = 0; begin < sentences.size(); begin += static_cast<size_t>(s.batch)) {
    const size_t end = std::min(sentences.size(), begin + static_cast<size_t>(s.batch));
    std::vector<std::vector<int64_t>> ids;
    for (size_t i = begin; i < end; ++i) {
      out[i].source_tokens = source_tok_.tokenize(sentences[i]);
      const auto n = static_cast<int64_t>(out[i].source_tokens.size());
      if (n > s.max_input_tokens) {
        ATTEND_CHECK(s.truncate, "translate", "sentence ", i + 1, ": ", too_long(n, s));
        out[i].source_tokens.resize(static_cast<size_t>(s.max_input_tokens));
      }
      ids.push_back(source_vocab_.encode(out[i].source_tokens));
      if (ids.back().empty()) ids.back().push_back(data::Vocab::kUnk);  // an empty line still gets a row
    }
    const Source src = Source::of_token_rows(ids, data::Vocab::kPad);
    std::vector<std::vector<decode::Hypothesis>> results;
    if (s.beam <= 1) {
      for (auto& h : decode::greedy(*model_, src, decode::GreedyOptions{.limit = limit})) results.push_back({std::move(h)});
    } else {
      results = decode::beam_search(*model_, src,
                                    {.beam_size = s.beam, .length_penalty = s.length_penalty, .alpha = s.alpha,
                                     .nbest = s.nbest, .limit = limit, .early_stop = s.early_stop});
    }
    for (size_t r = 0; r < results.size(); ++r) {
      Translation& t = out[begin + r];
      t.nbest = std::move(results[r]);
      for (const auto& h : t.nbest) {
        t.target_tokens.push_back(target_tokens(h.tokens));
        t.text.push_back(target_tok_.detokenize(t.target_tokens.back()));
      }
    }
  }
  return out;
}

}  // namespace attend::app
