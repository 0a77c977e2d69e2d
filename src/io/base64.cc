// Base64 (base64.h).
#include "attend/io/base64.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "attend/core/error.h"

namespace attend::io {

// Base64 (RFC 4648, padded): safetensors metadata values are JSON strings, which must be UTF-8,
// and a .model file is binary protobuf.
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    for (size_t k = 0; k < 4; ++k) out.push_back(k <= n ? kBase64[(v >> (18 - 6 * k)) & 63] : '=');
  }
  return out;
}

std::string base64_decode(std::string_view text, const std::string& what) {
  ATTEND_CHECK(text.size() % 4 == 0, "base64", what, ": not base64 (length ", text.size(),
               " is not a multiple of 4)");
  int8_t value[256];
  std::fill(std::begin(value), std::end(value), int8_t{-1});
  for (int i = 0; i < 64; ++i) value[static_cast<unsigned char>(kBase64[i])] = static_cast<int8_t>(i);
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const size_t pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=') : 0;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      const int8_t d = k < 4 - pad ? value[static_cast<unsigned char>(text[i + k])] : int8_t{0};
      ATTEND_CHECK(d >= 0, "base64", what, ": not base64 (byte ", i + k, ")");
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    for (size_t k = 0; k < 3 - pad; ++k) out.push_back(static_cast<char>((v >> (16 - 8 * k)) & 0xFF));
  }
  return out;
}

}  // namespace attend::io
