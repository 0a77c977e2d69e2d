// Atomic file writing: every file the library writes goes through write_file_atomic, so a crash
// or an exception mid-write never destroys the previous good file.
//
// Protocol: create "<dir>/.<name>.tmp.XXXXXX" in the target's own directory (same filesystem, so
// the rename is atomic), let the caller write into it, flush and fsync it, rename it over the
// target, then fsync the directory so the rename itself is durable. If the writer throws, or any
// step fails, the temporary file is removed and the target is untouched.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace attend::io {

// Writes `path` atomically with whatever `write` puts into the stream (binary mode). Exceptions
// from `write` propagate after the temporary file is removed. I/O failures throw
// attend::Error("[write_file_atomic] <path>: ...").
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

// Convenience: atomically replaces `path` with exactly `contents`.
void write_file_atomic(const std::string& path, std::string_view contents);

// Reads a whole file into a string (binary). Throws attend::Error("[read_file] <path>: ...") when
// it cannot be opened or read.
std::string read_file(const std::string& path);

}  // namespace attend::io
