#include "attend/app/evaluation.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "attend/autograd/autograd.h"
#include "attend/data/tasks.h"
#include "attend/data/vocab.h"
#include "attend/ops/ops.h"
#include "attend/data/utf8.h"
#include "attend/train/checkpoint.h"

namespace attend::app {

namespace {

int64_t extra_int(const train::CheckpointInfo& info, const std::string& key, const std::string& path) {
  const auto it = info.extra.find(key);
  ATTEND_CHECK(it != info.extra.end(), "eval", path, ": task metadata lacks '", key, "'");
  try {
    size_t used = 0;
    const int64_t v = std::stoll(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error("eval", path + ": task metadata '" + key + "' is not an integer: '" + it->second + "'");
}

// Token sequences as ids of a local table, so that the comparison is by token text (a token
// outside the model's vocabulary never matches the model's <unk>).
class Interner {
 public:
  std::vector<int64_t> ids(const std::vector<std::string>& tokens) {
    std::vector<int64_t> out;
    for (const auto& t : tokens) out.push_back(table_.try_emplace(t, static_cast<int64_t>(table_.size())).first->second);
    return out;
  }

 private:
  std::unordered_map<std::string, int64_t> table_;
};

}  // namespace

std::vector<data::Pair> held_out_task_pairs(const std::string& path, int64_t count) {
  const train::CheckpointInfo info = train::read_checkpoint_info(path);
  const auto task = info.extra.find("task");
  ATTEND_CHECK(task != info.extra.end(), "eval", path,
               ": no task metadata (the model was not trained with `attend train --task`); use --src/--ref or "
               "--tsv");
  const int64_t offset = extra_int(info, "task_offset", path);
  const auto all = data::generate_task(data::parse_task(task->second),
                                       {.count = offset + count,
                                        .min_length = extra_int(info, "task_min_length", path),
                                        .max_length = extra_int(info, "task_max_length", path),
                                        .seed = static_cast<uint64_t>(extra_int(info, "task_seed", path)),
                                        .vocab_size = extra_int(info, "task_vocab", path)});
  return {all.begin() + offset, all.end()};
}

ClassificationReport score_classes(const std::string& what, const std::vector<std::string>& labels,
                                   const std::vector<int64_t>& gold, const std::vector<int64_t>& predicted) {
  ATTEND_CHECK(gold.size() == predicted.size() && !gold.empty(), "eval", gold.size(), " labels and ",
               predicted.size(), " predictions");
  const auto K = static_cast<int64_t>(labels.size());
  ClassificationReport r{.what = what, .labels = labels};
  r.seen.assign(labels.size(), 0);
  r.right.assign(labels.size(), 0);
  int64_t total = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    ATTEND_CHECK(gold[i] >= 0 && gold[i] < K, "eval", what, " ", i, ": label ", gold[i], " is not one of the ", K,
                 " classes");
    ++r.seen[static_cast<size_t>(gold[i])];
    r.right[static_cast<size_t>(gold[i])] += predicted[i] == gold[i];
    total += predicted[i] == gold[i];
  }
  r.examples = static_cast<int64_t>(gold.size());
  r.accuracy = 100.0 * static_cast<double>(total) / static_cast<double>(r.examples);
  r.macro_f1 = 100.0 * train::macro_f1(predicted, gold, K);
  return r;
}

std::string ClassificationReport::text(const std::string& source) const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-15s %lld (%s)\naccuracy        %.2f%%\nmacro-F1        %.2f%%\n", what.c_str(),
                static_cast<long long>(examples), source.c_str(), accuracy, macro_f1);
  std::string s = buf;
  for (size_t k = 0; k < labels.size(); ++k) {
    const double a = seen[k] ? 100.0 * static_cast<double>(right[k]) / static_cast<double>(seen[k]) : 0.0;
    std::snprintf(buf, sizeof buf, "  %-20s  %6.2f%% of %lld\n", labels[k].c_str(), a, static_cast<long long>(seen[k]));
    s += buf;
  }
  return s;
}

