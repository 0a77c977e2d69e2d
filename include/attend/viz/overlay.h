// Attention over a picture: a grid of region weights upsampled to the picture and blended over
// it, and a page of such pictures with a label under each (a caption's words, a model's heads).
//
//   attention_overlay: gray picture [rows, cols] (0 = black) and weights [gr, gc] over a grid of
//   regions that tile the picture (row-major) -> RGB [rows, cols]. Each pixel's weight is the
//   bilinear interpolation between region centres (clamped at the borders), t = weight / the
//   largest weight; the pixel is (1 - 0.55) * gray + 0.55 * viridis(t).
//   picture_grid: the tiles, `columns` per row, each drawn `scale` times larger (nearest), its
//   label under it, the title on top: a Scene, so PNG, SVG and HTML show the same page.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attend/viz/render.h"
#include "attend/viz/scene.h"

namespace attend::viz {

// Errors "[overlay] ..." for sizes that do not match.
Image attention_overlay(const std::vector<uint8_t>& gray, int rows, int cols, const std::vector<float>& weights,
                        int grid_rows, int grid_cols);
// The gray picture as RGB.
Image gray_image(const std::vector<uint8_t>& gray, int rows, int cols);

struct Tile {
  Image picture;
  std::string label;
};
// Error "[picture_grid] ..." for no tiles, columns or scale < 1.
Scene picture_grid(const std::vector<Tile>& tiles, int columns, int scale, const std::string& title);

}  // namespace attend::viz
