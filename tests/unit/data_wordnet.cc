// WordNet data files (data/wordnet.h): the fields of real lines (tests/data/wordnet holds a few
// lines of WordNet 3.0's data.noun and data.verb with their licence header), the seeded split by
// synset, and an error naming the file, the line and the field for every kind of malformed line.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "attend/data/wordnet.h"
#include "support/check.h"
#include "support/temp_dir.h"

namespace attend::test {
namespace {

const std::string kDir = std::string(ATTEND_TEST_DATA_DIR) + "/wordnet";

TEST(DataWordnet, ReadsRealLinesAndSkipsTheLicenceHeader) {
  const std::vector<data::Synset> nouns = data::read_wordnet_data(kDir + "/data.noun");
  ASSERT_EQ(nouns.size(), 21u);
  EXPECT_EQ(nouns[0].offset, 1740);
  EXPECT_EQ(nouns[0].pos, 'n');
  EXPECT_EQ(nouns[0].lexname, "noun.Tops");
  EXPECT_EQ(nouns[0].words, std::vector<std::string>{"entity"});
  EXPECT_EQ(nouns[0].gloss,
            "that which is perceived or known or inferred to have its own distinct existence (living or nonliving)");
  EXPECT_EQ(nouns[1].lexname, "noun.act");
  EXPECT_EQ(nouns[1].words, (std::vector<std::string>{"contribution", "part", "share"}));
  const std::vector<data::Synset> verbs = data::read_wordnet_data(kDir + "/data.verb");
  ASSERT_EQ(verbs.size(), 12u);
  for (const data::Synset& v : verbs) {
    EXPECT_EQ(v.pos, 'v');
    EXPECT_TRUE(v.lexname.starts_with("verb.")) << v.lexname;
    EXPECT_EQ(v.gloss.find(" | "), std::string::npos);
  }
  EXPECT_EQ(data::wordnet_lexnames().size(), 45u);
}

TEST(DataWordnet, SplitIsBySynsetSeededAndDisjoint) {
  std::vector<data::Synset> all = data::read_wordnet_data(kDir + "/data.noun");
  const std::vector<data::Synset> verbs = data::read_wordnet_data(kDir + "/data.verb");
  all.insert(all.end(), verbs.begin(), verbs.end());
  const data::GlossSplit a = data::split_glosses(all, 3, 0.2, 0.2), b = data::split_glosses(all, 3, 0.2, 0.2),
                         c = data::split_glosses(all, 4, 0.2, 0.2);
  EXPECT_EQ(a.test.size(), 6u);
  EXPECT_EQ(a.valid.size(), 6u);
  EXPECT_EQ(a.train.size() + a.valid.size() + a.test.size(), all.size());
  EXPECT_EQ(a.train, b.train);
  EXPECT_NE(a.test, c.test);
  std::set<std::string> seen;
  for (const auto* part : {&a.train, &a.valid, &a.test})
    for (const data::Pair& p : *part) EXPECT_TRUE(seen.insert(p.source).second) << "twice: " << p.source;
  expect_error([&] { data::split_glosses(all, 1, 0.6, 0.5); }, "[wordnet]", {"0.6", "0.5"});
}

class DataWordnetBad : public TempDirTest {
 protected:
  // A file of the licence line and `line`; the error of reading it.
  std::string error_for(const std::string& line) {
    const std::string p = path("data.noun");
    std::ofstream(p) << "  1 This software and database is being provided to you, the LICENSEE, by  \n" << line << "\n";
    return error_of([&] { data::read_wordnet_data(p); });
  }
};

TEST_F(DataWordnetBad, EveryMalformedLineIsAnErrorNamingFileLineAndField) {
  const std::pair<std::string, std::string> cases[] = {
      {"00001740 03 n 01 entity 0 000 that which is", "no ' | ' before the gloss"},
      {"0001740 03 n 01 entity 0 000 | gloss", "synset offset '0001740' is not 8 digits"},
      {"00001740 3x n 01 entity 0 000 | gloss", "lexicographer file '3x' is not 2 digits"},
      {"00001740 45 n 01 entity 0 000 | gloss", "lexicographer file 45 is not one of WordNet's 0..44"},
      {"00001740 03 q 01 entity 0 000 | gloss", "synset type 'q' is not n, v, a, s or r"},
      {"00001740 03 n zz entity 0 000 | gloss", "word count 'zz' is not 2 hex digits"},
      {"00001740 03 n 03 entity 0 | gloss", "word count 3 but the line ends after 1 word(s)"},
      {"00001740 03 n 01 entity x 000 | gloss", "lex_id 'x' of word 'entity' is not a hex digit"},
      {"00001740 03 n 01 entity 0 0x0 | gloss", "pointer count '0x0' is not 3 digits"},
      {"00001740 03 n 01 entity 0 000 |   ", "empty gloss"},
  };
  for (const auto& [line, message] : cases) {
    SCOPED_TRACE(line);
    const std::string e = error_for(line);
    EXPECT_NE(e.find("[wordnet] " + path("data.noun") + ":2: " + message), std::string::npos) << e;
  }
  expect_error([&] { data::read_wordnet_data(path("missing")); }, "[wordnet]", {"missing", "cannot open", "wordnet-base"});
  std::ofstream(path("empty")) << "  1 licence only\n";
  expect_error([&] { data::read_wordnet_data(path("empty")); }, "[wordnet]", {"no synsets"});
}

}  // namespace
}  // namespace attend::test
