// Heat maps of attention/alignment weights, laid out once as a Scene (scene.h) and rendered to
// PNG, SVG or HTML (render.h).
//
//   heatmap(w [Tq, Tk], labels)            one matrix: rows = target/query tokens (labels on the
//                                          left), columns = source/key tokens (labels on top)
//   multihead_heatmap(w [H, Tq, Tk], ...)  a grid of H small maps sharing one colour scale; key
//                                          labels above the top row, query labels left of the
//                                          left column, "head h" under each map
//
// Layout, top to bottom: title, key labels, grid; to the right of the grid the colour bar with
// five ticks from vmin to vmax. Cell (q, k) is filled with map_color(cm, (w - vmin) / (vmax -
// vmin)) clamped to [0, 1]; by default vmin = min(0, min w) and vmax = max w, i.e. the scale is
// 0..max for attention weights. Key labels are written horizontally when every one fits in a
// cell, else rotated to read bottom to top.
//
// Errors: "[heatmap] ..." for a weights tensor of the wrong rank, label counts that do not match
// its shape (both printed), non-finite weights (position printed) or bad options.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "attend/core/tensor.h"
#include "attend/viz/color.h"
#include "attend/viz/scene.h"

namespace attend::viz {

enum class KeyLabelDirection { automatic, horizontal, vertical };
enum class CellValues { hidden, printed };

struct HeatmapOptions {
  std::string title{};
  Colormap colormap = Colormap::viridis;
  // Side of a cell in pixels (>= 4); 0 picks 28 for one map and 14 for a multi-head grid.
  int cell_size = 0;
  // printed: each cell shows its value (value_decimals digits, "0." dropped below 1: ".87"),
  // in black or white by the cell's luminance; values that do not fit in a cell are left out.
  CellValues values = CellValues::hidden;
  int value_decimals = 2;
  KeyLabelDirection key_labels = KeyLabelDirection::automatic;
  // Longer labels are cut to this many code points ending in "..."; the SVG/HTML pointer read-out
  // still shows the whole token.
  int max_label_chars = 24;
  std::optional<double> vmin{}, vmax{};
  // Multi-head only: maps per row of the grid; 0 picks ceil(sqrt(H)).
  int columns = 0;
  // Multi-head only: the caption under each map (H entries, e.g. "layer 2, head 3"); empty:
  // "head h". The SVG/HTML pointer read-out names the map by its caption.
  std::vector<std::string> captions{};
};

// Token labels; an empty list means "use the indices 0, 1, ...".
struct TokenLabels {
  std::vector<std::string> query{};  // Tq entries: target tokens, one per row
  std::vector<std::string> key{};    // Tk entries: source tokens, one per column
};

// weights: [Tq, Tk], f32 or f64, any layout.
Scene heatmap(const Tensor& weights, const TokenLabels& labels, const HeatmapOptions& options = {});

// weights: [H, Tq, Tk], f32 or f64, any layout.
Scene multihead_heatmap(const Tensor& weights, const TokenLabels& labels,
                        const HeatmapOptions& options = {});

}  // namespace attend::viz