std::string ClassificationReport::json(const std::string& model) const {
  nlohmann::json per_class = nlohmann::json::object();
  for (size_t k = 0; k < labels.size(); ++k)
    per_class[labels[k]] = seen[k] ? 100.0 * static_cast<double>(right[k]) / static_cast<double>(seen[k]) : 0.0;
  return nlohmann::json{{"model", model}, {what, examples}, {"accuracy", accuracy}, {"macro_f1", macro_f1},
                        {"per_class", per_class}}
             .dump(2) +
         "\n";
}

std::vector<TextClassification> classify_texts(const ModelBundle& b, const std::vector<std::string>& texts,
                                               int64_t batch, const std::string& what, const std::string& command) {
  auto& model = b.as<models::Classifier>(what, command);
  ATTEND_CHECK(batch >= 1, command, "batch ", batch, " must be >= 1");
  const data::Tokenizer tok = b.spec.source_tokenizer();
  const data::Vocab& vocab = b.vocab("source", what);
  const int64_t pad = model.task_config().pad_id;
  std::vector<TextClassification> out(texts.size());
  NoGrad no_grad;
  for (size_t begin = 0; begin < texts.size(); begin += static_cast<size_t>(batch)) {
    const size_t end = std::min(texts.size(), begin + static_cast<size_t>(batch));
    std::vector<std::vector<int64_t>> ids;
    for (size_t i = begin; i < end; ++i) {
      out[i].tokens = tok.tokenize(texts[i]);
      if (out[i].tokens.empty()) out[i].tokens.push_back(vocab.token(data::Vocab::kUnk));  // an empty text reads as one <unk>
      ids.push_back(vocab.encode(out[i].tokens));
    }
    const models::ClassifierOutput c = model.classify(Source::of_token_rows(ids, pad));
    const Tensor p = softmax(c.logits, 1).to(DType::f64).contiguous();  // [b, K]
    const Index guess = argmax(c.logits, 1);
    const int64_t K = p.size(1);
    for (size_t i = begin; i < end; ++i) {
      const int64_t r = static_cast<int64_t>(i - begin);
      TextClassification& t = out[i];
      t.label = guess.data[static_cast<size_t>(r)];
      t.probabilities.assign(p.data<double>() + r * K, p.data<double>() + (r + 1) * K);
      if (c.weights.defined())  // [b, H, S], S the longest text -> [H, S_i]
        t.weights = squeeze(slice(slice(c.weights, 0, r, r + 1), 2, 0, static_cast<int64_t>(t.tokens.size())), 0).contiguous();
    }
  }
  return out;
}

ClassificationReport evaluate_classifier(const ModelBundle& b, const std::vector<data::Pair>& pairs, int64_t batch,
                                         const std::string& file) {
  ATTEND_CHECK(!pairs.empty(), "eval", file, ": no examples");
  std::vector<int64_t> gold, predicted;
  std::vector<std::string> texts;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto it = std::find(b.spec.labels.begin(), b.spec.labels.end(), pairs[i].target);
    ATTEND_CHECK(it != b.spec.labels.end(), "eval", file, ":", i + 1, ": label '", pairs[i].target,
                 "' is not one of the model's ", b.spec.labels.size(), " classes");
    gold.push_back(it - b.spec.labels.begin());
    texts.push_back(pairs[i].source);
  }
  ATTEND_CHECK(batch >= 1, "eval", "--batch ", batch, " must be >= 1");
  for (const TextClassification& t : classify_texts(b, texts, batch, file, "eval")) predicted.push_back(t.label);
  return score_classes("examples", b.spec.labels, gold, predicted);
}

