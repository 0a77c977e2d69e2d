// The constructors make_model dispatches to (internal to src/models).
#pragma once

#include <memory>

#include "attend/models/seq2seq.h"

namespace attend::models {

std::unique_ptr<Seq2SeqModel> make_rnnsearch(const Seq2SeqConfig& config, Rng& rng);
std::unique_ptr<Seq2SeqModel> make_luong(const Seq2SeqConfig& config, Rng& rng);
std::unique_ptr<Seq2SeqModel> make_seq2seq(const Seq2SeqConfig& config, Rng& rng);

}  // namespace attend::models
