// `attend show`: runs a model on one input and draws its attention. A sequence-to-sequence model
// translates --source: by default the decoder's attention the search recorded, as one heat map
// (target tokens as rows, </s> included; source tokens as columns); with --attention, every layer
// and head of the encoder's self-attention, the decoder's self-attention and the cross-attention
// (app/attention_view.h): a grid of heat maps (PNG/SVG, one kind) or one HTML page to browse them
// all; then it prints the translation and its alignment (subword pieces mapped to words). A
// language model continues --prompt and draws the self-attention of every layer and head over the
// prompt and its continuation.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "attend/app/attention_view.h"
#include "attend/app/captioning.h"
#include "attend/data/images.h"
#include "attend/models/vit.h"
#include "attend/viz/overlay.h"
#include "attend/app/translator.h"
#include "attend/data/utf8.h"
#include "attend/io/atomic_file.h"
#include "attend/ops/ops.h"
#include "attend/viz/alignment.h"
#include "attend/viz/heatmap.h"
#include "attend/viz/render.h"
#include "commands.h"

namespace attend::cli {
namespace {

struct ShowOptions {
  std::string model, source, out, title;
  int64_t beam = 5;
  double alpha = 0.6;
  bool early_stop = false;
  std::string prompt;  // language models
  std::string image;   // picture models: a PNG file
  int64_t max_new = 20;
  double temperature = 0.0;
  double top_p = 1.0;
  uint64_t seed = 1;
  bool values = false;
  int threads = 0;
  std::string attention;  // empty: the search's attention; encoder | decoder | cross | all
  int64_t layer = 0;      // 1-based; 0: every layer
  std::string head = "all";  // all (every head and their mean) | mean | N (1-based)
  std::string alignment = "hard";
  int64_t alignment_layer = 0;  // 1-based; 0: the model's alignment layer
  std::string colormap = "auto";  // viridis | blues | auto (blues for a model whose normalizer is not softmax)
  viz::Colormap cmap = viz::Colormap::viridis;  // resolved from `colormap` and the model
};

// blues draws a weight of exactly 0 white: the keys a sparse or structured normalizer left out
// read as blank paper. auto picks it for those models; softmax weights are never exactly 0.
viz::Colormap resolve_colormap(const std::string& name, const models::ModelConfig& config) {
  ATTEND_CHECK(name == "auto" || name == "viridis" || name == "blues", "show", "unknown --colormap '", name,
               "' (known: auto, viridis, blues)");
  if (name == "viridis") return viz::Colormap::viridis;
  if (name == "blues") return viz::Colormap::blues;
  const auto m = config.to_map();
  const auto it = m.find("normalizer");
  return it != m.end() && it->second != "softmax" ? viz::Colormap::blues : viz::Colormap::viridis;
}

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

std::vector<std::string> labels(const std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  for (const auto& t : tokens) out.push_back(label(t));
  return out;
}

// "luong (general, global)": the architecture and its choice fields (score, alignment, ...), but
// for those left at "auto" (which only say that another field decides).
std::string model_title(const models::ModelConfig& config) {
  std::string choices;
  const std::unique_ptr<models::ModelConfig> copy = config.clone();
  for (const models::Field& f : copy->arch_fields())
    if (f.kind == models::Field::Kind::choice && f.get() != "auto") choices += (choices.empty() ? "" : ", ") + f.get();
  return std::string(config.architecture()) + (choices.empty() ? "" : " (" + choices + ")");
}

const char* kind_title(models::AttentionKind k) {
  switch (k) {
    case models::AttentionKind::encoder_self: return "encoder self-attention";
    case models::AttentionKind::decoder_self: return "decoder self-attention";
    case models::AttentionKind::cross: return "cross-attention";
    case models::AttentionKind::pooling: return "attention pooling";
  }
  return "";
}

// The rows and columns of a map of kind k.
viz::TokenLabels map_labels(const app::AttentionView& v, models::AttentionKind k) {
  switch (k) {
    case models::AttentionKind::encoder_self: return {labels(v.source_tokens), labels(v.source_tokens)};
    case models::AttentionKind::decoder_self: return {labels(v.target_tokens), labels(v.decoder_inputs)};
    case models::AttentionKind::cross:
    case models::AttentionKind::pooling: break;
  }
  return {labels(v.target_tokens), labels(v.source_tokens)};
}

// One drawn map: its weights [Tq, Tk] and what it is.
struct Panel {
  models::AttentionKind kind;
  int64_t layer;    // 0-based
  std::string head;  // "head 3" or "mean"
  Tensor weights;
};

// The maps --attention, --layer and --head select, in the model's order, each layer's heads
// followed by their mean.
std::vector<Panel> select_panels(const app::AttentionView& v, const ShowOptions& o) {
  std::vector<Panel> out;
  int64_t head = 0;  // 1-based; 0: all (with mean), -1: the mean only
  if (o.head == "mean") head = -1;
  else if (o.head != "all") {
    try {
      head = std::stoll(o.head);
    } catch (const std::exception&) {
      head = -2;
    }
    ATTEND_CHECK(head >= 1, "show", "--head '", o.head, "': want all, mean or a head number from 1");
  }
  for (const models::AttentionMap& m : v.maps) {
    if (o.attention != "all" && o.attention != models::to_string(m.kind)) continue;
    if (o.layer > 0 && m.layer != o.layer - 1) continue;
    const int64_t H = m.weights.size(0);
    ATTEND_CHECK(head <= H, "show", "--head ", head, ": the model has ", H, " heads");
    for (int64_t h = 0; h < H && head >= 0; ++h)
      if (head == 0 || head == h + 1)
        out.push_back({m.kind, m.layer, "head " + std::to_string(h + 1), slice(m.weights, 0, h, h + 1)});
    if (head <= 0 && (H > 1 || head < 0)) out.push_back({m.kind, m.layer, "mean", mean(m.weights, {0}, true)});
  }
  if (out.empty()) {
    std::string kinds;
    int64_t layers = 0;
    for (const models::AttentionMap& m : v.maps) {
      if (kinds.find(models::to_string(m.kind)) == std::string::npos)
        kinds += (kinds.empty() ? "" : ", ") + std::string(models::to_string(m.kind));
      if (o.attention == "all" || o.attention == models::to_string(m.kind)) layers = std::max(layers, m.layer + 1);
    }
    throw Error("show", "the model has no " + (o.attention == "all" ? std::string() : o.attention + " ") +
                            "attention" + (o.layer > 0 && layers > 0 ? " in layer " + std::to_string(o.layer) + " (it has " +
                                                                            std::to_string(layers) + ")"
                                                                      : " (it has: " + kinds + ")"));
  }
  return out;
}

std::string search_title(const ShowOptions& o, const app::Translator& tr) {
  if (!o.title.empty()) return o.title;
  return model_title(*tr.spec().model) + (o.beam <= 1 ? ", greedy" : ", beam " + std::to_string(o.beam)) + ": " +
         o.source;
}

// --attention with a .png/.svg: one grid, a row per layer and a column per selected head.
void save_grid(const app::AttentionView& v, const std::vector<Panel>& panels, const ShowOptions& o,
               const std::string& title) {
  ATTEND_CHECK(o.attention != "all", "show", "--attention all draws an HTML page (-o FILE.html); a .png or .svg ",
               "grid shows one kind: --attention encoder, decoder or cross");
  std::vector<Tensor> maps;
  std::vector<std::string> captions;
  int64_t per_layer = 0;
  for (const Panel& p : panels) {
    maps.push_back(squeeze(p.weights, 0));
    captions.push_back("layer " + std::to_string(p.layer + 1) + " " + p.head);
    per_layer += p.layer == panels.front().layer;
  }
  const models::AttentionKind kind = panels.front().kind;
  const viz::Scene scene = viz::multihead_heatmap(
      stack(maps, 0), map_labels(v, kind),
      {.title = std::string(kind_title(kind)) + ", " + title,
       .colormap = o.cmap,
       .values = o.values ? viz::CellValues::printed : viz::CellValues::hidden,
       .columns = static_cast<int>(per_layer),
       .captions = captions});
  viz::save(scene, o.out);
}

// --attention with an .html: one page per map, chosen by kind, layer and head.
void save_browser(const app::AttentionView& v, const std::vector<Panel>& panels, const ShowOptions& o,
                  const std::string& title) {
  std::vector<viz::BrowserPage> pages;
  for (const Panel& p : panels) {
    const std::string layer = "layer " + std::to_string(p.layer + 1);
    pages.push_back({.keys = {kind_title(p.kind), layer, p.head},
                     .scene = viz::heatmap(squeeze(p.weights, 0), map_labels(v, p.kind),
                                           {.title = std::string(kind_title(p.kind)) + ", " + layer + ", " + p.head,
                                            .colormap = o.cmap,
                                            .values = o.values ? viz::CellValues::printed : viz::CellValues::hidden})});
  }
  io::write_file_atomic(o.out, viz::browser_html(pages, {"attention", "layer", "head"}, title));
}

void save_maps(const app::AttentionView& v, const std::vector<Panel>& panels, const ShowOptions& o,
               const std::string& title) {
  const std::string ext = std::filesystem::path(o.out).extension().string();
  if (ext == ".html" || ext == ".htm") save_browser(v, panels, o, title);
  else save_grid(v, panels, o, title);
}

// A language model: the continuation of --prompt and the self-attention over both.
void show_language_model(app::ModelBundle bundle, ShowOptions o) {
  ATTEND_CHECK(o.source.empty(), "show", o.model, " is a language model: give --prompt, not --source");
  ATTEND_CHECK(o.attention.empty() || o.attention == "decoder" || o.attention == "all", "show", o.model,
               " is a language model: its attention is --attention decoder (self-attention), not ", o.attention);
  ATTEND_CHECK(o.max_new >= 1, "show", "--max-new must be >= 1, got ", o.max_new);
  if (o.attention.empty()) o.attention = "decoder";
  const app::Generator g(std::move(bundle), o.model, "show");
  g.check_prompts({o.prompt}, "--prompt");
  const app::Generation gen =
      g.generate({o.prompt}, {.max_new = o.max_new, .temperature = o.temperature, .top_p = o.top_p, .seed = o.seed}).at(0);
  const app::AttentionView v = app::attention_view(g, o.prompt, gen);
  const std::vector<Panel> panels = select_panels(v, o);
  const std::string search = o.temperature == 0.0 ? "greedy" : "sampled, temperature " + std::to_string(o.temperature);
  const std::string title = o.title.empty() ? model_title(*g.spec().model) + ", " + search + ": " + o.prompt : o.title;
  save_maps(v, panels, o, title);
  std::cout << "prompt        " << o.prompt << "\n"
            << "continuation  " << gen.text << (gen.ended ? "" : "  (not ended)") << "\n"
            << "wrote         " << o.out << " (" << panels.size() << (panels.size() == 1 ? " map" : " maps") << " over "
            << v.target_tokens.size() << " tokens)\n";
}

// The side of the square pictures a picture model reads (its image_size), and the picture of
// `file` checked against it.
data::GrayImage model_picture(const app::ModelBundle& b, const std::string& file, const std::string& model) {
  const std::map<std::string, std::string> config = b.spec.model->to_map();
  const int64_t side = std::stoll(config.at("image_size"));
  data::GrayImage im = data::read_png_gray(file);
  ATTEND_CHECK(im.rows == side && im.cols == side, "show", file, ": a picture of ", im.cols, "x", im.rows, " pixels; ",
               model, " (", b.spec.model->architecture(), ") reads ", side, "x", side);
  return im;
}

// The weights of row `row` of a [T, R] matrix (R = G * G regions) as a G x G grid.
// A classifier's classes by probability (probs [1, K]), the first three printed; returns the order.
std::vector<int64_t> print_top_classes(const Tensor& probs, const std::vector<std::string>& labels) {
  const float* p = probs.data<float>();
  std::vector<int64_t> order(static_cast<size_t>(probs.size(1)));
  for (size_t k = 0; k < order.size(); ++k) order[k] = static_cast<int64_t>(k);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t c) { return p[a] > p[c]; });
  std::cout << "class: " << labels[static_cast<size_t>(order[0])] << "\n";
  for (size_t i = 0; i < std::min<size_t>(3, order.size()); ++i)
    std::printf("  %-20s %.4f\n", labels[static_cast<size_t>(order[i])].c_str(), p[order[i]]);
  return order;
}

