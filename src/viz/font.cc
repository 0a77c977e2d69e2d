#include <algorithm>
#include <string>

#include "attend/viz/font.h"

namespace attend::viz {

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int len = 0;
    char32_t cp = 0, min = 0;
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    }
    bool ok = len > 0 && i + static_cast<size_t>(len) <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      ok = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.push_back(cp);
      i += static_cast<size_t>(len);
    } else {
      out.push_back(U'\uFFFD');
      ++i;
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

int text_width(std::string_view utf8) { return static_cast<int>(decode_utf8(utf8).size()) * kGlyphWidth; }

int widest(const std::vector<std::string>& texts) {
  int w = 0;
  for (const auto& t : texts) w = std::max(w, text_width(t));
  return w;
}

std::string truncate_label(std::string_view utf8, int max_chars) {
  const size_t limit = static_cast<size_t>(max_chars < 4 ? 4 : max_chars);
  const std::u32string cps = decode_utf8(utf8);
  if (cps.size() <= limit) return std::string(utf8);
  std::string out;
  for (size_t k = 0; k + 3 < limit; ++k) append_utf8(out, cps[k]);
  out += "...";
  return out;
}

const uint8_t* glyph_rows(char32_t c) {
  if ((c >= 0x20 && c <= 0x7E) || (c >= 0xA0 && c <= 0xFF)) return detail::kFont6x13[c];
  // U+2581 LOWER ONE EIGHTH BLOCK: the word-start mark of SentencePiece pieces ("▁Mann"), so that
  // subword labels read as they are written. The bottom 2 of 13 rows, full width.
  static constexpr uint8_t kLowerEighth[13] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFC, 0xFC};
  if (c == 0x2581) return kLowerEighth;
  return nullptr;
}

}  // namespace attend::viz
