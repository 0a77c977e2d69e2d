// The bitmap font that the PNG renderer draws text with, and the text metrics that every
// renderer's layout shares.
//
// Font: X11's public-domain 6x13 "fixed" (misc-fixed semicondensed, ISO 8859-1). Every code point
// takes one 6 x 13 pixel cell (ascent 11, descent 2), so a label of n code points is 6n pixels
// wide in the PNG and, with a 10 px monospace font, about as wide in SVG/HTML. Code points
// U+0020..U+007E and U+00A0..U+00FF have glyphs ("Größe" is drawn as written); any other code point
// and every malformed UTF-8 byte is drawn as a placeholder box of the same width, so the labels
// stay aligned.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attend::viz {

inline constexpr int kGlyphWidth = 6;
inline constexpr int kGlyphHeight = 13;
inline constexpr int kGlyphAscent = 11;

// Decodes UTF-8; each malformed or overlong sequence, surrogate or code point above U+10FFFF
// becomes U+FFFD (one per offending byte), never an error.
std::u32string decode_utf8(std::string_view text);
// Encodes one code point as UTF-8 (c must be a valid scalar value).
void append_utf8(std::string& out, char32_t c);

// Width in pixels of `text` drawn with the bitmap font: 6 per code point.
int text_width(std::string_view utf8);
// The widest of `texts` in pixels (0 for none).
int widest(const std::vector<std::string>& texts);

// `text` cut to at most `max_chars` code points; a cut label ends in "..." (counted in the
// limit). max_chars < 4 is treated as 4.
std::string truncate_label(std::string_view utf8, int max_chars);

// The 13 rows of code point c's glyph (bit 7 = leftmost pixel), or nullptr when the font has no
// glyph for c (the renderer then draws a placeholder box).
const uint8_t* glyph_rows(char32_t c);

namespace detail {
extern const uint8_t kFont6x13[256][13];
}

}  // namespace attend::viz