std::vector<float> grid_row(const Tensor& m, int64_t row) {
  const Tensor r = contiguous(to_dtype(slice(m, 0, row, row + 1), DType::f32));
  return std::vector<float>(r.data<float>(), r.data<float>() + r.numel());
}

// A picture model on one picture: a captioner's caption with the attention of every word over the
// picture, or a vision transformer's class with its attention rollout and each head of a layer.
void show_image(const app::ModelBundle& b, const ShowOptions& o) {
  ATTEND_CHECK(o.source.empty() && o.prompt.empty(), "show", o.model, " is ", b.architecture().name,
               ", which reads pictures: give --image FILE.png, not --source or --prompt");
  ATTEND_CHECK(!o.image.empty(), "show", o.model, " is ", b.architecture().name, ", which reads pictures: give --image FILE.png");
  const data::GrayImage im = model_picture(b, o.image, o.model);
  const Source src = data::image_source(im.pixels, im.rows, im.cols);
  const int rows = static_cast<int>(im.rows), cols = static_cast<int>(im.cols);
  std::vector<viz::Tile> tiles{{viz::gray_image(im.pixels, rows, cols), "input"}};
  const int scale = std::max(1, 192 / std::max(rows, cols));
  std::string title;
  if (b.model->task() == models::Task::classification) {
    auto& model = b.as<models::Classifier>(o.model, "show");
    Tensor probs;
    std::vector<models::AttentionMap> maps;
    {
      NoGrad no_grad;
      probs = contiguous(softmax(model.classify(src).logits, 1));  // [1, K]
      maps = model.attention_maps(src);
    }
    const std::vector<int64_t> order = print_top_classes(probs, b.spec.labels);
    const int64_t L = std::ssize(maps);
    ATTEND_CHECK(o.layer <= L, "show", "--layer ", o.layer, ": the model has ", L, " layers");
    const int64_t layer = o.layer > 0 ? o.layer - 1 : L - 1;
    // Row 0 (the class token) over the patches: rollout, then each head of the layer.
    const Tensor rollout = squeeze(models::attention_rollout(maps), 0);  // [T, T]
    const int64_t T = rollout.size(0);
    const int g = static_cast<int>(app::region_grid_side(T - 1));
    const auto patches = [&](const Tensor& m) {  // [T, T] -> the class token's weights over the patches
      std::vector<float> row = grid_row(m, 0);
      return std::vector<float>(row.begin() + 1, row.end());
    };
    tiles.push_back({viz::attention_overlay(im.pixels, rows, cols, patches(rollout), g, g), "rollout"});
    const Tensor w = squeeze(maps[static_cast<size_t>(layer)].weights, 0);  // [H, T, T]
    for (int64_t h = 0; h < w.size(0); ++h)
      tiles.push_back({viz::attention_overlay(im.pixels, rows, cols, patches(squeeze(slice(w, 0, h, h + 1), 0)), g, g),
                       "layer " + std::to_string(layer + 1) + " head " + std::to_string(h + 1)});
    title = o.model + ": " + b.spec.labels[static_cast<size_t>(order[0])] + " (class token's attention)";
  } else {
    auto& model = b.as<models::SequenceToSequence>(o.model, "show");
    const std::vector<app::Caption> caps = app::caption_images(model, b.vocab("target", o.model), src, o.beam, 1);
    const app::Caption& c = caps.at(0);
    std::cout << c.text << "\n";
    const Tensor& a = c.hypothesis.attention;  // [T, R]
    ATTEND_CHECK(a.defined(), "show", o.model, ": the search recorded no attention");
    const int g = static_cast<int>(app::region_grid_side(a.size(1)));
    for (int64_t t = 0; t < a.size(0); ++t) {
      const std::string word = t < std::ssize(c.words) ? c.words[static_cast<size_t>(t)] : "</s>";
      tiles.push_back({viz::attention_overlay(im.pixels, rows, cols, grid_row(a, t), g, g), word});
    }
    title = o.model + ": \"" + c.text + "\"";
  }
  viz::save(viz::picture_grid(tiles, 6, scale, o.title.empty() ? title : o.title), o.out);
  std::cerr << "wrote " << o.out << "\n";
}

