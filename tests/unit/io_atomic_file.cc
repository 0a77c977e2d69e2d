// io: atomic file writing (a writer that throws leaves the old file and no temporary behind;
// symlinks are followed and kept; FIFOs and character devices are written through, never
// replaced; stale temporaries of killed writers are swept; failures name the system's reason) and
// JSON config reading with file:line:column errors.
#include <gtest/gtest.h>

#include "support/temp_dir.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "attend/core/error.h"
#include "attend/io/atomic_file.h"
#include "attend/io/json_config.h"
#include "support/check.h"

namespace attend::io {
namespace {

namespace fs = std::filesystem;

class IoAtomicFile : public test::TempDirTest {
 protected:
  size_t entries() const { return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator())); }
  // Names in the test directory that look like temporaries (".<name>.tmp.*").
  std::vector<std::string> temporaries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string n = e.path().filename().string();
      if (n.find(".tmp.") != std::string::npos) out.push_back(n);
    }
    return out;
  }
};

using test::error_of;

// A PID that belonged to a process which has exited (and was reaped).
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

void touch(const fs::path& p, std::chrono::seconds age = std::chrono::seconds(0)) {
  std::ofstream(p) << "partial";
  fs::last_write_time(p, fs::file_time_type::clock::now() - age);
}

TEST_F(IoAtomicFile, WritesAndReplaces) {
  const std::string p = path("a.txt");
  write_file_atomic(p, "first");
  EXPECT_EQ(read_file(p), "first");
  write_file_atomic(p, [](std::ostream& os) { os << "second " << 2; });
  EXPECT_EQ(read_file(p), "second 2");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(IoAtomicFile, WriterThatThrowsLeavesOldFileAndNoTemporary) {
  const std::string p = path("model.safetensors");
  write_file_atomic(p, "good contents");
  EXPECT_THROW(write_file_atomic(p,
                                 [](std::ostream& os) {
                                   os << std::string(100000, 'x');  // half-written
                                   throw std::runtime_error("crash midway");
                                 }),
               std::runtime_error);
  EXPECT_EQ(read_file(p), "good contents");
  EXPECT_EQ(entries(), 1u) << "a temporary file was left behind";
}

TEST_F(IoAtomicFile, WriterThatThrowsOnNewFileCreatesNothing) {
  EXPECT_THROW(write_file_atomic(path("new.txt"), [](std::ostream&) { throw Error("test", "boom"); }), Error);
  EXPECT_FALSE(fs::exists(path("new.txt")));
  EXPECT_EQ(entries(), 0u);
}

TEST_F(IoAtomicFile, BadInputMissingDirectoryNamesThePath) {
  const std::string p = path("no/such/dir/x.txt");
  try {
    write_file_atomic(p, "x");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
  try {
    read_file(p);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST_F(IoAtomicFile, SymlinkIsFollowedAndKept) {
  // As `sed -i --follow-symlinks`: the link stays a link, its target gets the new contents
  // (atomically, through a temporary beside the target), through a chain of links, relative
  // and absolute.
  fs::create_directories(dir_ / "real");
  const fs::path target = dir_ / "real" / "model.ckpt";
  write_file_atomic(target.string(), "old");
  fs::create_symlink("real/model.ckpt", dir_ / "link1");             // relative to the link's directory
  fs::create_symlink(dir_ / "link1", dir_ / "link2");                // absolute, to another link
  write_file_atomic(path("link2"), "new");
  EXPECT_TRUE(fs::is_symlink(dir_ / "link1"));
  EXPECT_TRUE(fs::is_symlink(dir_ / "link2"));
  EXPECT_EQ(fs::read_symlink(dir_ / "link1"), fs::path("real/model.ckpt"));
  EXPECT_EQ(read_file(target.string()), "new");
  EXPECT_TRUE(temporaries().empty());
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "real"), fs::directory_iterator()), 1);

  // A dangling link: the file it names is created (as the shell's `>` does), the link kept.
  fs::create_symlink("real/new.txt", dir_ / "dangling");
  write_file_atomic(path("dangling"), "created");
  EXPECT_TRUE(fs::is_symlink(dir_ / "dangling"));
  EXPECT_EQ(read_file((dir_ / "real" / "new.txt").string()), "created");

  // A loop of links is an error naming the path, never an endless walk.
  fs::create_symlink("loop_b", dir_ / "loop_a");
  fs::create_symlink("loop_a", dir_ / "loop_b");
  const std::string e = error_of([&] { write_file_atomic(path("loop_a"), "x"); });
  EXPECT_EQ(e.rfind("[write_file_atomic] " + path("loop_a"), 0), 0u) << e;
  EXPECT_TRUE(fs::is_symlink(dir_ / "loop_a"));
}

TEST_F(IoAtomicFile, FifoIsWrittenThroughNotReplaced) {
  const std::string fifo = path("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  // The reader opens first (non-blocking, so a broken writer cannot hang the test), then reads
  // in a thread until end of file or a deadline; 1 MiB is more than a pipe buffer holds.
  const int rfd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(rfd, 0) << std::strerror(errno);
  std::string got;
  std::atomic<bool> writer_done{false};
  std::thread reader([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    char buf[65536];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{rfd, POLLIN, 0};
      ::poll(&p, 1, 50);
      const ssize_t n = ::read(rfd, buf, sizeof buf);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      if (n == 0 && writer_done) break;  // end of file after the writer closed
    }
  });
  const std::string contents(1 << 20, 'f');
  std::string e = error_of([&] { write_file_atomic(fifo, contents); });
  writer_done = true;
  reader.join();
  ::close(rfd);
  EXPECT_EQ(e, "no error");
  EXPECT_EQ(got.size(), contents.size());
  EXPECT_TRUE(got == contents);
  EXPECT_TRUE(fs::is_fifo(fifo)) << "the FIFO was replaced by a regular file";
  EXPECT_TRUE(temporaries().empty());
}

TEST_F(IoAtomicFile, CharacterDevicesAreWrittenThrough) {
  // Through a link first (what a user's `-o out` pointing at /dev/null looks like), then directly.
  fs::create_symlink("/dev/null", dir_ / "null");
  write_file_atomic(path("null"), "discarded");
  EXPECT_TRUE(fs::is_symlink(dir_ / "null"));
  ASSERT_TRUE(fs::is_character_file("/dev/null"));
  write_file_atomic("/dev/null", [](std::ostream& os) { os << std::string(200000, 'x'); });
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  EXPECT_TRUE(temporaries().empty());
  for (const auto& entry : fs::directory_iterator("/dev"))
    EXPECT_EQ(entry.path().filename().string().rfind(".null.tmp.", 0), std::string::npos) << entry.path();
}

TEST_F(IoAtomicFile, OpenDescriptorNamesAreWrittenThrough) {
  // /dev/fd/N (like /dev/stdout) names a descriptor the caller already opened, here on a regular
  // file: the bytes are appended through it, the file is neither replaced nor truncated (same
  // inode), and no temporary appears beside it or in /proc.
  const std::string p = path("stdout.txt");
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(::write(fd, "head\n", 5), 5);
  struct stat before {};
  ASSERT_EQ(::stat(p.c_str(), &before), 0);
  const std::string e = error_of([&] { write_file_atomic("/dev/fd/" + std::to_string(fd), "body\n"); });
  ::close(fd);
  EXPECT_EQ(e, "no error");
  struct stat after {};
  ASSERT_EQ(::stat(p.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "the file was replaced";
  EXPECT_EQ(read_file(p), "head\nbody\n");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(IoAtomicFile, DiskFullNamesTheSystemReason) {
  // /dev/full: every write fails with ENOSPC, the disk-full case (written through: a device).
  if (!fs::is_character_file("/dev/full")) GTEST_SKIP() << "no /dev/full";
  const std::string e = error_of([] { write_file_atomic("/dev/full", std::string(100000, 'x')); });
  EXPECT_EQ(e.rfind("[write_file_atomic] /dev/full: ", 0), 0u) << e;
  EXPECT_NE(e.find(std::strerror(ENOSPC)), std::string::npos) << e;
  EXPECT_TRUE(fs::is_character_file("/dev/full"));
}

TEST_F(IoAtomicFile, WriteFailureNamesTheSystemReason) {
  // A regular file whose write fails midway: a file size limit (RLIMIT_FSIZE) makes write(2)
  // fail with EFBIG, for root too. SIGXFSZ is ignored so that the failure is reported, not fatal.
  const std::string p = path("big.bin");
  write_file_atomic(p, "previous");
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  rlimit small = old;
  small.rlim_cur = 4096;
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string e = error_of([&] { write_file_atomic(p, std::string(1 << 20, 'x')); });
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(e.rfind("[write_file_atomic] " + p + ": ", 0), 0u) << e;
  EXPECT_NE(e.find(std::strerror(EFBIG)), std::string::npos) << e;
  EXPECT_EQ(read_file(p), "previous");
  EXPECT_TRUE(temporaries().empty());
}

TEST_F(IoAtomicFile, SocketsAndDirectoriesAreRefused) {
  const std::string sock = path("sock");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  std::string e = error_of([&] { write_file_atomic(sock, "x"); });
  ::close(fd);
  EXPECT_EQ(e.rfind("[write_file_atomic] " + sock + ": ", 0), 0u) << e;
  EXPECT_NE(e.find("socket"), std::string::npos) << e;
  EXPECT_TRUE(fs::is_socket(sock));

  fs::create_directories(dir_ / "d");
  e = error_of([&] { write_file_atomic(path("d"), "x"); });
  EXPECT_NE(e.find("is a directory"), std::string::npos) << e;
  EXPECT_TRUE(temporaries().empty());
}

TEST_F(IoAtomicFile, TemporaryNameCarriesTheWritersPid) {
  const std::string prefix = ".a.txt.tmp." + std::to_string(::getpid()) + ".";
  std::vector<std::string> seen;
  write_file_atomic(path("a.txt"), [&](std::ostream& os) {
    seen = temporaries();
    os << "x";
  });
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].rfind(prefix, 0), 0u) << seen[0];
  EXPECT_EQ(seen[0].size(), prefix.size() + 6) << seen[0];
}

TEST_F(IoAtomicFile, StaleTemporariesOfKilledWritersAreSwept) {
  const pid_t dead = dead_pid();
  const std::string d = std::to_string(dead), live = std::to_string(::getppid());
  touch(dir_ / (".a.txt.tmp." + d + ".Ab12Cd"));                     // writer gone: removed
  touch(dir_ / (".a.txt.tmp." + live + ".Ef34Gh"));                  // writer alive: kept
  touch(dir_ / ".a.txt.tmp.XyZ123", std::chrono::hours(1));           // old format, an hour old: removed
  touch(dir_ / ".a.txt.tmp.Fresh1");                                  // old format, fresh: kept
  touch(dir_ / (".b.txt.tmp." + d + ".Ij56Kl"));                     // another target's: kept
  touch(dir_ / (".a.txt.tmp." + d + ".Ij56Kl.x"));                   // not a temporary's name: kept
  fs::create_directories(dir_ / (".a.txt.tmp." + d + ".Mn78Op"));    // a directory: kept
  write_file_atomic(path("a.txt"), "x");
  std::vector<std::string> left = temporaries();
  std::sort(left.begin(), left.end());
  std::vector<std::string> want{".a.txt.tmp." + d + ".Ij56Kl.x", ".a.txt.tmp." + d + ".Mn78Op",
                                ".a.txt.tmp." + live + ".Ef34Gh", ".a.txt.tmp.Fresh1", ".b.txt.tmp." + d + ".Ij56Kl"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(left, want);
  // The explicit entry point reports what it removed.
  touch(dir_ / (".a.txt.tmp." + d + ".Qr90St"));
  EXPECT_EQ(sweep_stale_temporaries(path("a.txt")), 1u);
  EXPECT_EQ(sweep_stale_temporaries(path("a.txt")), 0u);
}

TEST_F(IoAtomicFile, ConcurrentWriterInAnotherProcessKeepsItsTemporary) {
  // A child process is inside write_file_atomic (its temporary exists) while this process writes
  // the same target: the sweep must leave the live writer's temporary alone, and both writes
  // complete; the file ends as one of the two contents, whole.
  const std::string p = path("shared.txt");
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int rc = 0;
    try {
      write_file_atomic(p, [&](std::ostream& os) {
        os << std::string(10000, 'c');
        char c = 'r';
        if (::write(to_parent[1], &c, 1) != 1) ::_exit(3);  // "my temporary exists"
        if (::read(to_child[0], &c, 1) != 1) ::_exit(4);    // wait until the parent has written
      });
    } catch (...) {
      rc = 2;
    }
    ::_exit(rc);
  }
  char c = 0;
  ASSERT_EQ(::read(to_parent[0], &c, 1), 1);
  ASSERT_EQ(temporaries().size(), 1u);
  write_file_atomic(p, std::string(10000, 'p'));
  EXPECT_EQ(temporaries().size(), 1u) << "the live writer's temporary was swept";
  EXPECT_EQ(::write(to_child[1], &c, 1), 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(read_file(p), std::string(10000, 'c'));
  EXPECT_TRUE(temporaries().empty());
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) ::close(fd);
}

TEST_F(IoAtomicFile, JsonConfigRoundTrip) {
  const std::string p = path("conf.json");
  write_json_file(p, nlohmann::json{{"d_model", 256}, {"heads", 8}, {"name", "base"}});
  const auto j = read_json_file(p);
  EXPECT_EQ(j["d_model"], 256);
  EXPECT_EQ(j["name"], "base");
}

TEST_F(IoAtomicFile, BadInputJsonSyntaxNamesFileLineAndColumn) {
  const std::string p = path("broken.json");
  write_file_atomic(p, "{\n  \"a\": 1,\n  \"b\": }\n");
  try {
    read_json_file(p);
    ADD_FAILURE();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(p + ":3:"), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind("[read_json_file]", 0), 0u) << msg;
  }
}

TEST_F(IoAtomicFile, BadInputJsonNumbersOutOfRangeNameTheFile) {
  // nlohmann reports a number that overflows a double as out_of_range, not parse_error: it must
  // still become "[read_json_file] <file>: ...", not escape as a JSON library exception.
  const std::string p = path("huge.json");
  write_file_atomic(p, "{\"lr\": 1e400}\n");
  const std::string e = error_of([&] { read_json_file(p); });
  EXPECT_EQ(e.rfind("[read_json_file] " + p + ":", 0), 0u) << e;
  EXPECT_NE(e.find("1e400"), std::string::npos) << e;
}

}  // namespace
}  // namespace attend::io
