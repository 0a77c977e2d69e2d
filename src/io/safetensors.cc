#include "attend/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "attend/io/atomic_file.h"
#include "attend/io/json_config.h"

namespace attend::io {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; a big-endian host needs byte swapping here");

constexpr const char* kMetadataKey = "__metadata__";
// The reference implementation refuses headers above 100 MB; so do we (protects against a
// corrupted length field asking for a huge allocation).
constexpr uint64_t kMaxHeader = 100'000'000;

const char* st_dtype(DType t) { return t == DType::f64 ? "F64" : "F32"; }

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

SafetensorsContents decode_entries(const nlohmann::json& header, const std::string& bytes, uint64_t n,
                                   const std::string& source);

}  // namespace

std::string encode_safetensors(const TensorMap& tensors, const Metadata& metadata) {
  constexpr const char* op = "encode_safetensors";
  nlohmann::json header = nlohmann::json::object();
  std::vector<Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    ATTEND_CHECK(!name.empty() && name != kMetadataKey, op, "invalid tensor name '", name, "'");
    ATTEND_CHECK(t.defined(), op, "tensor '", name, "' is undefined");
    const Tensor c = t.contiguous();
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * dtype_size(c.dtype());
    header[name] = {{"dtype", st_dtype(c.dtype())},
                    {"shape", c.shape().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(c);
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::string json;
  try {
    json = header.dump();
  } catch (const nlohmann::json::exception& e) {  // a name or metadata value that is not UTF-8
    throw Error(op, detail::concat("cannot write the header: ", e.what()));
  }
  json.append((8 - json.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + json.size() + offset);
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  out += json;
  for (const Tensor& c : contiguous) {
    const size_t bytes = static_cast<size_t>(c.numel()) * dtype_size(c.dtype());
    if (bytes == 0) continue;
    const char* p = c.dtype() == DType::f64 ? reinterpret_cast<const char*>(c.data<double>())
                                             : reinterpret_cast<const char*>(c.data<float>());
    out.append(p, bytes);
  }
  return out;
}

SafetensorsContents decode_safetensors(const std::string& bytes, const std::string& source) {
  constexpr const char* op = "load_safetensors";
  ATTEND_CHECK(bytes.size() >= 8, op, source, ": truncated file: ", bytes.size(),
               " bytes, fewer than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<unsigned char>(bytes[static_cast<size_t>(i)])} << (8 * i);
  ATTEND_CHECK(n <= kMaxHeader, op, source, ": header length ", n, " exceeds the limit of ", kMaxHeader, " bytes");
  ATTEND_CHECK(n <= bytes.size() - 8, op, source, ": header length ", n, " goes beyond the end of the file (",
               bytes.size(), " bytes, so at most ", bytes.size() - 8, ")");
  const std::string_view text(bytes.data() + 8, static_cast<size_t>(n));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(op, detail::concat(source, ": header is not valid JSON (at header byte ", e.byte, "): ", e.what()));
  } catch (const nlohmann::json::exception& e) {
    // Valid syntax the library cannot hold, e.g. a number beyond a double's range ("1e400"):
    // out_of_range.406, not a parse_error.
    throw Error(op, detail::concat(source, ": header is not valid JSON: ", e.what()));
  }
  ATTEND_CHECK(header.is_object(), op, source, ": header is not a JSON object");
  // Every access below checks the type before get<>(); this only turns a slip of that rule into
  // the loader's error naming the file instead of a JSON library exception.
  try {
    return decode_entries(header, bytes, n, source);
  } catch (const nlohmann::json::exception& e) {
    throw Error(op, detail::concat(source, ": header: ", e.what()));
  }
}

namespace {

SafetensorsContents decode_entries(const nlohmann::json& header, const std::string& bytes, uint64_t n,
                                   const std::string& source) {
  constexpr const char* op = "load_safetensors";

  SafetensorsContents result;
  std::vector<Entry> entries;
  const uint64_t data_size = bytes.size() - 8 - n;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      ATTEND_CHECK(value.is_object(), op, source, ": __metadata__ is not an object");
      for (const auto& [k, v] : value.items()) {
        ATTEND_CHECK(v.is_string(), op, source, ": __metadata__ value of '", k, "' is not a string");
        result.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = detail::concat(source, ": tensor '", name, "'");
    ATTEND_CHECK(value.is_object(), op, where, ": entry is not an object");
    ATTEND_CHECK(value.contains("dtype") && value["dtype"].is_string(), op, where, ": missing dtype");
    const std::string dt = value["dtype"].get<std::string>();
    ATTEND_CHECK(dt == "F32" || dt == "F64", op, where, ": unsupported dtype ", dt, " (only F32 and F64)");
    ATTEND_CHECK(value.contains("shape") && value["shape"].is_array(), op, where, ": missing shape");
    const auto& js = value["shape"];
    ATTEND_CHECK(js.size() <= static_cast<size_t>(kMaxRank), op, where, ": rank ", js.size(), " exceeds ", kMaxRank);
    Shape shape;
    // numel: the element count; extent: the product with zero dimensions counted as 1, which
    // bounds every stride, so that a zero dimension cannot hide a dimension no int64 holds.
    uint64_t numel = 1, extent = 1;
    constexpr uint64_t kMaxElements = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 8;
    for (const auto& d : js) {
      ATTEND_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0), op, where,
                   ": shape ", describe_json(js), " has a dimension that is not a non-negative integer");
      const uint64_t v = d.get<uint64_t>();
      ATTEND_CHECK(!__builtin_mul_overflow(numel, v, &numel) && !__builtin_mul_overflow(extent, std::max<uint64_t>(v, 1), &extent) &&
                       numel <= kMaxElements && extent <= kMaxElements,
                   op, where, ": shape ", describe_json(js), " has too many elements");
      shape.push_back(static_cast<int64_t>(v));
    }
    ATTEND_CHECK(value.contains("data_offsets") && value["data_offsets"].is_array() &&
                     value["data_offsets"].size() == 2 && value["data_offsets"][0].is_number_unsigned() &&
                     value["data_offsets"][1].is_number_unsigned(),
                 op, where, ": data_offsets must be two non-negative integers");
    const uint64_t b = value["data_offsets"][0].get<uint64_t>(), e = value["data_offsets"][1].get<uint64_t>();
    ATTEND_CHECK(b <= e, op, where, ": data_offsets [", b, ", ", e, "] are reversed");
    ATTEND_CHECK(e <= data_size, op, where, ": data_offsets [", b, ", ", e, "] out of range: the data section has ",
                 data_size, " bytes (file truncated?)");
    const DType dtype = dt == "F64" ? DType::f64 : DType::f32;
    const uint64_t want = numel * dtype_size(dtype);
    ATTEND_CHECK(e - b == want, op, where, ": dtype ", dt, " and shape ", shape.str(), " need ", want,
                 " bytes but data_offsets [", b, ", ", e, "] hold ", e - b);
    entries.push_back({name, dtype, shape, b, e});
  }

  std::sort(entries.begin(), entries.end(),
            [](const Entry& x, const Entry& y) { return x.begin != y.begin ? x.begin < y.begin : x.end < y.end; });
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& en = entries[i];
    if (i > 0) {
      const Entry& prev = entries[i - 1];
      ATTEND_CHECK(en.begin >= prev.end, op, source, ": tensor '", en.name, "' [", en.begin, ", ", en.end,
                   ") overlaps tensor '", prev.name, "' [", prev.begin, ", ", prev.end, ")");
    }
    ATTEND_CHECK(en.begin == covered, op, source, ": tensor '", en.name, "' starts at byte ", en.begin,
                 " leaving a hole after byte ", covered, " of the data section");
    covered = en.end;
  }
  ATTEND_CHECK(covered == data_size, op, source, ": ", data_size - covered,
               " bytes after the last tensor are not indexed by the header");

  const char* data = bytes.data() + 8 + n;
  for (const Entry& en : entries) {
    Tensor t = Tensor::empty(en.shape, en.dtype);
    if (en.end > en.begin) {
      void* dst = en.dtype == DType::f64 ? static_cast<void*>(t.data<double>()) : static_cast<void*>(t.data<float>());
      std::memcpy(dst, data + en.begin, static_cast<size_t>(en.end - en.begin));
    }
    result.tensors.emplace(en.name, std::move(t));
  }
  return result;
}

}  // namespace

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  const std::string bytes = encode_safetensors(tensors, metadata);
  write_file_atomic(path, bytes);
}

SafetensorsContents load_safetensors(const std::string& path) {
  return decode_safetensors(read_file(path), path);
}

}  // namespace attend::io
