// The three renderers of a Scene (scene.h): an RGB raster written as PNG, standalone SVG, and a
// self-contained HTML page (the SVG inline plus a few lines of JavaScript that show, under the
// pointer, the value and the query and key tokens of the cell it points at; no external
// resources).
//
// Files are written atomically through io::write_file_atomic (temporary file, fsync, rename), so a
// reader never sees half a picture; its errors name the path and the system's reason.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "attend/viz/color.h"
#include "attend/viz/scene.h"

namespace attend::viz {

// 8-bit sRGB raster, row-major, 3 bytes per pixel.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3]
  Rgb pixel(int x, int y) const;
};

// Draws the scene with the bitmap font of font.h. Text and boxes are clipped to the picture.
Image rasterize(const Scene& scene);

// 8-bit RGB PNG through libpng: the file's bytes (`what` names the picture in errors), or a file.
std::string encode_png(const Image& image, const std::string& what);
void write_png(const Image& image, const std::filesystem::path& path);

// SVG 1.1 with real <text> elements (10 px monospace, 6 px per character like the bitmap font).
// Every string is XML-escaped (& < > " ') and malformed UTF-8 becomes U+FFFD. Heat-map cells
// carry data-h/data-qi/data-ki/data-q/data-k/data-v attributes with head, indices, tokens, value.
std::string to_svg(const Scene& scene);

// A complete HTML5 document: the SVG inline and a tooltip script.
std::string to_html(const Scene& scene);

// One picture of a browser page, found by its keys (one per selector, e.g. {"cross", "layer 2",
// "mean"}).
struct BrowserPage {
  std::vector<std::string> keys{};
  Scene scene{};
};

// A self-contained HTML page that shows one of `pages` at a time, chosen with one drop-down list
// per selector (its options: the page keys at that position, in order of first appearance), with
// the tooltip of to_html. The first page shows first. Errors "[browser_html] ..." for no pages or
// a page whose key count differs from the selector count.
std::string browser_html(const std::vector<BrowserPage>& pages, const std::vector<std::string>& selectors,
                         const std::string& title);

// `text` with & < > " ' replaced by entities, C0 controls other than tab/newline/CR and malformed
// UTF-8 replaced by U+FFFD: safe in XML/HTML text and in quoted attributes.
std::string xml_escape(std::string_view text);


// Renders by extension: .png, .svg, .html or .htm; anything else is an error.
void save(const Scene& scene, const std::filesystem::path& path);

}  // namespace attend::viz
