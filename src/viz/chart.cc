#include "attend/viz/chart.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "attend/core/error.h"
#include "attend/viz/font.h"

namespace attend::viz {
namespace {

constexpr int kMargin = 10;        // around everything
constexpr int kGap = 4;            // between labels and what they label
constexpr int kTitleGap = 8;       // below the title
constexpr int kTickLength = 3;
constexpr int kBarGap = 2;         // between the bars of one group
constexpr int kMinGroupSpace = 8;  // between groups
constexpr int kLegendGap = 16;     // between the plot area and the legend
constexpr int kSwatch = 10;
constexpr int kLegendRow = kGlyphHeight + 4;
constexpr int kMaxLabelChars = 24;
constexpr int64_t kMaxSide = 1 << 16;
const Rgb kInk{25, 25, 25};
const Rgb kAxis{90, 90, 90};
const Rgb kGrid{226, 226, 226};

// "98.8", "100" for 100.0, "0" for 0.04 at one decimal.
std::string format_value(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

std::string format_tick(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void check_input(const std::vector<std::string>& categories, const std::vector<BarSeries>& series,
                 const BarChartOptions& o) {
  const char* op = "bar_chart";
  ATTEND_CHECK(!categories.empty(), op, "no categories");
  ATTEND_CHECK(!series.empty(), op, "no series");
  ATTEND_CHECK(std::isfinite(o.y_max) && o.y_max > 0, op, "y_max ", o.y_max, " must be finite and > 0");
  ATTEND_CHECK(o.y_ticks >= 1 && o.y_ticks <= 50, op, "y_ticks ", o.y_ticks, " is outside 1..50");
  ATTEND_CHECK(o.bar_width >= 2 && o.bar_width <= 200, op, "bar_width ", o.bar_width, " is outside 2..200");
  ATTEND_CHECK(o.plot_height >= 40 && o.plot_height <= 4096, op, "plot_height ", o.plot_height,
               " is outside 40..4096");
  ATTEND_CHECK(o.value_decimals >= 0 && o.value_decimals <= 6, op, "value_decimals ", o.value_decimals,
               " is outside 0..6");
  ATTEND_CHECK(series.size() <= 1024, op, series.size(), " series are more than 1024");
  for (const BarSeries& s : series) {
    ATTEND_CHECK(s.values.size() == categories.size(), op, "series '", s.name, "' has ", s.values.size(),
                 " values for ", categories.size(), " categories");
    for (size_t c = 0; c < s.values.size(); ++c) {
      const double v = s.values[c];
      ATTEND_CHECK(std::isnan(v) || (std::isfinite(v) && v >= 0), op, "series '", s.name, "', category '",
                   categories[c], "': value ", v, " is negative or infinite (NaN = no bar)");
    }
  }
}

}  // namespace

Rgb series_color(size_t i) {
  // Okabe and Ito (2008), "Color Universal Design", reordered so that the first two are blue and
  // vermillion: far apart in hue and in lightness.
  static constexpr std::array<Rgb, 8> palette = {{
      {0, 114, 178},    // blue
      {213, 94, 0},     // vermillion
      {0, 158, 115},    // bluish green
      {230, 159, 0},    // orange
      {204, 121, 167},  // reddish purple
      {86, 180, 233},   // sky blue
      {240, 228, 66},   // yellow
      {0, 0, 0},        // black
  }};
  return palette[i % palette.size()];
}

Scene bar_chart(const std::vector<std::string>& categories, const std::vector<BarSeries>& series,
                const BarChartOptions& o) {
  check_input(categories, series, o);
  const int bw = o.bar_width;
  const int n_ser = static_cast<int>(series.size());

  std::vector<std::string> cat_show, names, ticks;
  for (const auto& c : categories) cat_show.push_back(truncate_label(c, kMaxLabelChars));
  for (const auto& s : series) names.push_back(s.name);
  for (int i = 0; i <= o.y_ticks; ++i) ticks.push_back(format_tick(o.y_max * i / o.y_ticks));

  // Horizontal: a group is its bars side by side, widened to its label, plus the space to the next.
  const int cluster_w = n_ser * bw + (n_ser - 1) * kBarGap;
  const int group_w = std::max(cluster_w, widest(cat_show) + kGap) + std::max(kMinGroupSpace, bw);
  ATTEND_CHECK(static_cast<int64_t>(categories.size()) * group_w <= kMaxSide, "bar_chart", categories.size(),
               " categories x ", series.size(), " series at ", bw, " px per bar exceed ", kMaxSide,
               " px; use a smaller bar_width");
  const int n_cat = static_cast<int>(categories.size());

  // value_text[s][c]: empty for NaN (no bar), hidden values, or bars too narrow for a line of text
  // read bottom to top (the digits' ink is the glyph's rows 2..10, 9 px across).
  const bool values_fit = o.values == BarValues::printed && bw + kBarGap >= kGlyphHeight - 2;
  std::vector<std::vector<std::string>> value_text(series.size(), std::vector<std::string>(categories.size()));
  int widest_value = 0;
  if (values_fit) {
    for (size_t s = 0; s < series.size(); ++s)
      for (size_t c = 0; c < categories.size(); ++c)
        if (!std::isnan(series[s].values[c])) {
          value_text[s][c] = format_value(series[s].values[c], o.value_decimals);
          widest_value = std::max(widest_value, text_width(value_text[s][c]));
        }
  }
  const bool values_across = widest_value <= bw + kBarGap;

  const int plot_w = n_cat * group_w;
  const int y_label_band = o.y_label.empty() ? 0 : kGlyphHeight + kGap;
  const int x0 = kMargin + y_label_band + widest(ticks) + kGap + kTickLength + 1;  // y axis at x0 - 1
  const int legend_x = x0 + plot_w + kLegendGap;

  // Vertical: the band above the plot area holds the tallest printed value and half the top tick
  // label.
  const int title_band = o.title.empty() ? 0 : kGlyphHeight + kTitleGap;
  const int value_band = values_fit ? (values_across ? kGlyphHeight : widest_value + 2) + 1 : 0;
  const int y_top = kMargin + title_band + std::max(value_band, kGlyphHeight / 2 + 1);
  const int y_bottom = y_top + o.plot_height;  // bars fill rows [y_bottom - h, y_bottom); x axis at y_bottom
  const int category_y = y_bottom + 1 + kGap;
  const int x_label_y = category_y + kGlyphHeight + kGap;
  const int labels_bottom = o.x_label.empty() ? category_y + kGlyphHeight : x_label_y + kGlyphHeight;

  Scene sc;
  sc.title = o.title;
  sc.width = std::max({legend_x + kSwatch + kGap + widest(names) + kMargin, text_width(o.title) + 2 * kMargin,
                       text_width(o.x_label) + 2 * kMargin});
  sc.height = std::max(labels_bottom, y_top + n_ser * kLegendRow) + kMargin;

  // A centred line of text over the plot area, kept inside the picture.
  auto centred_x = [&](const std::string& text) {
    const int w = text_width(text);
    return std::clamp(x0 + plot_w / 2, kMargin + w / 2, sc.width - kMargin - (w - w / 2));
  };
  if (!o.title.empty())
    sc.items.emplace_back(
        TextItem{.x = centred_x(o.title), .y = kMargin, .text = o.title, .color = kInk, .align = TextAlign::middle});

  // Grid lines and y ticks: tick i sits on the row where a bar of value y_max * i / y_ticks ends.
  // Ticks closer than a line of text are labelled every label_stride-th only.
  const int tick_spacing = std::max(1, o.plot_height / o.y_ticks);
  const int label_stride = (kGlyphHeight + 1 + tick_spacing - 1) / tick_spacing;
  for (int i = 0; i <= o.y_ticks; ++i) {
    const int row = y_bottom - static_cast<int>(std::lround(static_cast<double>(o.plot_height) * i / o.y_ticks));
    if (i > 0) sc.items.emplace_back(RectItem{.x = x0, .y = row, .w = plot_w, .h = 1, .fill = kGrid});
    sc.items.emplace_back(RectItem{.x = x0 - 1 - kTickLength, .y = row, .w = kTickLength, .h = 1, .fill = kAxis});
    if (i % label_stride == 0)
      sc.items.emplace_back(TextItem{.x = x0 - 1 - kTickLength - 2, .y = row - kGlyphHeight / 2 - 1,
                                     .text = ticks[static_cast<size_t>(i)], .color = kInk, .align = TextAlign::end});
  }

  for (int c = 0; c < n_cat; ++c) {
    const int group_x = x0 + c * group_w;
    const int cluster_x = group_x + (group_w - cluster_w) / 2;
    for (int s = 0; s < n_ser; ++s) {
      const double v = series[static_cast<size_t>(s)].values[static_cast<size_t>(c)];
      if (std::isnan(v)) continue;
      const int bx = cluster_x + s * (bw + kBarGap);
      const double t = std::min(v, o.y_max) / o.y_max;
      int h = static_cast<int>(std::lround(t * o.plot_height));
      if (v > 0) h = std::max(h, 1);
      if (h > 0)
        sc.items.emplace_back(
            RectItem{.x = bx, .y = y_bottom - h, .w = bw, .h = h, .fill = series_color(static_cast<size_t>(s))});
      const std::string& text = value_text[static_cast<size_t>(s)][static_cast<size_t>(c)];
      if (text.empty()) continue;
      if (values_across)
        sc.items.emplace_back(TextItem{.x = bx + bw / 2, .y = y_bottom - h - kGlyphHeight, .text = text,
                                       .color = kInk, .align = TextAlign::middle});
      else
        sc.items.emplace_back(TextItem{.x = bx + bw / 2 - kGlyphHeight / 2, .y = y_bottom - h - 2, .text = text,
                                       .color = kInk, .direction = TextDirection::vertical_up});
    }
    sc.items.emplace_back(TextItem{.x = group_x + group_w / 2, .y = category_y,
                                   .text = cat_show[static_cast<size_t>(c)], .color = kInk,
                                   .align = TextAlign::middle});
  }

  // Axes over the grid: y from the top row down to the x axis, x under the bars.
  sc.items.emplace_back(RectItem{.x = x0 - 1, .y = y_top, .w = 1, .h = o.plot_height + 1, .fill = kAxis});
  sc.items.emplace_back(RectItem{.x = x0 - 1, .y = y_bottom, .w = plot_w + 1, .h = 1, .fill = kAxis});

  if (!o.x_label.empty())
    sc.items.emplace_back(TextItem{.x = centred_x(o.x_label), .y = x_label_y, .text = o.x_label, .color = kInk,
                                   .align = TextAlign::middle});
  if (!o.y_label.empty())
    sc.items.emplace_back(TextItem{.x = kMargin, .y = (y_top + y_bottom) / 2,
                                   .text = truncate_label(o.y_label, o.plot_height / kGlyphWidth),
                                   .color = kInk, .align = TextAlign::middle,
                                   .direction = TextDirection::vertical_up});

  for (int s = 0; s < n_ser; ++s) {
    const int ly = y_top + s * kLegendRow;
    sc.items.emplace_back(
        RectItem{.x = legend_x, .y = ly + 1, .w = kSwatch, .h = kSwatch, .fill = series_color(static_cast<size_t>(s))});
    sc.items.emplace_back(FrameItem{.x = legend_x, .y = ly + 1, .w = kSwatch, .h = kSwatch, .stroke = kAxis});
    sc.items.emplace_back(
        TextItem{.x = legend_x + kSwatch + kGap, .y = ly, .text = names[static_cast<size_t>(s)], .color = kInk});
  }
  return sc;
}

namespace {

// Ticks covering [lo, hi]: multiples of a step of 1, 2, 2.5 or 5 times a power of ten, about
// `target` intervals; lo == hi widens to an interval around the value.
std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (hi <= lo) {
    const double pad = lo == 0.0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10.0 * mag;
  for (double m : {1.0, 2.0, 2.5, 5.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  const double first = std::floor(lo / step) * step;
  for (int i = 0; first + step * (i - 1) < hi - 1e-9 * step && i <= 4 * target + 2; ++i) ticks.push_back(first + step * i);
  return ticks;
}

}  // namespace

Scene line_chart(const std::vector<LinePanel>& panels, const LineChartOptions& o) {
  constexpr const char* op = "line_chart";
  ATTEND_CHECK(!panels.empty(), op, "no panels");
  ATTEND_CHECK(panels.size() <= 64, op, panels.size(), " panels are more than 64");
  ATTEND_CHECK(o.plot_width >= 80 && o.plot_width <= 4096, op, "plot_width ", o.plot_width, " is outside 80..4096");
  ATTEND_CHECK(o.panel_height >= 40 && o.panel_height <= 4096, op, "panel_height ", o.panel_height,
               " is outside 40..4096");
  double x_lo = INFINITY, x_hi = -INFINITY;
  for (const LinePanel& p : panels) {
    ATTEND_CHECK(!p.series.empty(), op, "panel '", p.y_label, "' has no series");
    for (const LineSeries& s : p.series) {
      ATTEND_CHECK(!s.x.empty() && s.x.size() == s.y.size(), op, "series '", s.name, "' has ", s.x.size(), " x and ",
                   s.y.size(), " y values (want the same number, at least one)");
      for (size_t i = 0; i < s.x.size(); ++i) {
        ATTEND_CHECK(std::isfinite(s.x[i]) && std::isfinite(s.y[i]), op, "series '", s.name, "', point ", i, ": (",
                     s.x[i], ", ", s.y[i], ") is not finite");
        x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
      }
    }
  }
  const std::vector<double> xt = nice_ticks(x_lo, x_hi, 6);
  std::vector<std::vector<double>> yts;
  std::vector<std::string> tick_text, names;
  for (const LinePanel& p : panels) {
    double lo = INFINITY, hi = -INFINITY;
    for (const LineSeries& s : p.series) {
      for (double v : s.y) lo = std::min(lo, v), hi = std::max(hi, v);
      names.push_back(s.name);
    }
    yts.push_back(nice_ticks(lo, hi, 4));
    for (double t : yts.back()) tick_text.push_back(format_tick(t));
  }

  const int y_label_band = kGlyphHeight + kGap;
  const int x0 = kMargin + y_label_band + widest(tick_text) + kGap + kTickLength + 1;  // y axes at x0 - 1
  const int x1 = x0 + o.plot_width;
  const int legend_x = x1 + kLegendGap;
  const int title_band = o.title.empty() ? 0 : kGlyphHeight + kTitleGap;
  const int panel_gap = kGlyphHeight + 2 * kGap;
  const int top = kMargin + title_band + kGlyphHeight / 2 + 1;
  const int n = static_cast<int>(panels.size());
  const int bottom = top + n * o.panel_height + (n - 1) * panel_gap;  // x axis of the last panel
  const int x_tick_y = bottom + 1 + kTickLength + 1;
  const int x_label_y = x_tick_y + kGlyphHeight + kGap;

  Scene sc;
  sc.title = o.title;
  sc.width = std::max({legend_x + kSwatch + kGap + widest(names) + kMargin, text_width(o.title) + 2 * kMargin,
                       text_width(o.x_label) + 2 * kMargin});
  sc.height = (o.x_label.empty() ? x_tick_y + kGlyphHeight : x_label_y + kGlyphHeight) + kMargin;
  auto centred_x = [&](const std::string& text) {
    const int w = text_width(text);
    return std::clamp((x0 + x1) / 2, kMargin + w / 2, sc.width - kMargin - (w - w / 2));
  };
  if (!o.title.empty())
    sc.items.emplace_back(
        TextItem{.x = centred_x(o.title), .y = kMargin, .text = o.title, .color = kInk, .align = TextAlign::middle});

  const double xa = xt.front(), xb = xt.back();
  auto px = [&](double x) { return x0 + static_cast<int>(std::lround((x - xa) / (xb - xa) * o.plot_width)); };
  for (int k = 0; k < n; ++k) {
    const LinePanel& p = panels[static_cast<size_t>(k)];
    const std::vector<double>& yt = yts[static_cast<size_t>(k)];
    const int pt = top + k * (o.panel_height + panel_gap), pb = pt + o.panel_height;
    const double ya = yt.front(), yb = yt.back();
    auto py = [&](double y) { return pb - static_cast<int>(std::lround((y - ya) / (yb - ya) * o.panel_height)); };
    for (double t : yt) {
      const int row = py(t);
      if (row < pb) sc.items.emplace_back(RectItem{.x = x0, .y = row, .w = o.plot_width + 1, .h = 1, .fill = kGrid});
      sc.items.emplace_back(RectItem{.x = x0 - 1 - kTickLength, .y = row, .w = kTickLength, .h = 1, .fill = kAxis});
      sc.items.emplace_back(TextItem{.x = x0 - 1 - kTickLength - 2, .y = row - kGlyphHeight / 2 - 1,
                                     .text = format_tick(t), .color = kInk, .align = TextAlign::end});
    }
    for (double t : xt) {
      const int col = px(t);
      if (col > x0) sc.items.emplace_back(RectItem{.x = col, .y = pt, .w = 1, .h = o.panel_height, .fill = kGrid});
      if (k == n - 1) {
        sc.items.emplace_back(RectItem{.x = col, .y = pb + 1, .w = 1, .h = kTickLength, .fill = kAxis});
        sc.items.emplace_back(
            TextItem{.x = col, .y = x_tick_y, .text = format_tick(t), .color = kInk, .align = TextAlign::middle});
      }
    }
    sc.items.emplace_back(RectItem{.x = x0 - 1, .y = pt, .w = 1, .h = o.panel_height + 1, .fill = kAxis});
    sc.items.emplace_back(RectItem{.x = x0 - 1, .y = pb, .w = o.plot_width + 2, .h = 1, .fill = kAxis});
    if (!p.y_label.empty())
      sc.items.emplace_back(TextItem{.x = kMargin, .y = (pt + pb) / 2,
                                     .text = truncate_label(p.y_label, o.panel_height / kGlyphWidth), .color = kInk,
                                     .align = TextAlign::middle, .direction = TextDirection::vertical_up});
    for (size_t s = 0; s < p.series.size(); ++s) {
      const LineSeries& ls = p.series[s];
      const Rgb c = series_color(s);
      for (size_t i = 0; i + 1 < ls.x.size(); ++i)
        sc.items.emplace_back(
            LineItem{.x0 = px(ls.x[i]), .y0 = py(ls.y[i]), .x1 = px(ls.x[i + 1]), .y1 = py(ls.y[i + 1]), .stroke = c, .width = 2});
      for (size_t i = 0; i < ls.x.size(); ++i)
        sc.items.emplace_back(RectItem{.x = px(ls.x[i]) - 2, .y = py(ls.y[i]) - 2, .w = 5, .h = 5, .fill = c});
      const int ly = pt + static_cast<int>(s) * kLegendRow;
      sc.items.emplace_back(RectItem{.x = legend_x, .y = ly + 1, .w = kSwatch, .h = kSwatch, .fill = c});
      sc.items.emplace_back(FrameItem{.x = legend_x, .y = ly + 1, .w = kSwatch, .h = kSwatch, .stroke = kAxis});
      sc.items.emplace_back(TextItem{.x = legend_x + kSwatch + kGap, .y = ly, .text = ls.name, .color = kInk});
    }
  }
  if (!o.x_label.empty())
    sc.items.emplace_back(TextItem{.x = centred_x(o.x_label), .y = x_label_y, .text = o.x_label, .color = kInk,
                                   .align = TextAlign::middle});
  return sc;
}

}  // namespace attend::viz
