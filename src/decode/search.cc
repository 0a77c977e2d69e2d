// Greedy search, beam search and sampling over a StepDecoder from a SearchStart (search.h has the
// contract).
#include "attend/decode/search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

#include "attend/autograd/autograd.h"
#include "attend/core/rng.h"

namespace attend::decode {

namespace {

void check_limit(const char* op, const LengthLimit& limit) {
  ATTEND_CHECK(std::isfinite(limit.max_len_ratio) && limit.max_len_ratio >= 0.0 && limit.max_len_offset >= 0 &&
                   limit.max_len >= 0,
               op, "length limit (max_len_ratio ", limit.max_len_ratio, ", max_len_offset ", limit.max_len_offset,
               ", max_len ", limit.max_len, ") must be non-negative");
}

int64_t rows_of(const SearchStart& s) { return static_cast<int64_t>(s.prefix.size()); }

void check_start(const char* op, const SearchStart& s) {
  ATTEND_CHECK(s.state != nullptr, op, "the start has no state");
  const int64_t N = rows_of(s);
  ATTEND_CHECK(N >= 1 && s.state->rows() == N, op, "the start has ", N, " prefixes for a state of ", s.state->rows(),
               " rows");
  ATTEND_CHECK(static_cast<int64_t>(s.max_new.size()) == N, op, "max_new has ", s.max_new.size(), " entries for ", N,
               " rows");
  ATTEND_CHECK(s.attention_length.empty() || static_cast<int64_t>(s.attention_length.size()) == N, op,
               "attention_length has ", s.attention_length.size(), " entries for ", N, " rows");
  for (int64_t r = 0; r < N; ++r) {
    ATTEND_CHECK(!s.prefix[static_cast<size_t>(r)].empty(), op, "row ", r, " has an empty prefix (give at least BOS)");
    ATTEND_CHECK(s.max_new[static_cast<size_t>(r)] >= 1, op, "row ", r, ": max_new ", s.max_new[static_cast<size_t>(r)],
                 " must be >= 1");
  }
}

// One step's outputs as plain arrays: log_probs [N, V], attention [N, S] (empty without).
struct StepArrays {
  std::vector<float> log_probs;
  std::vector<float> attention;
  int64_t V = 0, S = 0;
};

StepArrays run_step(const char* op, models::StepDecoder& model, models::DecoderState& state, const Index& tokens) {
  const models::StepOutput out = model.step(state, tokens);
  const int64_t N = tokens.shape[0], V = model.vocab_size();
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

// The first step's tokens: each row's first m prefix tokens, m the shortest prefix. [N, m]
Index first_feed(const std::vector<std::vector<int64_t>>& prefix, int64_t m) {
  std::vector<int64_t> ids;
  for (const auto& p : prefix) ids.insert(ids.end(), p.begin(), p.begin() + m);
  return Index(std::move(ids), Shape{static_cast<int64_t>(prefix.size()), m});
}

int64_t shortest(const std::vector<std::vector<int64_t>>& prefix) {
  size_t m = prefix.front().size();
  for (const auto& p : prefix) m = std::min(m, p.size());
  return static_cast<int64_t>(m);
}

// A hypothesis being built: tokens, log-probability and the attention rows over the real source.
struct Partial {
  std::vector<int64_t> tokens;
  double log_prob = 0.0;
  std::vector<float> attention;  // tokens.size() rows of S_r
};

Partial extend(const Partial& parent, int64_t token, double log_prob, const StepArrays& a, int64_t row,
               int64_t attention_length) {
  Partial p;
  p.tokens.reserve(parent.tokens.size() + 1);
  p.tokens = parent.tokens;
  p.tokens.push_back(token);
  p.log_prob = log_prob;
  if (!a.attention.empty() && attention_length > 0) {
    ATTEND_CHECK(a.S >= attention_length, "search", "the model's attention covers ", a.S,
                 " source positions, fewer than the row's ", attention_length);
    p.attention.reserve(parent.attention.size() + static_cast<size_t>(attention_length));
    p.attention = parent.attention;
    const auto first = a.attention.begin() + row * a.S;
    p.attention.insert(p.attention.end(), first, first + attention_length);
  }
  return p;
}

Hypothesis finish(Partial&& p, bool finished, double score, int64_t attention_length) {
  Hypothesis h;
  h.finished = finished;
  h.log_prob = p.log_prob;
  h.score = score;
  if (!p.attention.empty()) {
    const int64_t T = static_cast<int64_t>(p.tokens.size());
    std::vector<double> values(p.attention.begin(), p.attention.end());
    h.attention = Tensor::from_vector(values, Shape{T, attention_length}, DType::f32);  // [T, S_r]
  }
  h.tokens = std::move(p.tokens);
  return h;
}

int64_t attention_length_of(const SearchStart& s, int64_t r) {
  return s.attention_length.empty() ? 0 : s.attention_length[static_cast<size_t>(r)];
}

// Picks a row's next token from its log-probabilities lp [V]; `drawn` counts the row's tokens so far.
using Chooser = std::function<int64_t(int64_t row, int64_t drawn, const float* lp, int64_t V)>;

// One hypothesis per row, each token chosen by `choose` (greedy and sampling).
std::vector<Hypothesis> pick_search(const char* op, models::StepDecoder& model, SearchStart start,
                                    const Chooser& choose, const TokenCallback& on_token) {
  NoGrad no_grad;
  check_start(op, start);
  const int64_t N = rows_of(start);
  std::vector<Partial> partial(static_cast<size_t>(N));
  std::vector<Hypothesis> result(static_cast<size_t>(N));
  std::vector<int64_t> fed(static_cast<size_t>(N), shortest(start.prefix));
  std::vector<int64_t> active(static_cast<size_t>(N));
  std::iota(active.begin(), active.end(), 0);
  std::unique_ptr<models::DecoderState> state = std::move(start.state);
  StepArrays a = run_step(op, model, *state, first_feed(start.prefix, fed[0]));
  while (true) {
    std::vector<int64_t> keep_rows, next_active, next_tokens;
    for (size_t i = 0; i < active.size(); ++i) {
      const int64_t r = active[i];
      const auto ri = static_cast<size_t>(r);
      const std::vector<int64_t>& prefix = start.prefix[ri];
      if (fed[ri] < static_cast<int64_t>(prefix.size())) {  // still feeding the prefix
        next_tokens.push_back(prefix[static_cast<size_t>(fed[ri]++)]);
        keep_rows.push_back(static_cast<int64_t>(i));
        next_active.push_back(r);
        continue;
      }
      const float* lp = a.log_probs.data() + i * static_cast<size_t>(a.V);
      const int64_t v = choose(r, static_cast<int64_t>(partial[ri].tokens.size()), lp, a.V);
      const int64_t L = attention_length_of(start, r);
      partial[ri] = extend(partial[ri], v, partial[ri].log_prob + lp[v], a, static_cast<int64_t>(i), L);
      if (on_token) on_token(r, v);
      const bool eos = v == model.eos_id();
      if (eos || static_cast<int64_t>(partial[ri].tokens.size()) >= start.max_new[ri]) {
        const double lp_sum = partial[ri].log_prob;
        result[ri] = finish(std::move(partial[ri]), eos, lp_sum, L);
        continue;
      }
      keep_rows.push_back(static_cast<int64_t>(i));
      next_active.push_back(r);
      next_tokens.push_back(v);
    }
    if (next_active.empty()) break;
    if (next_active.size() != active.size()) state = state->select(keep_rows);
    active = std::move(next_active);
    a = run_step(op, model, *state, Index(next_tokens));
  }
  return result;
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

SearchStart start_of(models::SequenceToSequence& model, const Source& src, const LengthLimit& limit, const char* op) {
  return start_of(src, model.bos_id(), limit, op, [&model](const Source& s) { return model.start(s); });
}

SearchStart start_of(const Source& src, int64_t bos_id, const LengthLimit& limit, const char* op,
                     const std::function<std::unique_ptr<models::DecoderState>(const Source&)>& state_of) {
  src.check(op);
  check_limit(op, limit);
  SearchStart s;
  s.state = state_of(src);
  // A row's length limit and attention length: the positions it attends to (the source's, or the
  // state's own, e.g. an image's regions).
  std::vector<int64_t> lengths = s.state->attention_lengths();
  if (lengths.empty()) lengths = src.lengths;
  ATTEND_CHECK(lengths.size() == src.lengths.size(), op, "the state has attention lengths for ", lengths.size(),
               " rows, the source ", src.lengths.size());
  for (const int64_t len : lengths) {
    s.prefix.push_back({bos_id});
    s.max_new.push_back(max_target_length(len, limit));
    s.attention_length.push_back(len);
  }
  return s;
}

std::vector<Hypothesis> greedy(models::StepDecoder& model, SearchStart start, const TokenCallback& on_token) {
  return pick_search(
      "greedy", model, std::move(start),
      [](int64_t, int64_t, const float* lp, int64_t V) { return std::max_element(lp, lp + V) - lp; }, on_token);
}

std::vector<Hypothesis> greedy(models::SequenceToSequence& model, const Source& src, const GreedyOptions& opt) {
  return greedy(model, start_of(model, src, opt.limit, "greedy"));
}

std::vector<int64_t> filter_tokens(const std::vector<double>& probs, int64_t top_k, double top_p) {
  ATTEND_CHECK(top_k >= 0, "sample", "top_k ", top_k, " must be >= 0 (0 keeps every token)");
  ATTEND_CHECK(top_p > 0.0 && top_p <= 1.0, "sample", "top_p ", top_p, " must be in (0, 1]");
  const auto V = static_cast<int64_t>(probs.size());
  std::vector<int64_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  const auto more_probable = [&](int64_t a, int64_t b) {
    const double pa = probs[static_cast<size_t>(a)], pb = probs[static_cast<size_t>(b)];
    return pa > pb || (pa == pb && a < b);
  };
  const int64_t k = top_k == 0 ? V : std::min(top_k, V);
  if (top_p >= 1.0) {  // the k most probable, in any order
    if (k < V) std::nth_element(order.begin(), order.begin() + k - 1, order.end(), more_probable);
    order.resize(static_cast<size_t>(k));
    std::sort(order.begin(), order.end());
    return order;
  }
  // Top-p needs the kept tokens in order of probability, but usually only the first few: sort the
  // first 64 of the k, then 256, ... until they hold top_p of the mass (the mass of all k first).
  if (k < V) std::nth_element(order.begin(), order.begin() + k - 1, order.end(), more_probable);
  order.resize(static_cast<size_t>(k));
  double total = 0.0;
  for (const int64_t v : order) total += probs[static_cast<size_t>(v)];
  double mass = 0.0;
  size_t n = 0, sorted = 0;
  while (n < order.size() && (n == 0 || mass < top_p * total)) {
    if (n == sorted) {
      const size_t upto = std::min(order.size(), std::max<size_t>(64, 4 * sorted));
      std::partial_sort(order.begin() + static_cast<std::ptrdiff_t>(sorted),
                        order.begin() + static_cast<std::ptrdiff_t>(upto), order.end(), more_probable);
      sorted = upto;
    }
    mass += probs[static_cast<size_t>(order[n++])];
  }
  order.resize(n);
  std::sort(order.begin(), order.end());
  return order;
}

std::vector<Hypothesis> sample(models::StepDecoder& model, SearchStart start, const SamplingOptions& opt) {
  constexpr const char* op = "sample";
  ATTEND_CHECK(std::isfinite(opt.temperature) && opt.temperature > 0.0, op, "temperature ", opt.temperature,
               " must be > 0 (greedy search is the limit 0)");
  ATTEND_CHECK(opt.top_k >= 0, op, "top_k ", opt.top_k, " must be >= 0 (0 keeps every token)");
  ATTEND_CHECK(opt.top_p > 0.0 && opt.top_p <= 1.0, op, "top_p ", opt.top_p, " must be in (0, 1]");
  ATTEND_CHECK(opt.streams.empty() || opt.streams.size() == start.prefix.size(), op, "streams has ",
               opt.streams.size(), " entries for ", start.prefix.size(), " rows");
  const Rng rng(opt.seed);
  std::vector<double> probs;
  const Chooser choose = [&](int64_t row, int64_t drawn, const float* lp, int64_t V) {
    // softmax(lp / temperature): lp is a log-softmax, so this is softmax(logits / temperature).
    probs.resize(static_cast<size_t>(V));
    double top = -std::numeric_limits<double>::infinity();
    for (int64_t v = 0; v < V; ++v) top = std::max(top, static_cast<double>(lp[v]) / opt.temperature);
    double z = 0.0;
    for (int64_t v = 0; v < V; ++v) z += probs[static_cast<size_t>(v)] = std::exp(static_cast<double>(lp[v]) / opt.temperature - top);
    for (double& p : probs) p /= z;
    const std::vector<int64_t> kept = filter_tokens(probs, opt.top_k, opt.top_p);
    double mass = 0.0;
    for (const int64_t v : kept) mass += probs[static_cast<size_t>(v)];
    const uint64_t stream = opt.streams.empty() ? static_cast<uint64_t>(row) : opt.streams[static_cast<size_t>(row)];
    const double u = rng.uniform_at(stream << 32, static_cast<uint64_t>(drawn)) * mass;  // inverse CDF in id order
    double cdf = 0.0;
    for (const int64_t v : kept) {
      cdf += probs[static_cast<size_t>(v)];
      if (u < cdf) return v;
    }
    return kept.back();
  };
  return pick_search(op, model, std::move(start), choose, opt.on_token);
}

std::vector<std::vector<Hypothesis>> beam_search(models::StepDecoder& model, SearchStart start,
                                                 const BeamOptions& opt) {
  constexpr const char* op = "beam_search";
  NoGrad no_grad;
  check_start(op, start);
  ATTEND_CHECK(opt.beam_size >= 1, op, "beam_size ", opt.beam_size, " must be >= 1");
  ATTEND_CHECK(opt.nbest >= 1 && opt.nbest <= opt.beam_size, op, "nbest ", opt.nbest, " must be in [1, beam_size = ",
               opt.beam_size, "]");
  ATTEND_CHECK(std::isfinite(opt.alpha) && opt.alpha >= 0.0, op, "alpha ", opt.alpha, " must be >= 0");
  const int64_t N = rows_of(start), k = opt.beam_size;
  const auto norm = [&](double lp, int64_t len) { return length_normalized(lp, len, opt.length_penalty, opt.alpha); };

  struct Row {
    std::vector<Partial> beam{Partial{}};  // rows of the state, in order
    std::vector<Hypothesis> finished;      // ended in EOS
    std::vector<Hypothesis> cut;           // stopped at max_len
    int64_t fed = 0;                       // prefix tokens fed so far
  };
  std::vector<Row> rows(static_cast<size_t>(N));
  const int64_t m = shortest(start.prefix);
  for (Row& row : rows) row.fed = m;
  std::vector<int64_t> active(static_cast<size_t>(N));  // rows with partial hypotheses in the state, in order
  std::iota(active.begin(), active.end(), 0);
  std::unique_ptr<models::DecoderState> state = std::move(start.state);
  StepArrays a = run_step(op, model, *state, first_feed(start.prefix, m));
  struct Candidate {
    double log_prob;
    int64_t index;  // parent * V + token
  };
  std::vector<Candidate> cand;
  while (true) {
    const int64_t V = a.V;
    std::vector<int64_t> parents_all, next_active, next_tokens;
    int64_t row0 = 0;
    for (const int64_t b : active) {
      Row& s = rows[static_cast<size_t>(b)];
      const std::vector<int64_t>& prefix = start.prefix[static_cast<size_t>(b)];
      if (s.fed < static_cast<int64_t>(prefix.size())) {  // still feeding the prefix: one row
        parents_all.push_back(row0);
        next_tokens.push_back(prefix[static_cast<size_t>(s.fed++)]);
        next_active.push_back(b);
        row0 += 1;
        continue;
      }
      const int64_t L = attention_length_of(start, b), max_len = start.max_new[static_cast<size_t>(b)];
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
      std::vector<int64_t> parents, tokens;
      int64_t places = 0;  // of the k in the next beam (a hypothesis cut at max_len takes one)
      for (size_t j = 0; j < top && places < k; ++j) {
        const int64_t i = cand[j].index / V, v = cand[j].index % V;
        const bool eos = v == model.eos_id();
        if (eos && static_cast<int64_t>(j) >= k) continue;  // EOS finishes only from the top k places
        Partial p = extend(s.beam[static_cast<size_t>(i)], v, cand[j].log_prob, a, row0 + i, L);
        const int64_t len = static_cast<int64_t>(p.tokens.size());
        if (eos || len >= max_len) {
          const double score = norm(p.log_prob, len);
          (eos ? s.finished : s.cut).push_back(finish(std::move(p), eos, score, L));
          places += eos ? 0 : 1;
          continue;
        }
        ++places;
        beam.push_back(std::move(p));
        parents.push_back(row0 + i);
        tokens.push_back(v);
      }
      row0 += n;
      // Done when the beam is empty, (early_stop) beam_size hypotheses finished, or no partial
      // hypothesis can beat the nbest-th finished one (the bound of the header comment).
      bool done = beam.empty() || (opt.early_stop && static_cast<int64_t>(s.finished.size()) >= k);
      if (!done && static_cast<int64_t>(s.finished.size()) >= opt.nbest) {
        std::vector<double> scores;
        for (const Hypothesis& h : s.finished) scores.push_back(h.score);
        std::nth_element(scores.begin(), scores.begin() + (opt.nbest - 1), scores.end(), std::greater<>());
        double best_partial = beam.front().log_prob;
        for (const Partial& p : beam) best_partial = std::max(best_partial, p.log_prob);
        done = norm(best_partial, max_len) <= scores[static_cast<size_t>(opt.nbest - 1)];
      }
      if (done) {
        s.beam.clear();
        continue;
      }
      s.beam = std::move(beam);
      parents_all.insert(parents_all.end(), parents.begin(), parents.end());
      next_tokens.insert(next_tokens.end(), tokens.begin(), tokens.end());
      next_active.push_back(b);
    }
    if (next_active.empty()) break;
    state = state->select(parents_all);
    active = std::move(next_active);
    a = run_step(op, model, *state, Index(next_tokens));
  }

  std::vector<std::vector<Hypothesis>> result(static_cast<size_t>(N));
  const auto by_score = [](const Hypothesis& x, const Hypothesis& y) { return x.score > y.score; };
  for (int64_t b = 0; b < N; ++b) {
    Row& s = rows[static_cast<size_t>(b)];
    // Finished hypotheses first, best first; cut ones only fill what is left of the n-best list.
    std::vector<Hypothesis>& f = s.finished;
    std::stable_sort(f.begin(), f.end(), by_score);
    std::stable_sort(s.cut.begin(), s.cut.end(), by_score);
    for (Hypothesis& h : s.cut) f.push_back(std::move(h));
    if (static_cast<int64_t>(f.size()) > opt.nbest) f.resize(static_cast<size_t>(opt.nbest));
    result[static_cast<size_t>(b)] = std::move(f);
  }
  return result;
}

std::vector<std::vector<Hypothesis>> beam_search(models::SequenceToSequence& model, const Source& src,
                                                 const BeamOptions& opt) {
  return beam_search(model, start_of(model, src, opt.limit, "beam_search"), opt);
}

}  // namespace attend::decode