// A text classifier: the class of --source and the pooling attention over its words, one row per
// hop (Lin et al.'s r hops; one row for additive pooling).
void show_classifier(const app::ModelBundle& b, const ShowOptions& o) {
  ATTEND_CHECK(!o.source.empty() && o.prompt.empty(), "show", o.model, " is a classifier: give --source TEXT");
  auto& model = b.as<models::Classifier>(o.model, "show");
  const std::vector<std::string> tokens = b.spec.source_tokenizer().tokenize(o.source);
  const std::vector<int64_t> ids = b.vocab("source", o.model).encode(tokens);
  ATTEND_CHECK(!ids.empty(), "show", "--source has no tokens");
  const auto S = static_cast<int64_t>(ids.size());
  const Source src = Source::of_token_rows({ids}, model.task_config().pad_id);
  Tensor probs, w;
  {
    NoGrad no_grad;
    probs = contiguous(softmax(model.classify(src).logits, 1));  // [1, K]
    const std::vector<models::AttentionMap> maps = model.attention_maps(src);
    ATTEND_CHECK(!maps.empty() && maps.front().kind == models::AttentionKind::pooling, "show", o.model,
                 ": the classifier pools without attention");
    w = squeeze(squeeze(maps.front().weights, 0), 1);  // [1, r, 1, S] -> [r, S]
  }
  const std::vector<int64_t> order = print_top_classes(probs, b.spec.labels);
  const std::string& top = b.spec.labels[static_cast<size_t>(order[0])];
  std::vector<std::string> hops;
  for (int64_t h = 0; h < w.size(0); ++h) hops.push_back(w.size(0) == 1 ? "pool" : "hop " + std::to_string(h + 1));
  char pct[32];
  std::snprintf(pct, sizeof pct, " (%.0f%%)", 100.0 * probs.data<float>()[order[0]]);
  const std::string title =
      o.title.empty() ? model_title(*b.spec.model) + ": " + top + pct + ", attention pooling per hop" : o.title;
  viz::save(viz::heatmap(w, {hops, labels(tokens)},
                         {.title = title, .colormap = o.cmap,
                          .values = o.values ? viz::CellValues::printed : viz::CellValues::hidden}),
            o.out);
  std::cout << "wrote " << o.out << " (" << w.size(0) << " hop(s) x " << S << " tokens)\n";
}

