// data e2e: the first 1000 lines of the real Multi30k train files (German-English) through the
// reader, both tokenizers, the vocabulary (with a save/load round trip) and the batcher.
// Data path: $ATTEND_SHARED_DATA or <source tree>/../shared/data; skipped when absent.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "attend/data/batching.h"
#include "attend/data/corpus.h"
#include "attend/data/tokenizer.h"
#include "attend/data/vocab.h"
#include "attend/io/atomic_file.h"

namespace attend::data {
namespace {

namespace fs = std::filesystem;

fs::path shared_data() {
  if (const char* env = std::getenv("ATTEND_SHARED_DATA")) return env;
  // This file is tests/e2e/data_multi30k.cc; the source tree is two levels up.
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "shared" / "data";
}

// The first n lines of `path` into `out` (the real file is never copied into the repository).
void head(const fs::path& path, size_t n, const fs::path& out) {
  std::ifstream in(path, std::ios::binary);
  std::string text, line;
  for (size_t i = 0; i < n && std::getline(in, line); ++i) text += line + "\n";
  io::write_file_atomic(out.string(), text);
}

TEST(DataMulti30k, First1000TrainLinesBuildWordAndCharVocabularies) {
  const fs::path raw = shared_data() / "multi30k" / "raw";
  if (!fs::exists(raw / "train.de") || !fs::exists(raw / "train.en")) {
    GTEST_SKIP() << "Multi30k not found at " << raw << " (set ATTEND_SHARED_DATA)";
  }
  const fs::path tmp = fs::temp_directory_path() / ("attend_m30k_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  head(raw / "train.de", 1000, tmp / "train.de");
  head(raw / "train.en", 1000, tmp / "train.en");
  auto pairs = read_parallel((tmp / "train.de").string(), (tmp / "train.en").string());
  ASSERT_EQ(pairs.size(), 1000u);
  EXPECT_EQ(pairs[0].source, "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.");

  const Tokenizer word({.kind = TokenizerKind::word, .split_punctuation = true});
  const Tokenizer chars({.kind = TokenizerKind::character});
  std::vector<std::vector<std::string>> de_words, en_words, de_chars;
  for (const auto& p : pairs) {
    de_words.push_back(word.tokenize(p.source));
    en_words.push_back(word.tokenize(p.target));
    de_chars.push_back(chars.tokenize(p.source));
  }
  const Vocab de = Vocab::build(de_words, {.min_freq = 2});
  const Vocab en = Vocab::build(en_words, {.min_freq = 2, .max_size = 1000});
  const Vocab dc = Vocab::build(de_chars);
  EXPECT_GT(de.size(), 300);
  EXPECT_LE(en.size(), 1000);
  EXPECT_EQ(en.token(4), "a");  // the most frequent English word of Multi30k
  EXPECT_EQ(de.token(4), ".");
  EXPECT_TRUE(dc.contains("ä") && dc.contains("ß") && dc.contains(" "));
  EXPECT_LT(dc.size(), 120);
  EXPECT_NE(de.id("Männer"), Vocab::kUnk);

  io::write_file_atomic((tmp / "de.vocab").string(), [&](std::ostream& os) { de.save(os); });
  EXPECT_TRUE(Vocab::load((tmp / "de.vocab").string()) == de);

  const auto filtered = filter_max_length(pairs, word, word, {.max_source_tokens = 20, .max_target_tokens = 20});
  EXPECT_EQ(filtered.kept + filtered.dropped, 1000);
  EXPECT_GT(filtered.dropped, 0);
  std::vector<Example> ex;
  for (const auto& p : pairs) {
    ex.push_back({de.encode(word.tokenize(p.source), {.add_eos = true}),
                  en.encode(word.tokenize(p.target), {.add_bos = true, .add_eos = true})});
  }
  Batcher batcher(ex, {.max_tokens = 512, .max_sentences = 64, .seed = 1});
  int64_t total = 0;
  for (const auto& ids : batcher.plan(0)) total += static_cast<int64_t>(ids.size());
  EXPECT_EQ(total, filtered.kept);
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace attend::data
