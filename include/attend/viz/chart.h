// Charts laid out once as a Scene (scene.h) of rectangles, lines, frames and text, so that the
// PNG, SVG and HTML renderers of render.h draw them unchanged.
//
//   bar_chart(categories, series)   grouped bars (e.g. accuracy by length bucket, one series per
//                                   model): one group per category along x, one bar per series in
//                                   each group, in series order, coloured by series
//   line_chart(panels)              curves against a shared x axis (e.g. a learning curve:
//                                   validation BLEU above, loss below, against minutes), one panel
//                                   per quantity stacked top to bottom, each with its own y axis
//
// Bar charts:
//
// Layout, top to bottom: title; plot area (plot_height px) with light grid lines at the y ticks,
// the bars standing on the x axis and, if printed, each value above its bar; category labels under
// their groups; x label. Left of the plot area: the y label (read bottom to top) and the tick
// labels 0, y_max / y_ticks, ..., y_max (every few only where ticks are closer than a line of
// text). Right of it: the legend, one colour swatch and name per series, so that it never covers
// a bar.
//
// A bar of value v is round(min(v, y_max) / y_max * plot_height) px high (at least 1 px when
// v > 0): a bar of y_max reaches the top grid line, 0 draws nothing but its printed value, NaN
// ("not measured") draws neither. Printed values are the real ones, also above y_max. Series
// colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies),
// repeated after eight series. Each group is wide enough for its category label; a y label longer
// than the plot area is cut to fit ("...").
//
// Errors: "[bar_chart] ..." for no categories, no series, a series whose number of values differs
// from the number of categories (name and both sizes printed), a negative or infinite value (series,
// category and value printed), or bad options.
#pragma once

#include <string>
#include <vector>

#include "attend/viz/color.h"
#include "attend/viz/scene.h"

namespace attend::viz {

struct BarSeries {
  std::string name{};
  std::vector<double> values{};  // one per category, in [0, y_max]; NaN = no bar
};

enum class BarValues { hidden, printed };

struct BarChartOptions {
  std::string title{}, x_label{}, y_label{};
  double y_max = 100.0;   // top of the y axis (> 0, finite)
  int y_ticks = 5;        // intervals between 0 and y_max (1..50): 5 gives 0, 20, ..., 100
  int bar_width = 14;     // px (2..200)
  int plot_height = 220;  // px (40..4096)
  // printed: each value above its bar with value_decimals digits, trailing zeros dropped
  // ("98.8", "100", "0"); written left to right when every printed value fits in the width of
  // one bar plus the gap to the next, else all of them read bottom to top; left out when bars
  // are narrower than 9 px (no room for a line of text even bottom to top).
  BarValues values = BarValues::printed;
  int value_decimals = 1;  // 0..6
};

// The colour of series i.
Rgb series_color(size_t i);

Scene bar_chart(const std::vector<std::string>& categories, const std::vector<BarSeries>& series,
                const BarChartOptions& options = {});

// Line charts: each panel's y axis runs from its smallest to its largest value widened to "nice"
// ticks (1, 2, 2.5 or 5 times a power of ten); the x axis likewise over every panel's points, its
// ticks and x_label under the bottom panel only. Each series is a polyline through its points in
// the given order with a small square at each, coloured by series (series_color(i) for the i-th
// series of the panel); a legend right of each panel names them.
// Errors: "[line_chart] ..." for no panels, a panel without series, a series with no points, x and
// y counts that differ (series named), a non-finite coordinate (series and index named), or bad
// sizes.
struct LineSeries {
  std::string name{};
  std::vector<double> x{}, y{};
};

struct LinePanel {
  std::string y_label{};
  std::vector<LineSeries> series{};
};

struct LineChartOptions {
  std::string title{}, x_label{};
  int plot_width = 480;   // px (80..4096)
  int panel_height = 180;  // px per panel (40..4096)
};

Scene line_chart(const std::vector<LinePanel>& panels, const LineChartOptions& options = {});

}  // namespace attend::viz
