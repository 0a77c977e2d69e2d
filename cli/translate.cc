// `attend translate`: raw sentences in, translations out, one line per line (or Moses-style n-best
// lists), with greedy or beam search and, on request, the word alignment read off the attention.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "attend/app/translator.h"
#include "attend/data/corpus.h"
#include "attend/io/atomic_file.h"
#include "attend/app/attention_view.h"
#include "attend/viz/alignment.h"
#include "commands.h"

namespace attend::cli {
namespace {

struct TranslateOptions {
  std::string model;
  std::string input = "-", output = "-";
  int64_t beam = 5, nbest = 1, batch = 64, max_input_length = 1024;
  bool truncate = false;
  double alpha = 0.6, max_len_ratio = 2.0;
  std::string length_penalty = "gnmt";
  std::string alignment = "none";  // none | hard | soft
  std::string alignment_out;       // empty: appended to each output line after " ||| "
  int64_t alignment_layer = 0;     // 1-based decoder layer; 0: the model's alignment layer
  bool scores = false, early_stop = false;
  int threads = 0;
};

decode::LengthPenalty parse_length_penalty(const std::string& s) {
  if (s == "gnmt") return decode::LengthPenalty::gnmt;
  if (s == "average") return decode::LengthPenalty::average;
  if (s == "none") return decode::LengthPenalty::none;
  throw Error("translate", "unknown --length-penalty '" + s + "' (known: gnmt, average, none)");
}

// Alignment k of t as --alignment asks (subword pieces mapped to words, </s> left out).
std::string format_alignment(const app::Translator& tr, const app::Translation& t, size_t k,
                             const TranslateOptions& o) {
  const Tensor w = app::alignment_weights(tr, t, k, {.layer = o.alignment_layer - 1});
  if (w.numel() == 0) return "";
  if (o.alignment == "hard") return viz::format_pharaoh(viz::hard_alignment(w));
  return viz::format_soft_alignment(w);
}

std::string format_score(double score) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", score);
  return buf;
}

void run_translate(const TranslateOptions& o) {
  set_command_threads(o.threads);
  ATTEND_CHECK(o.beam >= 1 && o.nbest >= 1 && o.batch >= 1, "translate", "--beam ", o.beam, ", --nbest ", o.nbest,
               " and --batch ", o.batch, " must be >= 1");
  ATTEND_CHECK(o.nbest <= o.beam, "translate", "--nbest ", o.nbest, " exceeds --beam ", o.beam,
               " (a beam of k keeps k hypotheses)");
  ATTEND_CHECK(o.max_len_ratio > 0.0, "translate", "--max-len-ratio must be > 0, got ", o.max_len_ratio);
  ATTEND_CHECK(o.alignment == "none" || o.alignment == "hard" || o.alignment == "soft", "translate",
               "unknown --alignment '", o.alignment, "' (known: none, hard, soft)");
  ATTEND_CHECK(o.alignment_out.empty() || o.alignment != "none", "translate",
               "--alignment-out needs --alignment hard or soft");
  ATTEND_CHECK(o.alignment_layer >= 0, "translate", "--alignment-layer counts from 1 (0 = the model's), got ",
               o.alignment_layer);
  const app::SearchSettings settings{.beam = o.beam,
                                .nbest = o.nbest,
                                .alpha = o.alpha,
                                .length_penalty = parse_length_penalty(o.length_penalty),
                                .max_len_ratio = o.max_len_ratio,
                                .early_stop = o.early_stop,
                                .batch = o.batch,
                                .max_input_tokens = o.max_input_length,
                                .truncate = o.truncate};

  const app::Translator tr = app::Translator::load(o.model);
  const bool want_alignment = o.alignment != "none";
  ATTEND_CHECK(!want_alignment || tr.architecture().has_attention, "translate", o.model, ": a ",
               tr.architecture().name, " model has no attention, so there is no --alignment to write");

  const std::vector<std::string> lines = data::read_lines(o.input, "translate");
  tr.check_lengths(lines, settings, o.input == "-" ? "<stdin>" : o.input);
  // Sentences with no source token give empty output; the others are translated sorted by length,
  // so a batch pads little, and put back in input order.
  std::vector<size_t> order;
  std::vector<size_t> lengths(lines.size(), 0);
  for (size_t i = 0; i < lines.size(); ++i) {
    lengths[i] = tr.encode_source(lines[i]).size();
    if (lengths[i] > 0) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] < lengths[b]; });
  std::vector<std::string> sorted;
  for (size_t i : order) sorted.push_back(lines[i]);
  std::vector<app::Translation> sorted_out = tr.translate(sorted, settings);
  std::vector<app::Translation> results(lines.size());
  for (size_t k = 0; k < order.size(); ++k) results[order[k]] = std::move(sorted_out[k]);

  std::ostringstream out, align_out;
  const bool inline_alignment = want_alignment && o.alignment_out.empty();
  auto write_line = [&](std::ostream& os, const std::string& prefix, const std::string& text,
                        const std::string& alignment, const std::string& score) {
    os << prefix << text;
    if (inline_alignment) os << " ||| " << alignment;
    if (!score.empty()) os << " ||| " << score;
    os << "\n";
    if (want_alignment && !inline_alignment) align_out << alignment << "\n";
  };
  for (size_t i = 0; i < results.size(); ++i) {
    const app::Translation& t = results[i];
    if (o.nbest > 1) {
      const std::string prefix = std::to_string(i) + " ||| ";
      if (t.nbest.empty()) write_line(out, prefix, "", "", format_score(0.0));
      for (size_t k = 0; k < t.nbest.size(); ++k)
        write_line(out, prefix, t.text[k], want_alignment ? format_alignment(tr, t, k, o) : "",
                   format_score(t.nbest[k].score));
      continue;
    }
    if (t.nbest.empty()) {
      write_line(out, "", "", "", o.scores ? format_score(0.0) : "");
      continue;
    }
    write_line(out, "", t.text[0], want_alignment ? format_alignment(tr, t, 0, o) : "",
               o.scores ? format_score(t.nbest[0].score) : "");
  }

  if (o.output == "-") {
    std::cout << out.str() << std::flush;
    ATTEND_CHECK(std::cout.good(), "translate", "cannot write to standard output");
  } else {
    io::write_file_atomic(o.output, out.str());
  }
  if (!o.alignment_out.empty()) io::write_file_atomic(o.alignment_out, align_out.str());
}

}  // namespace

