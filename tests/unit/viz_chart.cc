// Grouped bar charts: bar geometry against the axis, NaN and zero, legend and labels that never
// overlap, the three renderers, errors that name the series and sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "attend/core/error.h"
#include "attend/io/atomic_file.h"
#include "attend/viz/chart.h"
#include "attend/viz/font.h"
#include "attend/viz/render.h"
#include "support/check.h"
#include "support/temp_dir.h"

namespace attend::viz {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The reverse length study of docs/models.md.
const std::vector<std::string> kBuckets = {"5-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60"};
const std::vector<BarSeries> kReverse = {{"rnnsearch", {100, 100, 100, 100, 100, 98.8, 100}},
                                         {"seq2seq", {100, 34.1, 2.2, 0, 0, 0, 0}}};

struct Box {
  int x0, y0, x1, y1;  // [x0, x1) x [y0, y1)
  bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

// The line box of a text, from the TextItem contract of scene.h.
Box box_of(const TextItem& t) {
  const int w = text_width(t.text);
  const int u0 = t.align == TextAlign::start ? 0 : t.align == TextAlign::middle ? -w / 2 : -w;
  if (t.direction == TextDirection::horizontal) return {t.x + u0, t.y, t.x + u0 + w, t.y + kGlyphHeight};
  return {t.x, t.y - u0 - w, t.x + kGlyphHeight, t.y - u0};
}

std::vector<TextItem> texts(const Scene& s) {
  std::vector<TextItem> out;
  for (const auto& item : s.items)
    if (const auto* t = std::get_if<TextItem>(&item)) out.push_back(*t);
  return out;
}

std::vector<const TextItem*> texts_equal(const Scene& s, const std::string& text) {
  std::vector<const TextItem*> out;
  for (const auto& item : s.items)
    if (const auto* t = std::get_if<TextItem>(&item); t && t->text == text) out.push_back(t);
  return out;
}

// Bars of series i: rectangles of its colour and of the bar width (the legend swatch is narrower).
std::vector<RectItem> bars_of(const Scene& s, size_t i, int bar_width) {
  std::vector<RectItem> out;
  for (const auto& item : s.items)
    if (const auto* r = std::get_if<RectItem>(&item); r && r->fill == series_color(i) && r->w == bar_width)
      out.push_back(*r);
  return out;
}

bool is_series_color(Rgb c) {
  for (size_t i = 0; i < 8; ++i)
    if (c == series_color(i)) return true;
  return false;
}

// Rows of the one-pixel lines across the plot area: the grid lines and the x axis (the lowest);
// tick marks are 3 px long.
std::vector<int> line_rows(const Scene& s) {
  std::vector<int> rows;
  for (const auto& item : s.items)
    if (const auto* r = std::get_if<RectItem>(&item); r && r->h == 1 && r->w > 3 && !is_series_color(r->fill))
      rows.push_back(r->y);
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(VizChart, BarHeightsAreProportionalAndYMaxReachesTheTopLine) {
  const Scene s = bar_chart({"a", "b", "c", "d"}, {{"A", {100, 50, 25, 0}}, {"B", {kNaN, 10, 75, 100}}},
                            {.y_max = 100, .y_ticks = 4, .bar_width = 14, .plot_height = 200});
  const std::vector<int> rows = line_rows(s);
  ASSERT_EQ(rows.size(), 5u);  // grid lines at 25, 50, 75, 100 and the x axis
  const int top = rows.front(), axis = rows.back();
  EXPECT_EQ(axis - top, 200);
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i], top + 50 * static_cast<int>(i));

