// Greedy and beam search over a StepDecoder (attend/models/step_decoder.h), batched over sources:
// every partial hypothesis of every sentence is one row of a single DecoderState, reordered and
// replicated with DecoderState::select, so each step is one call of the model.
//
// Beam search (Sutskever et al. 2014; Wu et al. 2016 for the length penalty). For each sentence
// the k = beam_size best partial hypotheses are kept; a step scores every extension
//   log P(y_1..y_t) = log P(y_1..y_{t-1}) + log p(y_t | y_<t, x)
// and takes the best 2k extensions in order: an extension ending in EOS becomes a finished
// hypothesis, the others fill the k places of the next beam. The ranking score of a finished
// hypothesis with |Y| tokens (EOS included) is
//   none:     log P(Y)
//   average:  log P(Y) / |Y|                              (per-token average)
//   gnmt:     log P(Y) / lp(Y),  lp(Y) = ((5 + |Y|) / 6)^alpha    (GNMT, Wu et al. 2016)
// so without normalization short hypotheses win (every token costs log-probability) and a
// normalization lets a longer, more probable-per-token hypothesis win. A sentence is done when it
// has beam_size finished hypotheses (with early_stop, the default), when no partial hypothesis can
// still beat its nbest-th
// finished one (the bound log P / lp(max_len) holds since log P only decreases), or at its
// maximum length, where the partial hypotheses left are finished as they are (finished = false).
// beam_size = 1 with no normalization is greedy search.
//
// Maximum target length of sentence b: min(max_len, ceil(max_len_ratio * S_b) + max_len_offset)
// tokens, EOS included, where S_b is its real source length (tokens, or regions of a feature source) (max_len 0 = no absolute cap).
//
// Hypothesis.attention is the [T, S_b] matrix of the decoder's attention weights, row t for the
// step that produced tokens[t], over the real source positions, followed through every reordering
// of the beam; undefined when the model has no attention. Results come in input order.
// Run the model in eval mode; the search itself needs no gradient.
#pragma once

#include <cstdint>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/source.h"
#include "attend/core/tensor.h"
#include "attend/models/step_decoder.h"

namespace attend::decode {

struct Hypothesis {
  std::vector<int64_t> tokens;  // y_1 .. y_T (EOS last when finished; BOS not included)
  double log_prob = 0.0;        // log P(Y | x), summed over tokens
  double score = 0.0;           // the ranking score (log_prob, normalized by the length penalty)
  bool finished = false;        // ended in EOS (false: stopped at the maximum length)
  Tensor attention;             // [T, S_b] f32, undefined without attention
};

struct LengthLimit {
  double max_len_ratio = 2.0;  // max target length = ceil(ratio * S_b) + offset ...
  int64_t max_len_offset = 10;
  int64_t max_len = 0;  // ... capped at max_len (0 = no cap)
};

struct GreedyOptions {
  LengthLimit limit{};
};

enum class LengthPenalty { none, average, gnmt };

struct BeamOptions {
  int64_t beam_size = 5;
  LengthPenalty length_penalty = LengthPenalty::gnmt;
  double alpha = 0.6;  // gnmt's exponent
  int64_t nbest = 1;   // hypotheses returned per sentence (<= beam_size), best first
  LengthLimit limit{};
  // true: a sentence is also done once beam_size hypotheses have finished (fairseq's and Marian's
  // rule: fast, but hypotheses that end early can fill the quota while a better, longer one is
  // still in the beam). false: only the bound, an empty beam or the maximum length end it.
  bool early_stop = true;
};

// src (B rows of token ids or features, with lengths) -> B hypotheses (the arg max token at each
// step). Errors "[greedy] ..." name the shapes.
std::vector<Hypothesis> greedy(models::StepDecoder& model, const Source& src, const GreedyOptions& opt = {});

// src (B rows) -> for each source, its nbest hypotheses sorted by score, best first.
// Errors "[beam_search] ..." name the shapes and options.
std::vector<std::vector<Hypothesis>> beam_search(models::StepDecoder& model, const Source& src,
                                                 const BeamOptions& opt = {});

// The ranking score of a hypothesis of `length` tokens with log-probability log_prob.
double length_normalized(double log_prob, int64_t length, LengthPenalty penalty, double alpha);

// The maximum target length of a source of `source_length` tokens.
int64_t max_target_length(int64_t source_length, const LengthLimit& limit);

}  // namespace attend::decode
