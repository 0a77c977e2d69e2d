#include "support/golden.h"

#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

namespace attend::test {

namespace {

constexpr const char* kOp = "golden";

double decode_float(const nlohmann::json& v, const std::string& file, const std::string& key) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  throw Error(kOp, detail::concat(file, ": tensor '", key, "' holds a non-number ", v.dump()));
}

Shape read_shape(const nlohmann::json& entry, const std::string& file, const std::string& key) {
  ATTEND_CHECK(entry.contains("shape") && entry["shape"].is_array() && entry.contains("data") &&
                   entry["data"].is_array(),
               kOp, file, ": entry '", key, "' needs \"shape\" and \"data\" arrays");
  std::vector<int64_t> dims = entry["shape"].get<std::vector<int64_t>>();
  Shape shape(dims);
  ATTEND_CHECK(static_cast<int64_t>(entry["data"].size()) == shape.numel(), kOp, file, ": entry '", key, "' has ",
               entry["data"].size(), " values for shape ", shape.str());
  return shape;
}

}  // namespace

Golden Golden::load(const std::string& name) {
  const std::string path = std::string(ATTEND_GOLDEN_DIR) + "/" + name + ".json";
  std::ifstream in(path);
  ATTEND_CHECK(in.good(), kOp, "cannot open ", path);
  auto doc = std::make_shared<nlohmann::json>();
  try {
    in >> *doc;
  } catch (const nlohmann::json::exception& e) {
    throw Error(kOp, detail::concat(path, ": ", e.what()));
  }
  ATTEND_CHECK(doc->is_object() && doc->contains("tensors") && doc->contains("config"), kOp, path,
               ": not a golden file (needs \"config\" and \"tensors\")");
  Golden g;
  g.name_ = name;
  g.doc_ = std::move(doc);
  return g;
}

bool Golden::has_tensor(const std::string& key) const { return (*doc_)["tensors"].contains(key); }
bool Golden::has_ints(const std::string& key) const { return doc_->contains("ints") && (*doc_)["ints"].contains(key); }

Tensor Golden::tensor(const std::string& key, DType dtype) const {
  ATTEND_CHECK(has_tensor(key), kOp, name_, ": no tensor '", key, "'");
  const nlohmann::json& entry = (*doc_)["tensors"][key];
  const Shape shape = read_shape(entry, name_, key);
  std::vector<double> values;
  values.reserve(static_cast<size_t>(shape.numel()));
  for (const auto& v : entry["data"]) values.push_back(decode_float(v, name_, key));
  return Tensor::from_vector(values, shape, dtype);
}

Index Golden::ints(const std::string& key) const {
  ATTEND_CHECK(has_ints(key), kOp, name_, ": no int array '", key, "'");
  const nlohmann::json& entry = (*doc_)["ints"][key];
  const Shape shape = read_shape(entry, name_, key);
  return Index(entry["data"].get<std::vector<int64_t>>(), shape);
}

namespace {
const nlohmann::json& config_entry(const nlohmann::json& doc, const std::string& file, const std::string& key) {
  ATTEND_CHECK(doc["config"].contains(key), kOp, file, ": no config entry '", key, "'");
  return doc["config"][key];
}
}  // namespace

int64_t Golden::config_int(const std::string& key) const { return config_entry(*doc_, name_, key).get<int64_t>(); }
double Golden::config_double(const std::string& key) const {
  return config_entry(*doc_, name_, key).get<double>();
}
bool Golden::config_bool(const std::string& key) const { return config_entry(*doc_, name_, key).get<bool>(); }
std::vector<std::string> Golden::config_strings(const std::string& key) const {
  return config_entry(*doc_, name_, key).get<std::vector<std::string>>();
}

}  // namespace attend::test
