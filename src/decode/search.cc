// Greedy and beam search over a StepDecoder, batched over sources (search.h has the contract).
#include "attend/decode/search.h"

#include <algorithm>
#include <cmath>
#include <memory>

namespace attend::decode {

namespace {

void check_limit(const char* op, const LengthLimit& limit) {
  ATTEND_CHECK(std::isfinite(limit.max_len_ratio) && limit.max_len_ratio >= 0.0 && limit.max_len_offset >= 0 &&
                   limit.max_len >= 0,
               op, "length limit (max_len_ratio ", limit.max_len_ratio, ", max_len_offset ", limit.max_len_offset,
               ", max_len ", limit.max_len, ") must be non-negative");
}

// One step's outputs as plain arrays: log_probs [N, V], attention [N, S] (empty without).
struct StepArrays {
  std::vector<float> log_probs;
  std::vector<float> attention;
  int64_t V = 0, S = 0;
};

StepArrays run_step(const char* op, models::StepDecoder& model, models::DecoderState& state,
                    const std::vector<int64_t>& prev) {
  const models::StepOutput out = model.step(state, prev);
  const int64_t N = static_cast<int64_t>(prev.size()), V = model.vocab_size();
  ATTEND_CHECK(out.log_probs.defined() && out.log_probs.shape() == Shape({N, V}), op, "the model's log_probs ",
               out.log_probs.defined() ? out.log_probs.shape().str() : "undefined", " must be [N, V] = [", N, ", ", V,
               "]");
  StepArrays a;
  a.V = V;
  a.log_probs = out.log_probs.to_vector<float>();
  if (out.attention.defined()) {
    ATTEND_CHECK(out.attention.dim() == 2 && out.attention.size(0) == N, op, "the model's attention ",
                 out.attention.shape().str(), " must be [N, S] with N = ", N);
    a.S = out.attention.size(1);
    a.attention = out.attention.to_vector<float>();
  }
  return a;
}

// A hypothesis being built: tokens, log-probability and the attention rows over the real source.
struct Partial {
  std::vector<int64_t> tokens;
  double log_prob = 0.0;
  std::vector<float> attention;  // tokens.size() rows of S_b
};

Partial extend(const Partial& parent, int64_t token, double log_prob, const StepArrays& a, int64_t row,
               int64_t source_length) {
  Partial p;
  p.tokens.reserve(parent.tokens.size() + 1);
  p.tokens = parent.tokens;
  p.tokens.push_back(token);
  p.log_prob = log_prob;
  if (!a.attention.empty()) {
    p.attention.reserve(parent.attention.size() + static_cast<size_t>(source_length));
    p.attention = parent.attention;
    const auto first = a.attention.begin() + row * a.S;
    p.attention.insert(p.attention.end(), first, first + std::min(source_length, a.S));
  }
  return p;
}

Hypothesis finish(Partial&& p, bool finished, double score, bool has_attention, int64_t source_length) {
  Hypothesis h;
  h.finished = finished;
  h.log_prob = p.log_prob;
  h.score = score;
  if (has_attention) {
    const int64_t T = static_cast<int64_t>(p.tokens.size());
    std::vector<double> values(p.attention.begin(), p.attention.end());
    h.attention = Tensor::from_vector(values, Shape{T, source_length}, DType::f32);  // [T, S_b]
  }
  h.tokens = std::move(p.tokens);
  return h;
}

}  // namespace

double length_normalized(double log_prob, int64_t length, LengthPenalty penalty, double alpha) {
  switch (penalty) {
    case LengthPenalty::none: return log_prob;
    case LengthPenalty::average: return log_prob / static_cast<double>(std::max<int64_t>(length, 1));
    case LengthPenalty::gnmt: return log_prob / std::pow((5.0 + static_cast<double>(length)) / 6.0, alpha);
  }
  return log_prob;
}

int64_t max_target_length(int64_t source_length, const LengthLimit& limit) {
  int64_t n = static_cast<int64_t>(std::ceil(limit.max_len_ratio * static_cast<double>(source_length))) +
              limit.max_len_offset;
  if (limit.max_len > 0) n = std::min(n, limit.max_len);
  return std::max<int64_t>(n, 1);
}

std::vector<Hypothesis> greedy(models::StepDecoder& model, const Source& src,
                               const GreedyOptions& opt) {
  constexpr const char* op = "greedy";
  src.check(op);
  const std::vector<int64_t>& src_lengths = src.lengths;
  check_limit(op, opt.limit);
  const int64_t B = src.batch();
  std::unique_ptr<models::DecoderState> state = model.start(src);
  std::vector<Partial> partial(static_cast<size_t>(B));
  std::vector<Hypothesis> result(static_cast<size_t>(B));
  std::vector<int64_t> active(static_cast<size_t>(B)), prev(static_cast<size_t>(B), model.bos_id());
  for (int64_t b = 0; b < B; ++b) active[static_cast<size_t>(b)] = b;
  bool has_attention = false;
  while (!active.empty()) {
    const StepArrays a = run_step(op, model, *state, prev);
    has_attention = !a.attention.empty();
    std::vector<int64_t> keep_rows, next_active, next_prev;
    for (size_t i = 0; i < active.size(); ++i) {
      const size_t b = static_cast<size_t>(active[i]);
      const float* lp = a.log_probs.data() + i * static_cast<size_t>(a.V);
      const int64_t v = std::max_element(lp, lp + a.V) - lp;  // the first maximum
      partial[b] = extend(partial[b], v, partial[b].log_prob + lp[v], a, static_cast<int64_t>(i), src_lengths[b]);
      const bool eos = v == model.eos_id();
      if (eos || static_cast<int64_t>(partial[b].tokens.size()) >= max_target_length(src_lengths[b], opt.limit)) {
        const double lp_sum = partial[b].log_prob;
        result[b] = finish(std::move(partial[b]), eos, lp_sum, has_attention, src_lengths[b]);
        continue;
      }
      keep_rows.push_back(static_cast<int64_t>(i));
      next_active.push_back(active[i]);
      next_prev.push_back(v);
    }
    if (next_active.empty()) break;
    if (next_active.size() != active.size()) state = state->select(keep_rows);
    active = std::move(next_active);
    prev = std::move(next_prev);
  }
  return result;
}

std::vector<std::vector<Hypothesis>> beam_search(models::StepDecoder& model, const Source& src,
                                                 const BeamOptions& opt) {
  constexpr const char* op = "beam_search";
  src.check(op);
  const std::vector<int64_t>& src_lengths = src.lengths;
  check_limit(op, opt.limit);
  ATTEND_CHECK(opt.beam_size >= 1, op, "beam_size ", opt.beam_size, " must be >= 1");
  ATTEND_CHECK(opt.nbest >= 1 && opt.nbest <= opt.beam_size, op, "nbest ", opt.nbest, " must be in [1, beam_size = ",
               opt.beam_size, "]");
  ATTEND_CHECK(std::isfinite(opt.alpha) && opt.alpha >= 0.0, op, "alpha ", opt.alpha, " must be >= 0");
  const int64_t B = src.batch(), k = opt.beam_size;
  const auto norm = [&](double lp, int64_t len) { return length_normalized(lp, len, opt.length_penalty, opt.alpha); };

  struct Sentence {
    std::vector<Partial> beam{Partial{}};  // rows of the state, in order
    std::vector<Hypothesis> finished;
    int64_t max_len = 0;
  };
  std::vector<Sentence> sent(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b)
    sent[static_cast<size_t>(b)].max_len = max_target_length(src_lengths[static_cast<size_t>(b)], opt.limit);
  std::vector<int64_t> active(static_cast<size_t>(B));  // sentences with rows in the state, in row order
  for (int64_t b = 0; b < B; ++b) active[static_cast<size_t>(b)] = b;
  std::vector<int64_t> prev(static_cast<size_t>(B), model.bos_id());

  std::unique_ptr<models::DecoderState> state = model.start(src);
  bool has_attention = false;
  struct Candidate {
    double log_prob;
    int64_t index;  // parent * V + token
  };
  std::vector<Candidate> cand;
  while (!active.empty()) {
    const StepArrays a = run_step(op, model, *state, prev);
    has_attention = !a.attention.empty();
    const int64_t V = a.V;
    std::vector<int64_t> rows, next_active, next_prev;
    int64_t row0 = 0;
    for (const int64_t b : active) {
      Sentence& s = sent[static_cast<size_t>(b)];
      const int64_t S_b = src_lengths[static_cast<size_t>(b)];
      const int64_t n = static_cast<int64_t>(s.beam.size());
      // The best 2k extensions, best first (ties: lower parent, then lower token id). They are among
      // the best 2k of each parent's row, so each row is scanned once against the worst of its
      // running best (a few compares per token), and only those n * 2k candidates are sorted.
      const auto better = [](const Candidate& x, const Candidate& y) {
        return x.log_prob > y.log_prob || (x.log_prob == y.log_prob && x.index < y.index);
      };
      const size_t per_row = static_cast<size_t>(std::min<int64_t>(2 * k, V));
      cand.clear();
      for (int64_t i = 0; i < n; ++i) {
        const float* lp = a.log_probs.data() + (row0 + i) * V;
        const double base = s.beam[static_cast<size_t>(i)].log_prob;
        const size_t first = cand.size();
        for (int64_t v = 0; v < V; ++v) {
          const Candidate c{base + lp[v], i * V + v};
          const size_t filled = cand.size() - first;
          if (filled == per_row && !better(c, cand.back())) continue;
          if (filled < per_row) cand.push_back(c);
          else cand.back() = c;
          for (size_t j = cand.size() - 1; j > first && better(cand[j], cand[j - 1]); --j) std::swap(cand[j], cand[j - 1]);
        }
      }
      const size_t top = std::min(cand.size(), static_cast<size_t>(2 * k));
      std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(top), cand.end(), better);
      std::vector<Partial> beam;
      std::vector<int64_t> parents;
      int64_t places = 0;  // of the k in the next beam (a hypothesis cut at max_len takes one)
      for (size_t j = 0; j < top && places < k; ++j) {
        const int64_t i = cand[j].index / V, v = cand[j].index % V;
        const bool eos = v == model.eos_id();
        if (eos && static_cast<int64_t>(j) >= k) continue;  // EOS finishes only from the top k places
        Partial p = extend(s.beam[static_cast<size_t>(i)], v, cand[j].log_prob, a, row0 + i, S_b);
        const int64_t len = static_cast<int64_t>(p.tokens.size());
        if (eos || len >= s.max_len) {
          const double score = norm(p.log_prob, len);
          s.finished.push_back(finish(std::move(p), eos, score, has_attention, S_b));
          places += eos ? 0 : 1;
          continue;
        }
        ++places;
        beam.push_back(std::move(p));
        parents.push_back(row0 + i);
        next_prev.push_back(v);
      }
      row0 += n;
      // Done when the beam is empty, beam_size hypotheses finished, or none left can win.
      bool done = beam.empty() || (opt.early_stop && static_cast<int64_t>(s.finished.size()) >= k);
      if (!done && static_cast<int64_t>(s.finished.size()) >= opt.nbest) {
        std::vector<double> scores;
        for (const Hypothesis& h : s.finished) scores.push_back(h.score);
        std::nth_element(scores.begin(), scores.begin() + (opt.nbest - 1), scores.end(), std::greater<>());
        double best_partial = beam.front().log_prob;
        for (const Partial& p : beam) best_partial = std::max(best_partial, p.log_prob);
        done = norm(best_partial, s.max_len) <= scores[static_cast<size_t>(opt.nbest - 1)];
      }
      if (done) {
        next_prev.resize(next_prev.size() - beam.size());
        s.beam.clear();
        continue;
      }
      s.beam = std::move(beam);
      rows.insert(rows.end(), parents.begin(), parents.end());
      next_active.push_back(b);
    }
    if (next_active.empty()) break;
    state = state->select(rows);
    active = std::move(next_active);
    prev = std::move(next_prev);
  }

  std::vector<std::vector<Hypothesis>> result(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    std::vector<Hypothesis>& f = sent[static_cast<size_t>(b)].finished;
    std::stable_sort(f.begin(), f.end(), [](const Hypothesis& x, const Hypothesis& y) { return x.score > y.score; });
    if (static_cast<int64_t>(f.size()) > opt.nbest) f.resize(static_cast<size_t>(opt.nbest));
    result[static_cast<size_t>(b)] = std::move(f);
  }
  return result;
}

}  // namespace attend::decode
