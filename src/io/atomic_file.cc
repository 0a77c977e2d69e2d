#include "attend/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "attend/core/error.h"

namespace attend::io {
namespace {

constexpr const char* kOp = "write_file_atomic";

std::string errno_text() { return std::strerror(errno); }

// Removes the temporary file unless released (i.e. unless the rename succeeded).
class TempGuard {
 public:
  explicit TempGuard(std::string path) : path_(std::move(path)) {}
  ~TempGuard() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempGuard(const TempGuard&) = delete;
  TempGuard& operator=(const TempGuard&) = delete;
  void release() { path_.clear(); }

 private:
  std::string path_;
};

void fsync_path(const std::string& path, int flags, const std::string& target) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  ATTEND_CHECK(fd >= 0, kOp, target, ": cannot open ", path, " to sync: ", errno_text());
  const int rc = ::fsync(fd);
  const std::string err = rc != 0 ? errno_text() : std::string();
  ::close(fd);
  ATTEND_CHECK(rc == 0, kOp, target, ": fsync of ", path, " failed: ", err);
}

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  ATTEND_CHECK(!path.empty(), kOp, "empty path");
  const std::filesystem::path target(path);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  const std::string name = target.filename().string();
  ATTEND_CHECK(!name.empty(), kOp, path, ": not a file name");

  std::string tmpl = (dir / ("." + name + ".tmp.XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  const int fd = ::mkstemp(buf.data());
  ATTEND_CHECK(fd >= 0, kOp, path, ": cannot create a temporary file in ", dir.string(), ": ", errno_text());
  ::close(fd);
  const std::string tmp(buf.data());
  TempGuard guard(tmp);

  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ATTEND_CHECK(out.good(), kOp, path, ": cannot open temporary file ", tmp);
    write(out);
    out.flush();
    ATTEND_CHECK(out.good(), kOp, path, ": writing ", tmp, " failed");
  }
  // Keep the permissions of the file being replaced; a new file gets 0644 (mkstemp uses 0600).
  struct stat st {};
  const mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  ::chmod(tmp.c_str(), mode);
  fsync_path(tmp, O_RDONLY, path);
  ATTEND_CHECK(::rename(tmp.c_str(), path.c_str()) == 0, kOp, path, ": rename from ", tmp, " failed: ",
               errno_text());
  guard.release();
  fsync_path(dir.string(), O_RDONLY | O_DIRECTORY, path);
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  write_file_atomic(path, [&](std::ostream& os) { os.write(contents.data(), static_cast<std::streamsize>(contents.size())); });
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ATTEND_CHECK(in.good(), "read_file", path, ": cannot open: ", errno_text());
  std::ostringstream ss;
  ss << in.rdbuf();
  ATTEND_CHECK(!in.bad(), "read_file", path, ": read error");
  return ss.str();
}

}  // namespace attend::io
