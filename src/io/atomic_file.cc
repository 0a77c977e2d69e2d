#include "attend/io/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <streambuf>
#include <vector>

#include "attend/core/error.h"

namespace attend::io {
namespace {

constexpr const char* kOp = "write_file_atomic";
// Symbolic links followed before giving up (Linux's own limit, MAXSYMLINKS, is 40).
constexpr int kMaxLinks = 40;
// Temporaries in the old name format (no PID) are removed once this old: no writer takes that
// long between creating its temporary and renaming it.
constexpr auto kOldFormatAge = std::chrono::minutes(10);

std::string errno_text(int err) { return std::strerror(err); }
std::string errno_text() { return errno_text(errno); }

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

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  // Closes now and returns close(2)'s errno (0 on success): NFS and some quota setups report a
  // failed write only here.
  int close_now() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// An output stream buffer over a file descriptor that remembers the errno of the first failed
// write(2), so that the error can say why ("No space left on device"); std::ofstream loses it.
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd), buf_(1 << 16) { setp(buf_.data(), buf_.data() + buf_.size()); }
  // errno of the first failure, 0 if none.
  int error() const { return error_; }
  // Writes out what is buffered; false on failure (see error()).
  bool flush_all() { return sync() == 0; }

 protected:
  int_type overflow(int_type ch) override {
    if (sync() != 0) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (n >= static_cast<std::streamsize>(buf_.size())) {  // large writes bypass the buffer
      if (sync() != 0 || !write_all(s, static_cast<size_t>(n))) return 0;
      return n;
    }
    return std::streambuf::xsputn(s, n);
  }
  int sync() override {
    if (error_ != 0) return -1;
    const size_t n = static_cast<size_t>(pptr() - pbase());
    const bool ok = write_all(pbase(), n);
    setp(buf_.data(), buf_.data() + buf_.size());
    return ok ? 0 : -1;
  }

 private:
  bool write_all(const char* p, size_t n) {
    while (n > 0 && error_ == 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno != EINTR) error_ = errno;
        continue;
      }
      if (w == 0) error_ = EIO;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return error_ == 0;
  }

  int fd_;
  std::vector<char> buf_;
  int error_ = 0;
};

// Runs `write` on a stream over `fd` and pushes everything out; throws with the system's reason.
void write_to_fd(int fd, const std::function<void(std::ostream&)>& write, const std::string& target,
                 const std::string& what) {
  FdBuf buf(fd);
  std::ostream out(&buf);
  write(out);
  out.flush();
  const bool ok = buf.flush_all() && out.good();
  ATTEND_CHECK(ok, kOp, target, ": writing ", what, " failed: ",
               buf.error() != 0 ? errno_text(buf.error()) : std::string("the stream reported an error"));
}

void fsync_path(const std::string& path, int flags, const std::string& target) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  ATTEND_CHECK(fd >= 0, kOp, target, ": cannot open ", path, " to sync: ", errno_text());
  const int rc = ::fsync(fd);
  const std::string err = rc != 0 ? errno_text() : std::string();
  ::close(fd);
  ATTEND_CHECK(rc == 0, kOp, target, ": fsync of ", path, " failed: ", err);
}

std::filesystem::path dir_of(const std::filesystem::path& p) {
  return p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
}

// Where a write to `path` goes.
struct Destination {
  enum Kind { replace, write_through } kind;
  std::string path;  // replace: the file to replace (symlinks resolved); write_through: `path` as given
};

