// The attention of one translation, every layer and head of it, and word alignments read off it:
// what `attend show` draws and `attend translate --alignment` writes.
//
// attention_view() runs the model once more with teacher forcing over the hypothesis it found
// (SequenceToSequence::attention_maps), in inference mode: the cross-attention it returns for the
// alignment layer equals, to rounding, what the search recorded step by step with its caches.
//
// Subwords and words: a SentencePiece piece that begins with U+2581 ("▁", the space it
// replaced) starts a word, any other piece continues the current one, so the words are exactly
// those of the detokenized text. Word-level weights of a [Tq, Tk] subword matrix W:
//   W_words[j, i] = mean over pieces q of target word j of ( sum over pieces k of source word i of W[q, k] )
// so each target word's row still sums to (at most) one; the hard alignment is its argmax per row.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attend/app/generator.h"
#include "attend/app/translator.h"
#include "attend/core/tensor.h"
#include "attend/models/tasks.h"

namespace attend::app {

struct AttentionView {
  std::vector<std::string> source_tokens;   // S (the model's tokens)
  std::vector<std::string> target_tokens;   // T: y_1 .. y_T, </s> included when finished (query rows)
  std::vector<std::string> decoder_inputs;  // T: <s> y_1 .. y_{T-1} (keys of decoder self-attention)
  // In the order of the model's attention_maps; weights [H, Tq, Tk] (this sentence only).
  std::vector<models::AttentionMap> maps;
  int64_t alignment_layer = 0;  // 0-based decoder layer of the search's attention
};

// Hypothesis k of translation t (of tr's model). Error "[show] ..." if the model has no attention.
AttentionView attention_view(const Translator& tr, const Translation& t, size_t k = 0);
// A language model's self-attention over its context for a generation: </s>, the prompt's tokens
// and the generated ones (the final </s> left out), as decoder_self maps of every layer. Queries
// and keys are the same positions: target_tokens = decoder_inputs = that context; no source.
AttentionView attention_view(const Generator& g, const std::string& prompt, const Generation& generation);

// Word index of each SentencePiece piece (see above); pieces before the first word start word 0.
std::vector<int64_t> piece_words(const std::vector<std::string>& pieces);

// w [Tq, Tk] -> [target words, source words] as above; target_words has Tq entries, source_words
// Tk (from piece_words). Errors "[word_weights] ..." name the sizes.
Tensor word_weights(const Tensor& w, const std::vector<int64_t>& target_words, const std::vector<int64_t>& source_words);

struct AlignmentSettings {
  // 0-based decoder layer whose cross-attention (averaged over heads) aligns; -1: the model's
  // alignment layer, as the search recorded it. Other layers cost one teacher-forced pass.
  int64_t layer = -1;
};

// The alignment weights of hypothesis k of t, without the row of a final </s>: [T, S] over the
// model's tokens, or over words ([target words, source words]) when the tokens are SentencePiece
// pieces. Error "[alignment] ..." for a layer the model does not have.
Tensor alignment_weights(const Translator& tr, const Translation& t, size_t k = 0, const AlignmentSettings& s = {});

}  // namespace attend::app
