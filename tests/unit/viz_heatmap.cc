// Heat maps: layout, PNG round trip through libpng (an independent reader), SVG/HTML escaping and
// well-formedness, errors that name shapes.
#include <gtest/gtest.h>

#include "support/check.h"
#include <png.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include "attend/core/rng.h"
#include "attend/core/tensor.h"
#include "attend/viz/font.h"
#include "attend/viz/heatmap.h"
#include "attend/viz/render.h"

namespace attend::viz {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "attend_viz_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct PngPixels {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  Rgb at(int x, int y) const {
    const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3;
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
};

// Reads a PNG with libpng's own decoder, converted to 8-bit RGB.
PngPixels read_png_with_libpng(const fs::path& path) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  EXPECT_TRUE(png_image_begin_read_from_file(&img, path.c_str())) << img.message;
  img.format = PNG_FORMAT_RGB;
  PngPixels out;
  out.width = static_cast<int>(img.width);
  out.height = static_cast<int>(img.height);
  out.rgb.resize(PNG_IMAGE_SIZE(img));
  EXPECT_TRUE(png_image_finish_read(&img, nullptr, out.rgb.data(), 0, nullptr)) << img.message;
  return out;
}

const std::vector<std::string> kGerman = {"Die", "Größe", "des", "Modells", "ist", "nicht", "entscheidend", ".", "</s>"};
const std::vector<std::string> kEnglish = {"The", "size", "of", "the", "model", "is", "not"};

// A [7, 9] row-stochastic matrix from the project's RNG, peaked near a monotone alignment.
Tensor example_weights(uint64_t seed = 7) {
  Rng rng(seed);
  Tensor noise = Tensor::uniform(Shape{7, 9}, rng, 0.0, 1.0, DType::f64);
  std::vector<double> u = noise.to_vector<double>(), w(63);
  for (int q = 0; q < 7; ++q) {
    double sum = 0;
    for (int k = 0; k < 9; ++k) {
      const double centre = q * 8.0 / 6.0;
      w[static_cast<size_t>(q * 9 + k)] = std::exp(-std::abs(k - centre) * 1.6) + 0.15 * u[static_cast<size_t>(q * 9 + k)];
      sum += w[static_cast<size_t>(q * 9 + k)];
    }
    for (int k = 0; k < 9; ++k) w[static_cast<size_t>(q * 9 + k)] /= sum;
  }
  return Tensor::from_vector(w, Shape{7, 9});
}

std::vector<RectItem> cells(const Scene& s) {
  std::vector<RectItem> out;
  for (const auto& item : s.items)
    if (const auto* r = std::get_if<RectItem>(&item); r && r->cell) out.push_back(*r);
  return out;
}

std::vector<TextItem> texts(const Scene& s) {
  std::vector<TextItem> out;
  for (const auto& item : s.items)
    if (const auto* t = std::get_if<TextItem>(&item)) out.push_back(*t);
  return out;
}

// Balanced tags, ignoring <!...> and <?...?>; text and attribute values may hold '&' only as
// one of the five XML entities or a numeric reference. Returns "" or what is wrong.
std::string xml_problems(const std::string& doc) {
  std::vector<std::string> stack;
  size_t i = 0;
  while (i < doc.size()) {
    if (doc[i] == '&') {
      const size_t semi = doc.find(';', i);
      if (semi == std::string::npos) return "unterminated entity at " + std::to_string(i);
      const std::string ent = doc.substr(i, semi - i + 1);
      if (ent != "&amp;" && ent != "&lt;" && ent != "&gt;" && ent != "&quot;" && ent != "&apos;" &&
          ent.rfind("&#", 0) != 0)
        return "bad entity " + ent;
      i = semi + 1;
      continue;
    }
    if (doc[i] != '<') {
      ++i;
      continue;
    }
    const size_t close = doc.find('>', i);
    if (close == std::string::npos) return "unterminated tag at " + std::to_string(i);
    const std::string tag = doc.substr(i + 1, close - i - 1);
    i = close + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '!' || tag[0] == '?') continue;
    // Attribute values must not contain raw '<' or '"' (we always quote with ").
    if (tag.find('<') != std::string::npos) return "'<' inside tag <" + tag + ">";
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) return "odd quotes in <" + tag + ">";
    for (size_t a = tag.find('&'); a != std::string::npos; a = tag.find('&', a + 1)) {
      const std::string rest = tag.substr(a, 7);
      if (rest.rfind("&amp;", 0) != 0 && rest.rfind("&lt;", 0) != 0 && rest.rfind("&gt;", 0) != 0 &&
          rest.rfind("&quot;", 0) != 0 && rest.rfind("&apos;", 0) != 0)
        return "raw '&' in <" + tag + ">";
    }
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return "</" + name + "> closes <" + (stack.empty() ? "" : stack.back()) + ">";
      stack.pop_back();
    } else if (tag.back() != '/') {
      const std::string name = tag.substr(0, tag.find_first_of(" \t\n"));
      if (name != "meta") stack.push_back(name);  // HTML void element
    }
  }
  if (!stack.empty()) return "<" + stack.back() + "> never closed";
  return "";
}

