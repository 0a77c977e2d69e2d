// The IDX format of MNIST and Fashion-MNIST (LeCun et al.; Debian's dataset-fashion-mnist ships
// it gzip-compressed): a 4-byte magic number 0x00 0x00 TYPE RANK, RANK big-endian uint32
// dimensions, then the elements in row-major order, big-endian.
//   TYPE 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
// read_idx reads a plain or a gzip-compressed file (zlib tells them apart). Every malformed input
// is an Error naming the file and what is wrong: a magic number that is not IDX, an unknown type, a
// rank of 0 or above 8, a zero or overflowing size, a file shorter than its header says (truncated)
// or longer, a corrupt gzip stream.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attend::data {

enum class IdxType : uint8_t { u8 = 0x08, i8 = 0x09, i16 = 0x0B, i32 = 0x0C, f32 = 0x0D, f64 = 0x0E };

const char* idx_type_name(IdxType t);
int idx_type_size(IdxType t);

// One IDX array, its elements converted to host byte order.
struct IdxArray {
  IdxType type = IdxType::u8;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;  // numel() * idx_type_size(type) bytes

  int64_t numel() const;
  // The elements as T; Error unless T matches the type (uint8_t for u8, int8_t for i8, int16_t,
  // int32_t, float, double).
  template <typename T>
  const T* as() const;
};

IdxArray read_idx(const std::string& path);
// The same from bytes in memory (`name` names them in errors; the fuzz harness and tests use it).
// The array keeps `data`'s buffer (the header erased in place): no second buffer of the file.
IdxArray parse_idx(std::vector<uint8_t> data, const std::string& name);

// Images with their labels, as MNIST-style datasets pair them: images [N, rows, cols] unsigned
// bytes, labels [N] unsigned bytes below `classes`. Error when the files do not pair (counts
// differ), a label is out of range, or either file is not of that form.
struct ImageSet {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;   // [count, rows, cols], 0 = background
  std::vector<int64_t> labels;   // [count]
};

ImageSet read_idx_images(const std::string& images_path, const std::string& labels_path, int64_t classes = 10);

}  // namespace attend::data
