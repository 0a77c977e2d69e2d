// Source: a batch of variable-length inputs to an encoder, padded on the right, with the real
// length of each row. Two kinds, so that one encoder-decoder contract serves text and pictures:
//   tokens    ids [B, S]               (a sentence per row; translation, summarization)
//   features  vectors [B, R, C] (f32)  (R regions of C features per row; image captioning,
//                                       any precomputed encoder input)
// lengths [B], each in [1, S] (or [1, R]); positions past a row's length are padding and every
// attention over the source masks them out (Mask{.key_lengths = lengths}).
#pragma once

#include <cstdint>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/tensor.h"

namespace attend {

enum class SourceKind { tokens, features };

// "tokens" or "features".
const char* source_kind_name(SourceKind kind);

struct Source {
  Index tokens;                  // [B, S] when kind() == tokens
  Tensor features;               // [B, R, C] when kind() == features
  std::vector<int64_t> lengths;  // [B]

  // Both check the shapes and lengths; errors "[Source] ..." name them.
  static Source of_tokens(Index ids, std::vector<int64_t> lengths);
  static Source of_features(Tensor features, std::vector<int64_t> lengths);
  // Rows of token ids of any lengths (each non-empty), padded with pad_id to the longest: [B, S].
  static Source of_token_rows(const std::vector<std::vector<int64_t>>& rows, int64_t pad_id);

  SourceKind kind() const { return features.defined() ? SourceKind::features : SourceKind::tokens; }
  int64_t batch() const { return static_cast<int64_t>(lengths.size()); }
  // The padded length: S for tokens, R for features.
  int64_t length() const;
  // Throws attend::Error("[op] ...") unless the source is well formed: rank, B > 0, S > 0, one
  // length per row, each in [1, S].
  void check(const char* op) const;
};

}  // namespace attend