void run_show(const ShowOptions& opts) {
  ShowOptions o = opts;
  set_command_threads(o.threads);
  ATTEND_CHECK(o.beam >= 1, "show", "--beam must be >= 1, got ", o.beam);
  ATTEND_CHECK(o.attention.empty() || o.attention == "encoder" || o.attention == "decoder" || o.attention == "cross" ||
                   o.attention == "all",
               "show", "unknown --attention '", o.attention, "' (known: encoder, decoder, cross, all)");
  ATTEND_CHECK(o.alignment == "hard" || o.alignment == "soft", "show", "unknown --alignment '", o.alignment,
               "' (known: hard, soft)");
  ATTEND_CHECK(o.layer >= 0 && o.alignment_layer >= 0, "show", "--layer and --alignment-layer count from 1");
  for (const auto& [flag, text] : {std::pair{"--source", &o.source}, std::pair{"--prompt", &o.prompt}})
    if (const auto bad = data::utf8_invalid_offset(*text))
      throw Error("show", std::string(flag) + " is not valid UTF-8 (byte " + std::to_string(*bad) + ")");
  app::ModelBundle bundle = app::ModelBundle::load(o.model);
  o.cmap = resolve_colormap(o.colormap, *bundle.spec.model);
  if (bundle.architecture().source == SourceKind::features) return show_image(bundle, o);
  ATTEND_CHECK(o.image.empty(), "show", o.model, " is ", bundle.architecture().name,
               ", which reads text; --image is for the picture models (vit, sat)");
  if (bundle.model->task() == models::Task::language_model) return show_language_model(std::move(bundle), o);
  if (bundle.model->task() == models::Task::classification) return show_classifier(bundle, o);
  ATTEND_CHECK(o.prompt.empty(), "show", o.model, " is ", models::task_noun(bundle.model->task()),
               ": give --source, not --prompt");
  ATTEND_CHECK(!o.source.empty(), "show", "give the sentence to translate: --source TEXT");
  const app::Translator tr(std::move(bundle), o.model, "show");
  const models::ArchitectureInfo& arch = tr.architecture();
  ATTEND_CHECK(arch.has_attention, "show", o.model, ": the model is a '", arch.name,
               "' encoder-decoder, which has no attention to draw");
  ATTEND_CHECK(!tr.encode_source(o.source).empty(), "show", "--source has no tokens");

  const app::Translation t =
      tr.translate({o.source}, {.beam = o.beam, .alpha = o.alpha, .early_stop = o.early_stop}).at(0);
  const decode::Hypothesis& h = t.nbest.at(0);
  const std::string title = search_title(o, tr);
  std::string drew;
  if (o.attention.empty()) {
    const viz::Scene scene = viz::heatmap(
        h.attention,
        {labels(tr.target_vocab().decode(h.tokens, {.strip_special = false, .stop_at_eos = false})),
         labels(t.source_tokens)},
        {.title = title, .colormap = o.cmap, .values = o.values ? viz::CellValues::printed : viz::CellValues::hidden});
    viz::save(scene, o.out);
    drew = std::to_string(h.attention.size(0)) + " target x " + std::to_string(h.attention.size(1)) + " source tokens";
  } else {
    const app::AttentionView v = app::attention_view(tr, t);
    const std::vector<Panel> panels = select_panels(v, o);
    save_maps(v, panels, o, title);
    drew = std::to_string(panels.size()) + (panels.size() == 1 ? " map" : " maps");
  }

  const Tensor w = app::alignment_weights(tr, t, 0, {.layer = o.alignment_layer - 1});
  std::string alignment;
  if (w.numel() > 0)
    alignment = o.alignment == "hard" ? viz::format_pharaoh(viz::hard_alignment(w)) : viz::format_soft_alignment(w);
  std::cout << "source       " << o.source << "\n"
            << "translation  " << t.text.at(0) << "\n"
            << "score        " << h.score << (h.finished ? "" : "  (stopped at the maximum length)") << "\n"
            << "alignment    " << alignment << "\n"
            << "wrote        " << o.out << " (" << drew << ")\n";
}

}  // namespace

