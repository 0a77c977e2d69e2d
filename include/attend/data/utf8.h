// UTF-8 helpers for the data layer: validation (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF) and splitting text into code points.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attend::data {

// Byte offset (0-based) of the first byte of the first invalid sequence in `s`, or nullopt when
// `s` is valid UTF-8.
std::optional<size_t> utf8_invalid_offset(std::string_view s);

// Length in bytes of the valid sequence starting at s[i] (1..4), or 0 if it is invalid/truncated.
size_t utf8_sequence_length(std::string_view s, size_t i);

// The code points of valid UTF-8 `s`, each as its own UTF-8 string. Throws
// attend::Error("[utf8_split] ...") naming the byte offset if `s` is not valid UTF-8.
std::vector<std::string> utf8_split(std::string_view s);

// `s` with ASCII letters and the Latin-1 capitals U+00C0..U+00DE (except U+00D7) lowercased: the
// letters of English, German, French and most Western European text. Other bytes are copied, so
// the result is valid UTF-8 exactly when `s` is.
std::string utf8_lower(std::string_view s);

}  // namespace attend::data
