// Captioning images with a sequence-to-sequence model that reads pictures (sat), and scoring the
// captions of scenes (data/scenes.h) against what the generator put where:
//   exact             the caption equals one of the scene's phrasings (as words)
//   BLEU-4            corpus BLEU (sacreBLEU defaults) with every phrasing as a reference
//   attention on      for each article the caption names, in order, the region of highest
//   target            attention at the step that wrote the article's first word lies in the cell
//                     of that article (the k-th article named is the scene's k-th in reading
//                     order, as every phrasing names them); an article named beyond the scene's
//                     count is a miss
// What `attend eval --scenes`, `attend show --image` and training's validation run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attend/core/source.h"
#include "attend/data/images.h"
#include "attend/data/vocab.h"
#include "attend/decode/search.h"
#include "attend/models/tasks.h"

namespace attend::app {

struct Caption {
  std::vector<std::string> words;  // without </s>
  std::string text;                // the words joined by spaces
  decode::Hypothesis hypothesis;   // attention [T, R]: row t for words[t] (and </s> last)
};

// Captions of `images` (B rows), greedy (beam = 1) or beam search, `batch` images per search call.
std::vector<Caption> caption_images(models::SequenceToSequence& model, const data::Vocab& target_vocab,
                                    const Source& images, int64_t beam = 1, int64_t batch = 64);

// The steps of `words` that start an article name (a class name of `class_names`, one or more
// words), with the class; in order.
struct ArticleMention {
  int64_t step = 0;
  int64_t label = 0;
};
std::vector<ArticleMention> article_mentions(const std::vector<std::string>& words,
                                             const std::vector<std::string>& class_names);

struct CaptionReport {
  int64_t scenes = 0, articles = 0;  // scored scenes; article mentions scored for attention
  double exact = 0.0;                // percent
  double bleu = 0.0;                 // 0..100
  double on_target = 0.0;            // percent of article mentions
  double class_accuracy = 0.0;       // percent of article mentions that name the right class
  std::string text() const;
  std::string json(const std::string& model) const;
};

// The side G of a square grid of `regions` regions (G * G = regions); error "[captions] ..."
// otherwise.
int64_t region_grid_side(int64_t regions);

// Scores captions[i] against scene i of `split` (captions and objects). A caption's attention
// [T, R] is over a G x G grid of regions covering the 3 x 3 cells (G = region_grid_side(R)).
// Error "[captions] ..." when the counts differ.
CaptionReport score_captions(const std::vector<Caption>& captions, const data::SceneSplit& split,
                             const std::vector<std::string>& class_names);

}  // namespace attend::app
