// Reading JSON configuration files (model hyper-parameters, training options). Every error names
// the file and, for syntax errors, the line and column, e.g.
//   "[read_json_file] conf.json:3:14: syntax error ... unexpected '}'".
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace attend::io {

// Parses `path` as JSON (comments are not allowed). Throws attend::Error("[read_file] <path>: ...")
// when the file is missing or unreadable, "[read_json_file] <path>:<line>:<col>: ..." when not JSON.
nlohmann::json read_json_file(const std::string& path);

// Parses `text`; `source` names it in errors (a file name, "--config", ...).
nlohmann::json parse_json(const std::string& text, const std::string& source);

// Writes `value` pretty-printed (2-space indent, trailing newline) atomically.
void write_json_file(const std::string& path, const nlohmann::json& value);

}  // namespace attend::io
