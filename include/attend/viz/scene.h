// Scene: a picture as a list of positioned primitives in pixel coordinates (origin top left,
// y down). The heat-map layouts (heatmap.h) compute a Scene once; the PNG, SVG and HTML
// renderers (render.h) draw the same Scene, so the three outputs cannot disagree about where a
// label or a cell is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "attend/viz/color.h"

namespace attend::viz {

// What a heat-map cell shows; the SVG/HTML renderers attach it to the cell so that a pointer
// can read it back. `head` is -1 outside a multi-head picture.
struct CellInfo {
  int64_t head = -1;
  int64_t query = 0;  // row: target/query token index
  int64_t key = 0;    // column: source/key token index
  double value = 0.0;
};

// A filled rectangle [x, x + w) x [y, y + h).
struct RectItem {
  int x = 0, y = 0, w = 0, h = 0;
  Rgb fill{};
  std::optional<CellInfo> cell{};
};

// A one-pixel outline drawn just inside [x, x + w) x [y, y + h).
struct FrameItem {
  int x = 0, y = 0, w = 0, h = 0;
  Rgb stroke{};
};

// Where along its own direction a text sits relative to its anchor point.
enum class TextAlign { start, middle, end };
// horizontal: left to right. vertical_up: rotated 90 degrees counter-clockwise, read bottom to
// top (the usual way to fit long column labels).
enum class TextDirection { horizontal, vertical_up };

// A line of text in the bitmap font's metrics (kGlyphWidth per code point, kGlyphHeight high).
// In the text's own frame (u along the text, v across it, 0 <= v < kGlyphHeight) the text covers
// u in [0, w], [-w/2, w/2] or [-w, 0] for start, middle, end. The frame maps to the picture as
//   horizontal:  (x + u, y + v)     -> (x, y) is the anchor on the top edge of the line box
//   vertical_up: (x + v, y - u)     -> (x, y) is the anchor on the left edge of the line box
struct TextItem {
  int x = 0, y = 0;
  std::string text{};  // UTF-8
  Rgb color{};
  TextAlign align = TextAlign::start;
  TextDirection direction = TextDirection::horizontal;
};

// A vertical colour bar: cm(1) at the top row, cm(0) at the bottom row.
struct ColorBarItem {
  int x = 0, y = 0, w = 0, h = 0;
  Colormap colormap = Colormap::viridis;
};

// A straight line from (x0, y0) to (x1, y1), both ends included, `width` px thick (a square pen
// centred on the line).
struct LineItem {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  Rgb stroke{};
  int width = 1;
};

// A raster picture (8-bit RGB, [src_h, src_w, 3]) drawn into [x, x + w) x [y, y + h), each source
// pixel a block (nearest neighbour: attention over a few regions stays blocky, not blurred).
struct PictureItem {
  int x = 0, y = 0, w = 0, h = 0;
  int src_w = 0, src_h = 0;
  std::vector<uint8_t> rgb{};
};

using SceneItem = std::variant<RectItem, FrameItem, TextItem, ColorBarItem, LineItem, PictureItem>;

struct Scene {
  int width = 0, height = 0;
  Rgb background{255, 255, 255};
  std::string title{};  // also the HTML <title>
  // Full (untruncated) tokens, for the values a pointer reads back in SVG/HTML.
  std::vector<std::string> query_tokens{}, key_tokens{};
  // The name of each map of a multi-map picture (indexed by CellInfo::head), for the read-out.
  std::vector<std::string> panel_captions{};
  std::vector<SceneItem> items{};  // painted in order
};

}  // namespace attend::viz
