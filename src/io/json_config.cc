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
  } catch (const nlohmann::json::exception& e) {
    throw Error("read_json_file", detail::concat(source, ": ", e.what()));
  }
}

std::string describe_json(const nlohmann::json& value) {
  constexpr size_t kMaxText = 64, kMaxElements = 16;
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s.size() <= kMaxText) return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return nlohmann::json(s.substr(0, kMaxText)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           detail::concat("... (", s.size(), " bytes)");
  }
  if (value.is_primitive()) return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const bool flat = value.is_array() && value.size() <= kMaxElements &&
                    std::all_of(value.begin(), value.end(), [](const nlohmann::json& v) {
                      return v.is_primitive() && (!v.is_string() || v.get_ref<const std::string&>().size() <= kMaxText);
                    });
  if (flat) return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (value.is_array()) return detail::concat("an array of ", value.size(), " elements");
  if (value.is_object()) return detail::concat("an object of ", value.size(), " members");
  return value.type_name();
}

nlohmann::json read_json_file(const std::string& path) {
  return parse_json(read_file(path), path);
}

void write_json_file(const std::string& path, const nlohmann::json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

}  // namespace attend::io