void add_translate_command(CLI::App& app) {
  auto o = std::make_shared<TranslateOptions>();
  CLI::App* c = app.add_subcommand("translate",
                                   "Translate sentences with a checkpoint, one per line (stdin to stdout by default)");
  c->footer(
      "Translate sentences with a trained checkpoint, one per line.\n"
      "N lines in give N lines out, in order; a line without tokens gives an empty line.\n"
      "Output line: HYPOTHESIS[ ||| ALIGNMENT][ ||| SCORE]  (alignment inline unless --alignment-out;\n"
      "score with --scores). With --nbest N > 1, Moses-style n-best lists instead: N lines per\n"
      "sentence, best first,  I ||| HYPOTHESIS[ ||| ALIGNMENT] ||| SCORE  (I = 0-based line number).\n"
      "SCORE is the beam's ranking score (log-probability, normalized by --length-penalty).");
  c->add_option("-m,--model", o->model, "checkpoint written by `attend train`")->required();
  c->add_option("-i,--input", o->input, "input sentences, one per line (- = stdin)")->capture_default_str();
  c->add_option("-o,--output", o->output, "translations (- = stdout; a file is replaced atomically)")
      ->capture_default_str();
  c->add_option("--beam", o->beam, "beam size (1 = greedy search)")->capture_default_str();
  c->add_option("--nbest", o->nbest, "hypotheses per sentence (<= --beam); > 1 writes n-best lists")
      ->capture_default_str();
  c->add_option("--alpha", o->alpha, "gnmt length-penalty exponent")->capture_default_str();
  c->add_flag("--early-stop", o->early_stop,
              "beam search: stop once --beam hypotheses finished (faster; may miss a better one)");
  c->add_option("--length-penalty", o->length_penalty, "gnmt | average | none")->capture_default_str();
  c->add_option("--max-len-ratio", o->max_len_ratio, "longest output = ratio * source tokens + 10")
      ->capture_default_str();
  c->add_option("--batch", o->batch, "sentences per search call")->capture_default_str();
  c->add_option("--max-input-length", o->max_input_length,
                "longest input in source tokens; a longer line is an error naming it (or see --truncate)")
      ->capture_default_str();
  c->add_flag("--truncate", o->truncate, "translate the first --max-input-length tokens of longer lines");
  c->add_option("--alignment", o->alignment,
                "none | hard (Pharaoh 'i-j': 0-based source-target indices, argmax of each target "
                "token's attention, </s> excluded) | soft (each target token's weights over the source "
                "joined by ',', tokens by ' '); SentencePiece pieces are joined into words")
      ->capture_default_str();
  c->add_option("--alignment-layer", o->alignment_layer,
                "decoder layer whose cross-attention (mean of the heads) aligns (1-based; 0 = the model's: "
                "the transformer's penultimate)")
      ->capture_default_str();
  c->add_option("--alignment-out", o->alignment_out,
                "write alignments to this file (one line per output line) instead of appending them");
  c->add_flag("--scores", o->scores, "append ' ||| SCORE' to each 1-best line");
  c->add_option("--threads", o->threads, "threads (default: ATTEND_NUM_THREADS, else 1)");
  c->callback([o] { run_translate(*o); });
}

}  // namespace attend::cli
