// Attention drawn over pictures (overlay.h).
#include "attend/viz/overlay.h"

#include <algorithm>
#include <cmath>

#include "attend/core/error.h"
#include "attend/viz/font.h"

namespace attend::viz {

Image gray_image(const std::vector<uint8_t>& gray, int rows, int cols) {
  ATTEND_CHECK(rows > 0 && cols > 0 && gray.size() == static_cast<size_t>(rows) * static_cast<size_t>(cols), "overlay",
               gray.size(), " pixels for a picture of ", cols, "x", rows);
  Image im{.width = cols, .height = rows, .rgb = {}};
  im.rgb.reserve(gray.size() * 3);
  for (const uint8_t p : gray) im.rgb.insert(im.rgb.end(), {p, p, p});
  return im;
}

Image attention_overlay(const std::vector<uint8_t>& gray, int rows, int cols, const std::vector<float>& weights,
                        int grid_rows, int grid_cols) {
  Image im = gray_image(gray, rows, cols);
  ATTEND_CHECK(grid_rows > 0 && grid_cols > 0 &&
                   weights.size() == static_cast<size_t>(grid_rows) * static_cast<size_t>(grid_cols),
               "overlay", weights.size(), " weights for a grid of ", grid_cols, "x", grid_rows, " regions");
  float top = 0.0f;
  for (const float w : weights) top = std::max(top, std::isfinite(w) ? w : 0.0f);
  const auto at = [&](int r, int c) {
    const float w = weights[static_cast<size_t>(std::clamp(r, 0, grid_rows - 1) * grid_cols + std::clamp(c, 0, grid_cols - 1))];
    return std::isfinite(w) ? w : 0.0f;
  };
  constexpr double kAlpha = 0.55;
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      // The pixel centre in region coordinates, where region centres sit at integers.
      const double gy = (y + 0.5) * grid_rows / rows - 0.5, gx = (x + 0.5) * grid_cols / cols - 0.5;
      const int r0 = static_cast<int>(std::floor(gy)), c0 = static_cast<int>(std::floor(gx));
      const double fy = gy - r0, fx = gx - c0;
      const double w = (1 - fy) * ((1 - fx) * at(r0, c0) + fx * at(r0, c0 + 1)) +
                       fy * ((1 - fx) * at(r0 + 1, c0) + fx * at(r0 + 1, c0 + 1));
      const Rgb heat = map_color(Colormap::viridis, top > 0 ? w / top : 0.0);
      uint8_t* p = im.rgb.data() + (static_cast<size_t>(y) * static_cast<size_t>(cols) + static_cast<size_t>(x)) * 3;
      const auto blend = [&](uint8_t base, uint8_t h) {
        return static_cast<uint8_t>(std::lround((1 - kAlpha) * base + kAlpha * h));
      };
      p[0] = blend(p[0], heat.r);
      p[1] = blend(p[1], heat.g);
      p[2] = blend(p[2], heat.b);
    }
  return im;
}

Scene picture_grid(const std::vector<Tile>& tiles, int columns, int scale, const std::string& title) {
  ATTEND_CHECK(!tiles.empty() && columns >= 1 && scale >= 1, "picture_grid", tiles.size(), " tiles, ", columns,
               " columns, scale ", scale, ": need tiles and columns, scale >= 1");
  int tw = 0, th = 0;
  for (const Tile& t : tiles) tw = std::max(tw, t.picture.width * scale), th = std::max(th, t.picture.height * scale);
  int label_w = 0;
  for (const Tile& t : tiles) label_w = std::max(label_w, text_width(t.label));
  constexpr int kPad = 10, kTitle = 24, kLabel = 18;
  const int cell_w = std::max(tw, label_w) + kPad, cell_h = th + kLabel + kPad;
  const int n = static_cast<int>(tiles.size()), cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  Scene s;
  s.width = kPad + cols * cell_w;
  s.height = kTitle + kPad + rows * cell_h;
  s.title = title;
  s.items.push_back(TextItem{.x = kPad, .y = 6, .text = title, .color = Rgb{0, 0, 0}});
  for (int i = 0; i < n; ++i) {
    const Tile& t = tiles[static_cast<size_t>(i)];
    const int x = kPad + (i % cols) * cell_w, y = kTitle + kPad + (i / cols) * cell_h;
    const int w = t.picture.width * scale, h = t.picture.height * scale;
    s.items.push_back(PictureItem{.x = x + (cell_w - kPad - w) / 2, .y = y, .w = w, .h = h, .src_w = t.picture.width,
                                  .src_h = t.picture.height, .rgb = t.picture.rgb});
    s.items.push_back(TextItem{.x = x + (cell_w - kPad) / 2, .y = y + th + 4, .text = t.label, .color = Rgb{0, 0, 0},
                               .align = TextAlign::middle});
  }
  return s;
}

}  // namespace attend::viz