TEST(VizHeatmap, PngRoundTripDimensionsAndCellColours) {
  TempDir dir;
  const Tensor w = example_weights();
  for (Colormap cm : {Colormap::viridis, Colormap::blues}) {
    const Scene s = heatmap(w, {.query = kEnglish, .key = kGerman}, {.title = "attention", .colormap = cm});
    const fs::path file = dir.path() / "map.png";
    save(s, file);
    const PngPixels png = read_png_with_libpng(file);
    ASSERT_EQ(png.width, s.width);
    ASSERT_EQ(png.height, s.height);
    const std::vector<double> v = w.to_vector<double>();
    const double vmax = *std::max_element(v.begin(), v.end());
    const auto cs = cells(s);
    ASSERT_EQ(cs.size(), 63u);
    for (const RectItem& r : cs) {
      const double value = v[static_cast<size_t>(r.cell->query * 9 + r.cell->key)];
      const Rgb expect = map_color(cm, value / vmax);
      EXPECT_EQ(png.at(r.x + 1, r.y + 1), expect) << "cell " << r.cell->query << "," << r.cell->key;
      EXPECT_EQ(png.at(r.x + r.w - 2, r.y + r.h - 2), expect);
    }
    // Maximum is the top of the scale: its cell has the colour map's end colour.
    EXPECT_EQ(map_color(cm, 1.0), map_color(cm, vmax / vmax));
  }
}

TEST(VizHeatmap, PngWriteLeavesNoTemporaryAndReplacesOldFile) {
  TempDir dir;
  const fs::path file = dir.path() / "map.png";
  std::ofstream(file) << "old contents";
  save(heatmap(example_weights(), {.query = kEnglish, .key = kGerman}), file);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "map.png");
  }
  EXPECT_EQ(entries, 1);
  std::ifstream in(file, std::ios::binary);
  char sig[8] = {};
  in.read(sig, 8);
  EXPECT_EQ(std::string(sig + 1, 3), "PNG");
}

TEST(VizHeatmap, WriteToMissingDirectoryNamesPath) {
  try {
    save(heatmap(example_weights(), {}), "/nonexistent_attend_dir/x.png");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[write_file_atomic]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/nonexistent_attend_dir"), std::string::npos) << e.what();
  }
}

TEST(VizHeatmap, LabelsAreInkedLeftOfEachRowAndAboveEachColumn) {
  const Scene s = heatmap(example_weights(), {.query = kEnglish, .key = kGerman});
  const Image im = rasterize(s);
  const auto cs = cells(s);
  auto has_ink = [&](int x0, int y0, int x1, int y1) {
    for (int y = std::max(0, y0); y < std::min(im.height, y1); ++y)
      for (int x = std::max(0, x0); x < std::min(im.width, x1); ++x)
        if (luminance(im.pixel(x, y)) < 0.3) return true;
    return false;
  };
  for (const RectItem& r : cs) {
    if (r.cell->key == 0) { EXPECT_TRUE(has_ink(0, r.y, r.x - 1, r.y + r.h)) << "row " << r.cell->query; }
    if (r.cell->query == 0) { EXPECT_TRUE(has_ink(r.x, 0, r.x + r.w, r.y - 1)) << "column " << r.cell->key; }
  }
  // "entscheidend" is wider than a 28 px cell, so the key labels are rotated and the band above
  // the grid is at least as tall as that label.
  EXPECT_GE(cs.front().y, text_width("entscheidend"));
  for (const TextItem& t : texts(s))
    if (t.text == "entscheidend") { EXPECT_EQ(t.direction, TextDirection::vertical_up); }
}

