// Captioning and caption scores (captioning.h).
#include "attend/app/captioning.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "attend/autograd/autograd.h"
#include "attend/ops/ops.h"
#include "attend/train/metrics.h"

namespace attend::app {

namespace {

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace

std::vector<Caption> caption_images(models::SequenceToSequence& model, const data::Vocab& target_vocab,
                                    const Source& images, int64_t beam, int64_t batch) {
  ATTEND_CHECK(images.kind() == SourceKind::features, "caption", "images must be a feature source");
  ATTEND_CHECK(beam >= 1 && batch >= 1, "caption", "--beam ", beam, " and --batch ", batch, " must be >= 1");
  NoGrad no_grad;
  std::vector<Caption> out;
  const int64_t B = images.batch();
  for (int64_t begin = 0; begin < B; begin += batch) {
    const int64_t end = std::min(B, begin + batch);
    const Source part = Source::of_features(
        contiguous(slice(images.features, 0, begin, end)),
        std::vector<int64_t>(images.lengths.begin() + begin, images.lengths.begin() + end));
    std::vector<decode::Hypothesis> hyps;
    if (beam == 1) {
      hyps = decode::greedy(model, part);
    } else {
      for (auto& nbest : decode::beam_search(model, part, {.beam_size = beam})) hyps.push_back(std::move(nbest[0]));
    }
    for (auto& h : hyps) {
      Caption c;
      c.words = target_vocab.decode(h.tokens);
      c.text = join(c.words);
      c.hypothesis = std::move(h);
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::vector<ArticleMention> article_mentions(const std::vector<std::string>& words,
                                             const std::vector<std::string>& class_names) {
  std::vector<std::vector<std::string>> names;
  for (const auto& n : class_names) names.push_back(split_words(n));
  std::vector<ArticleMention> out;
  for (size_t t = 0; t < words.size();) {
    size_t matched = 0;
    int64_t label = -1;
    for (size_t k = 0; k < names.size(); ++k) {
      const auto& n = names[k];
      if (n.size() > matched && t + n.size() <= words.size() && std::equal(n.begin(), n.end(), words.begin() + t))
        matched = n.size(), label = static_cast<int64_t>(k);
    }
    if (label < 0) {
      ++t;
      continue;
    }
    out.push_back({static_cast<int64_t>(t), label});
    t += matched;
  }
  return out;
}

int64_t region_grid_side(int64_t regions) {
  const auto g = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(regions))));
  ATTEND_CHECK(regions > 0 && g * g == regions, "captions", "attention over ", regions,
               " regions is not over a square grid");
  return g;
}

CaptionReport score_captions(const std::vector<Caption>& captions, const data::SceneSplit& split,
                             const std::vector<std::string>& class_names) {
  ATTEND_CHECK(captions.size() <= split.captions.size(), "captions", captions.size(), " captions for ",
               split.captions.size(), " scenes");
  CaptionReport r;
  r.scenes = std::ssize(captions);
  if (captions.empty()) return r;
  size_t refs_per_scene = 0;
  for (size_t i = 0; i < captions.size(); ++i) refs_per_scene = std::max(refs_per_scene, split.captions[i].size());
  std::vector<std::string> hyps;
  std::vector<std::vector<std::string>> refs(refs_per_scene);
  int64_t exact = 0, on_target = 0, right_class = 0;
  for (size_t i = 0; i < captions.size(); ++i) {
    const Caption& c = captions[i];
    const auto& phrasings = split.captions[i];
    hyps.push_back(c.text);
    bool match = false;
    for (size_t k = 0; k < refs_per_scene; ++k) {
      // A scene with fewer phrasings repeats its last one (BLEU takes the best match anyway).
      const std::string& ref = phrasings[std::min(k, phrasings.size() - 1)];
      refs[k].push_back(ref);
      match = match || split_words(ref) == c.words;
    }
    exact += match;
    const auto& objects = split.objects[i];
    const Tensor& a = c.hypothesis.attention;  // [T, R]
    const std::vector<ArticleMention> mentions = article_mentions(c.words, class_names);
    for (size_t k = 0; k < mentions.size(); ++k) {
      const ArticleMention& m = mentions[k];
      ++r.articles;
      if (k >= objects.size() || !a.defined()) continue;
      right_class += m.label == objects[k].label;
      const Tensor row = contiguous(to_dtype(slice(a, 0, m.step, m.step + 1), DType::f32));  // [1, R]
      const float* w = row.data<float>();
      const int64_t R = row.size(1);
      const int64_t best = std::max_element(w, w + R) - w;
      on_target += data::region_cell(best, region_grid_side(R)) == objects[k].cell;
    }
  }
  r.exact = 100.0 * static_cast<double>(exact) / static_cast<double>(r.scenes);
  r.bleu = train::corpus_bleu(hyps, refs).score;
  const double articles = static_cast<double>(std::max<int64_t>(r.articles, 1));
  r.on_target = 100.0 * static_cast<double>(on_target) / articles;
  r.class_accuracy = 100.0 * static_cast<double>(right_class) / articles;
  return r;
}

std::string CaptionReport::text() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "scenes              %lld\nexact match         %.2f%%\nBLEU-4              %.2f\n"
                "attention on target %.2f%% of %lld article mentions\narticle class right %.2f%%\n",
                static_cast<long long>(scenes), exact, bleu, on_target, static_cast<long long>(articles),
                class_accuracy);
  return buf;
}

std::string CaptionReport::json(const std::string& model) const {
  nlohmann::json j{{"model", model},         {"scenes", scenes}, {"exact", exact}, {"bleu", bleu},
                   {"attention_on_target", on_target}, {"articles", articles}, {"class_accuracy", class_accuracy}};
  return j.dump(2) + "\n";
}

}  // namespace attend::app
