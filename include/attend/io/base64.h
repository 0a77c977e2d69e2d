// Base64 (RFC 4648, padded): binary in text, where a format wants text (safetensors metadata
// values are JSON strings, which must be UTF-8; pictures inside SVG and HTML as data: URLs).
#pragma once

#include <string>
#include <string_view>

namespace attend::io {

std::string base64_encode(std::string_view bytes);
// Throws "[base64] <what>: not base64 ..." on anything but padded base64.
std::string base64_decode(std::string_view text, const std::string& what);

}  // namespace attend::io
