// The IDX reader (data/idx.h): every element type in plain and gzip files, big-endian decoding,
// image/label pairing, and each malformed input an error naming the file and the fault.
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "attend/data/idx.h"
#include "support/check.h"
#include "support/temp_dir.h"

namespace attend::data {
namespace {

using test::expect_error;

// An IDX file's bytes: magic 0 0 type rank, big-endian dims, then `body` as given.
std::vector<uint8_t> idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> b{0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int k = 3; k >= 0; --k) b.push_back(static_cast<uint8_t>(d >> (8 * k)));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

class DataIdx : public test::TempDirTest {
 protected:
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes, bool gzip) {
    const std::string p = path(name);
    if (gzip) {
      gzFile f = gzopen(p.c_str(), "wb");
      EXPECT_NE(f, nullptr);
      EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
      gzclose(f);
    } else {
      std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                               static_cast<std::streamsize>(bytes.size()));
    }
    return p;
  }
};

TEST_F(DataIdx, ReadsEveryTypeBigEndianPlainAndGzip) {
  for (const bool gz : {false, true}) {
    SCOPED_TRACE(gz ? "gzip" : "plain");
    const IdxArray u8 = read_idx(write("u8", idx_bytes(0x08, {2, 3}, {0, 1, 2, 253, 254, 255}), gz));
    EXPECT_EQ(u8.dims, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(u8.numel(), 6);
    EXPECT_EQ(u8.as<uint8_t>()[3], 253);
    EXPECT_EQ(read_idx(write("i8", idx_bytes(0x09, {2}, {0x80, 0x7f}), gz)).as<int8_t>()[0], -128);
    const IdxArray i16 = read_idx(write("i16", idx_bytes(0x0B, {2}, {0x01, 0x02, 0xff, 0xfe}), gz));
    EXPECT_EQ(i16.as<int16_t>()[0], 0x0102);
    EXPECT_EQ(i16.as<int16_t>()[1], -2);
    EXPECT_EQ(read_idx(write("i32", idx_bytes(0x0C, {1}, {0x12, 0x34, 0x56, 0x78}), gz)).as<int32_t>()[0], 0x12345678);
    EXPECT_EQ(read_idx(write("f32", idx_bytes(0x0D, {1}, {0x3f, 0xc0, 0, 0}), gz)).as<float>()[0], 1.5f);
    EXPECT_EQ(read_idx(write("f64", idx_bytes(0x0E, {1, 1}, {0xc0, 0x04, 0, 0, 0, 0, 0, 0}), gz)).as<double>()[0], -2.5);
  }
  const IdxArray a = read_idx(write("x", idx_bytes(0x08, {1}, {7}), false));
  expect_error([&] { (void)a.as<float>(); }, "[idx]", {"unsigned byte", "float32"});
}

TEST_F(DataIdx, PairsImagesWithLabels) {
  std::vector<uint8_t> pixels(3 * 2 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(10 * i);
  const std::string im = write("im.gz", idx_bytes(0x08, {3, 2, 4}, pixels), true);
  const ImageSet s = read_idx_images(im, write("lb.gz", idx_bytes(0x08, {3}, {9, 0, 4}), true));
  EXPECT_EQ(s.count, 3);
  EXPECT_EQ(s.rows, 2);
  EXPECT_EQ(s.cols, 4);
  EXPECT_EQ(s.pixels, pixels);
  EXPECT_EQ(s.labels, (std::vector<int64_t>{9, 0, 4}));
  expect_error([&] { read_idx_images(im, write("lb2", idx_bytes(0x08, {2}, {1, 2}), false)); }, "[idx]",
               {"lb2", "2 labels", "3 images"});
  expect_error([&] { read_idx_images(im, write("lb3", idx_bytes(0x08, {3}, {1, 10, 2}), false)); }, "[idx]",
               {"lb3", "label 10", "image 1", "10 classes"});
  expect_error([&] { read_idx_images(write("flat", idx_bytes(0x08, {24}, pixels), false), im); }, "[idx]",
               {"flat", "[N, rows, cols]", "rank 1"});
}

TEST_F(DataIdx, BadFilesAreErrorsNamingTheFileAndTheFault) {
  const std::vector<uint8_t> good = idx_bytes(0x08, {2, 3}, {1, 2, 3, 4, 5, 6});
  // Not IDX: a PNG signature, an unknown type, rank 0, a non-zero first byte.
  expect_error([&] { read_idx(write("png", {0x89, 'P', 'N', 'G', 0, 0, 0, 0}, false)); }, "[idx]",
               {"png", "magic number 0x89504e47", "not an IDX magic number"});
  expect_error([&] { read_idx(write("type", idx_bytes(0x0A, {1}, {0}), false)); }, "[idx]", {"type", "0x00000a01"});
  expect_error([&] { read_idx(write("rank0", {0, 0, 8, 0}, false)); }, "[idx]", {"rank0", "0x00000800"});
  expect_error([&] { read_idx(write("short", {0, 0}, false)); }, "[idx]", {"short", "2 bytes"});
  expect_error([&] { read_idx(write("empty", {}, true)); }, "[idx]", {"empty", "0 bytes"});
  // Sizes: a zero dimension, a header cut short, dimensions that overflow.
  expect_error([&] { read_idx(write("zero", idx_bytes(0x08, {2, 0}, {}), false)); }, "[idx]", {"zero", "dimension 1 is 0"});
  expect_error([&] { read_idx(write("hdr", {0, 0, 8, 3, 0, 0, 0, 2}, false)); }, "[idx]", {"hdr", "header", "16"});
  expect_error([&] { read_idx(write("huge", idx_bytes(0x0E, {0xffffffffu, 0xffffffffu}, {}), false)); }, "[idx]",
               {"huge", "multiply past"});
  // Truncated data, plain and gzip; bytes after the data.
  for (const bool gz : {false, true}) {
    std::vector<uint8_t> cut(good.begin(), good.end() - 2);
    expect_error([&] { read_idx(write(gz ? "cut.gz" : "cut", cut, gz)); }, "[idx]",
                 {gz ? "cut.gz" : "cut", "truncated", "[2, 3]", "needs 6 bytes", "has 4"});
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  expect_error([&] { read_idx(write("long", longer, false)); }, "[idx]", {"long", "1 bytes after"});
  // A gzip stream cut in the middle (the compressed bytes themselves truncated), and garbage
  // after a gzip header.
  std::vector<uint8_t> big = idx_bytes(0x08, {100, 100}, std::vector<uint8_t>(10000, 0));
  for (size_t i = 0; i < 10000; ++i) big[12 + i] = static_cast<uint8_t>((i * 7919) % 251);  // after the 12-byte header
  const std::string full = write("full.gz", big, true);
  std::ifstream in(full, std::ios::binary);
  std::vector<uint8_t> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  gz.resize(gz.size() / 2);
  expect_error([&] { read_idx(write("half.gz", gz, false)); }, "[idx]", {"half.gz"});
  std::vector<uint8_t> garbage{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad};
  expect_error([&] { read_idx(write("garbage.gz", garbage, false)); }, "[idx]", {"garbage.gz"});
  expect_error([&] { read_idx(path("missing.gz")); }, "[idx]", {"missing.gz", "cannot open"});
}

}  // namespace
}  // namespace attend::data