TEST(VizHeatmap, ShortKeyLabelsStayHorizontal) {
  const Scene s = heatmap(Tensor::ones(Shape{2, 3}), {.query = {"a", "b"}, .key = {"x", "y", "z"}});
  for (const TextItem& t : texts(s))
    if (t.text == "x") { EXPECT_EQ(t.direction, TextDirection::horizontal); }
}

TEST(VizHeatmap, NothingIsClippedAtThePictureEdges) {
  const Scene s = heatmap(example_weights(), {.query = kEnglish, .key = kGerman},
                          {.title = "A rather long title that is wider than the grid itself, surely"});
  for (const TextItem& t : texts(s)) {
    const int w = text_width(t.text);
    const int u0 = t.align == TextAlign::start ? 0 : t.align == TextAlign::middle ? -w / 2 : -w;
    if (t.direction == TextDirection::horizontal) {
      EXPECT_GE(t.x + u0, 0) << t.text;
      EXPECT_LE(t.x + u0 + w, s.width) << t.text;
      EXPECT_GE(t.y, 0) << t.text;
      EXPECT_LE(t.y + kGlyphHeight, s.height) << t.text;
    } else {
      EXPECT_GE(t.y - u0 - w, 0) << t.text;
      EXPECT_LE(t.x + kGlyphHeight, s.width) << t.text;
    }
  }
}

TEST(VizHeatmap, ColourBarScaleRunsFromZeroToMax) {
  const Tensor w = Tensor::from_vector(std::vector<double>{0.1, 0.4, 0.2, 0.8}, Shape{2, 2});
  const Scene s = heatmap(w, {});
  std::vector<std::string> ticks;
  int bars = 0;
  for (const auto& item : s.items) bars += std::holds_alternative<ColorBarItem>(item);
  for (const TextItem& t : texts(s))
    if (t.text.find('.') != std::string::npos) ticks.push_back(t.text);
  EXPECT_EQ(bars, 1);
  EXPECT_EQ(ticks, (std::vector<std::string>{"0.00", "0.20", "0.40", "0.60", "0.80"}));
}

TEST(VizHeatmap, PrintedValuesUseContrastingInk) {
  const Tensor w = Tensor::from_vector(std::vector<double>{0.0, 1.0}, Shape{1, 2});
  const Scene s = heatmap(w, {.query = {"q"}, .key = {"a", "b"}}, {.values = CellValues::printed});
  bool dark_on_light = false, light_on_dark = false;
  for (const TextItem& t : texts(s)) {
    if (t.text == ".00") light_on_dark = t.color == Rgb{255, 255, 255};  // viridis(0) is dark purple
    if (t.text == "1.00") dark_on_light = luminance(t.color) < 0.2;       // viridis(1) is yellow
  }
  EXPECT_TRUE(light_on_dark);
  EXPECT_TRUE(dark_on_light);
}

TEST(VizHeatmap, SvgEscapesLabelsAndIsWellFormed) {
  const std::vector<std::string> keys = {"<", "&", "\"q\"", "it's", "Größe", "a>b", "\x01", "\xff"};
  const Scene s = heatmap(Tensor::ones(Shape{2, 8}), {.query = {"x<y", "R&D"}, .key = keys},
                          {.title = "<script>alert(1)</script>"});
  const std::string svg = to_svg(s);
  EXPECT_EQ(xml_problems(svg), "");
  for (const char* want : {"&lt;", "&amp;", "&quot;q&quot;", "it&apos;s", "Größe", "a&gt;b", "x&lt;y", "R&amp;D",
                           "&lt;script&gt;alert(1)&lt;/script&gt;", "data-k=\"Größe\"", "\xEF\xBF\xBD"})
    EXPECT_NE(svg.find(want), std::string::npos) << want;
  EXPECT_EQ(svg.find("<script>"), std::string::npos);
  EXPECT_EQ(svg.find('\x01'), std::string::npos);
  EXPECT_EQ(svg.find("\xff"), std::string::npos);
  // Real <text> elements: one per label at least.
  size_t n = 0;
  for (size_t p = svg.find("<text"); p != std::string::npos; p = svg.find("<text", p + 1)) ++n;
  EXPECT_GE(n, keys.size() + 2);
}

