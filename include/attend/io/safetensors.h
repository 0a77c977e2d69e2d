// The safetensors format (https://huggingface.co/docs/safetensors), the library's tensor file:
//
//   [8 bytes: N, little-endian u64][N bytes: JSON header][data bytes]
//   header = { "<name>": {"dtype": "F32"|"F64", "shape": [d0, ...], "data_offsets": [begin, end]},
//              ..., "__metadata__": {"<key>": "<string>", ...} }
//
// Offsets are relative to the start of the data bytes. Written files pad the header with spaces
// to a multiple of 8 bytes (as the reference implementation does) and store tensors back to back
// in name order. Reading validates everything and names the file and the tensor in every error:
// a file shorter than 8 bytes, a header length beyond the end of the file, a header that is not
// JSON (with the byte position) or not an object, a missing/unknown dtype, a bad shape, offsets
// out of range, reversed, overlapping or leaving holes, and a byte count that differs from
// numel * dtype size. Only F32 and F64 exist in attend::Tensor; other dtypes are rejected by name.
#pragma once

#include <map>
#include <string>

#include "attend/core/tensor.h"

namespace attend::io {

using TensorMap = std::map<std::string, Tensor>;
using Metadata = std::map<std::string, std::string>;

struct SafetensorsContents {
  TensorMap tensors;
  Metadata metadata;
};

// Serializes tensors (any layout; stored row-major) and metadata to the safetensors byte layout.
// Tensor names must be non-empty and not "__metadata__"; every tensor must be defined.
std::string encode_safetensors(const TensorMap& tensors, const Metadata& metadata = {});

// Parses safetensors bytes; `source` (usually the file name) prefixes every error message.
SafetensorsContents decode_safetensors(const std::string& bytes, const std::string& source);

// Writes a safetensors file atomically (see atomic_file.h).
void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata = {});

// Reads and validates a safetensors file; errors are "[load_safetensors] <path>: ..." (or
// "[read_file] <path>: ..." when it cannot be read).
SafetensorsContents load_safetensors(const std::string& path);

}  // namespace attend::io
