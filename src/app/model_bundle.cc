#include "attend/app/model_bundle.h"

#include <filesystem>

#include "attend/train/checkpoint.h"

namespace attend::app {

std::map<std::string, int64_t> expected_vocabs(const ModelSpec& spec) {
  const models::ModelConfig& c = *spec.model;
  switch (c.task()) {
    case models::Task::sequence_to_sequence: {
      const auto& s = static_cast<const models::SequenceToSequenceConfig&>(c);
      if (s.src_vocab == 0) return {{"target", s.tgt_vocab}};  // it reads features
      return {{"source", s.src_vocab}, {"target", s.tgt_vocab}};
    }
    case models::Task::classification: {
      const auto& k = static_cast<const models::ClassifierConfig&>(c);
      if (k.src_vocab == 0) return {};  // it reads features
      return {{"source", k.src_vocab}};
    }
    case models::Task::language_model:
      return {{"target", static_cast<const models::LanguageModelConfig&>(c).vocab}};
  }
  return {};
}

ModelBundle ModelBundle::load(const std::string& checkpoint) {
  const train::CheckpointInfo info = train::read_checkpoint_info(checkpoint);
  ModelBundle b;
  b.spec = ModelSpec::from_checkpoint(info, checkpoint);
  for (const auto& [name, size] : expected_vocabs(b.spec)) {
    const auto it = info.vocabs.find(name);
    ATTEND_CHECK(it != info.vocabs.end(), "checkpoint", checkpoint, ": no ", name, " vocabulary");
    ATTEND_CHECK(it->second.size() == size, "checkpoint", checkpoint, ": the ", name, " vocabulary has ",
                 it->second.size(), " entries, the config says ", size);
    b.vocabs.emplace(name, it->second);
  }
  // A side tokenized by SentencePiece has the model's pieces as its vocabulary, id for id.
  for (const auto& [side, sp] : {std::pair{"source", b.spec.source_spm.get()}, std::pair{"target", b.spec.target_spm.get()}})
    ATTEND_CHECK(sp == nullptr || (b.vocabs.count(side) && spm_vocab(*sp, checkpoint) == b.vocabs.at(side)), "checkpoint", checkpoint,
                 ": the ", side, " vocabulary is not the pieces of its SentencePiece model");
  // The config is untrusted input: a hand-edited hidden_dim must not allocate without bound. The
  // weights of a model the file can hold take at most the file's size; construction may also make
  // a few temporaries, so the budget is four times that plus 64 MiB. A config within the budget but
  // not matching the file fails below, in load_checkpoint, naming the parameter and both shapes.
  std::error_code ec;
  const uintmax_t file_bytes = std::filesystem::file_size(checkpoint, ec);
  {
    const AllocationBudget budget(4 * static_cast<size_t>(ec ? 0 : file_bytes) + (size_t{64} << 20), "checkpoint",
                                  checkpoint + ": its model_config describes a model larger than the file's weights");
    Rng rng(0);
    b.model = models::make_model(*b.spec.model, rng);
  }
  train::load_checkpoint(checkpoint, *b.model);
  b.model->eval();
  return b;
}

void ModelBundle::save(const std::string& checkpoint) const {
  train::CheckpointInfo info;
  spec.to_checkpoint(info);
  info.vocabs = vocabs;
  train::save_checkpoint(checkpoint, *model, nullptr, info);
}

const data::Vocab& ModelBundle::vocab(const std::string& name, const std::string& what) const {
  const auto it = vocabs.find(name);
  ATTEND_CHECK(it != vocabs.end(), "checkpoint", what, ": no ", name, " vocabulary");
  return it->second;
}

}  // namespace attend::app
