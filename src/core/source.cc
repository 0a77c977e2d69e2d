#include "attend/core/source.h"

#include <algorithm>

namespace attend {

const char* source_kind_name(SourceKind kind) { return kind == SourceKind::tokens ? "tokens" : "features"; }

Source Source::of_tokens(Index ids, std::vector<int64_t> lengths) {
  Source s;
  s.tokens = std::move(ids);
  s.lengths = std::move(lengths);
  s.check("Source");
  return s;
}

Source Source::of_token_rows(const std::vector<std::vector<int64_t>>& rows, int64_t pad_id) {
  int64_t S = 1;
  std::vector<int64_t> lengths;
  for (const auto& row : rows) {
    lengths.push_back(static_cast<int64_t>(row.size()));
    S = std::max(S, lengths.back());
  }
  std::vector<int64_t> flat;
  flat.reserve(rows.size() * static_cast<size_t>(S));
  for (const auto& row : rows) {
    flat.insert(flat.end(), row.begin(), row.end());
    flat.insert(flat.end(), static_cast<size_t>(S) - row.size(), pad_id);
  }
  return of_tokens(Index(std::move(flat), Shape{static_cast<int64_t>(rows.size()), S}), std::move(lengths));
}

Source Source::of_features(Tensor features, std::vector<int64_t> lengths) {
  ATTEND_CHECK(features.defined(), "Source", "features are undefined");
  Source s;
  s.features = std::move(features);
  s.lengths = std::move(lengths);
  s.check("Source");
  return s;
}

int64_t Source::length() const {
  return kind() == SourceKind::tokens ? (tokens.shape.rank() == 2 ? tokens.shape[1] : 0)
                                      : (features.dim() == 3 ? features.size(1) : 0);
}

void Source::check(const char* op) const {
  const bool is_tokens = kind() == SourceKind::tokens;
  const std::string shape = is_tokens ? tokens.shape.str() : features.shape().str();
  if (is_tokens)
    ATTEND_CHECK(tokens.shape.rank() == 2 && tokens.shape[0] > 0 && tokens.shape[1] > 0, op, "src ", shape,
                 " must be [B, S] with B, S > 0");
  else
    ATTEND_CHECK(features.dim() == 3 && features.size(0) > 0 && features.size(1) > 0 && features.size(2) > 0, op,
                 "source features ", shape, " must be [B, R, C] with B, R, C > 0");
  const int64_t B = is_tokens ? tokens.shape[0] : features.size(0), S = length();
  ATTEND_CHECK(static_cast<int64_t>(lengths.size()) == B, op, "src_lengths has ", lengths.size(), " entries for src ",
               shape);
  for (size_t b = 0; b < lengths.size(); ++b)
    ATTEND_CHECK(lengths[b] >= 1 && lengths[b] <= S, op, "src_lengths[", b, "] = ", lengths[b], " is outside [1, ",
                 is_tokens ? "S" : "R", " = ", S, "] (src ", shape, ")");
}

}  // namespace attend