// Follows `path`'s symbolic links (as `sed -i --follow-symlinks`) and decides:
//  - a regular file, or nothing yet: replace the final target atomically, the links kept;
//  - a character device (/dev/null, /dev/full, a terminal) or a FIFO, or a path that names an
//    open file descriptor (/dev/stdout, /dev/fd/N, /proc/<pid>/fd/N: links through /proc, whose
//    targets are not paths one could rename over): write through, never turn it into a file;
//  - a directory, a socket or a block device: refused.
Destination resolve(const std::string& path) {
  namespace fs = std::filesystem;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw Error(kOp, path + ": is a directory");
    if (S_ISSOCK(st.st_mode)) throw Error(kOp, path + ": is a socket; a file cannot be written to it");
    if (S_ISBLK(st.st_mode)) throw Error(kOp, path + ": is a block device; refusing to overwrite it");
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return {Destination::write_through, path};
  }
  fs::path p(path);
  for (int hops = 0;; ++hops) {
    struct stat lst {};
    if (::lstat(p.c_str(), &lst) != 0 || !S_ISLNK(lst.st_mode)) break;
    ATTEND_CHECK(hops < kMaxLinks, kOp, path, ": too many levels of symbolic links");
    // A link in /proc (also reached through /dev/fd or /dev/stdout, whose directories are links
    // into /proc) names a descriptor: its target is no path one could rename over.
    std::error_code ec;
    const std::string link_dir = fs::canonical(dir_of(fs::absolute(p, ec)), ec).string();
    if (!ec && (link_dir == "/proc" || link_dir.rfind("/proc/", 0) == 0)) return {Destination::write_through, path};
    const fs::path target = fs::read_symlink(p, ec);
    ATTEND_CHECK(!ec, kOp, path, ": cannot read the symbolic link ", p.string(), ": ", ec.message());
    p = target.is_absolute() ? target : dir_of(p) / target;
  }
  return {Destination::replace, p.string()};
}

