// Golden files: tensors, integer arrays and settings written by PyTorch (scripts/golden/
// make_golden.py) into tests/golden/data/<name>.json, read back without Python.
//
// Format: {"config": {...}, "tensors": {name: {"shape": [...], "data": [...]}},
//          "ints": {name: {"shape": [...], "data": [...]}}}; row-major data; non-finite floats are
// the strings "nan", "inf", "-inf" (JSON has no NaN). Tensors load as f64 (the precision they were
// computed in) unless another dtype is asked for. A missing file or name is an attend::Error
// "[golden] ..." naming the file and the key.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "attend/core/index.h"
#include "attend/core/tensor.h"

namespace attend::test {

class Golden {
 public:
  // Reads ATTEND_GOLDEN_DIR "/" + name + ".json".
  static Golden load(const std::string& name);

  const std::string& name() const { return name_; }
  bool has_tensor(const std::string& key) const;
  bool has_ints(const std::string& key) const;
  // The tensor stored under `key`, converted to `dtype` (a fresh leaf without grad).
  Tensor tensor(const std::string& key, DType dtype = DType::f64) const;
  // The integer array stored under `key`, with its shape.
  Index ints(const std::string& key) const;
  // config[key] as a given type.
  int64_t config_int(const std::string& key) const;
  double config_double(const std::string& key) const;
  bool config_bool(const std::string& key) const;
  std::vector<std::string> config_strings(const std::string& key) const;

 private:
  std::string name_;
  std::shared_ptr<const nlohmann::json> doc_;
};

}  // namespace attend::test
