// WordNet data files (wordnet.h has the format) and the seeded gloss split.
#include "attend/data/wordnet.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <numeric>
#include <sstream>

#include "attend/core/error.h"
#include "attend/core/rng.h"

namespace attend::data {

namespace {

constexpr const char* kOp = "wordnet";

bool all_of_class(const std::string& s, int (*is)(int)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [is](char ch) { return is(static_cast<unsigned char>(ch)) != 0; });
}

}  // namespace

const std::vector<std::string>& wordnet_lexnames() {
  static const std::vector<std::string> names = {
      "adj.all",          "adj.pert",          "adv.all",            "noun.Tops",        "noun.act",
      "noun.animal",      "noun.artifact",     "noun.attribute",     "noun.body",        "noun.cognition",
      "noun.communication", "noun.event",      "noun.feeling",       "noun.food",        "noun.group",
      "noun.location",    "noun.motive",       "noun.object",        "noun.person",      "noun.phenomenon",
      "noun.plant",       "noun.possession",   "noun.process",       "noun.quantity",    "noun.relation",
      "noun.shape",       "noun.state",        "noun.substance",     "noun.time",        "verb.body",
      "verb.change",      "verb.cognition",    "verb.communication", "verb.competition", "verb.consumption",
      "verb.contact",     "verb.creation",     "verb.emotion",       "verb.motion",      "verb.perception",
      "verb.possession",  "verb.social",       "verb.stative",       "verb.weather",     "adj.ppl"};
  return names;
}

std::vector<Synset> read_wordnet_data(const std::string& path) {
  std::ifstream in(path);
  ATTEND_CHECK(in.good(), kOp, path, ": cannot open (Debian's wordnet-base installs /usr/share/wordnet/data.noun "
               "and data.verb)");
  std::vector<Synset> out;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.starts_with("  ") || line.empty()) continue;  // the licence header
    const auto where = [&] { return path + ":" + std::to_string(n) + ": "; };
    const size_t bar = line.find(" | ");
    ATTEND_CHECK(bar != std::string::npos, kOp, where(), "no ' | ' before the gloss");
    std::istringstream fields(line.substr(0, bar));
    std::string offset, lex, type, wcnt;
    fields >> offset >> lex >> type >> wcnt;
    ATTEND_CHECK(offset.size() == 8 && all_of_class(offset, isdigit), kOp, where(), "synset offset '", offset,
                 "' is not 8 digits");
    ATTEND_CHECK(lex.size() == 2 && all_of_class(lex, isdigit), kOp, where(), "lexicographer file '", lex,
                 "' is not 2 digits");
    Synset s;
    s.offset = std::stoll(offset);
    s.lex_filenum = std::stoi(lex);
    ATTEND_CHECK(s.lex_filenum < std::ssize(wordnet_lexnames()), kOp, where(), "lexicographer file ", s.lex_filenum,
                 " is not one of WordNet's 0..", wordnet_lexnames().size() - 1);
    s.lexname = wordnet_lexnames()[static_cast<size_t>(s.lex_filenum)];
    ATTEND_CHECK(type.size() == 1 && std::string("nvasr").find(type[0]) != std::string::npos, kOp, where(),
                 "synset type '", type, "' is not n, v, a, s or r");
    s.pos = type[0];
    ATTEND_CHECK(wcnt.size() == 2 && all_of_class(wcnt, isxdigit), kOp, where(), "word count '", wcnt,
                 "' is not 2 hex digits");
    const int64_t words = std::stoll(wcnt, nullptr, 16);
    for (int64_t w = 0; w < words; ++w) {
      std::string word, lex_id;
      ATTEND_CHECK(static_cast<bool>(fields >> word >> lex_id), kOp, where(), "word count ", words,
                   " but the line ends after ", w, " word(s)");
      ATTEND_CHECK(lex_id.size() == 1 && all_of_class(lex_id, isxdigit), kOp, where(), "lex_id '", lex_id,
                   "' of word '", word, "' is not a hex digit");
      std::replace(word.begin(), word.end(), '_', ' ');
      s.words.push_back(word);
    }
    std::string pcnt;
    ATTEND_CHECK(static_cast<bool>(fields >> pcnt) && pcnt.size() == 3 && all_of_class(pcnt, isdigit), kOp, where(),
                 "pointer count '", pcnt, "' is not 3 digits");
    s.gloss = line.substr(bar + 3);
    while (!s.gloss.empty() && std::isspace(static_cast<unsigned char>(s.gloss.back()))) s.gloss.pop_back();
    ATTEND_CHECK(!s.gloss.empty(), kOp, where(), "empty gloss");
    ATTEND_CHECK(s.gloss.find('\t') == std::string::npos, kOp, where(), "a tab in the gloss");
    out.push_back(std::move(s));
  }
  ATTEND_CHECK(!out.empty(), kOp, path, ": no synsets (is it a WordNet data file?)");
  return out;
}

GlossSplit split_glosses(const std::vector<Synset>& synsets, uint64_t seed, double valid_fraction,
                         double test_fraction) {
  ATTEND_CHECK(valid_fraction >= 0 && test_fraction >= 0 && valid_fraction + test_fraction < 1, kOp,
               "valid and test fractions ", valid_fraction, " and ", test_fraction, " must leave training synsets");
  std::vector<size_t> order(synsets.size());
  std::iota(order.begin(), order.end(), size_t{0});
  Rng rng(seed);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.next_u64() % i]);  // Fisher-Yates
  const auto n = static_cast<double>(order.size());
  const auto n_test = static_cast<size_t>(n * test_fraction), n_valid = static_cast<size_t>(n * valid_fraction);
  GlossSplit out;
  for (size_t k = 0; k < order.size(); ++k) {
    const Synset& s = synsets[order[k]];
    std::vector<Pair>& dst = k < n_test ? out.test : k < n_test + n_valid ? out.valid : out.train;
    dst.push_back({s.gloss, s.lexname});
  }
  return out;
}

}  // namespace attend::data
