#include "attend/viz/render.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "attend/core/error.h"
#include "attend/io/atomic_file.h"
#include "attend/io/base64.h"
#include "attend/viz/font.h"

namespace attend::viz {
namespace {

void check_picture(const PictureItem& p) {
  ATTEND_CHECK(p.src_w > 0 && p.src_h > 0 && p.w >= 0 && p.h >= 0 &&
                   p.rgb.size() == static_cast<size_t>(p.src_w) * static_cast<size_t>(p.src_h) * 3,
               "scene", "picture of ", p.src_w, "x", p.src_h, " with ", p.rgb.size(), " bytes is not a ", p.src_w, "x",
               p.src_h, "x3 raster");
}

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

class Canvas {
 public:
  explicit Canvas(Image& im) : im_(im) {}
  void put(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= im_.width || y >= im_.height) return;
    const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(im_.width) + static_cast<size_t>(x)) * 3;
    im_.rgb[i] = c.r;
    im_.rgb[i + 1] = c.g;
    im_.rgb[i + 2] = c.b;
  }
  void fill(int x, int y, int w, int h, Rgb c) {
    const int x0 = std::max(x, 0), y0 = std::max(y, 0);
    const int x1 = std::min(x + w, im_.width), y1 = std::min(y + h, im_.height);
    for (int yy = y0; yy < y1; ++yy)
      for (int xx = x0; xx < x1; ++xx) put(xx, yy, c);
  }

 private:
  Image& im_;
};

int align_offset(TextAlign a, int w) {
  switch (a) {
    case TextAlign::start: return 0;
    case TextAlign::middle: return -w / 2;
    case TextAlign::end: return -w;
  }
  return 0;
}

void draw_text(Canvas& cv, const TextItem& t) {
  const std::u32string cps = decode_utf8(t.text);
  const int w = static_cast<int>(cps.size()) * kGlyphWidth;
  const int u0 = align_offset(t.align, w);
  auto plot = [&](int u, int v) {
    if (t.direction == TextDirection::horizontal)
      cv.put(t.x + u, t.y + v, t.color);
    else
      cv.put(t.x + v, t.y - u - 1, t.color);
  };
  for (size_t k = 0; k < cps.size(); ++k) {
    const int base = u0 + static_cast<int>(k) * kGlyphWidth;
    if (const uint8_t* rows = glyph_rows(cps[k])) {
      for (int v = 0; v < kGlyphHeight; ++v)
        for (int c = 0; c < kGlyphWidth; ++c)
          if (rows[v] & (0x80 >> c)) plot(base + c, v);
    } else {  // placeholder box from the cap line (row 2) to the baseline row (10), 5 wide
      for (int c = 0; c < 5; ++c) plot(base + c, 2), plot(base + c, 10);
      for (int v = 2; v <= 10; ++v) plot(base, v), plot(base + 4, v);
    }
  }
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

const char* anchor(TextAlign a) {
  switch (a) {
    case TextAlign::start: return "start";
    case TextAlign::middle: return "middle";
    case TextAlign::end: return "end";
  }
  return "start";
}

std::string token_at(const std::vector<std::string>& tokens, int64_t i) {
  if (i >= 0 && static_cast<size_t>(i) < tokens.size()) return tokens[static_cast<size_t>(i)];
  return std::to_string(i);
}

std::string lower_ext(const std::filesystem::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return e;
}

}  // namespace

Rgb Image::pixel(int x, int y) const {
  ATTEND_CHECK(x >= 0 && y >= 0 && x < width && y < height, "image", "pixel (", x, ", ", y,
               ") outside a ", width, "x", height, " image");
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3;
  return {rgb[i], rgb[i + 1], rgb[i + 2]};
}

