// Greedy search, beam search and sampling over a StepDecoder (attend/models/step_decoder.h),
// batched: every partial hypothesis of every row is one row of a single DecoderState, reordered and
// replicated with DecoderState::select, so each step is one call of the model.
//
// Every search starts from a SearchStart: a state of N rows (an encoder-decoder's encoded sources,
// a language model's empty rows), the tokens each row is fed before its first prediction (BOS; the
// end-of-text token and a prompt; BOS and a forced target prefix) and how many tokens each row may
// then produce. The first step feeds every row the first m tokens of its prefix at once (m the
// shortest prefix), then rows with longer prefixes are fed theirs one token per step while the
// others already produce; a prefix is never part of a hypothesis's tokens nor of its score.
// start_of(model, src, limit) is the encoder-decoders' start: BOS, and a length limit from each
// source's length.
//
// Beam search (Sutskever et al. 2014; Wu et al. 2016 for the length penalty). For each row the
// k = beam_size best partial hypotheses are kept; a step scores every extension
//   log P(y_1..y_t) = log P(y_1..y_{t-1}) + log p(y_t | y_<t, x)
// and takes the best 2k extensions in order: an extension ending in EOS from the top k places
// becomes a finished hypothesis, the others fill the k places of the next beam. The ranking score
// of a hypothesis with |Y| tokens (EOS included) is
//   none:     log P(Y)
//   average:  log P(Y) / |Y|                              (per-token average)
//   gnmt:     log P(Y) / lp(Y),  lp(Y) = ((5 + |Y|) / 6)^alpha    (GNMT, Wu et al. 2016)
// A row is done when no partial hypothesis can still beat its nbest-th finished one: log P only
// decreases as a hypothesis grows and lp only increases, so log P / lp(max_new) bounds every score
// a partial hypothesis can still reach. That stopping rule is sound: the search stops only when
// waiting cannot change the answer. It also stops when the beam empties, and at the row's maximum
// length, where the partial hypotheses left are cut (finished = false); a cut hypothesis ranks
// below every finished one, so it is returned only when fewer than nbest hypotheses finished. With
// early_stop a row is also done once beam_size hypotheses have finished (fairseq's and Marian's
// rule: faster, but hypotheses that end early can fill the quota while a better one is still in
// the beam; docs/models.md measures it). beam_size = 1 with no normalization is greedy search.
//
// Sampling (temperature, then top-k, then top-p / nucleus sampling of Holtzman et al. 2020): each
// token is drawn from softmax(log p / temperature) restricted to the tokens filter_tokens keeps,
// renormalized. Row r's j-th drawn token uses the uniform number (seed, stream_r * 2^32 + j) of the
// project's Philox generator (core/rng.h), so a seed reproduces a generation on any machine, and a
// row's tokens do not depend on the batch it is decoded in (give each prompt its own stream).
//
// Hypothesis.attention is the [T, S_r] matrix of the decoder's attention weights, row t for the
// step that produced tokens[t], over the real source positions (S_r = attention_length[r]),
// followed through every reordering of the beam; undefined when the model has no attention or the
// start records none. Results come in row order. The search runs without gradients; the model runs
// its steps in inference mode.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/source.h"
#include "attend/core/tensor.h"
#include "attend/models/step_decoder.h"
#include "attend/models/tasks.h"