EvalReport evaluate(const Translator& tr, const std::vector<data::Pair>& pairs, const SearchSettings& search,
                    const EvalOptions& options) {
  ATTEND_CHECK(!pairs.empty(), "eval", "the test set is empty");
  std::vector<std::string> src, hyp_text;
  std::vector<std::vector<std::string>> refs(1);
  for (const auto& p : pairs) src.push_back(p.source), refs[0].push_back(tr.spec().reference_form(p.target));
  const auto t = tr.translate(src, search);

  const data::Tokenizer target_tok = tr.spec().target_tokenizer();
  Interner interner;
  std::vector<std::vector<int64_t>> hyp_ids, ref_ids;
  std::vector<int64_t> source_lengths;
  for (size_t i = 0; i < pairs.size(); ++i) {
    hyp_text.push_back(t[i].text.empty() ? "" : t[i].text[0]);
    hyp_ids.push_back(t[i].target_tokens.empty() ? std::vector<int64_t>{} : interner.ids(t[i].target_tokens[0]));
    ref_ids.push_back(interner.ids(target_tok.tokenize(pairs[i].target)));
    source_lengths.push_back(static_cast<int64_t>(t[i].source_tokens.size()));
  }
  EvalReport r;
  r.pairs = static_cast<int64_t>(pairs.size());
  r.beam = search.beam;
  r.exact_match = train::exact_match(hyp_ids, ref_ids);
  r.token_accuracy = train::token_accuracy(hyp_ids, ref_ids);
  if (options.lowercase) {
    for (auto& h : hyp_text) h = data::utf8_lower(h);
    for (auto& ref : refs[0]) ref = data::utf8_lower(ref);
  }
  r.bleu = train::corpus_bleu(hyp_text, refs);
  r.chrf = train::corpus_chrf(hyp_text, refs);
  r.by_source_length = train::accuracy_by_length(source_lengths, hyp_ids, ref_ids, options.bucket_width);
  r.model_lowercases = tr.spec().lowercase;
  r.lowercased = r.model_lowercases || options.lowercase;
  r.source_tokens = data::tokenizer_kind_name(tr.spec().source_tokens);
  int64_t rows = 0, nonzero = 0, above = 0;
  for (const auto& translation : t) {
    if (translation.nbest.empty() || !translation.nbest[0].attention.defined()) continue;
    const Tensor& a = translation.nbest[0].attention;  // [T, S]
    rows += a.size(0);
    for (const double w : a.to_vector<double>()) nonzero += w > 0.0, above += w >= 0.01;
  }
  if (rows > 0) {
    r.has_attention = true;
    r.attended_nonzero = static_cast<double>(nonzero) / static_cast<double>(rows);
    r.attended_1pct = static_cast<double>(above) / static_cast<double>(rows);
  }
  return r;
}

std::string EvalReport::text() const {
  char buf[512];
  std::string s;
  std::snprintf(buf, sizeof buf, "pairs           %lld\nsearch          %s\nexact match     %.2f%%\n"
                "token accuracy  %.2f%%\n%s\n%s\n%s\nexact match by source length (%s tokens):\n",
                static_cast<long long>(pairs), beam <= 1 ? "greedy" : ("beam " + std::to_string(beam)).c_str(),
                100.0 * exact_match, 100.0 * token_accuracy, bleu.format(train::bleu_signature(1, lowercased)).c_str(),
                chrf.format(train::chrf_signature(1, lowercased)).c_str(),
                model_lowercases ? "(lowercased model: references lowercased)\n"
                : lowercased     ? "(BLEU and chrF of lowercased output and references)\n"
                                 : "",
                source_tokens.c_str());
  s = buf;
  if (has_attention) {
    std::snprintf(buf, sizeof buf, "attention       %.2f source positions per output token with weight > 0, %.2f with >= 0.01\n",
                  attended_nonzero, attended_1pct);
    s += buf;
  }
  return s + train::format_length_table(by_source_length);
}

std::string EvalReport::json(const std::string& model) const {
  nlohmann::json j;
  j["model"] = model;
  j["pairs"] = pairs;
  j["beam"] = beam;
  j["exact_match"] = exact_match;
  j["token_accuracy"] = token_accuracy;
  j["bleu"] = {{"score", bleu.score},
               {"precisions", bleu.precisions},
               {"brevity_penalty", bleu.brevity_penalty},
               {"sys_len", bleu.sys_len},
               {"ref_len", bleu.ref_len},
               {"str", bleu.str()},
               {"signature", train::bleu_signature(1, lowercased)},
               {"lowercased", lowercased}};
  j["chrf"] = {{"score", chrf.score}, {"signature", train::chrf_signature(1, lowercased)}};
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& b : by_source_length)
    rows.push_back({{"min_length", b.min_length},
                    {"max_length", b.max_length},
                    {"count", b.count},
                    {"exact", b.exact},
                    {"accuracy", b.accuracy()}});
  j["by_source_length"] = rows;
  if (has_attention) j["attention"] = {{"nonzero_per_token", attended_nonzero}, {"at_least_1pct_per_token", attended_1pct}};
  return j.dump(2) + "\n";
}

}  // namespace attend::app
