// io: safetensors round trips (f32, f64, 0-d, empty, non-contiguous, metadata) and every
// malformed-file case, each error naming the file and the tensor.
#include <gtest/gtest.h>

#include "support/temp_dir.h"

#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "attend/core/rng.h"
#include "attend/io/atomic_file.h"
#include "attend/io/safetensors.h"

namespace attend::io {
namespace {

namespace fs = std::filesystem;

class IoSafetensors : public test::TempDirTest {
 protected:

  // A file made of an explicit header and `data_bytes` zero bytes.
  std::string raw_file(const std::string& header, size_t data_bytes, uint64_t claimed_len = UINT64_MAX) {
    std::string out;
    const uint64_t n = claimed_len == UINT64_MAX ? header.size() : claimed_len;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
    out += header;
    out.append(data_bytes, '\0');
    const std::string p = path("bad.safetensors");
    write_file_atomic(p, out);
    return p;
  }

  // Expects load_safetensors(p) to throw with a message containing every string in `parts`.
  static void expect_error(const std::string& p, std::initializer_list<std::string> parts) {
    try {
      load_safetensors(p);
      ADD_FAILURE() << "no error for " << p;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p), std::string::npos) << msg;
      for (const auto& part : parts) EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
    }
  }
};

bool same_values(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.to_vector<double>() == b.to_vector<double>();
}

TEST_F(IoSafetensors, RoundTripF32F64ZeroDimEmptyAndMetadata) {
  Rng rng(7);
  TensorMap in;
  in["encoder.weight"] = Tensor::randn({3, 4}, rng);
  in["decoder.bias"] = Tensor::randn({5}, rng, DType::f64);
  in["scale"] = Tensor::scalar(2.5, DType::f64);
  in["empty"] = Tensor::zeros({0, 3});
  in["cube"] = Tensor::randn({2, 1, 3}, rng);
  const Metadata meta{{"format", "pt"}, {"attend.version", "0.1.0"}};
  save_safetensors(path("m.safetensors"), in, meta);

  const auto out = load_safetensors(path("m.safetensors"));
  EXPECT_EQ(out.metadata, meta);
  ASSERT_EQ(out.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    ASSERT_TRUE(out.tensors.count(name)) << name;
    EXPECT_TRUE(same_values(out.tensors.at(name), t)) << name;
  }
  EXPECT_EQ(out.tensors.at("scale").dim(), 0);
  EXPECT_EQ(out.tensors.at("scale").item(), 2.5);
  EXPECT_EQ(out.tensors.at("empty").shape(), (Shape{0, 3}));
}

TEST_F(IoSafetensors, LayoutMatchesTheSpec) {
  const std::string bytes = encode_safetensors({{"a", Tensor::from_vector(std::vector<float>{1, 2}, Shape{2})}});
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<unsigned char>(bytes[static_cast<size_t>(i)])} << (8 * i);
  EXPECT_EQ(n % 8, 0u);  // header padded to 8 bytes
  ASSERT_EQ(bytes.size(), 8 + n + 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["a"]["dtype"], "F32");
  EXPECT_EQ(header["a"]["shape"], nlohmann::json::array({2}));
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json::array({0, 8}));
  float v[2];
  std::memcpy(v, bytes.data() + 8 + n, 8);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 2.0f);
}

TEST_F(IoSafetensors, NonContiguousTensorIsStoredRowMajor) {
  Tensor x = Tensor::arange(6).as_strided(Shape{3, 2}, Shape{1, 3}, 0);  // transpose of [2, 3]
  ASSERT_FALSE(x.is_contiguous());
  const auto out = decode_safetensors(encode_safetensors({{"x", x}}), "mem");
  EXPECT_EQ(out.tensors.at("x").to_vector<double>(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST_F(IoSafetensors, BadInputTruncatedFile) {
  const std::string p = path("short.safetensors");
  write_file_atomic(p, std::string("\x05\x00\x00", 3));
  expect_error(p, {"truncated", "3 bytes"});
}

TEST_F(IoSafetensors, BadInputHeaderLengthBeyondFile) {
  expect_error(raw_file("{}", 0, 4096), {"header length 4096", "beyond the end of the file"});
}

TEST_F(IoSafetensors, BadInputHeaderNotJson) {
  expect_error(raw_file("{\"a\": [1, 2", 0), {"not valid JSON"});
  expect_error(raw_file("[1, 2]  ", 0), {"not a JSON object"});
}

TEST_F(IoSafetensors, BadInputOffsetsOutOfRange) {
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8),
               {"tensor 'w'", "out of range", "8 bytes"});
}

TEST_F(IoSafetensors, BadInputOverlappingTensors) {
  expect_error(raw_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                            "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                        12),
               {"'b'", "overlaps", "'a'"});
}

TEST_F(IoSafetensors, BadInputDtypeShapeByteCountMismatch) {
  expect_error(raw_file(R"({"w": {"dtype": "F64", "shape": [2, 2], "data_offsets": [0, 16]}})", 16),
               {"tensor 'w'", "F64", "[2, 2]", "need 32 bytes", "hold 16"});
}

TEST_F(IoSafetensors, BadInputUnsupportedDtypeAndMissingFields) {
  expect_error(raw_file(R"({"h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})", 4),
               {"tensor 'h'", "unsupported dtype F16"});
  expect_error(raw_file(R"({"s": {"dtype": "F32", "data_offsets": [0, 4]}})", 4), {"tensor 's'", "missing shape"});
  expect_error(raw_file(R"({"n": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
               {"tensor 'n'", "non-negative"});
  expect_error(raw_file(R"({"r": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})", 4),
               {"tensor 'r'", "reversed"});
}

TEST_F(IoSafetensors, BadInputHolesAndTrailingBytes) {
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8),
               {"tensor 'w'", "hole"});
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 12),
               {"8 bytes after the last tensor"});
}

