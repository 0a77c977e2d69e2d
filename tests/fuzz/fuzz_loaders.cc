// libFuzzer harness for everything attend reads from files: safetensors bytes, checkpoint
// metadata (format, trainer JSON, optimizer JSON, vocabularies in their text format), JSON
// configuration and IDX arrays. Built and run by scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined);
// writes nothing to disk.
//
// The first byte of an input picks the target, the rest is the target's input:
//   0  io::decode_safetensors; a file that decodes must encode and decode again to the same
//      tensors (bit for bit) and metadata
//   1  train::decode_checkpoint_info on whole checkpoint bytes
//   2  checkpoint metadata without the safetensors framing: the rest split at NUL bytes into
//      trainer JSON, optimizer JSON and a vocabulary, put into a checkpoint with no tensors
//   3  io::parse_json and io::describe_json
//   4  data::parse_idx (the IDX image and label format); an array that parses must hold exactly
//      numel elements of its type
//   5  app::import_torch_transformer on safetensors bytes: the converter's reader (PyTorch names
//      and the tutorial's aliases, the config read off the shapes, the sinusoidal buffer, the
//      vocabulary sizes against tests/data/convert/joint.model, the model built under its
//      allocation budget, the checked load)
//
// The contract under test: any input either loads or throws attend::Error. Any other exception
// (a JSON library exception, std::out_of_range, std::bad_alloc), a sanitizer report, a crash, a
// hang or a failed round trip is a finding (each gets a regression test in tests/unit).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attend/app/convert.h"
#include "attend/core/error.h"
#include "attend/data/idx.h"
#include "attend/io/json_config.h"
#include "attend/io/safetensors.h"
#include "attend/train/checkpoint.h"

namespace {

using namespace attend;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_loaders: %s\n", what.c_str());
  std::abort();
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const size_t bytes = static_cast<size_t>(a.numel()) * dtype_size(a.dtype());
  if (bytes == 0) return true;
  const void* pa = a.dtype() == DType::f64 ? static_cast<const void*>(a.data<double>()) : a.data<float>();
  const void* pb = b.dtype() == DType::f64 ? static_cast<const void*>(b.data<double>()) : b.data<float>();
  return std::memcmp(pa, pb, bytes) == 0;
}

void safetensors(const std::string& bytes) {
  io::SafetensorsContents c;
  try {
    c = io::decode_safetensors(bytes, "fuzz.safetensors");
  } catch (const Error&) {
    return;
  }
  const io::SafetensorsContents again = io::decode_safetensors(io::encode_safetensors(c.tensors, c.metadata), "again");
  if (again.metadata != c.metadata) fail("metadata changed in a round trip");
  if (again.tensors.size() != c.tensors.size()) fail("tensor count changed in a round trip");
  for (const auto& [name, t] : c.tensors) {
    const auto it = again.tensors.find(name);
    if (it == again.tensors.end() || !same_bits(t, it->second)) fail("tensor '" + name + "' changed in a round trip");
  }
}

void checkpoint_info(const std::string& bytes) {
  try {
    train::decode_checkpoint_info(bytes, "fuzz.ckpt");
  } catch (const Error&) {
  }
}

void checkpoint_metadata(const std::string& bytes) {
  std::vector<std::string> parts(1);
  for (char ch : bytes) {
    if (ch == '\0' && parts.size() < 3) {
      parts.emplace_back();
    } else {
      parts.back().push_back(ch);
    }
  }
  io::Metadata meta{{"format", "attend-checkpoint/1"}, {"model_config", "{}"}, {"trainer", parts[0]}};
  if (parts.size() > 1) meta["optimizer"] = parts[1];
  if (parts.size() > 2) meta["vocab.src"] = parts[2];
  std::string file;
  try {
    file = io::encode_safetensors({}, meta);  // refuses text that is not UTF-8 (JSON strings)
  } catch (const Error&) {
    return;
  }
  checkpoint_info(file);
}

void json(const std::string& bytes) {
  try {
    const nlohmann::json j = io::parse_json(bytes, "fuzz.json");
    const std::string d = io::describe_json(j);
    if (d.size() > 2000) fail("describe_json gave " + std::to_string(d.size()) + " bytes");
  } catch (const Error&) {
  }
}

void idx(const std::string& bytes) {
  try {
    const data::IdxArray a = data::parse_idx(std::vector<uint8_t>(bytes.begin(), bytes.end()), "fuzz.idx");
    if (a.dims.empty() || a.bytes.size() != static_cast<size_t>(a.numel()) * static_cast<size_t>(data::idx_type_size(a.type)))
      fail("an IDX array's bytes do not match its dimensions");
  } catch (const Error&) {
  }
}

void torch_import(const std::string& bytes) {
  static const app::TorchImport opts{.num_heads = 2, .spm = ATTEND_CONVERT_SPM};
  try {
    app::import_torch_transformer(io::decode_safetensors(bytes, "fuzz.safetensors").tensors, opts, "fuzz.safetensors");
  } catch (const Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: safetensors(rest); break;
    case 1: checkpoint_info(rest); break;
    case 2: checkpoint_metadata(rest); break;
    case 3: json(rest); break;
    case 4: idx(rest); break;
    default: torch_import(rest); break;
  }
  return 0;
}
