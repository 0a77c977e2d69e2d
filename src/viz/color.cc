#include "attend/viz/color.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace attend::viz {
namespace {

uint8_t to_byte(double v) { return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); }

// Horner evaluation of a degree-6 polynomial per channel, fitted to matplotlib's viridis table
// (coefficients c0..c6 for r, g, b).
Rgb viridis(double t) {
  static constexpr std::array<std::array<double, 3>, 7> c = {{
      {0.2777273272234177, 0.005407344544966578, 0.3340998053353061},
      {0.1050930431085774, 1.404613529898575, 1.384590162594685},
      {-0.3308618287255563, 0.214847559468213, 0.09509516302823659},
      {-4.634230498983486, -5.799100973351585, -19.33244095627987},
      {6.228269936347081, 14.17993336680509, 56.69055260068105},
      {4.776384997670288, -13.74514537774601, -65.35303263337234},
      {-5.435455855934631, 4.645852612178535, 26.3124352495832},
  }};
  std::array<double, 3> v{};
  for (size_t ch = 0; ch < 3; ++ch) {
    double acc = c[6][ch];
    for (size_t k = 6; k-- > 0;) acc = acc * t + c[k][ch];
    v[ch] = acc;
  }
  return {to_byte(v[0]), to_byte(v[1]), to_byte(v[2])};
}

Rgb blues(double t) {
  static constexpr std::array<std::array<double, 3>, 3> stops = {{
      {247, 251, 255},  // #f7fbff
      {107, 174, 214},  // #6baed6
      {8, 48, 107},     // #08306b
  }};
  const double s = t * 2.0;
  const size_t i = s >= 1.0 ? 1 : 0;
  const double f = s - static_cast<double>(i);
  std::array<uint8_t, 3> out{};
  for (size_t ch = 0; ch < 3; ++ch) {
    const double v = stops[i][ch] + (stops[i + 1][ch] - stops[i][ch]) * f;
    out[ch] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
  }
  return {out[0], out[1], out[2]};
}

}  // namespace

Rgb map_color(Colormap cm, double t) {
  t = std::isnan(t) ? 0.0 : std::clamp(t, 0.0, 1.0);
  switch (cm) {
    case Colormap::viridis: return viridis(t);
    case Colormap::blues: return blues(t);
  }
  return viridis(t);
}

std::string hex(Rgb c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
  return buf;
}

double luminance(Rgb c) { return (0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b) / 255.0; }

}  // namespace attend::viz
