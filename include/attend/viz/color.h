// Colours and the sequential colour maps used by the heat maps.
//
// map_color(cm, t) takes t in [0, 1] (clamped; NaN reads as 0) to an 8-bit sRGB colour. Both maps
// are sequential: lightness changes monotonically with t, so a larger weight always looks
// "more", also in grey-scale print.
//   viridis  the matplotlib default (van der Walt and Smith, 2015), dark purple -> yellow, as a
//            degree-6 polynomial fit: within 10/255 of the published 256-entry table per channel.
//   blues    white -> dark blue, piecewise linear in sRGB through #f7fbff, #6baed6, #08306b;
//            zero weight is white, so sparse alignments read like ink on paper.
#pragma once

#include <cstdint>
#include <string>

namespace attend::viz {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

enum class Colormap { viridis, blues };

Rgb map_color(Colormap cm, double t);

// "#rrggbb", lower case.
std::string hex(Rgb c);

// Relative luminance in [0, 1] (Rec. 709 weights on the sRGB values); used to pick black or
// white text on a cell.
double luminance(Rgb c);

}  // namespace attend::viz
