// The built-in architectures' registrations (internal to src/models; registry.cc lists them).
#pragma once

#include "attend/models/registry.h"

namespace attend::models {

ArchitectureInfo rnnsearch_architecture();
ArchitectureInfo luong_architecture();
ArchitectureInfo seq2seq_architecture();
ArchitectureInfo transformer_architecture();
ArchitectureInfo gpt_architecture();
ArchitectureInfo vit_architecture();
ArchitectureInfo classifier_architecture();
ArchitectureInfo sat_architecture();

}  // namespace attend::models
