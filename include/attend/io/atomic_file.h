// Atomic file writing: every file the library writes goes through write_file_atomic, so a crash
// or an exception mid-write never destroys the previous good file.
//
// Protocol: create "<dir>/.<name>.tmp.<pid>.XXXXXX" in the target's own directory (same
// filesystem, so the rename is atomic), let the caller write into it, flush and fsync it, rename
// it over the target, then fsync the directory so the rename itself is durable. If the writer
// throws, or any step fails, the temporary file is removed and the target is untouched.
//
// What the path names decides what happens (docs/robustness.md):
//  - a regular file or nothing: replaced atomically as above;
//  - a symbolic link (or a chain of them): followed, as `sed -i --follow-symlinks` does; the final
//    target is replaced atomically (its temporary beside it) and the links stay links; a dangling
//    link gets its target created;
//  - a character device (/dev/null, /dev/full, a terminal), a FIFO, or a name of an open file
//    descriptor (/dev/stdout, /dev/fd/N, /proc/<pid>/fd/N): written through, opened with
//    O_WRONLY | O_APPEND, never created, truncated or replaced (a FIFO waits for its reader, as
//    the shell's `>` does). Not atomic: there is no previous file to keep;
//  - a directory, a socket or a block device: refused with an error saying which.
//
// Temporaries of writers that were killed between creating and renaming them would pile up
// beside the target; writes sweep them: a temporary of the same target whose PID no longer exists (kill(pid, 0) fails with ESRCH) is removed, one of a live
// process never is. The PID test assumes writers of one directory share a PID namespace (one
// machine, no containers with separate PID spaces on a shared volume). Temporaries in the
// PID-less format of earlier versions (".<name>.tmp.XXXXXX") are removed once 10 minutes old.
// A process lists a directory once, at its first write there (a listing per write made writing N
// files into one directory quadratic); sweep_stale_temporaries lists it again.
//
// Every failure is attend::Error("[write_file_atomic] <path>: ...") with the system's reason
// (strerror(errno): "No space left on device", "File too large", ...).
#pragma once

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace attend::io {

// Writes `path` atomically with whatever `write` puts into the stream (binary mode). Exceptions
// from `write` propagate after the temporary file is removed. I/O failures throw
// attend::Error("[write_file_atomic] <path>: ...").
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

// Removes the temporaries that killed writers of `path` left in its directory (see above) and
// returns how many; best effort, never throws for files it cannot list or remove. Called by
// write_file_atomic; `path` is taken as given (a symlink's target is not followed here).
size_t sweep_stale_temporaries(const std::string& path);

// Convenience: atomically replaces `path` with exactly `contents`.
void write_file_atomic(const std::string& path, std::string_view contents);

// Reads a whole file into a string (binary). Throws attend::Error("[read_file] <path>: ...") when
// it cannot be opened or read.
std::string read_file(const std::string& path);

}  // namespace attend::io
