#include "attend/viz/heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "attend/core/error.h"
#include "attend/viz/font.h"

namespace attend::viz {
namespace {

constexpr int kMargin = 10;     // around everything
constexpr int kGap = 4;         // between labels and the grid
constexpr int kTitleGap = 8;    // below the title
constexpr int kPanelGap = 14;   // between maps of a multi-head grid
constexpr int kBarGap = 16;     // between the grid(s) and the colour bar
constexpr int kBarWidth = 14;
constexpr int kTickLength = 3;
constexpr int kMinBarHeight = 100;
constexpr int kTicks = 5;
constexpr int64_t kMaxSide = 1 << 16;
const Rgb kInk{25, 25, 25};
const Rgb kFrameColor{110, 110, 110};
const Rgb kWhite{255, 255, 255};

// The weights as [H, Tq, Tk] doubles (H = 1 for a single map).
struct Weights {
  int64_t heads = 1, tq = 0, tk = 0;
  std::vector<double> v;
  double at(int64_t h, int64_t q, int64_t k) const { return v[static_cast<size_t>((h * tq + q) * tk + k)]; }
};

Weights read_weights(const Tensor& w, bool multi) {
  const char* op = "heatmap";
  ATTEND_CHECK(w.defined(), op, "weights tensor is undefined");
  const int rank = multi ? 3 : 2;
  ATTEND_CHECK(w.dim() == rank, op, multi ? "multi-head weights must be [H, Tq, Tk]" : "weights must be [Tq, Tk]",
               ", got ", w.shape());
  Weights m;
  if (multi) m.heads = w.size(0);
  m.tq = w.size(-2);
  m.tk = w.size(-1);
  ATTEND_CHECK(m.heads > 0 && m.tq > 0 && m.tk > 0, op, "weights ", w.shape(), " have no cells");
  m.v = w.to_vector<double>();
  for (size_t i = 0; i < m.v.size(); ++i) {
    if (std::isfinite(m.v[i])) continue;
    const auto k = static_cast<int64_t>(i) % m.tk, q = static_cast<int64_t>(i) / m.tk % m.tq,
               h = static_cast<int64_t>(i) / (m.tk * m.tq);
    if (multi)
      throw Error(op, attend::detail::concat("weight at [", h, ", ", q, ", ", k, "] of ", w.shape(), " is ", m.v[i]));
    throw Error(op, attend::detail::concat("weight at [", q, ", ", k, "] of ", w.shape(), " is ", m.v[i]));
  }
  return m;
}

std::vector<std::string> labels_or_indices(const std::vector<std::string>& given, int64_t n) {
  if (!given.empty()) return given;
  std::vector<std::string> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(std::to_string(i));
  return out;
}

// ".87" for 0.87 (the leading zero carries no information in a weight), "1.00", "-.25".
std::string format_value(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.rfind("0.", 0) == 0) s.erase(0, 1);
  else if (s.rfind("-0.", 0) == 0) s.erase(1, 1);
  return s;
}

std::string format_tick(double v, double span) {
  char buf[64];
  if (span < 0.05)
    std::snprintf(buf, sizeof buf, "%.3g", v);
  else
    std::snprintf(buf, sizeof buf, "%.*f", span >= 50 ? 0 : span >= 5 ? 1 : 2, v);
  return buf;
}

Scene layout(const Weights& m, const Shape& shape, const TokenLabels& labels, const HeatmapOptions& o, bool multi) {
  const char* op = "heatmap";
  ATTEND_CHECK((labels.query.empty() || static_cast<int64_t>(labels.query.size()) == m.tq) &&
                   (labels.key.empty() || static_cast<int64_t>(labels.key.size()) == m.tk),
               op, "weights ", shape, " need ", m.tq, " query labels and ", m.tk, " key labels, got ",
               labels.query.size(), " query and ", labels.key.size(), " key labels");
  ATTEND_CHECK(o.cell_size == 0 || (o.cell_size >= 4 && o.cell_size <= 1024), op, "cell_size ", o.cell_size,
               " is outside 4..1024 (0 picks one)");
  ATTEND_CHECK(o.value_decimals >= 0 && o.value_decimals <= 10, op, "value_decimals ", o.value_decimals,
               " is outside 0..10");
  ATTEND_CHECK(o.columns >= 0, op, "columns ", o.columns, " is negative");
  ATTEND_CHECK(!o.vmin || std::isfinite(*o.vmin), op, "vmin ", o.vmin.value_or(0), " is not finite");
  ATTEND_CHECK(!o.vmax || std::isfinite(*o.vmax), op, "vmax ", o.vmax.value_or(0), " is not finite");
  ATTEND_CHECK(!(o.vmin && o.vmax) || *o.vmin < *o.vmax, op, "vmin ", o.vmin.value_or(0), " must be below vmax ",
               o.vmax.value_or(0));

  // Colour scale.
  const auto [mn, mx] = std::minmax_element(m.v.begin(), m.v.end());
  const double lo = o.vmin.value_or(std::min(0.0, *mn));
  double hi = o.vmax.value_or(*mx);
  if (hi <= lo) hi = lo + 1.0;
  const Colormap cm = o.colormap;
  auto color_of = [&](double v) { return map_color(cm, (v - lo) / (hi - lo)); };

  Scene s;
  s.title = o.title;
  s.query_tokens = labels_or_indices(labels.query, m.tq);
  s.key_tokens = labels_or_indices(labels.key, m.tk);
  ATTEND_CHECK(o.captions.empty() || static_cast<int64_t>(o.captions.size()) == m.heads, op, o.captions.size(),
               " captions for ", m.heads, " maps");
  if (multi)
    for (int64_t h = 0; h < m.heads; ++h)
      s.panel_captions.push_back(o.captions.empty() ? "head " + std::to_string(h) : o.captions[static_cast<size_t>(h)]);
  std::vector<std::string> qshow, kshow;
  for (const auto& t : s.query_tokens) qshow.push_back(truncate_label(t, o.max_label_chars));
  for (const auto& t : s.key_tokens) kshow.push_back(truncate_label(t, o.max_label_chars));

  const int cell = o.cell_size != 0 ? o.cell_size : multi ? 14 : 28;
  // Keeps every pixel coordinate well inside int (and the picture inside what viewers open).
  const int64_t grid_cols = multi ? (o.columns > 0 ? std::min<int64_t>(o.columns, m.heads)
                                                   : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(m.heads)))))
                                  : 1;
  const int64_t grid_rows = (m.heads + grid_cols - 1) / grid_cols;
  ATTEND_CHECK(m.heads <= 1024 && m.tq * grid_rows * cell <= kMaxSide && m.tk * grid_cols * cell <= kMaxSide, op,
               "weights ", shape, " at ", cell, " px per cell exceed ", kMaxSide, " px; use a smaller cell_size");
  const bool vertical_keys = o.key_labels == KeyLabelDirection::vertical ||
                             (o.key_labels == KeyLabelDirection::automatic && widest(kshow) > cell - 2);
  // With cells smaller than a line of text, label every stride-th row/column only.
  const int64_t row_stride = (kGlyphHeight + cell - 1) / cell;
  const int64_t col_stride = vertical_keys ? row_stride : 1;

  const int key_band = vertical_keys ? widest(kshow) : kGlyphHeight;
  const int query_band = widest(qshow);
  const int title_band = o.title.empty() ? 0 : kGlyphHeight + kTitleGap;
  const int caption_band = multi ? kGap + kGlyphHeight : 0;

  const int heads = static_cast<int>(m.heads);
  const int cols = static_cast<int>(grid_cols), rows = static_cast<int>(grid_rows);
  const int grid_w = static_cast<int>(m.tk) * cell, grid_h = static_cast<int>(m.tq) * cell;

  const int x0 = kMargin + query_band + kGap;
  const int y0 = kMargin + title_band + key_band + kGap;
  const int grids_right = x0 + cols * grid_w + (cols - 1) * kPanelGap;
  const int grids_bottom = y0 + rows * (grid_h + caption_band) + (rows - 1) * kPanelGap;

  // Colour bar and its ticks.
  const int bar_x = grids_right + kBarGap, bar_y = y0;
  const int bar_h = std::max(kMinBarHeight, grids_bottom - y0 - caption_band);
  std::vector<std::string> tick_text;
  for (int i = 0; i < kTicks; ++i)
    tick_text.push_back(format_tick(lo + (hi - lo) * i / (kTicks - 1), hi - lo));
  const int tick_x = bar_x + kBarWidth + kTickLength + 3;

  s.width = std::max(tick_x + widest(tick_text) + kMargin, text_width(o.title) + 2 * kMargin);
  s.height = std::max(grids_bottom, bar_y + bar_h + kGlyphHeight / 2 + 1) + kMargin;

  if (!o.title.empty()) {
    const int w = text_width(o.title);
    const int centre = std::clamp((x0 + grids_right) / 2, kMargin + w / 2, s.width - kMargin - (w - w / 2));
    s.items.emplace_back(TextItem{.x = centre, .y = kMargin, .text = o.title, .color = kInk, .align = TextAlign::middle});
  }

  for (int h = 0; h < heads; ++h) {
    const int pr = h / cols, pc = h % cols;
    const int gx = x0 + pc * (grid_w + kPanelGap);
    const int gy = y0 + pr * (grid_h + caption_band + kPanelGap);
    for (int64_t q = 0; q < m.tq; ++q) {
      for (int64_t k = 0; k < m.tk; ++k) {
        const double v = m.at(h, q, k);
        const Rgb fill = color_of(v);
        const int cx = gx + static_cast<int>(k) * cell, cy = gy + static_cast<int>(q) * cell;
        s.items.emplace_back(RectItem{.x = cx, .y = cy, .w = cell, .h = cell, .fill = fill,
                                      .cell = CellInfo{.head = multi ? h : -1, .query = q, .key = k, .value = v}});
        if (o.values == CellValues::printed) {
          std::string txt = format_value(v, o.value_decimals);
          if (text_width(txt) <= cell - 2 && kGlyphHeight <= cell)
            s.items.emplace_back(TextItem{.x = cx + cell / 2, .y = cy + (cell - kGlyphHeight) / 2,
                                          .text = std::move(txt), .color = luminance(fill) < 0.5 ? kWhite : kInk,
                                          .align = TextAlign::middle});
        }
      }
    }
    s.items.emplace_back(FrameItem{.x = gx - 1, .y = gy - 1, .w = grid_w + 2, .h = grid_h + 2, .stroke = kFrameColor});
    if (pr == 0) {
      for (int64_t k = 0; k < m.tk; k += col_stride) {
        const int centre = gx + static_cast<int>(k) * cell + cell / 2;
        const auto& text = kshow[static_cast<size_t>(k)];
        if (vertical_keys)
          s.items.emplace_back(TextItem{.x = centre - (kGlyphHeight + 1) / 2, .y = gy - kGap, .text = text,
                                        .color = kInk, .align = TextAlign::start,
                                        .direction = TextDirection::vertical_up});
        else
          s.items.emplace_back(TextItem{.x = centre, .y = gy - kGap - kGlyphHeight, .text = text, .color = kInk,
                                        .align = TextAlign::middle});
      }
    }
    if (pc == 0) {
      for (int64_t q = 0; q < m.tq; q += row_stride)
        s.items.emplace_back(TextItem{.x = gx - kGap,
                                      .y = gy + static_cast<int>(q) * cell + (cell - kGlyphHeight) / 2 + 1,
                                      .text = qshow[static_cast<size_t>(q)], .color = kInk, .align = TextAlign::end});
    }
    if (multi)
      s.items.emplace_back(TextItem{.x = gx + grid_w / 2, .y = gy + grid_h + kGap,
                                    .text = s.panel_captions[static_cast<size_t>(h)],
                                    .color = kInk, .align = TextAlign::middle});
  }

  s.items.emplace_back(ColorBarItem{.x = bar_x, .y = bar_y, .w = kBarWidth, .h = bar_h, .colormap = cm});
  s.items.emplace_back(FrameItem{.x = bar_x - 1, .y = bar_y - 1, .w = kBarWidth + 2, .h = bar_h + 2, .stroke = kFrameColor});
  for (int i = 0; i < kTicks; ++i) {
    const int ty = bar_y + static_cast<int>(std::lround((1.0 - static_cast<double>(i) / (kTicks - 1)) * (bar_h - 1)));
    s.items.emplace_back(RectItem{.x = bar_x + kBarWidth + 1, .y = ty, .w = kTickLength, .h = 1, .fill = kFrameColor});
    s.items.emplace_back(TextItem{.x = tick_x, .y = ty - kGlyphHeight / 2 - 1, .text = tick_text[static_cast<size_t>(i)],
                                  .color = kInk});
  }
  return s;
}

}  // namespace

Scene heatmap(const Tensor& weights, const TokenLabels& labels, const HeatmapOptions& options) {
  return layout(read_weights(weights, false), weights.shape(), labels, options, false);
}

Scene multihead_heatmap(const Tensor& weights, const TokenLabels& labels, const HeatmapOptions& options) {
  return layout(read_weights(weights, true), weights.shape(), labels, options, true);
}

}  // namespace attend::viz
