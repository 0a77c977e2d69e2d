// `attend show`: translates one sentence and draws the decoder's attention as a heat map (target
// tokens as rows, </s> included; source tokens as columns), then prints the translation and its
// Pharaoh alignment.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "attend/app/translator.h"
#include "attend/data/utf8.h"
#include "attend/viz/alignment.h"
#include "attend/viz/heatmap.h"
#include "attend/viz/render.h"
#include "commands.h"

namespace attend::cli {
namespace {

struct ShowOptions {
  std::string model, source, out, title;
  int64_t beam = 5;
  bool values = false;
  int threads = 0;
};

// A token as a label: spaces and tabs (character-level tokens) made visible with U+00B7, which
// the bitmap font draws.
std::string label(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == ' ' || c == '\t') out += "\u00b7";
    else out += c;
  }
  return out;
}

// "luong (general, global)": the architecture and its choice fields (score, alignment, ...).
std::string model_title(const models::ModelConfig& config) {
  std::string choices;
  const std::unique_ptr<models::ModelConfig> copy = config.clone();
  for (const models::Field& f : copy->arch_fields())
    if (f.kind == models::Field::Kind::choice) choices += (choices.empty() ? "" : ", ") + f.get();
  return std::string(config.architecture()) + (choices.empty() ? "" : " (" + choices + ")");
}

void run_show(const ShowOptions& o) {
  set_command_threads(o.threads);
  ATTEND_CHECK(o.beam >= 1, "show", "--beam must be >= 1, got ", o.beam);
  if (const auto bad = data::utf8_invalid_offset(o.source))
    throw Error("show", "--source is not valid UTF-8 (byte " + std::to_string(*bad) + ")");
  const app::Translator tr = app::Translator::load(o.model);
  const models::ArchitectureInfo& arch = tr.architecture();
  ATTEND_CHECK(arch.has_attention, "show", o.model, ": the model is a '", arch.name,
               "' encoder-decoder, which has no attention to draw");
  ATTEND_CHECK(!tr.encode_source(o.source).empty(), "show", "--source has no tokens");

  const app::Translation t = tr.translate({o.source}, {.beam = o.beam}).at(0);
  const decode::Hypothesis& h = t.nbest.at(0);
  const std::vector<std::string> target =
      tr.target_vocab().decode(h.tokens, {.strip_special = false, .stop_at_eos = false});
  viz::TokenLabels labels;
  for (const auto& s : t.source_tokens) labels.key.push_back(label(s));
  for (const auto& s : target) labels.query.push_back(label(s));

  std::string title = o.title;
  if (title.empty()) {
    title = model_title(*tr.spec().model);
    title += o.beam <= 1 ? ", greedy" : ", beam " + std::to_string(o.beam);
    title += ": " + o.source;
  }
  const viz::Scene scene = viz::heatmap(
      h.attention, labels,
      {.title = title, .values = o.values ? viz::CellValues::printed : viz::CellValues::hidden});
  viz::save(scene, o.out);

  const int64_t rows = h.attention.size(0) - (h.finished ? 1 : 0);  // </s> has no link
  const Tensor w = h.attention.as_strided(Shape{rows, h.attention.size(1)}, h.attention.strides(),
                                          h.attention.offset());
  std::cout << "source       " << o.source << "\n"
            << "translation  " << t.text.at(0) << "\n"
            << "score        " << h.score << (h.finished ? "" : "  (stopped at the maximum length)") << "\n"
            << "alignment    " << (rows > 0 ? viz::format_pharaoh(viz::hard_alignment(w)) : "") << "\n"
            << "wrote        " << o.out << " (" << h.attention.size(0) << " target x " << h.attention.size(1)
            << " source tokens)\n";
}

}  // namespace

void add_show_command(CLI::App& app) {
  auto o = std::make_shared<ShowOptions>();
  CLI::App* c = app.add_subcommand("show",
                                   "Translate one sentence and draw its attention as a heat map (PNG, SVG or HTML)");
  c->footer(
      "Translate one sentence and draw the attention matrix: one row per target token (</s>\n"
      "included), one column per source token, colour = attention weight. Prints the translation\n"
      "and the Pharaoh alignment (source-target index pairs, argmax per target token, </s> left out).\n"
      "In character-level labels a space is drawn as a middle dot.");
  c->add_option("-m,--model", o->model, "checkpoint of a model with attention")->required();
  c->add_option("-s,--source", o->source, "the sentence to translate")->required();
  c->add_option("-o,--out", o->out, "picture to write: .png, .svg or .html (interactive read-out)")->required();
  c->add_option("--beam", o->beam, "beam size (1 = greedy search)")->capture_default_str();
  c->add_option("--title", o->title, "title over the picture (default: model, search and sentence)");
  c->add_flag("--values", o->values, "print each weight in its cell");
  c->add_option("--threads", o->threads, "threads (default: ATTEND_NUM_THREADS, else 1)");
  c->callback([o] { run_show(*o); });
}

}  // namespace attend::cli
