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

// Parses `text`; `source` names it in errors (a file name, "--config", ...). Valid syntax that
// nlohmann cannot represent (a number beyond a double's range, "1e400") is an error
// "[read_json_file] <source>: ..." too, never a JSON library exception.
nlohmann::json parse_json(const std::string& text, const std::string& source);

// A short description of `value` for error messages, bounded in size and recursion whatever
// the input: scalars as JSON (long strings cut), an array of up to 16 scalars whole ("[2, -3]"),
// anything else by its kind and size ("an array of 1000 elements", "an object of 3 members").
std::string describe_json(const nlohmann::json& value);

// Writes `value` pretty-printed (2-space indent, trailing newline) atomically.
void write_json_file(const std::string& path, const nlohmann::json& value);

}  // namespace attend::io