TEST(VizHeatmap, HtmlIsSelfContainedWithPointerReadout) {
  const Scene s = heatmap(example_weights(), {.query = kEnglish, .key = kGerman}, {.title = "Größe & <Modell>"});
  const std::string html = to_html(s);
  EXPECT_EQ(xml_problems(html.substr(html.find("<html"))), "");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("<title>Größe &amp; &lt;Modell&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("addEventListener('mousemove'"), std::string::npos);
  EXPECT_NE(html.find("data-q=\"The\" data-k=\"Größe\""), std::string::npos);
  // No external resources: the only URL is the SVG namespace.
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href"), std::string::npos);
  size_t urls = 0;
  for (size_t p = html.find("://"); p != std::string::npos; p = html.find("://", p + 1)) ++urls;
  EXPECT_EQ(urls, 1u);
}

TEST(VizHeatmap, NonAsciiLabelsKeepTheirWidth) {
  EXPECT_EQ(text_width("Größe"), 5 * kGlyphWidth);
  EXPECT_EQ(text_width("日本語"), 3 * kGlyphWidth);
  EXPECT_EQ(decode_utf8("a\xff" "b"), std::u32string(U"a\uFFFDb"));
  EXPECT_EQ(decode_utf8("\xC0\xAF"), std::u32string(U"\uFFFD\uFFFD"));  // overlong '/'
  EXPECT_NE(glyph_rows(U'ö'), nullptr);
  EXPECT_EQ(glyph_rows(U'日'), nullptr);
  EXPECT_EQ(truncate_label("abcdefghij", 6), "abc...");
  EXPECT_EQ(truncate_label("Größe", 6), "Größe");
  // A label of boxes is drawn: ink where the placeholder box is.
  const Scene s = heatmap(Tensor::ones(Shape{1, 1}), {.query = {"日本"}, .key = {"k"}});
  const Image im = rasterize(s);
  const RectItem c = cells(s).front();
  int ink = 0;
  for (int y = c.y; y < c.y + c.h; ++y)
    for (int x = 0; x < c.x - 1; ++x) ink += luminance(im.pixel(x, y)) < 0.3;
  EXPECT_EQ(ink, 2 * (2 * 5 + 2 * 7));  // two 5 x 9 box outlines
}

TEST(VizHeatmap, MultiHeadGridSharesOneScale) {
  Rng rng(3);
  const Tensor w = Tensor::uniform(Shape{4, 3, 5}, rng, 0.0, 1.0, DType::f32);
  const Scene s = multihead_heatmap(w, {.query = {"a", "b", "c"}, .key = {"v", "w", "x", "y", "z"}}, {.title = "heads"});
  const auto cs = cells(s);
  ASSERT_EQ(cs.size(), 60u);
  const std::vector<double> v = w.to_vector<double>();
  const double vmax = *std::max_element(v.begin(), v.end());
  const Image im = rasterize(s);
  std::vector<int> per_head(4);
  for (const RectItem& r : cs) {
    ++per_head[static_cast<size_t>(r.cell->head)];
    const double value = v[static_cast<size_t>((r.cell->head * 3 + r.cell->query) * 5 + r.cell->key)];
    EXPECT_EQ(im.pixel(r.x + 2, r.y + 2), map_color(Colormap::viridis, value / vmax));
  }
  EXPECT_EQ(per_head, (std::vector<int>{15, 15, 15, 15}));
  int captions = 0, bars = 0;
  for (const TextItem& t : texts(s)) captions += t.text.rfind("head ", 0) == 0;
  for (const auto& item : s.items) bars += std::holds_alternative<ColorBarItem>(item);
  EXPECT_EQ(captions, 4);
  EXPECT_EQ(bars, 1);
  // 2 x 2 grid: head 1 to the right of head 0, head 2 below it.
  auto first = [&](int64_t h) {
    for (const RectItem& r : cs)
      if (r.cell->head == h) return r;
    return RectItem{};
  };
  EXPECT_GT(first(1).x, first(0).x);
  EXPECT_EQ(first(1).y, first(0).y);
  EXPECT_EQ(first(2).x, first(0).x);
  EXPECT_GT(first(2).y, first(0).y);
  EXPECT_NE(to_svg(s).find("data-h=\"3\""), std::string::npos);
}

TEST(VizHeatmap, CaptionsNameTheMapsInTheGridAndTheReadout) {
  const Tensor w = Tensor::ones(Shape{3, 2, 2}, DType::f32);
  const std::vector<std::string> captions{"layer 1 head 1", "layer 1 mean", "layer 2 head 1"};
  const Scene s = multihead_heatmap(w, {}, {.columns = 2, .captions = captions});
  EXPECT_EQ(s.panel_captions, captions);
  for (const std::string& c : captions) {
    const auto ts = texts(s);
    EXPECT_EQ(std::count_if(ts.begin(), ts.end(), [&](const TextItem& t) { return t.text == c; }), 1) << c;
  }
  EXPECT_NE(to_svg(s).find("data-h=\"1\" data-c=\"layer 1 mean\""), std::string::npos);
  EXPECT_NE(to_html(s).find("d.c + "), std::string::npos);
  test::expect_error([&] { multihead_heatmap(w, {}, {.captions = {"one"}}); }, "[heatmap]", {"1 captions for 3 maps"});
}

TEST(VizHeatmap, BrowserShowsOnePageAtATimeChosenByItsKeys) {
  std::vector<BrowserPage> pages;
  for (const char* kind : {"encoder", "cross"})
    for (const char* head : {"head 1", "mean"})
      pages.push_back({.keys = {kind, "layer 1", head},
                       .scene = heatmap(example_weights(), {.query = kEnglish, .key = kGerman}, {.title = kind})});
  const std::string html = browser_html(pages, {"attention", "layer", "head"}, "Größe & <Modell>");
  EXPECT_EQ(xml_problems(html.substr(html.find("<html"))), "");
  EXPECT_NE(html.find("<title>Größe &amp; &lt;Modell&gt;</title>"), std::string::npos);
  // One drop-down list per selector, with the keys in order of first appearance, each once.
  EXPECT_NE(html.find("<select data-s=\"0\"><option>encoder</option><option>cross</option></select>"),
            std::string::npos);
  EXPECT_NE(html.find("<select data-s=\"1\"><option>layer 1</option></select>"), std::string::npos);
  EXPECT_NE(html.find("<select data-s=\"2\"><option>head 1</option><option>mean</option></select>"),
            std::string::npos);
  size_t svgs = 0, divs = 0;
  for (size_t p = html.find("<svg "); p != std::string::npos; p = html.find("<svg ", p + 1)) ++svgs;
  for (size_t p = html.find("<div class=\"page\""); p != std::string::npos; p = html.find("<div class=\"page\"", p + 1))
    ++divs;
  EXPECT_EQ(svgs, 4u);
  EXPECT_EQ(divs, 4u);
  // Every id is the document's only one: url(#id) resolves to the first element of that id, and a
  // hidden page's gradient draws nothing in a browser (each page's colour bar would be blank).
  std::set<std::string> ids;
  size_t id_count = 0;
  for (size_t p = html.find(" id=\""); p != std::string::npos; p = html.find(" id=\"", p + 1), ++id_count)
    ids.insert(html.substr(p + 5, html.find('"', p + 5) - (p + 5)));
  EXPECT_GE(id_count, 4u);
  EXPECT_EQ(ids.size(), id_count);
  EXPECT_NE(html.find("data-k0=\"cross\" data-k1=\"layer 1\" data-k2=\"mean\""), std::string::npos);
  EXPECT_NE(html.find("addEventListener('mousemove'"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  test::expect_error([] { browser_html({}, {"a"}, "t"); }, "[browser_html]", {"no pages"});
  test::expect_error([&] { browser_html(pages, {"attention"}, "t"); }, "[browser_html]",
                     {"page 0 has 3 keys for 1 selectors"});
}

TEST(VizHeatmap, SentencePieceWordMarkHasAGlyph) {
  const uint8_t* rows = glyph_rows(U'\u2581');
  ASSERT_NE(rows, nullptr);
  EXPECT_EQ(rows[12], 0xFC);
  EXPECT_EQ(rows[0], 0);
}

TEST(VizHeatmap, BadInputLabelCountsNameTheShapes) {
  try {
    heatmap(example_weights(), {.query = {"a", "b", "c", "d", "e", "f"}, .key = kGerman});
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("[heatmap]", 0), 0u) << m;
    EXPECT_NE(m.find("[7, 9]"), std::string::npos) << m;
    EXPECT_NE(m.find("got 6 query and 9 key"), std::string::npos) << m;
  }
  EXPECT_THROW(heatmap(example_weights(), {.query = kEnglish, .key = kEnglish}), Error);
  EXPECT_THROW(multihead_heatmap(Tensor::ones(Shape{2, 7, 9}), {.query = kEnglish, .key = {"x"}}), Error);
}

using test::error_of;

TEST(VizHeatmap, SmallCellsLabelEveryFewRowsOnly) {
  // 6 px cells: a 13 px line of text covers three rows, so every third row/column is labelled.
  const Scene s = heatmap(Tensor::ones(Shape{7, 9}), {}, {.cell_size = 6});
  int labels = 0;
  for (const TextItem& t : texts(s)) labels += t.text.find('.') == std::string::npos;
  EXPECT_EQ(labels, 3 + 3);  // rows 0, 3, 6 and columns 0, 3, 6
}

TEST(VizHeatmap, BadInputRankValuesAndOptions) {
  try {
    heatmap(Tensor::ones(Shape{2, 3, 4}), {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[heatmap] weights must be [Tq, Tk], got [2, 3, 4]"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(multihead_heatmap(Tensor::ones(Shape{3, 4}), {}), Error);
  EXPECT_THROW(heatmap(Tensor::ones(Shape{0, 4}), {}), Error);
  try {
    heatmap(Tensor::from_vector(std::vector<double>{0.5, NAN}, Shape{1, 2}), {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight at [0, 1] of [1, 2] is nan"), std::string::npos) << e.what();
  }
  EXPECT_THROW(heatmap(Tensor::ones(Shape{2, 2}), {}, {.cell_size = 2}), Error);
  EXPECT_THROW(heatmap(Tensor::ones(Shape{2, 2}), {}, {.vmin = 1.0, .vmax = 0.5}), Error);
  EXPECT_THROW(multihead_heatmap(Tensor::ones(Shape{2, 2, 2}), {}, {.columns = -1}), Error);
  EXPECT_THROW(save(heatmap(Tensor::ones(Shape{2, 2}), {}), "picture.jpg"), Error);
  EXPECT_NE(error_of([] { heatmap(Tensor::ones(Shape{4000, 3}), {}); }).find("[heatmap] weights [4000, 3] at 28 px"),
            std::string::npos);
}

// Renders the documentation pictures when ATTEND_VIZ_DOCS_DIR names a directory (see
// docs/images/README.md); otherwise renders them into a temporary directory and checks them.
TEST(VizHeatmap, ExamplePictures) {
  TempDir tmp;
  const char* env = std::getenv("ATTEND_VIZ_DOCS_DIR");
  const fs::path dir = env ? fs::path(env) : tmp.path();
  const Scene one = heatmap(example_weights(), {.query = kEnglish, .key = kGerman},
                            {.title = "Die Größe des Modells -> The size of the model",
                             .colormap = Colormap::viridis, .values = CellValues::printed});
  save(one, dir / "heatmap_de_en.png");
  save(one, dir / "heatmap_de_en.svg");
  save(one, dir / "heatmap_de_en.html");
  Rng rng(11);
  Tensor scores = Tensor::randn(Shape{4, 7, 9}, rng, DType::f64);
  std::vector<double> v = scores.to_vector<double>();
  for (size_t row = 0; row < v.size() / 9; ++row) {  // softmax over keys, sharpened
    double mx = -1e300, sum = 0;
    for (size_t k = 0; k < 9; ++k) mx = std::max(mx, 2.5 * v[row * 9 + k]);
    for (size_t k = 0; k < 9; ++k) sum += v[row * 9 + k] = std::exp(2.5 * v[row * 9 + k] - mx);
    for (size_t k = 0; k < 9; ++k) v[row * 9 + k] /= sum;
  }
  const Scene heads = multihead_heatmap(Tensor::from_vector(v, Shape{4, 7, 9}), {.query = kEnglish, .key = kGerman},
                                        {.title = "4 heads", .colormap = Colormap::blues});
  save(heads, dir / "heatmap_heads.png");
  EXPECT_EQ(read_png_with_libpng(dir / "heatmap_de_en.png").width, one.width);
  EXPECT_EQ(read_png_with_libpng(dir / "heatmap_heads.png").height, heads.height);
}

}  // namespace
}  // namespace attend::viz
