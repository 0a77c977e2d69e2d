#include "attend/io/json_config.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "attend/core/error.h"
#include "attend/io/atomic_file.h"

namespace attend::io {

nlohmann::json parse_json(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based: the byte at which parsing stopped. Turn it into line:column.
    const size_t stop = e.byte == 0 ? 0 : std::min(e.byte - 1, text.size());
    size_t line = 1, col = 1;
    for (size_t i = 0; i < stop; ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw Error("read_json_file", detail::concat(source, ":", line, ":", col, ": ", e.what()));
  }
}

nlohmann::json read_json_file(const std::string& path) {
  return parse_json(read_file(path), path);
}

void write_json_file(const std::string& path, const nlohmann::json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

}  // namespace attend::io