namespace attend::decode {

struct Hypothesis {
  std::vector<int64_t> tokens;  // y_1 .. y_T (EOS last when finished; the prefix not included)
  double log_prob = 0.0;        // log P(Y | x, prefix), summed over tokens
  double score = 0.0;           // the ranking score (log_prob, normalized by the length penalty)
  bool finished = false;        // ended in EOS (false: cut at the maximum length)
  Tensor attention;             // [T, S_r] f32, undefined without attention
};

// Where a search begins (see the header comment).
struct SearchStart {
  std::unique_ptr<models::DecoderState> state;  // N rows
  std::vector<std::vector<int64_t>> prefix;     // [N], each at least one token
  std::vector<int64_t> max_new;                 // [N], each >= 1: tokens a row may produce, EOS included
  std::vector<int64_t> attention_length;        // [N] source positions of each row's attention; empty: none
};

struct LengthLimit {
  double max_len_ratio = 2.0;  // max target length = ceil(ratio * S_b) + offset ...
  int64_t max_len_offset = 10;
  int64_t max_len = 0;  // ... capped at max_len (0 = no cap)
};

// The maximum target length of a source of `source_length` tokens.
int64_t max_target_length(int64_t source_length, const LengthLimit& limit);

// An encoder-decoder's start over src (B rows of token ids or features, with lengths): its
// start(src), BOS as every prefix, max_new = max_target_length(S_b, limit), attention over the
// S_b positions the state attends to (DecoderState::attention_lengths: an image model's regions),
// by default the real source positions. Errors "[<op>] ..." name the shapes; src and limit are checked before
// the model reads src.
SearchStart start_of(models::SequenceToSequence& model, const Source& src, const LengthLimit& limit,
                     const char* op = "search");
// The same for any StepDecoder that makes its state from sources: state_of(src) and bos_id.
SearchStart start_of(const Source& src, int64_t bos_id, const LengthLimit& limit, const char* op,
                     const std::function<std::unique_ptr<models::DecoderState>(const Source&)>& state_of);

// Called with (row, token) as each token of a row is chosen, in order (streaming output).
using TokenCallback = std::function<void(int64_t row, int64_t token)>;

// The arg max token at each step (the first maximum). Errors "[greedy] ..." name the shapes.
std::vector<Hypothesis> greedy(models::StepDecoder& model, SearchStart start, const TokenCallback& on_token = {});

struct GreedyOptions {
  LengthLimit limit{};
};
std::vector<Hypothesis> greedy(models::SequenceToSequence& model, const Source& src, const GreedyOptions& opt = {});

enum class LengthPenalty { none, average, gnmt };

struct BeamOptions {
  int64_t beam_size = 5;
  LengthPenalty length_penalty = LengthPenalty::gnmt;
  double alpha = 0.6;  // gnmt's exponent
  int64_t nbest = 1;   // hypotheses returned per row (<= beam_size), best first
  LengthLimit limit{};  // the Source overload's length limit
  bool early_stop = false;  // also done once beam_size hypotheses finished (see the header comment)
};

// start (N rows) -> for each row, its nbest hypotheses sorted by score, best first.
// Errors "[beam_search] ..." name the shapes and options.
std::vector<std::vector<Hypothesis>> beam_search(models::StepDecoder& model, SearchStart start,
                                                 const BeamOptions& opt = {});
std::vector<std::vector<Hypothesis>> beam_search(models::SequenceToSequence& model, const Source& src,
                                                 const BeamOptions& opt = {});

struct SamplingOptions {
  double temperature = 1.0;  // > 0
  int64_t top_k = 0;         // keep the k most probable tokens; 0 = all
  double top_p = 1.0;        // keep the smallest most probable set whose mass reaches top_p, in (0, 1]
  uint64_t seed = 1;
  std::vector<uint64_t> streams;  // [N] each row's random stream; empty = its row index
  TokenCallback on_token;
};

// One sample per row. Errors "[sample] ..." name a bad option or shape.
std::vector<Hypothesis> sample(models::StepDecoder& model, SearchStart start, const SamplingOptions& opt);

// The tokens that top-k and then top-p keep of a distribution `probs` over V tokens (each >= 0,
// summing to 1), in increasing id order: the k most probable (ties: the lower id first; k = 0 or
// k >= V keeps all), then of those, ranked by probability, the shortest prefix whose probability
// reaches top_p times their total mass (at least one token). Errors "[sample] ..." for k < 0 or
// top_p outside (0, 1].
std::vector<int64_t> filter_tokens(const std::vector<double>& probs, int64_t top_k, double top_p);

// The ranking score of a hypothesis of `length` tokens with log-probability log_prob.
double length_normalized(double log_prob, int64_t length, LengthPenalty penalty, double alpha);

}  // namespace attend::decode
