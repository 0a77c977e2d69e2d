// The registry of architectures and its built-ins.
#include "attend/models/registry.h"

#include <deque>
#include <mutex>

#include "models.h"

namespace attend::models {

namespace {

struct Registry {
  std::mutex mutex;
  std::deque<ArchitectureInfo> entries;  // a deque: references handed out stay valid
};

void check_info(const ArchitectureInfo& info) {
  ATTEND_CHECK(!info.name.empty() && info.make_config && info.make_model, "models",
               "an architecture needs a name, a config factory and a model factory");
  const Task config_task = info.make_config()->task();
  ATTEND_CHECK(config_task == info.task, "models", "architecture '", info.name, "' is registered for the ",
               task_name(info.task), " task but its config serves ", task_name(config_task));
}

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;  // never destroyed: lookups may run during static destruction
    // The built-in architectures, one line each.
    for (ArchitectureInfo a : {rnnsearch_architecture(), luong_architecture(), seq2seq_architecture(),
                               transformer_architecture(), gpt_architecture(), vit_architecture(), sat_architecture(),
                               classifier_architecture()}) {
      check_info(a);
      reg->entries.push_back(std::move(a));
    }
    return reg;
  }();
  return *r;
}

}  // namespace

const ArchitectureInfo& architecture(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::string known;
  for (const ArchitectureInfo& a : r.entries) {
    if (a.name == name) return a;
    known += (known.empty() ? "" : ", ") + a.name;
  }
  throw Error("models", "unknown architecture '" + name + "' (known: " + known + ")");
}

std::vector<std::string> architecture_names() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const ArchitectureInfo& a : r.entries) names.push_back(a.name);
  return names;
}

void register_architecture(ArchitectureInfo info) {
  check_info(info);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (ArchitectureInfo& a : r.entries)
    if (a.name == info.name) {
      a = std::move(info);
      return;
    }
  r.entries.push_back(std::move(info));
}

std::unique_ptr<ModelConfig> make_config(const std::string& name) { return architecture(name).make_config(); }

std::unique_ptr<ModelConfig> make_config(const std::string& name, const std::map<std::string, std::string>& values,
                                         bool ignore_unknown) {
  std::unique_ptr<ModelConfig> c = make_config(name);
  c->set(values, ignore_unknown);
  return c;
}

std::unique_ptr<Model> make_model(const ModelConfig& config, Rng& rng) {
  config.validate();
  return architecture(config.architecture()).make_model(config, rng);
}

}  // namespace attend::models
