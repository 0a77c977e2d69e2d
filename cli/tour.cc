// `attend tour`: every attention family of the library on one sentence pair, printed as weight
// matrices with token labels. It doubles as the first usage example of the library: each block
// below is the whole call a user writes for that family.
//
// The embeddings and parameters are random (seeded), so the weights show what each family's
// structure imposes (masks, windows, Gaussians, sparsity), not learned alignments.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "attend/attention/additive.h"
#include "attend/attention/attention.h"
#include "attend/attention/local.h"
#include "attend/attention/multiplicative.h"
#include "attend/attention/scaled_dot.h"
#include "attend/data/tokenizer.h"
#include "attend/data/utf8.h"
#include "attend/nn/multihead_attention.h"
#include "attend/ops/ops.h"
#include "commands.h"

namespace attend::cli {
namespace {

using attention::Mask;

struct TourOptions {
  uint64_t seed = 2015;
  int64_t dim = 16;
  std::string source = "Zwei junge Männer sind im Freien in der Nähe vieler Büsche .";
  std::string target = "Two young men are outside near many bushes .";
};

std::vector<std::string> split_words(const std::string& s) {
  return data::Tokenizer({.kind = data::TokenizerKind::word, .split_punctuation = false}).tokenize(s);
}

// Display width of a UTF-8 string (code points; the tour's tokens have no wide characters).
size_t display_width(const std::string& s) { return data::utf8_split(s).size(); }

std::string pad(const std::string& s, size_t width) { return s + std::string(width - std::min(width, display_width(s)), ' '); }

// At most `width` code points, the last one "~" when cut.
std::string shorten(const std::string& s, size_t width) {
  const std::vector<std::string> chars = data::utf8_split(s);
  if (chars.size() <= width) return s;
  std::string out;
  for (size_t i = 0; i + 1 < width; ++i) out += chars[i];
  return out + "~";
}

// Prints weights [Tq, Tk] with query labels down the side and key labels across the top; each
// cell is the weight in hundredths ("." for exactly zero), so masks and windows stand out.
void print_matrix(const std::string& title, const Tensor& w, const std::vector<std::string>& rows,
                  const std::vector<std::string>& cols) {
  const Tensor m = w.to(DType::f64);
  const int64_t Tq = m.size(0), Tk = m.size(1);
  size_t lw = 0;
  for (const auto& r : rows) lw = std::max(lw, display_width(r));
  std::cout << "\n== " << title << "\n" << std::string(lw + 1, ' ');
  for (int64_t j = 0; j < Tk; ++j) std::cout << ' ' << pad(shorten(cols[static_cast<size_t>(j)], 5), 5);
  std::cout << "\n";
  for (int64_t i = 0; i < Tq; ++i) {
    std::cout << pad(rows[static_cast<size_t>(i)], lw) << ' ';
    double row_sum = 0.0;
    for (int64_t j = 0; j < Tk; ++j) {
      const double v = m.at({i, j});
      row_sum += v;
      char cell[16];
      if (v == 0.0)
        std::snprintf(cell, sizeof cell, "%5s", ".");
      else
        std::snprintf(cell, sizeof cell, "%5.0f", 100.0 * v);
      std::cout << ' ' << cell;
    }
    char sum[32];
    std::snprintf(sum, sizeof sum, "   | sum %.2f", row_sum);
    std::cout << sum << "\n";
  }
}

// The first entry along axis 0: [1, ...] -> [...].
Tensor first(const Tensor& w) { return squeeze(slice(w, 0, 0, 1), 0); }

int run_tour(const TourOptions& o) {
  const std::vector<std::string> src = split_words(o.source), tgt = split_words(o.target);
  const int64_t S = static_cast<int64_t>(src.size()), T = static_cast<int64_t>(tgt.size()), C = o.dim;
  Rng rng(o.seed);
  NoGrad no_grad;  // a tour needs no gradients
  // Random "embeddings" of the source (keys and values) and target (queries): [1, T, C].
  const Tensor keys = Tensor::randn({1, S, C}, rng);
  const Tensor queries = Tensor::randn({1, T, C}, rng);
  std::cout << "attend tour: " << T << " target tokens attend over " << S << " source tokens, width " << C
            << ", seed " << o.seed << "\n(weights in hundredths; '.' = exactly zero; each row sums to 1 unless the"
            << " family says otherwise)\n";
  const attention::AttendOptions want_weights{.need_weights = true};

  {  // Luong dot: score = h_t . hs_s
    auto r = attention::attend(attention::dot_scores(queries, keys), keys, {}, want_weights);
    print_matrix("Luong dot  score = h_t . hs_s", first(r.weights), tgt, src);
  }
  {  // Vaswani scaled dot: softmax(Q K^T / sqrt(D)) V, one head
    auto r = attention::scaled_dot_product_attention(unsqueeze(queries, 1), unsqueeze(keys, 1), unsqueeze(keys, 1),
                                                     {}, {.need_weights = true});
    print_matrix("scaled dot (Vaswani)  score = q . k / sqrt(D)", first(first(r.weights)), tgt, src);
  }
  {  // Luong general: score = h_t^T W_a hs_s
    const auto general = attention::GeneralScore::init(C, C, rng);
    auto r = attention::attend(general.scores(queries, keys), keys, {}, want_weights);
    print_matrix("Luong general  score = h_t^T W_a hs_s", first(r.weights), tgt, src);
  }
  {  // Bahdanau additive: score = v^T tanh(W_q q + W_k k + b)
    const auto additive = attention::AdditiveScore::init(C, C, C, rng);
    auto r = attention::attend(additive.scores(queries, keys), keys, {}, want_weights);
    print_matrix("Bahdanau additive  score = v^T tanh(W_q q + W_k k + b)", first(r.weights), tgt, src);
  }
  {  // Luong concat: score = v_a^T tanh(W_a [h_t; hs_s])
    const auto concat = attention::ConcatScore::init(C, C, C, rng);
    auto r = attention::attend(concat.scores(queries, keys), keys, {}, want_weights);
    print_matrix("Luong concat  score = v_a^T tanh(W_a [h_t; hs_s])", first(r.weights), tgt, src);
  }
  {  // Luong location: a_t = softmax(W_a h_t), cut to the real source length
    const auto location = attention::LocationScore::init(C, 2 * S, rng);
    auto r = attention::attend(location.scores(queries, S), keys, Mask{.key_lengths = {S}}, want_weights);
    print_matrix("Luong location  a_t = softmax(W_a h_t) over max length " + std::to_string(2 * S) +
                     ", cut to " + std::to_string(S),
                 first(r.weights), tgt, src);
  }
  const Tensor dot = attention::dot_scores(queries, keys);
  {  // Luong local-m: window [t - D, t + D]
    auto r = attention::local_m_attention(dot, keys, {}, {.D = 2, .attend = want_weights});
    print_matrix("Luong local-m  window [t - 2, t + 2], dot score", first(r.weights), tgt, src);
  }
  {  // Luong local-p: p_t = S sigmoid(v_p^T tanh(W_p h_t)), Gaussian sigma = D / 2
    const auto position = attention::LocalPosition::init(C, C, rng);
    const Tensor p = position.positions(queries, {S});
    auto r = attention::local_p_attention(dot, keys, p, {}, {.D = 2, .attend = want_weights});
    std::string ps;
    for (double v : p.to_vector<double>()) {
      char b[16];
      std::snprintf(b, sizeof b, " %.1f", v);
      ps += b;
    }
    print_matrix("Luong local-p  window |s - p_t| <= 2 times exp(-(s - p_t)^2 / 2), p_t =" + ps +
                     " (rows sum to < 1: the Gaussian is not renormalized)",
                 first(r.weights), tgt, src);
  }
  {  // sliding window band (left 1, right 1) on the scaled dot score
    auto r = attention::scaled_dot_product_attention(unsqueeze(queries, 1), unsqueeze(keys, 1), unsqueeze(keys, 1),
                                                     {.window_left = 1, .window_right = 1}, {.need_weights = true});
    print_matrix("sliding window (left 1, right 1), bottom-right aligned: query i sits at position i + Tk - Tq",
                 first(first(r.weights)), tgt, src);
  }
  {  // sparsemax normalizer: exact zeros
    auto r = attention::attend(dot, keys, {}, {.normalizer = attention::Normalizer::sparsemax(), .need_weights = true});
    print_matrix("sparsemax normalizer (Martins & Astudillo 2016) on the dot score", first(r.weights), tgt, src);
  }
  {  // multi-head self attention over the target with a causal mask, weights averaged over heads
    nn::MultiheadAttention mha({.embed_dim = C, .num_heads = 4}, rng);
    auto r = mha.forward(queries, queries, queries, Mask{.causal = true}, {.need_weights = true});
    print_matrix("multi-head self attention (4 heads, averaged), causal mask", first(r.weights), tgt, tgt);
  }
  {  // multi-head cross attention with key padding: the last 3 source tokens are padding
    nn::MultiheadAttention mha({.embed_dim = C, .num_heads = 4, .num_kv_heads = 2}, rng);
    auto r = mha.forward(queries, keys, keys, Mask{.key_lengths = {S - 3}},
                         {.need_weights = true, .average_attn_weights = false});
    print_matrix("grouped-query cross attention (4 heads, 2 kv heads), head 0, key padding: last 3 source tokens",
                 first(first(r.weights)), tgt, src);
  }
  std::cout << "\nEach block above is one library call; see cli/tour.cc.\n";
  return 0;
}

}  // namespace

void add_tour_command(CLI::App& app) {
  auto opt = std::make_shared<TourOptions>();
  CLI::App* cmd = app.add_subcommand("tour", "Print the weights of every attention family on one sentence pair");
  cmd->add_option("--seed", opt->seed, "seed of the random embeddings and parameters")->capture_default_str();
  cmd->add_option("--dim", opt->dim, "embedding width")->capture_default_str()->check(CLI::Range(4, 1024));
  cmd->add_option("--source", opt->source, "source sentence (keys), space separated")->capture_default_str();
  cmd->add_option("--target", opt->target, "target sentence (queries), space separated")->capture_default_str();
  cmd->callback([opt] {
    if (split_words(opt->source).size() < 4 || split_words(opt->target).empty())
      throw Error("tour", "the source needs at least 4 tokens and the target at least 1");
    run_tour(*opt);
  });
}

}  // namespace attend::cli