  const auto a = bars_of(s, 0, 14), b = bars_of(s, 1, 14);
  ASSERT_EQ(a.size(), 3u);  // 0 draws no bar
  ASSERT_EQ(b.size(), 3u);  // NaN draws no bar
  EXPECT_EQ(a[0].h, 200);
  EXPECT_EQ(a[0].y, top);
  EXPECT_EQ(a[1].h, 100);
  EXPECT_EQ(a[2].h, 50);
  EXPECT_EQ(b[0].h, 20);
  EXPECT_EQ(b[1].h, 150);
  EXPECT_EQ(b[2].h, 200);
  EXPECT_EQ(b[2].y, top);
  for (const auto& bar : a) EXPECT_EQ(bar.y + bar.h, axis);
  for (const auto& bar : b) EXPECT_EQ(bar.y + bar.h, axis);
  // Groups left to right, A left of B within a group: b[0] is in group "b" with a[1].
  EXPECT_LT(a[0].x, a[1].x);
  EXPECT_EQ(b[0].x, a[1].x + 14 + 2);
  EXPECT_EQ(b[1].x, a[2].x + 14 + 2);

  // The PNG raster agrees: the full bar's colour starts exactly on the top line.
  const Image im = rasterize(s);
  EXPECT_EQ(im.pixel(a[0].x + 7, top), series_color(0));
  EXPECT_NE(im.pixel(a[0].x + 7, top - 1), series_color(0));
  EXPECT_EQ(im.pixel(a[0].x + 7, axis - 1), series_color(0));
  EXPECT_NE(im.pixel(a[0].x + 7, axis), series_color(0));
}

TEST(VizChart, ValuesAboveYMaxAreClampedButPrintedAsGiven) {
  const Scene s = bar_chart({"x"}, {{"A", {150}}}, {.y_max = 100, .bar_width = 24});
  const auto bars = bars_of(s, 0, 24);
  ASSERT_EQ(bars.size(), 1u);
  EXPECT_EQ(bars[0].y, line_rows(s).front());
  EXPECT_EQ(texts_equal(s, "150").size(), 1u);
}

TEST(VizChart, PrintedValuesZeroAndNaN) {
  const Scene s = bar_chart(kBuckets, kReverse);
  for (const char* v : {"98.8", "34.1", "2.2"}) EXPECT_EQ(texts_equal(s, v).size(), 1u) << v;
  EXPECT_EQ(texts_equal(s, "100").size(), 7u + 1u);  // six rnnsearch bars, one seq2seq bar, the top tick
  EXPECT_EQ(texts_equal(s, "0").size(), 4u + 1u);    // four seq2seq zeros and the bottom tick
  // "100" is wider than a 14 px bar: every value reads bottom to top, just above its bar.
  const auto bars = bars_of(s, 0, 14);
  ASSERT_EQ(bars.size(), 7u);
  for (const TextItem* t : texts_equal(s, "98.8")) {
    EXPECT_EQ(t->direction, TextDirection::vertical_up);
    const Box b = box_of(*t);
    EXPECT_LE(b.y1, bars[5].y);
    EXPECT_GE(b.y1, bars[5].y - 4);
    EXPECT_GE(b.x0, bars[5].x - 1);
    EXPECT_LE(b.x1, bars[5].x + bars[5].w + 1);
  }

  const Scene gap = bar_chart({"a", "b"}, {{"A", {kNaN, 3}}});
  EXPECT_EQ(bars_of(gap, 0, 14).size(), 1u);
  for (const TextItem& t : texts(gap)) EXPECT_EQ(t.text.find("nan"), std::string::npos) << t.text;

  const Scene wide = bar_chart({"a"}, {{"A", {7.25}}}, {.bar_width = 30, .value_decimals = 2});
  ASSERT_EQ(texts_equal(wide, "7.25").size(), 1u);
  EXPECT_EQ(texts_equal(wide, "7.25")[0]->direction, TextDirection::horizontal);

  const Scene hidden = bar_chart(kBuckets, kReverse, {.values = BarValues::hidden});
  EXPECT_EQ(texts_equal(hidden, "98.8").size(), 0u);
  EXPECT_EQ(texts_equal(hidden, "100").size(), 1u);  // the tick only
  const Scene narrow = bar_chart(kBuckets, kReverse, {.bar_width = 6});
  EXPECT_EQ(texts_equal(narrow, "98.8").size(), 0u);
}

TEST(VizChart, TicksRunFromZeroToYMaxOnTheGridLines) {
  const Scene s = bar_chart({"a"}, {{"A", {0.5}}}, {.y_max = 1, .y_ticks = 4, .values = BarValues::hidden});
  const std::vector<int> rows = line_rows(s);
  ASSERT_EQ(rows.size(), 5u);
  const std::vector<std::string> ticks = {"1", "0.75", "0.5", "0.25", "0"};
  for (size_t i = 0; i < ticks.size(); ++i) {
    const auto t = texts_equal(s, ticks[i]);
    ASSERT_GE(t.size(), 1u) << ticks[i];
    const Box b = box_of(*t[0]);
    EXPECT_LE(std::abs((b.y0 + b.y1) / 2 - rows[i]), 1) << ticks[i];
  }
}

TEST(VizChart, LegendNamesEachSeriesBesideThePlotArea) {
  const std::vector<BarSeries> series = {
      {"rnnsearch", {1, 2}}, {"seq2seq", {2, 1}}, {"luong (general)", {3, 3}}};
  const Scene s = bar_chart({"a", "b"}, series, {.y_max = 3});
  int right_of_bars = 0;
  for (size_t i = 0; i < series.size(); ++i)
    for (const auto& bar : bars_of(s, i, 14)) right_of_bars = std::max(right_of_bars, bar.x + bar.w);
  for (size_t i = 0; i < series.size(); ++i) {
    const auto name = texts_equal(s, series[i].name);
    ASSERT_EQ(name.size(), 1u) << series[i].name;
    const Box b = box_of(*name[0]);
    EXPECT_GT(b.x0, right_of_bars);
    EXPECT_LE(b.x1, s.width);
    int swatches = 0;
    for (const auto& item : s.items)
      if (const auto* r = std::get_if<RectItem>(&item); r && r->fill == series_color(i) && r->x > right_of_bars) {
        ++swatches;
        EXPECT_LT(r->x + r->w, b.x0);
        EXPECT_TRUE((Box{r->x, r->y, r->x + r->w, r->y + r->h}.overlaps({r->x, b.y0, r->x + r->w, b.y1})));
      }
    EXPECT_EQ(swatches, 1) << series[i].name;
  }
  EXPECT_NE(series_color(0), series_color(1));
  EXPECT_NE(series_color(1), series_color(2));
}

// No two texts overlap, no text covers a bar, nothing leaves the picture.
void expect_readable(const Scene& s, const std::vector<BarSeries>& series, int bar_width) {
  const auto all = texts(s);
  std::vector<Box> bars;
  for (size_t i = 0; i < series.size(); ++i)
    for (const auto& r : bars_of(s, i, bar_width)) bars.push_back({r.x, r.y, r.x + r.w, r.y + r.h});
  for (size_t i = 0; i < all.size(); ++i) {
    const Box b = box_of(all[i]);
    EXPECT_GE(b.x0, 0) << all[i].text;
    EXPECT_GE(b.y0, 0) << all[i].text;
    EXPECT_LE(b.x1, s.width) << all[i].text;
    EXPECT_LE(b.y1, s.height) << all[i].text;
    for (size_t j = i + 1; j < all.size(); ++j)
      EXPECT_FALSE(b.overlaps(box_of(all[j]))) << "'" << all[i].text << "' and '" << all[j].text << "'";
    for (const Box& bar : bars) EXPECT_FALSE(b.overlaps(bar)) << "'" << all[i].text << "' covers a bar";
  }
}

TEST(VizChart, LabelsNeitherOverlapNorCoverBars) {
  const BarChartOptions o{.title = "reverse: exact match by length", .x_label = "source length (tokens)",
                          .y_label = "exact match (%)"};
  expect_readable(bar_chart(kBuckets, kReverse, o), kReverse, 14);
  BarChartOptions wide = o;
  wide.bar_width = 24;
  expect_readable(bar_chart(kBuckets, kReverse, wide), kReverse, 24);

  // Long category labels widen their groups; eight series make the legend taller than the plot.
  std::vector<BarSeries> many;
  for (int i = 0; i < 8; ++i) many.push_back({"model number " + std::to_string(i), {1.0 * i, 2, kNaN}});
  const Scene s = bar_chart({"a very long bucket name", "b", "c"}, many,
                            {.title = "t", .y_label = "a y label much longer than the plot area is high, cut",
                             .y_max = 7, .bar_width = 10, .plot_height = 40});
  expect_readable(s, many, 10);
}

class VizChartFiles : public test::TempDirTest {};

TEST_F(VizChartFiles, EveryRendererDrawsIt) {
  const Scene s = bar_chart(kBuckets, kReverse, {.title = "reverse: exact match by length"});
  const std::string svg = to_svg(s);
  EXPECT_NE(svg.find("<title>reverse: exact match by length</title>"), std::string::npos);
  EXPECT_NE(svg.find(">rnnsearch</text>"), std::string::npos);
  EXPECT_NE(svg.find(">20-29</text>"), std::string::npos);
  EXPECT_NE(svg.find("fill=\"" + hex(series_color(1)) + "\""), std::string::npos);
  EXPECT_EQ(svg.find("data-v"), std::string::npos);  // bars are not heat-map cells
  const std::string html = to_html(s);
  EXPECT_NE(html.find("<!DOCTYPE html>"), std::string::npos);
  EXPECT_NE(html.find("<title>reverse: exact match by length</title>"), std::string::npos);

  for (const char* ext : {"png", "svg", "html"}) {
    const std::string file = path(std::string("chart.") + ext);
    save(s, file);
    const std::string bytes = io::read_file(file);
    EXPECT_GT(bytes.size(), 500u) << file;
    if (std::string(ext) == "png") {
      EXPECT_EQ(bytes.substr(0, 8), "\x89PNG\r\n\x1a\n");
    }
  }
  const Image im = rasterize(s);
  EXPECT_EQ(im.width, s.width);
  EXPECT_EQ(im.height, s.height);
}

using test::expect_error;

TEST(VizChart, BadInputNamesTheSeriesAndSizes) {
  expect_error([] { bar_chart({}, kReverse); }, "[bar_chart]", {"no categories"});
  expect_error([] { bar_chart(kBuckets, {}); }, "[bar_chart]", {"no series"});
  expect_error([] { bar_chart({"a", "b", "c", "d"}, {{"rnnsearch", {1, 2, 3, 4}}, {"seq2seq", {1, 2, 3}}}); },
               "[bar_chart]", {"'seq2seq'", "3 values", "4 categories"});
  expect_error([] { bar_chart({"a", "b"}, {{"A", {1, -0.5}}}); }, "[bar_chart]", {"'A'", "'b'", "-0.5"});
  expect_error([] { bar_chart({"a", "b"}, {{"A", {std::numeric_limits<double>::infinity(), 1}}}); }, "[bar_chart]",
               {"'A'", "'a'", "inf"});
  for (double y_max : {0.0, -1.0, kNaN, std::numeric_limits<double>::infinity()})
    expect_error([&] { bar_chart({"a"}, {{"A", {1}}}, {.y_max = y_max}); }, "[bar_chart]", {"y_max"});
  expect_error([] { bar_chart({"a"}, {{"A", {1}}}, {.y_ticks = 0}); }, "[bar_chart]", {"y_ticks 0"});
  expect_error([] { bar_chart({"a"}, {{"A", {1}}}, {.bar_width = 1}); }, "[bar_chart]", {"bar_width 1"});
  expect_error([] { bar_chart({"a"}, {{"A", {1}}}, {.plot_height = 10}); }, "[bar_chart]", {"plot_height 10"});
  expect_error([] { bar_chart({"a"}, {{"A", {1}}}, {.value_decimals = 7}); }, "[bar_chart]", {"value_decimals 7"});
  expect_error([] { bar_chart(std::vector<std::string>(5000, "x"), {{"A", std::vector<double>(5000, 1.0)}}); },
               "[bar_chart]", {"5000 categories", "65536 px"});
}

// A learning curve: BLEU above, loss below, one shared x axis.
const std::vector<LinePanel> kCurve = {
    {"validation BLEU", {{"run", {0.5, 3, 5.5, 8}, {2.4, 10.5, 20.1, 25}}}},
    {"validation loss", {{"run", {0.5, 3, 5.5, 8}, {4.8, 3.5, 2.8, 2.4}}}}};

std::vector<LineItem> lines_of(const Scene& s) {
  std::vector<LineItem> out;
  for (const auto& item : s.items)
    if (const auto* l = std::get_if<LineItem>(&item)) out.push_back(*l);
  return out;
}

TEST(VizLineChart, PanelsShareTheXAxisAndCurvesFollowTheirPoints) {
  const Scene s = line_chart(kCurve, {.title = "curve", .x_label = "minutes", .plot_width = 400, .panel_height = 100});
  const auto ls = lines_of(s);
  ASSERT_EQ(ls.size(), 6u);  // 3 segments per panel
  // Segments join: each starts where the previous ended.
  for (size_t i = 1; i < 3; ++i) EXPECT_EQ(std::pair(ls[i].x0, ls[i].y0), std::pair(ls[i - 1].x1, ls[i - 1].y1));
  // Same x in both panels; BLEU rises (y falls on screen), loss falls (y rises on screen).
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ls[i].x0, ls[i + 3].x0);
    EXPECT_LT(ls[i].y1, ls[i].y0);
    EXPECT_GT(ls[i + 3].y1, ls[i + 3].y0);
  }
  // The lower panel is below the upper one.
  EXPECT_GT(std::min(ls[3].y0, ls[5].y1), std::max(ls[0].y0, ls[2].y1));
  // Nice ticks: 0..8 on x at 2.5 or 2, 0..30 for BLEU, 2..5 for the loss; x ticks once.
  EXPECT_EQ(texts_equal(s, "0").size(), 2u);  // x and BLEU
  EXPECT_EQ(texts_equal(s, "8").size(), 1u);
  EXPECT_EQ(texts_equal(s, "30").size(), 1u);
  EXPECT_EQ(texts_equal(s, "5").size(), 1u);
  EXPECT_EQ(texts_equal(s, "minutes").size(), 1u);
  EXPECT_EQ(texts_equal(s, "run").size(), 2u);  // a legend per panel
  // Everything inside the picture; the three renderers draw it.
  for (const TextItem& t : texts(s)) {
    const Box b = box_of(t);
    EXPECT_GE(b.x0, 0) << t.text;
    EXPECT_LE(b.x1, s.width) << t.text;
    EXPECT_GE(b.y0, 0) << t.text;
    EXPECT_LE(b.y1, s.height) << t.text;
  }
  EXPECT_NE(to_svg(s).find("<line "), std::string::npos);
  const Image im = rasterize(s);
  // The curve's colour is within a pixel of the midpoint of its first segment.
  const int mx = (ls[0].x0 + ls[0].x1) / 2, my = (ls[0].y0 + ls[0].y1) / 2;
  int hits = 0;
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx) hits += im.pixel(mx + dx, my + dy) == series_color(0);
  EXPECT_GE(hits, 2);
}

TEST(VizLineChart, BadInputNamesTheSeries) {
  expect_error([] { line_chart({}); }, "[line_chart]", {"no panels"});
  expect_error([] { line_chart({{"loss", {}}}); }, "[line_chart]", {"panel 'loss' has no series"});
  expect_error([] { line_chart({{"loss", {{"a", {1, 2}, {1}}}}}); }, "[line_chart]", {"'a'", "2 x and 1 y"});
  expect_error([] { line_chart({{"loss", {{"a", {1, kNaN}, {1, 2}}}}}); }, "[line_chart]", {"'a'", "point 1"});
  expect_error([] { line_chart(kCurve, {.plot_width = 10}); }, "[line_chart]", {"plot_width 10"});
  // One point, or a flat curve, still gets an axis.
  const Scene one = line_chart({{"loss", {{"a", {3}, {2}}}}});
  EXPECT_GT(one.width, 0);
}

}  // namespace
}  // namespace attend::viz
