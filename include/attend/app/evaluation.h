// Scoring a model on a test set (what `attend eval` prints): exact match and token accuracy
// (compared as tokens), corpus BLEU and chrF exactly as sacreBLEU computes them by default (with
// its signature lines), exact match by source length, and how spread the attention is.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "attend/app/model_bundle.h"
#include "attend/app/translator.h"
#include "attend/data/corpus.h"
#include "attend/train/metrics.h"

namespace attend::app {

// `count` pairs of the checkpoint's own task that follow its training and validation pairs (never
// seen in training). Errors name the checkpoint when it was not trained on a task.
std::vector<data::Pair> held_out_task_pairs(const std::string& checkpoint, int64_t count);

struct EvalReport {
  int64_t pairs = 0;
  int64_t beam = 1;
  double exact_match = 0.0;     // fraction in [0, 1]
  double token_accuracy = 0.0;  // fraction in [0, 1]
  train::BleuScore bleu;
  train::ChrfScore chrf;
  std::vector<train::LengthBucket> by_source_length;
  bool lowercased = false;    // BLEU/chrF compared lowercased text (the model lowercases, or EvalOptions::lowercase)
  bool model_lowercases = false;  // the model lowercases its input and output
  std::string source_tokens;  // "char" | "word": the unit of the length buckets
  // Source positions per output token (the first hypothesis' attention rows, </s> included) with a
  // weight > 0 (exactly: a sparse normalizer's zeros are exact) and with a weight >= 0.01; both 0
  // and has_attention false for a model without attention.
  bool has_attention = false;
  double attended_nonzero = 0.0;
  double attended_1pct = 0.0;

  std::string text() const;                            // the human-readable report
  std::string json(const std::string& model) const;   // the same numbers as JSON (attend plot reads it)
};

struct EvalOptions {
  int64_t bucket_width = 5;  // source tokens per length bucket
  // BLEU and chrF of lowercased output against lowercased references, as `sacrebleu -lc`
  // (signatures case:lc). utf8_lower folds ASCII and Latin-1 letters (Python's str.lower() folds
  // every script: the two agree on English and the Western European languages).
  bool lowercase = false;
};

// A classifier's scores: accuracy, macro-F1 (scikit-learn's f1_score(average="macro") over the
// classes that occur) and accuracy per class.
struct ClassificationReport {
  std::string what;                 // "images", "glosses": the first line's noun
  std::vector<std::string> labels;  // class names, class order
  std::vector<int64_t> seen, right;  // per class: examples, correctly classified
  int64_t examples = 0;
  double accuracy = 0.0, macro_f1 = 0.0;  // percentages

  std::string text(const std::string& source) const;  // "<what> N (<source>)", accuracy, macro-F1, per class
  std::string json(const std::string& model) const;
};
ClassificationReport score_classes(const std::string& what, const std::vector<std::string>& labels,
                                   const std::vector<int64_t>& gold, const std::vector<int64_t>& predicted);

// What a text classifier makes of one text.
struct TextClassification {
  std::vector<std::string> tokens;    // the text as the model read it (an empty text: one <unk>)
  int64_t label = 0;                  // the most probable class (spec.labels[label])
  std::vector<double> probabilities;  // softmax of the logits, class order
  Tensor weights;  // the pooling weights over the tokens [H, S] (H pooling heads); undefined when
                   // the model pools without attention
};
// A text classifier (a classifier of tokens) on `texts`, `batch` texts per forward pass; result i
// belongs to text i. Errors "[<command>] ..." name the model or the setting at fault.
std::vector<TextClassification> classify_texts(const ModelBundle& bundle, const std::vector<std::string>& texts,
                                               int64_t batch, const std::string& what = "the model",
                                               const std::string& command = "classify");
// A text classifier (a classifier of tokens) on text<TAB>label pairs, in batches of `batch`
// sentences; labels must be the model's (error "[eval] <file>:<line>: label ... not one of ...").
ClassificationReport evaluate_classifier(const ModelBundle& bundle, const std::vector<data::Pair>& pairs,
                                         int64_t batch, const std::string& file);

// Translates the sources of `pairs` with `search` and scores them against their targets.
EvalReport evaluate(const Translator& translator, const std::vector<data::Pair>& pairs, const SearchSettings& search,
                    const EvalOptions& options = {});

}  // namespace attend::app