void write_through(const std::string& path, const std::function<void(std::ostream&)>& write) {
  // O_APPEND: through /dev/stdout redirected to a file (`>>` or `>`), the bytes go after what the
  // process already wrote there; devices and FIFOs ignore it. No O_CREAT: nothing is created. A
  // FIFO blocks here until a reader opens it, as the shell's `>` does.
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  ATTEND_CHECK(fd >= 0, kOp, path, ": cannot open for writing: ", errno_text());
  FdCloser closer(fd);
  write_to_fd(fd, write, path, path);
  const int err = closer.close_now();
  ATTEND_CHECK(err == 0, kOp, path, ": closing failed: ", errno_text(err));
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool mkstemp_suffix(std::string_view s) {
  if (s.size() != 6) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  return true;
}

// Whether `entry` (a name in the target's directory) is a temporary of `name` that nobody will
// rename any more: ".<name>.tmp.<pid>.XXXXXX" whose process is gone, or the PID-less
// ".<name>.tmp.XXXXXX" of older versions once kOldFormatAge old.
bool is_stale(const std::string& entry, const std::string& name, const std::string& full_path) {
  const std::string prefix = "." + name + ".tmp.";
  if (entry.size() <= prefix.size() || entry.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string_view rest = std::string_view(entry).substr(prefix.size());
  struct stat st {};
  if (::lstat(full_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const size_t dot = rest.find('.');
  if (dot != std::string_view::npos) {
    const std::string_view pid_text = rest.substr(0, dot);
    if (!all_digits(pid_text) || pid_text.size() > 9 || !mkstemp_suffix(rest.substr(dot + 1))) return false;
    const long pid = std::stol(std::string(pid_text));
    if (pid <= 0) return false;
    return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
  }
  if (!mkstemp_suffix(rest)) return false;
  const auto age = std::chrono::system_clock::now() - std::chrono::system_clock::from_time_t(st.st_mtime);
  return age > kOldFormatAge;
}

size_t sweep_in(const std::filesystem::path& dir, const std::string& name) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(d)) {
    const std::string entry = e->d_name;
    const std::string full = (dir / entry).string();
    if (is_stale(entry, name, full)) stale.push_back(full);
  }
  ::closedir(d);
  size_t removed = 0;
  for (const std::string& p : stale) removed += ::unlink(p.c_str()) == 0 ? 1 : 0;
  return removed;
}

// What write_file_atomic sweeps: the temporary-like entries (".<name>.tmp.<...>") of each
// directory this process writes into, listed once, by target name. Listing the directory on every
// write made writing N files into one directory quadratic (`attend gen scenes`: 50,000 pictures);
// temporaries of writers killed after this process first wrote there are left to the explicit
// sweep_stale_temporaries (or the next process).
size_t sweep_listed(const std::filesystem::path& dir, const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::map<std::string, std::vector<std::string>>> listed;  // dir -> name -> entries
  std::vector<std::string> candidates;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto [it, fresh] = listed.try_emplace(dir.string());
    if (fresh) {
      if (DIR* d = ::opendir(dir.c_str())) {
        while (const dirent* e = ::readdir(d)) {
          const std::string entry = e->d_name;
          const size_t tmp = entry.rfind(".tmp.");
          if (entry.size() > 1 && entry[0] == '.' && tmp != std::string::npos && tmp > 1)
            it->second[entry.substr(1, tmp - 1)].push_back(entry);
        }
        ::closedir(d);
      }
    }
    const auto found = it->second.find(name);
    if (found == it->second.end()) return 0;
    candidates = std::move(found->second);
    it->second.erase(found);
  }
  size_t removed = 0;
  for (const std::string& entry : candidates) {
    const std::string full = (dir / entry).string();
    if (is_stale(entry, name, full) && ::unlink(full.c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace

size_t sweep_stale_temporaries(const std::string& path) {
  if (path.empty()) return 0;
  const std::filesystem::path target(path);
  const std::string name = target.filename().string();
  if (name.empty()) return 0;
  return sweep_in(dir_of(target), name);
}

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  ATTEND_CHECK(!path.empty(), kOp, "empty path");
  ATTEND_CHECK(!std::filesystem::path(path).filename().empty(), kOp, path, ": not a file name");
  const Destination dest = resolve(path);
  if (dest.kind == Destination::write_through) {
    write_through(path, write);
    return;
  }
  const std::filesystem::path target(dest.path);
  const std::filesystem::path dir = dir_of(target);
  const std::string name = target.filename().string();
  ATTEND_CHECK(!name.empty(), kOp, path, ": not a file name");
  sweep_listed(dir, name);  // best effort: temporaries of writers that were killed

  // The PID in the name lets a later sweep tell a killed writer's temporary from a live one's.
  const std::string tmpl = (dir / ("." + name + ".tmp." + std::to_string(::getpid()) + ".XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  const int fd = ::mkostemp(buf.data(), O_CLOEXEC);
  ATTEND_CHECK(fd >= 0, kOp, path, ": cannot create a temporary file in ", dir.string(), ": ", errno_text());
  const std::string tmp(buf.data());
  TempGuard guard(tmp);
  FdCloser closer(fd);

  write_to_fd(fd, write, path, tmp);
  // Keep the permissions of the file being replaced; a new file gets 0644 (mkstemp uses 0600).
  struct stat st {};
  const mode_t mode = ::stat(dest.path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  ::fchmod(fd, mode);
  ATTEND_CHECK(::fsync(fd) == 0, kOp, path, ": fsync of ", tmp, " failed: ", errno_text());
  const int close_err = closer.close_now();
  ATTEND_CHECK(close_err == 0, kOp, path, ": closing ", tmp, " failed: ", errno_text(close_err));
  ATTEND_CHECK(::rename(tmp.c_str(), dest.path.c_str()) == 0, kOp, path, ": rename from ", tmp, " failed: ",
               errno_text());
  guard.release();
  fsync_path(dir.string(), O_RDONLY | O_DIRECTORY, path);
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  write_file_atomic(path, [&](std::ostream& os) { os.write(contents.data(), static_cast<std::streamsize>(contents.size())); });
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  // An ifstream opens a directory and reads nothing, which would read as an empty file.
  ATTEND_CHECK(!std::filesystem::is_directory(path, ec), "read_file", path, ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  ATTEND_CHECK(in.good(), "read_file", path, ": cannot open: ", errno_text());
  std::ostringstream ss;
  ss << in.rdbuf();
  ATTEND_CHECK(!in.bad(), "read_file", path, ": read error");
  return ss.str();
}

}  // namespace attend::io
