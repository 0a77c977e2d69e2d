// io: atomic file writing (a writer that throws leaves the old file and no temporary behind) and
// JSON config reading with file:line:column errors.
#include <gtest/gtest.h>

#include "support/temp_dir.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "attend/core/error.h"
#include "attend/io/atomic_file.h"
#include "attend/io/json_config.h"

namespace attend::io {
namespace {

namespace fs = std::filesystem;

class IoAtomicFile : public test::TempDirTest {
 protected:
  size_t entries() const { return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator())); }
};

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

}  // namespace
}  // namespace attend::io