Image rasterize(const Scene& scene) {
  ATTEND_CHECK(scene.width > 0 && scene.height > 0, "png", "scene of size ", scene.width, "x",
               scene.height, " has no pixels");
  Image im{.width = scene.width, .height = scene.height,
           .rgb = std::vector<uint8_t>(static_cast<size_t>(scene.width) * static_cast<size_t>(scene.height) * 3)};
  Canvas cv(im);
  cv.fill(0, 0, im.width, im.height, scene.background);
  for (const SceneItem& item : scene.items) {
    std::visit(Overloaded{
                   [&](const RectItem& r) { cv.fill(r.x, r.y, r.w, r.h, r.fill); },
                   [&](const FrameItem& f) {
                     cv.fill(f.x, f.y, f.w, 1, f.stroke);
                     cv.fill(f.x, f.y + f.h - 1, f.w, 1, f.stroke);
                     cv.fill(f.x, f.y, 1, f.h, f.stroke);
                     cv.fill(f.x + f.w - 1, f.y, 1, f.h, f.stroke);
                   },
                   [&](const TextItem& t) { draw_text(cv, t); },
                   [&](const LineItem& l) {
                     // Bresenham, stamping a width x width square at each step.
                     const int dx = std::abs(l.x1 - l.x0), dy = -std::abs(l.y1 - l.y0);
                     const int sx = l.x0 < l.x1 ? 1 : -1, sy = l.y0 < l.y1 ? 1 : -1;
                     const int half = (l.width - 1) / 2;
                     int x = l.x0, y = l.y0, err = dx + dy;
                     for (;;) {
                       cv.fill(x - half, y - half, l.width, l.width, l.stroke);
                       if (x == l.x1 && y == l.y1) break;
                       const int e2 = 2 * err;
                       if (e2 >= dy) err += dy, x += sx;
                       if (e2 <= dx) err += dx, y += sy;
                     }
                   },
                   [&](const ColorBarItem& b) {
                     for (int r = 0; r < b.h; ++r) {
                       const double t = b.h == 1 ? 1.0 : 1.0 - static_cast<double>(r) / (b.h - 1);
                       cv.fill(b.x, b.y + r, b.w, 1, map_color(b.colormap, t));
                     }
                   },
                   [&](const PictureItem& p) {
                     check_picture(p);
                     for (int y = 0; y < p.h; ++y)
                       for (int x = 0; x < p.w; ++x) {
                         const size_t at = (static_cast<size_t>(y * p.src_h / p.h) * static_cast<size_t>(p.src_w) +
                                            static_cast<size_t>(x * p.src_w / p.w)) * 3;
                         cv.fill(p.x + x, p.y + y, 1, 1, Rgb{p.rgb[at], p.rgb[at + 1], p.rgb[at + 2]});
                       }
                   },
               },
               item);
  }
  return im;
}

std::string encode_png(const Image& image, const std::string& what) {
  ATTEND_CHECK(image.width > 0 && image.height > 0 &&
                   image.rgb.size() == static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3,
               "png", what, ": image of ", image.width, "x", image.height, " with ", image.rgb.size(),
               " bytes is not a ", image.width, "x", image.height, "x3 raster");
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = PNG_FORMAT_RGB;
  const png_int_32 stride = image.width * 3;
  png_alloc_size_t size = 0;
  // First call measures, second one writes.
  if (!png_image_write_to_memory(&png, nullptr, &size, 0, image.rgb.data(), stride, nullptr)) {
    const std::string why = png.message;
    png_image_free(&png);
    throw Error("png", "cannot encode " + what + ": " + why);
  }
  std::string bytes(size, '\0');
  if (!png_image_write_to_memory(&png, bytes.data(), &size, 0, image.rgb.data(), stride, nullptr)) {
    const std::string why = png.message;
    png_image_free(&png);
    throw Error("png", "cannot encode " + what + ": " + why);
  }
  bytes.resize(size);
  return bytes;
}

void write_png(const Image& image, const std::filesystem::path& path) {
  io::write_file_atomic(path.string(), encode_png(image, path.string()));
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : decode_utf8(text)) {
    switch (c) {
      case U'&': out += "&amp;"; break;
      case U'<': out += "&lt;"; break;
      case U'>': out += "&gt;"; break;
      case U'"': out += "&quot;"; break;
      case U'\'': out += "&apos;"; break;
      default:
        if ((c < 0x20 && c != U'\t' && c != U'\n' && c != U'\r') || c == 0xFFFE || c == 0xFFFF)
          c = U'\uFFFD';
        append_utf8(out, c);
    }
  }
  return out;
}

