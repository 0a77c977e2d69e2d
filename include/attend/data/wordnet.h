// WordNet 3.0 glosses labelled with their lexicographer file (the 26 noun and 15 verb
// "supersenses": noun.artifact, verb.motion, ...): a real text-classification corpus from Debian's
// wordnet-base (/usr/share/wordnet/data.noun and data.verb, about 95,000 synsets).
//
// A data.<pos> line (WordNet's wndb(5) format):
//   offset lex_filenum ss_type w_cnt (word lex_id){w_cnt} p_cnt (ptr offset pos st){p_cnt} [frames] | gloss
// with offset 8 digits, lex_filenum 2 digits (its name from the fixed lexnames(5) table), ss_type
// n v a s r, w_cnt 2 hex digits, lex_id 1 hex digit, p_cnt 3 digits. Lines that start with two
// spaces are the licence header. The gloss is the definition and its quoted examples, as written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attend/data/corpus.h"

namespace attend::data {

struct Synset {
  int64_t offset = 0;
  char pos = 'n';             // ss_type
  int lex_filenum = 0;        // 0..44
  std::string lexname;        // "noun.artifact"
  std::vector<std::string> words;
  std::string gloss;
};

// The 45 lexicographer file names of WordNet 3.0 by number (lexnames(5)).
const std::vector<std::string>& wordnet_lexnames();

// Every synset of one data.<pos> file. Errors "[wordnet] FILE:LINE: ..." name the field at fault
// (a missing file, a bad offset, an unknown lexicographer file, a word count past the line, no
// gloss separator, ...).
std::vector<Synset> read_wordnet_data(const std::string& path);

// The glosses as (gloss, lexname) pairs split by synset, seeded: every synset lands in exactly one
// split, test_fraction and valid_fraction of them in test and valid (the order within a split is
// the shuffled order). Each gloss is one line (tabs and newlines never occur in WordNet's).
struct GlossSplit {
  std::vector<Pair> train, valid, test;
};
GlossSplit split_glosses(const std::vector<Synset>& synsets, uint64_t seed, double valid_fraction = 0.1,
                         double test_fraction = 0.1);

}  // namespace attend::data