void add_show_command(CLI::App& app) {
  auto o = std::make_shared<ShowOptions>();
  CLI::App* c = app.add_subcommand("show", "Translate a sentence (or continue a prompt) and draw the attention (PNG, SVG or HTML)");
  c->footer(
      "A language model (attend train --arch gpt) continues --prompt (greedy unless --temperature)\n"
      "and every layer's and head's self-attention over the prompt and its continuation is drawn:\n"
      "a grid in a .png/.svg, or one HTML page to browse them.\n"
      "A sequence-to-sequence model translates --source. Without --attention: the attention the search\n"
      "used, one row per target token (</s> included), one column per source token, colour = weight.\n"
      "With --attention KIND (encoder, decoder, cross or all): every layer's and head's attention of\n"
      "that kind, as a grid (a row per layer, a column per head and the heads' mean) in a .png/.svg,\n"
      "or as one HTML page with a drop-down list for kind, layer and head (value under the pointer).\n"
      "Prints the translation and its alignment: hard = Pharaoh i-j links (argmax per target word),\n"
      "soft = each target word's weights over the source words; SentencePiece pieces are joined\n"
      "into words, and </s> is left out. In character-level labels a space is drawn as a middle dot.\n"
      "A picture model reads --image FILE.png (its own size, e.g. 28x28 for vit on Fashion-MNIST, 96x96\n"
      "for sat on scenes). sat: the caption, and for each word (and </s>) the attention over the\n"
      "regions upsampled and drawn over the picture. vit: the class, the attention rollout of the\n"
      "class token over the patches, and each head of --layer (default: the last).\n"
      "A text classifier (classifier) classifies --source: the class, and its attention pooling over\n"
      "the words, one row per hop.");
  c->add_option("-m,--model", o->model, "checkpoint of a model with attention")->required();
  c->add_option("-s,--source", o->source, "the sentence to translate (sequence-to-sequence models)");
  c->add_option("--prompt", o->prompt, "the text to continue (language models)");
  c->add_option("--image", o->image, "the picture (PNG) to caption or classify (sat, vit)");
  c->add_option("--max-new", o->max_new, "language models: tokens to generate")->capture_default_str();
  c->add_option("--temperature", o->temperature, "language models: sampling temperature (0 = greedy)")
      ->capture_default_str();
  c->add_option("--top-p", o->top_p, "language models: nucleus sampling mass")->capture_default_str();
  c->add_option("--seed", o->seed, "language models: sampling seed")->capture_default_str();
  c->add_option("-o,--out", o->out, "picture to write: .png, .svg or .html (interactive read-out)")->required();
  c->add_option("--beam", o->beam, "beam size (1 = greedy search)")->capture_default_str();
  c->add_option("--alpha", o->alpha, "gnmt length-penalty exponent")->capture_default_str();
  c->add_flag("--early-stop", o->early_stop,
              "beam search: stop once --beam hypotheses finished (faster; may miss a better one)");
  c->add_option("--attention", o->attention, "draw every map of a kind: encoder | decoder | cross | all");
  c->add_option("--layer", o->layer, "with --attention: only this layer (1-based; 0 = all)")->capture_default_str();
  c->add_option("--head", o->head, "with --attention: all (each head and their mean) | mean | N (1-based)")
      ->capture_default_str();
  c->add_option("--alignment", o->alignment, "printed alignment: hard | soft")->capture_default_str();
  c->add_option("--alignment-layer", o->alignment_layer,
                "decoder layer whose cross-attention (mean of the heads) aligns (1-based; 0 = the model's)")
      ->capture_default_str();
  c->add_option("--title", o->title, "title over the picture (default: model, search and sentence)");
  c->add_flag("--values", o->values, "print each weight in its cell");
  c->add_option("--colormap", o->colormap,
                "auto | viridis | blues (white at 0; auto: blues when the model's normalizer is not softmax, so "
                "the keys a sparse or structured normalizer left out are blank)")
      ->capture_default_str();
  c->add_option("--threads", o->threads, "threads (default: ATTEND_NUM_THREADS, else 1)");
  c->callback([o] { run_show(*o); });
}

}  // namespace attend::cli