TEST_F(IoSafetensors, BadInputMetadataNotStrings) {
  expect_error(raw_file(R"({"__metadata__": {"epoch": 3}})", 0), {"__metadata__", "epoch"});
}

TEST_F(IoSafetensors, BadInputNumbersBeyondRangeAreErrorsNamingTheFile) {
  // Every JSON problem is the loader's own error naming the file and the tensor, never an
  // exception of the JSON library (a number that overflows a double is nlohmann's out_of_range).
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [1e400], "data_offsets": [0, 4]}})", 4),
               {"[load_safetensors]", "header", "1e400"});
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})", 8),
               {"tensor 'w'", "not a non-negative integer"});
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4.0]}})", 4),
               {"tensor 'w'", "two non-negative integers"});
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 4]}})", 4),
               {"tensor 'w'", "two non-negative integers"});
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 99999999999999999999]}})", 4),
               {"tensor 'w'", "two non-negative integers"});
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 9223372036854775808]}})", 4),
               {"tensor 'w'", "out of range"});
  // Products that overflow int64 (or uint64), also behind a zero dimension, which makes the
  // product 0 but leaves a dimension no Shape can hold.
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0),
               {"tensor 'w'", "too many elements"});
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [0, 18446744073709551615], "data_offsets": [0, 0]}})", 0),
               {"tensor 'w'", "18446744073709551615"});
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [0, 9223372036854775807], "data_offsets": [0, 0]}})", 0),
               {"tensor 'w'", "9223372036854775807"});
  // Nested values are described, not dumped whole.
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": [[[[1]]]], "data_offsets": [0, 4]}})", 4),
               {"tensor 'w'", "not a non-negative integer"});
  expect_error(raw_file(R"({"w": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}})", 4),
               {"tensor 'w'", "missing dtype"});
}

TEST_F(IoSafetensors, BadInputDeeplyNestedShapeIsAnErrorNotAStackOverflow) {
  // The error message used to dump the whole shape value: nlohmann's dump() recurses once per
  // nesting level, and 200,000 levels (400 KB of header) overflowed the stack.
  const size_t depth = 200000;
  const std::string shape = std::string(depth, '[') + std::string(depth, ']');
  expect_error(raw_file(R"({"w": {"dtype": "F32", "shape": )" + shape + R"(, "data_offsets": [0, 0]}})", 0),
               {"tensor 'w'", "shape an array of 1 elements has a dimension that is not a non-negative integer"});
}

TEST_F(IoSafetensors, NonFiniteValuesAreKeptByTheContainer) {
  // The file format stores any float (an additive mask of -inf is a legitimate tensor); refusing
  // non-finite weights is the checkpoint loader's business (train/checkpoint.h).
  const float inf = std::numeric_limits<float>::infinity();
  const auto out = decode_safetensors(
      encode_safetensors({{"mask", Tensor::from_vector(std::vector<float>{0, -inf}, Shape{2})}}), "mem");
  EXPECT_EQ(out.tensors.at("mask").to_vector<float>()[1], -inf);
}

TEST_F(IoSafetensors, BadInputMissingFile) {
  const std::string p = path("nope.safetensors");
  try {
    load_safetensors(p);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST_F(IoSafetensors, RejectsInvalidNamesOnWrite) {
  EXPECT_THROW(encode_safetensors({{"__metadata__", Tensor::zeros({1})}}), Error);
  EXPECT_THROW(encode_safetensors({{"u", Tensor()}}), Error);
}

}  // namespace
}  // namespace attend::io
