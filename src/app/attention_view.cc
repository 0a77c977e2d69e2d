#include "attend/app/attention_view.h"

#include <algorithm>

#include "attend/core/error.h"
#include "attend/data/vocab.h"
#include "attend/ops/ops.h"

namespace attend::app {

namespace {

// The hypothesis's source as the model read it: ids [1, S] (an empty line is one <unk>, as
// Translator::translate encodes it).
Source source_of(const Translator& tr, const Translation& t) {
  std::vector<int64_t> ids = tr.source_vocab().encode(t.source_tokens);
  if (ids.empty()) ids.push_back(data::Vocab::kUnk);
  return Source::of_token_rows({ids}, data::Vocab::kPad);
}

// <s> y_1 .. y_{T-1}: the decoder inputs of teacher forcing over y_1 .. y_T, [1, T].
Index decoder_inputs(const decode::Hypothesis& h) {
  std::vector<int64_t> in{data::Vocab::kBos};
  in.insert(in.end(), h.tokens.begin(), h.tokens.end());
  in.pop_back();
  const auto T = static_cast<int64_t>(in.size());
  return Index(std::move(in), Shape{1, T});
}

}  // namespace

AttentionView attention_view(const Translator& tr, const Translation& t, size_t k) {
  ATTEND_CHECK(tr.architecture().has_attention, "show", "a '", tr.architecture().name,
               "' model has no attention to look at");
  ATTEND_CHECK(k < t.nbest.size(), "show", "hypothesis ", k, " of ", t.nbest.size());
  const decode::Hypothesis& h = t.nbest[k];
  ATTEND_CHECK(!h.tokens.empty(), "show", "the hypothesis has no tokens");
  AttentionView v;
  v.source_tokens = t.source_tokens;
  if (v.source_tokens.empty()) v.source_tokens.emplace_back(data::Vocab::kUnkToken);
  v.target_tokens = tr.target_vocab().decode(h.tokens, {.strip_special = false, .stop_at_eos = false});
  v.decoder_inputs = {std::string(data::Vocab::kBosToken)};
  v.decoder_inputs.insert(v.decoder_inputs.end(), v.target_tokens.begin(), v.target_tokens.end() - 1);
  v.maps = tr.model().attention_maps(source_of(tr, t), decoder_inputs(h));
  for (models::AttentionMap& m : v.maps) m.weights = squeeze(m.weights, 0).contiguous();  // [H, Tq, Tk]
  v.alignment_layer = tr.model().alignment_layer();
  return v;
}

AttentionView attention_view(const Generator& g, const std::string& prompt, const Generation& generation) {
  std::vector<int64_t> ids{g.model().eos_id()};
  const std::vector<int64_t> prompt_ids = g.encode(prompt);
  ids.insert(ids.end(), prompt_ids.begin(), prompt_ids.end());
  ids.insert(ids.end(), generation.ids.begin(), generation.ids.end());
  const auto T = static_cast<int64_t>(ids.size());
  ATTEND_CHECK(T <= g.model().max_positions(), "show", "the context of ", T, " tokens is longer than the model's ",
               g.model().max_positions(), " positions");
  AttentionView v;
  v.target_tokens = g.tokens(ids);
  v.decoder_inputs = v.target_tokens;
  v.maps = g.model().attention_maps(Index(std::move(ids), Shape{1, T}));
  for (models::AttentionMap& m : v.maps) m.weights = squeeze(m.weights, 0).contiguous();  // [H, T, T]
  return v;
}

std::vector<int64_t> piece_words(const std::vector<std::string>& pieces) {
  static constexpr std::string_view kSpace = "\u2581";
  std::vector<int64_t> words;
  int64_t w = -1;
  for (const std::string& p : pieces) {
    if (w < 0 || std::string_view(p).starts_with(kSpace)) ++w;
    words.push_back(w);
  }
  return words;
}

Tensor word_weights(const Tensor& w, const std::vector<int64_t>& target_words, const std::vector<int64_t>& source_words) {
  constexpr const char* op = "word_weights";
  ATTEND_CHECK(w.dim() == 2 && w.size(0) == static_cast<int64_t>(target_words.size()) &&
                   w.size(1) == static_cast<int64_t>(source_words.size()),
               op, "weights ", w.shape(), " do not match ", target_words.size(), " target and ", source_words.size(),
               " source pieces");
  const int64_t Wt = target_words.empty() ? 0 : target_words.back() + 1;
  const int64_t Ws = source_words.empty() ? 0 : source_words.back() + 1;
  std::vector<double> sum(static_cast<size_t>(Wt * Ws), 0.0), pieces(static_cast<size_t>(Wt), 0.0);
  for (int64_t q = 0; q < w.size(0); ++q) {
    const int64_t j = target_words[static_cast<size_t>(q)];
    pieces[static_cast<size_t>(j)] += 1.0;
    for (int64_t k = 0; k < w.size(1); ++k)
      sum[static_cast<size_t>(j * Ws + source_words[static_cast<size_t>(k)])] += w.at({q, k});
  }
  for (int64_t j = 0; j < Wt; ++j)
    for (int64_t i = 0; i < Ws; ++i) sum[static_cast<size_t>(j * Ws + i)] /= pieces[static_cast<size_t>(j)];
  return Tensor::from_vector(sum, Shape{Wt, Ws}, DType::f32);  // [target words, source words]
}

Tensor alignment_weights(const Translator& tr, const Translation& t, size_t k, const AlignmentSettings& s) {
  ATTEND_CHECK(k < t.nbest.size(), "alignment", "hypothesis ", k, " of ", t.nbest.size());
  const decode::Hypothesis& h = t.nbest[k];
  Tensor w = h.attention;  // [T, S]
  if (s.layer >= 0 && s.layer != tr.model().alignment_layer()) {
    const AttentionView v = attention_view(tr, t, k);
    const auto it = std::find_if(v.maps.begin(), v.maps.end(), [&](const models::AttentionMap& m) {
      return m.kind == models::AttentionKind::cross && m.layer == s.layer;
    });
    int64_t layers = 0;
    for (const auto& m : v.maps) layers += m.kind == models::AttentionKind::cross;
    ATTEND_CHECK(it != v.maps.end(), "alignment", "--alignment-layer ", s.layer + 1, ": the model has ", layers,
                 " decoder layer(s) with cross-attention");
    w = mean(it->weights, {0});  // [T, S]
  }
  const int64_t rows = w.size(0) - (h.finished ? 1 : 0);  // </s> aligns to nothing
  w = slice(w, 0, 0, rows).contiguous();
  const bool source_pieces = tr.spec().source_tokens == data::TokenizerKind::sentencepiece;
  const bool target_pieces = tr.spec().target_tokens == data::TokenizerKind::sentencepiece;
  if (!source_pieces && !target_pieces) return w;
  auto identity = [](int64_t n) {
    std::vector<int64_t> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
    return v;
  };
  std::vector<std::string> src = t.source_tokens;
  if (src.empty()) src.emplace_back(data::Vocab::kUnkToken);
  return word_weights(w, target_pieces ? piece_words(t.target_tokens[k]) : identity(rows),
                      source_pieces ? piece_words(src) : identity(w.size(1)));
}

}  // namespace attend::app
