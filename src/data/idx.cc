#include "attend/data/idx.h"

#include <zlib.h>

#include <cstdio>
#include <memory>
#include <type_traits>
#include <utility>

#include "attend/core/error.h"

namespace attend::data {
namespace {

constexpr const char* kOp = "idx";
constexpr int kMaxRank = 8;
// No IDX file of a dataset comes near this; it bounds what a corrupt header can make us allocate.
constexpr int64_t kMaxBytes = int64_t{1} << 34;

bool known_type(uint8_t t) {
  switch (static_cast<IdxType>(t)) {
    case IdxType::u8:
    case IdxType::i8:
    case IdxType::i16:
    case IdxType::i32:
    case IdxType::f32:
    case IdxType::f64:
      return true;
  }
  return false;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string hex32(uint32_t v) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", v);
  return hex;
}

// Reverses each element's bytes in place (IDX is big-endian; this host is little-endian).
void to_host_order(std::vector<uint8_t>& b, int size) {
  if (size == 1) return;
  for (size_t i = 0; i + static_cast<size_t>(size) <= b.size(); i += static_cast<size_t>(size))
    for (int k = 0; k < size / 2; ++k) std::swap(b[i + static_cast<size_t>(k)], b[i + static_cast<size_t>(size - 1 - k)]);
}

// The whole (decompressed) content of a file, plain or gzip.
std::vector<uint8_t> slurp(const std::string& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  ATTEND_CHECK(f != nullptr, kOp, "cannot open ", path);
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(size_t{1} << 20);
  for (;;) {
    const int n = gzread(f.get(), buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int code = 0;
      const char* msg = gzerror(f.get(), &code);
      throw Error(kOp, detail::concat(path, ": not a readable file or a corrupt gzip stream (", msg ? msg : "zlib error",
                                      ")"));
    }
    if (n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + n);
    ATTEND_CHECK(static_cast<int64_t>(out.size()) <= kMaxBytes + 4 + 4 * kMaxRank, kOp, path, ": more than ",
                 kMaxBytes, " bytes: not an IDX file of a dataset");
  }
  int code = 0;
  gzerror(f.get(), &code);
  // A gzip stream cut short reads as end of file with Z_BUF_ERROR ("unexpected end of file").
  ATTEND_CHECK(code == Z_OK || code == Z_STREAM_END, kOp, path, ": the gzip stream is truncated or corrupt (",
               gzerror(f.get(), &code), ")");
  return out;
}

}  // namespace

const char* idx_type_name(IdxType t) {
  switch (t) {
    case IdxType::u8: return "unsigned byte";
    case IdxType::i8: return "signed byte";
    case IdxType::i16: return "int16";
    case IdxType::i32: return "int32";
    case IdxType::f32: return "float32";
    case IdxType::f64: return "float64";
  }
  return "?";
}

int idx_type_size(IdxType t) {
  switch (t) {
    case IdxType::u8:
    case IdxType::i8: return 1;
    case IdxType::i16: return 2;
    case IdxType::i32:
    case IdxType::f32: return 4;
    case IdxType::f64: return 8;
  }
  return 1;
}

int64_t IdxArray::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

template <typename T>
const T* IdxArray::as() const {
  constexpr IdxType want = std::is_same_v<T, uint8_t>  ? IdxType::u8
                           : std::is_same_v<T, int8_t> ? IdxType::i8
                           : std::is_same_v<T, int16_t> ? IdxType::i16
                           : std::is_same_v<T, int32_t> ? IdxType::i32
                           : std::is_same_v<T, float>   ? IdxType::f32
                                                        : IdxType::f64;
  ATTEND_CHECK(type == want, kOp, "the array holds ", idx_type_name(type), " elements, not ", idx_type_name(want));
  return reinterpret_cast<const T*>(bytes.data());
}
template const uint8_t* IdxArray::as<uint8_t>() const;
template const int8_t* IdxArray::as<int8_t>() const;
template const int16_t* IdxArray::as<int16_t>() const;
template const int32_t* IdxArray::as<int32_t>() const;
template const float* IdxArray::as<float>() const;
template const double* IdxArray::as<double>() const;

IdxArray parse_idx(std::vector<uint8_t> data, const std::string& name) {
  ATTEND_CHECK(data.size() >= 4, kOp, name, ": ", data.size(), " bytes, too short for an IDX magic number (4 bytes)");
  ATTEND_CHECK(data[0] == 0 && data[1] == 0 && known_type(data[2]) && data[3] >= 1 && data[3] <= kMaxRank, kOp,
               name, ": magic number 0x", hex32(be32(data.data())),
               " is not an IDX magic number (0x0000TTRR: type TT 08, 09, 0B, 0C, 0D or 0E, rank RR 1 to ", kMaxRank, ")");
  IdxArray a;
  a.type = static_cast<IdxType>(data[2]);
  const int rank = data[3];
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  ATTEND_CHECK(data.size() >= header, kOp, name, ": truncated in the header (", data.size(), " bytes, the ", rank,
               " dimensions need ", header, ")");
  int64_t n = 1;
  for (int d = 0; d < rank; ++d) {
    const int64_t v = be32(data.data() + 4 + 4 * d);
    ATTEND_CHECK(v >= 1, kOp, name, ": dimension ", d, " is 0");
    ATTEND_CHECK(n <= kMaxBytes / v, kOp, name, ": the dimensions multiply past ", kMaxBytes, " elements");
    n *= v;
    a.dims.push_back(v);
  }
  const int size = idx_type_size(a.type);
  const int64_t body = n * size;
  const int64_t have = static_cast<int64_t>(data.size() - header);
  std::string shape = "[";
  for (size_t d = 0; d < a.dims.size(); ++d) shape += (d ? ", " : "") + std::to_string(a.dims[d]);
  shape += "]";
  ATTEND_CHECK(have >= body, kOp, name, ": truncated: ", shape, " ", idx_type_name(a.type), " needs ", body,
               " bytes of data, the file has ", have);
  ATTEND_CHECK(have == body, kOp, name, ": ", have - body, " bytes after the ", shape, " ", idx_type_name(a.type),
               " data (", body, " bytes): not one IDX array");
  data.erase(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(header));  // the file's buffer, not a copy
  a.bytes = std::move(data);
  to_host_order(a.bytes, size);
  return a;
}

IdxArray read_idx(const std::string& path) { return parse_idx(slurp(path), path); }

ImageSet read_idx_images(const std::string& images_path, const std::string& labels_path, int64_t classes) {
  IdxArray im = read_idx(images_path);
  ATTEND_CHECK(im.type == IdxType::u8 && im.dims.size() == 3, kOp, images_path,
               ": images must be [N, rows, cols] unsigned bytes, found rank ", im.dims.size(), " ",
               idx_type_name(im.type));
  const IdxArray lb = read_idx(labels_path);
  ATTEND_CHECK(lb.type == IdxType::u8 && lb.dims.size() == 1, kOp, labels_path,
               ": labels must be [N] unsigned bytes, found rank ", lb.dims.size(), " ", idx_type_name(lb.type));
  ATTEND_CHECK(lb.dims[0] == im.dims[0], kOp, labels_path, " has ", lb.dims[0], " labels for the ", im.dims[0],
               " images of ", images_path);
  ImageSet s{.count = im.dims[0], .rows = im.dims[1], .cols = im.dims[2], .pixels = std::move(im.bytes), .labels = {}};
  s.labels.reserve(static_cast<size_t>(s.count));
  for (int64_t i = 0; i < s.count; ++i) {
    const int64_t l = lb.bytes[static_cast<size_t>(i)];
    ATTEND_CHECK(l < classes, kOp, labels_path, ": label ", l, " of image ", i, " is not below ", classes, " classes");
    s.labels.push_back(l);
  }
  return s;
}

}  // namespace attend::data
