// BLEU and chrF against sacreBLEU itself (the pinned release, kSacrebleuVersion): the files
// tests/golden/data/sacrebleu_{edge,multi30k}.json hold the texts and what sacreBLEU computed on
// them (scripts/golden/make_sacrebleu_golden.sh). Integer statistics must be equal, scores,
// precisions and the brevity penalty within 1e-9, and the printed lines and signatures identical.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "attend/data/utf8.h"
#include "attend/train/metrics.h"

namespace attend::train {
namespace {

constexpr double kTol = 1e-9;

nlohmann::json load(const std::string& name) {
  const std::string path = std::string(ATTEND_GOLDEN_DIR) + "/" + name + ".json";
  std::ifstream in(path);
  if (!in) ADD_FAILURE() << "cannot open " << path;
  return nlohmann::json::parse(in);
}

struct Case {
  std::string name;
  std::vector<std::string> hyps;
  std::vector<std::vector<std::string>> refs;
  bool lowercase = false;  // sacrebleu -lc: both sides lowercased (attend eval --lowercase)
  nlohmann::json bleu, chrf;
};

std::vector<Case> cases_of(const nlohmann::json& doc) {
  std::vector<Case> out;
  const auto& texts = doc.at("texts");
  for (const auto& c : doc.at("cases")) {
    Case k{.name = c.at("name"), .hyps = texts.at(c.at("hyp").get<std::string>())};
    for (const auto& r : c.at("refs")) k.refs.push_back(texts.at(r.get<std::string>()));
    k.lowercase = c.at("lowercase").get<bool>();
    if (k.lowercase) {
      for (auto& h : k.hyps) h = data::utf8_lower(h);
      for (auto& set : k.refs)
        for (auto& r : set) r = data::utf8_lower(r);
    }
    k.bleu = c.at("bleu");
    k.chrf = c.at("chrf");
    out.push_back(std::move(k));
  }
  return out;
}

void check_bleu(const Case& c) {
  SCOPED_TRACE("case " + c.name);
  const BleuScore b = corpus_bleu(c.hyps, c.refs);
  const auto& g = c.bleu;
  EXPECT_EQ(b.counts, (g.at("counts").get<std::array<int64_t, 4>>()));
  EXPECT_EQ(b.totals, (g.at("totals").get<std::array<int64_t, 4>>()));
  EXPECT_EQ(b.sys_len, g.at("sys_len").get<int64_t>());
  EXPECT_EQ(b.ref_len, g.at("ref_len").get<int64_t>());
  EXPECT_NEAR(b.brevity_penalty, g.at("bp").get<double>(), kTol);
  for (size_t n = 0; n < 4; ++n) EXPECT_NEAR(b.precisions[n], g.at("precisions")[n].get<double>(), kTol) << "order " << n + 1;
  EXPECT_NEAR(b.score, g.at("score").get<double>(), kTol);
  EXPECT_EQ(b.str(), g.at("str").get<std::string>());
  EXPECT_EQ(bleu_signature(c.refs.size(), c.lowercase), g.at("signature").get<std::string>());
  EXPECT_EQ(b.format(bleu_signature(c.refs.size(), c.lowercase)), g.at("formatted").get<std::string>());
}

void check_chrf(const Case& c) {
  SCOPED_TRACE("case " + c.name);
  const ChrfScore s = corpus_chrf(c.hyps, c.refs);
  const auto stats = c.chrf.at("stats").get<std::vector<int64_t>>();
  ASSERT_EQ(stats.size(), 18u);
  for (size_t n = 0; n < 6; ++n) {
    EXPECT_EQ(s.hyp[n], stats[3 * n]) << "hyp " << n + 1 << "-grams";
    EXPECT_EQ(s.ref[n], stats[3 * n + 1]) << "ref " << n + 1 << "-grams";
    EXPECT_EQ(s.match[n], stats[3 * n + 2]) << "matched " << n + 1 << "-grams";
  }
  EXPECT_NEAR(s.score, c.chrf.at("score").get<double>(), kTol);
  EXPECT_EQ(s.str(), c.chrf.at("str").get<std::string>());
  EXPECT_EQ(chrf_signature(c.refs.size(), c.lowercase), c.chrf.at("signature").get<std::string>());
  EXPECT_EQ(s.format(chrf_signature(c.refs.size(), c.lowercase)), c.chrf.at("formatted").get<std::string>());
}

TEST(GoldenSacrebleu, FilesAreFromThePinnedVersion) {
  for (const char* f : {"sacrebleu_edge", "sacrebleu_multi30k"})
    EXPECT_EQ(load(f).at("sacrebleu_version").get<std::string>(), kSacrebleuVersion) << f;
}

TEST(GoldenSacrebleu, Tokenize13aMatchesSacrebleu) {
  const auto doc = load("sacrebleu_edge");
  ASSERT_GE(doc.at("tokenize_13a").size(), 30u);
  for (const auto& p : doc.at("tokenize_13a"))
    EXPECT_EQ(tokenize_13a(p[0].get<std::string>()), p[1].get<std::string>()) << "input: " << p[0];
}

TEST(GoldenSacrebleu, BleuMatchesSacrebleuOnEdgeCases) {
  const auto cases = cases_of(load("sacrebleu_edge"));
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) check_bleu(c);
}

TEST(GoldenSacrebleu, BleuMatchesSacrebleuOnMulti30kTest) {
  const auto cases = cases_of(load("sacrebleu_multi30k"));
  ASSERT_GE(cases.size(), 15u);
  EXPECT_EQ(std::count_if(cases.begin(), cases.end(), [](const Case& c) { return c.lowercase; }), 4);
  for (const auto& c : cases) {
    EXPECT_EQ(c.hyps.size(), 1000u) << c.name;
    check_bleu(c);
  }
}

TEST(GoldenSacrebleu, ChrfMatchesSacrebleuOnEdgeCases) {
  for (const auto& c : cases_of(load("sacrebleu_edge"))) check_chrf(c);
}

TEST(GoldenSacrebleu, ChrfMatchesSacrebleuOnMulti30kTest) {
  for (const auto& c : cases_of(load("sacrebleu_multi30k"))) check_chrf(c);
}

}  // namespace
}  // namespace attend::train