namespace {

// to_svg with `id_prefix` before every element id, so that several SVGs in one HTML document do
// not share ids: url(#id) takes the document's first element of that id, and a browser draws no
// gradient from a hidden (display: none) page, so a shared id left every colour bar but the first
// page's blank in browser_html.
std::string svg_with_ids(const Scene& scene, const std::string& id_prefix) {
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << scene.width << "\" height=\"" << scene.height
     << "\" viewBox=\"0 0 " << scene.width << ' ' << scene.height
     << "\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"10\">\n";
  os << "<title>" << xml_escape(scene.title) << "</title>\n";
  os << "<rect width=\"" << scene.width << "\" height=\"" << scene.height << "\" fill=\"" << hex(scene.background)
     << "\"/>\n";
  int gradient = 0;
  for (const SceneItem& item : scene.items) {
    std::visit(
        Overloaded{
            [&](const RectItem& r) {
              os << "<rect x=\"" << r.x << "\" y=\"" << r.y << "\" width=\"" << r.w << "\" height=\"" << r.h
                 << "\" fill=\"" << hex(r.fill) << "\" shape-rendering=\"crispEdges\"";
              if (r.cell) {
                const CellInfo& c = *r.cell;
                if (c.head >= 0) os << " data-h=\"" << c.head << '"';
                if (c.head >= 0 && static_cast<size_t>(c.head) < scene.panel_captions.size())
                  os << " data-c=\"" << xml_escape(scene.panel_captions[static_cast<size_t>(c.head)]) << '"';
                os << " data-qi=\"" << c.query << "\" data-ki=\"" << c.key << "\" data-q=\""
                   << xml_escape(token_at(scene.query_tokens, c.query)) << "\" data-k=\""
                   << xml_escape(token_at(scene.key_tokens, c.key)) << "\" data-v=\"" << num(c.value) << '"';
              }
              os << "/>\n";
            },
            [&](const FrameItem& f) {
              os << "<rect x=\"" << f.x + 0.5 << "\" y=\"" << f.y + 0.5 << "\" width=\"" << f.w - 1
                 << "\" height=\"" << f.h - 1 << "\" fill=\"none\" stroke=\"" << hex(f.stroke)
                 << "\" stroke-width=\"1\"/>\n";
            },
            [&](const TextItem& t) {
              os << "<text";
              if (t.direction == TextDirection::horizontal)
                os << " x=\"" << t.x << "\" y=\"" << t.y + kGlyphAscent << '"';
              else
                os << " transform=\"translate(" << t.x << ' ' << t.y << ") rotate(-90)\" x=\"0\" y=\"" << kGlyphAscent
                   << '"';
              os << " text-anchor=\"" << anchor(t.align) << "\" fill=\"" << hex(t.color) << "\">" << xml_escape(t.text)
                 << "</text>\n";
            },
            [&](const LineItem& l) {
              os << "<line x1=\"" << l.x0 + 0.5 << "\" y1=\"" << l.y0 + 0.5 << "\" x2=\"" << l.x1 + 0.5 << "\" y2=\""
                 << l.y1 + 0.5 << "\" stroke=\"" << hex(l.stroke) << "\" stroke-width=\"" << l.width
                 << "\" stroke-linecap=\"square\"/>\n";
            },
            [&](const PictureItem& p) {
              check_picture(p);
              const Image im{.width = p.src_w, .height = p.src_h, .rgb = p.rgb};
              os << "<image x=\"" << p.x << "\" y=\"" << p.y << "\" width=\"" << p.w << "\" height=\"" << p.h
                 << "\" preserveAspectRatio=\"none\" style=\"image-rendering: pixelated\" href=\"data:image/png;base64,"
                 << io::base64_encode(encode_png(im, "svg picture")) << "\"/>\n";
            },
            [&](const ColorBarItem& b) {
              const std::string id = id_prefix + "colorbar" + std::to_string(gradient++);
              os << "<defs><linearGradient id=\"" << id << "\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
              constexpr int kStops = 32;
              for (int s = 0; s <= kStops; ++s) {
                const double t = static_cast<double>(s) / kStops;
                os << "<stop offset=\"" << num(t) << "\" stop-color=\"" << hex(map_color(b.colormap, t)) << "\"/>";
              }
              os << "</linearGradient></defs>\n";
              os << "<rect x=\"" << b.x << "\" y=\"" << b.y << "\" width=\"" << b.w << "\" height=\"" << b.h
                 << "\" fill=\"url(#" << id << ")\"/>\n";
            },
        },
        item);
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace

std::string to_svg(const Scene& scene) { return svg_with_ids(scene, ""); }

namespace {

// The document up to <body>, with the tooltip's style.
std::string html_head(const std::string& title, const std::string& more_style = "") {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
         xml_escape(title.empty() ? std::string("attention") : title) +
         "</title>\n<style>\n"
         "body { margin: 16px; background: #fff; font-family: sans-serif; }\n"
         "#tip { position: fixed; display: none; pointer-events: none; padding: 4px 6px; background: #222; "
         "color: #fff; font: 12px monospace; border-radius: 3px; white-space: pre; }\n"
         "rect[data-v]:hover { stroke: #e4002b; stroke-width: 2; }\n"
         "svg text { pointer-events: none; }\n" +
         more_style + "</style>\n</head>\n<body>\n";
}

// The tooltip: under the pointer, the map, the query and key tokens and the value of a cell of any
// SVG on the page (the data-* attributes of to_svg).
constexpr const char* kTooltipScript =
    "<div id=\"tip\"></div>\n<script>\n"
    "(function () {\n"
    "  const tip = document.getElementById('tip');\n"
    "  document.addEventListener('mousemove', function (e) {\n"
    "    const d = e.target.dataset;\n"
    "    if (!d || d.v === undefined) { tip.style.display = 'none'; return; }\n"
    "    tip.textContent = (d.c !== undefined ? d.c + '\\n' : d.h !== undefined ? 'head ' + d.h + '\\n' : '') +\n"
    "      'query ' + d.qi + ': ' + d.q + '\\nkey   ' + d.ki + ': ' + d.k + '\\nvalue ' + d.v;\n"
    "    tip.style.left = (e.clientX + 14) + 'px';\n"
    "    tip.style.top = (e.clientY + 14) + 'px';\n"
    "    tip.style.display = 'block';\n"
    "  });\n"
    "})();\n</script>\n";

}  // namespace

std::string to_html(const Scene& scene) {
  return html_head(scene.title) + to_svg(scene) + kTooltipScript + "</body>\n</html>\n";
}

std::string browser_html(const std::vector<BrowserPage>& pages, const std::vector<std::string>& selectors,
                         const std::string& title) {
  ATTEND_CHECK(!pages.empty(), "browser_html", "no pages");
  for (size_t i = 0; i < pages.size(); ++i)
    ATTEND_CHECK(pages[i].keys.size() == selectors.size(), "browser_html", "page ", i, " has ", pages[i].keys.size(),
                 " keys for ", selectors.size(), " selectors");
  std::ostringstream os;
  os << html_head(title, "select { margin-right: 12px; }\n.page { display: none; margin-top: 12px; }\n"
                         "#none { display: none; margin-top: 12px; color: #a00; }\n");
  if (!title.empty()) os << "<h3>" << xml_escape(title) << "</h3>\n";
  os << "<div id=\"controls\">\n";
  for (size_t s = 0; s < selectors.size(); ++s) {
    std::vector<std::string> values;  // in the order of first appearance
    for (const BrowserPage& p : pages)
      if (std::find(values.begin(), values.end(), p.keys[s]) == values.end()) values.push_back(p.keys[s]);
    os << "<label>" << xml_escape(selectors[s]) << " <select data-s=\"" << s << "\">";
    for (const std::string& v : values) os << "<option>" << xml_escape(v) << "</option>";
    os << "</select></label>\n";
  }
  os << "</div>\n<div id=\"none\">no map for this choice</div>\n";
  for (size_t i = 0; i < pages.size(); ++i) {
    const BrowserPage& p = pages[i];
    os << "<div class=\"page\"";
    for (size_t s = 0; s < p.keys.size(); ++s) os << " data-k" << s << "=\"" << xml_escape(p.keys[s]) << '"';
    std::string ids = "p";  // appended, not "p" + std::to_string(i): GCC 12 warns falsely (-Wrestrict) on that
    ids += std::to_string(i);
    ids += '-';
    os << ">\n" << svg_with_ids(p.scene, ids) << "</div>\n";
  }
  os << kTooltipScript
     << "<script>\n"
        "(function () {\n"
        "  const selects = Array.from(document.querySelectorAll('select[data-s]'));\n"
        "  const pages = Array.from(document.querySelectorAll('.page'));\n"
        "  function show() {\n"
        "    let found = false;\n"
        "    for (const p of pages) {\n"
        "      const match = selects.every(function (s) { return p.dataset['k' + s.dataset.s] === s.value; });\n"
        "      p.style.display = match ? 'block' : 'none';\n"
        "      found = found || match;\n"
        "    }\n"
        "    document.getElementById('none').style.display = found ? 'none' : 'block';\n"
        "  }\n"
        "  for (const s of selects) s.addEventListener('change', show);\n"
        "  show();\n"
        "})();\n</script>\n</body>\n</html>\n";
  return os.str();
}

void save(const Scene& scene, const std::filesystem::path& path) {
  const std::string ext = lower_ext(path);
  if (ext == ".png") {
    write_png(rasterize(scene), path);
  } else if (ext == ".svg") {
    io::write_file_atomic(path.string(), to_svg(scene));
  } else if (ext == ".html" || ext == ".htm") {
    io::write_file_atomic(path.string(), to_html(scene));
  } else {
    throw Error("save", "cannot tell the format of " + path.string() + " (want .png, .svg, .html or .htm)");
  }
}

}  // namespace attend::viz
