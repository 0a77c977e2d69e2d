// The task objectives (objectives.h).
#include "attend/train/objectives.h"

#include <cmath>

#include "attend/autograd/autograd.h"
#include "attend/ops/ops.h"
#include "attend/train/metrics.h"

namespace attend::train {

namespace {

// Columns [begin, end) of ids [B, W] -> [B, end - begin].
Index columns(const Index& ids, int64_t begin, int64_t end) {
  const int64_t B = ids.shape[0], W = ids.shape[1], n = end - begin;
  std::vector<int64_t> out(static_cast<size_t>(B * n));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < n; ++t) out[static_cast<size_t>(b * n + t)] = ids.data[static_cast<size_t>(b * W + begin + t)];
  return Index(std::move(out), Shape{B, n});
}

int64_t count_not(const Index& ids, int64_t pad) {
  int64_t n = 0;
  for (const int64_t id : ids.data) n += id != pad;
  return n;
}

void check_windows(const char* op, const Index& windows) {
  ATTEND_CHECK(windows.shape.rank() == 2 && windows.shape[1] >= 2, op, "windows ", windows.shape.str(),
               " must be [B, T + 1] with T >= 1 (a batch of TokenWindows)");
}

}  // namespace

DecoderIO decoder_io(const Index& target, const std::vector<int64_t>& target_lengths,
                     const models::SequenceToSequenceConfig& config) {
  constexpr const char* op = "decoder_io";
  ATTEND_CHECK(target.shape.rank() == 2, op, "target ", target.shape.str(), " must be [B, T]");
  const int64_t B = target.shape[0], T = target.shape[1];
  ATTEND_CHECK(static_cast<int64_t>(target_lengths.size()) == B, op, "target_lengths has ", target_lengths.size(),
               " entries for target ", target.shape.str());
  std::vector<int64_t> in(static_cast<size_t>(B * (T + 1)), config.pad_id), out(in.size(), config.pad_id);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = target_lengths[static_cast<size_t>(b)];
    ATTEND_CHECK(n >= 0 && n <= T, op, "target_lengths[", b, "] = ", n, " is outside [0, T = ", T, "] (target ",
                 target.shape.str(), ")");
    const size_t row = static_cast<size_t>(b * (T + 1));
    in[row] = config.bos_id;
    for (int64_t t = 0; t < n; ++t) {
      const int64_t y = target.data[static_cast<size_t>(b * T + t)];
      in[row + static_cast<size_t>(t) + 1] = y;
      out[row + static_cast<size_t>(t)] = y;
    }
    out[row + static_cast<size_t>(n)] = config.eos_id;
  }
  return {Index(std::move(in), Shape{B, T + 1}), Index(std::move(out), Shape{B, T + 1})};
}

Tensor sequence_loss(const Tensor& logits, const Index& targets, const LossOptions& opt) {
  constexpr const char* op = "sequence_loss";
  ATTEND_CHECK(logits.defined() && logits.dim() == 3, op, "logits must be [B, T, V], got ",
               logits.defined() ? logits.shape().str() : "undefined");
  ATTEND_CHECK(targets.shape.rank() == 2 && targets.shape[0] == logits.size(0) && targets.shape[1] == logits.size(1),
               op, "targets ", targets.shape.str(), " must be [B, T] of logits ", logits.shape().str());
  const int64_t V = logits.size(2);
  const Index flat(targets.data, Shape{targets.numel()});  // [B*T]
  return cross_entropy(reshape(logits, {-1, V}), flat,
                       {.ignore_index = opt.pad_id, .label_smoothing = opt.label_smoothing});
}

StepLoss with_aux(Tensor task_loss, int64_t count, const std::vector<models::AuxLoss>& aux) {
  StepLoss s{.loss = std::move(task_loss), .tokens = count};
  for (const models::AuxLoss& a : aux) {
    ATTEND_CHECK(a.value.defined() && a.value.numel() == 1, "Objective", "auxiliary term '", a.name,
                 "' is not a scalar");
    s.loss = add(s.loss, a.value);
    s.terms.emplace_back(a.name, a.value.item());
  }
  return s;
}

SequenceObjective::SequenceObjective(models::SequenceToSequence& model, double label_smoothing,
                                     const data::BatchStream* valid, ValidateFn decode_check)
    : model_(model), label_smoothing_(label_smoothing), valid_(valid), decode_check_(std::move(decode_check)) {}

namespace {

// The teacher-forced token cross-entropy (pad targets ignored), through the fused output layer when
// the model has one, and the model's aux terms.
std::pair<Tensor, std::vector<models::AuxLoss>> teacher_forced_loss(models::SequenceToSequence& model,
                                                                    const Source& src, const DecoderIO& io,
                                                                    double label_smoothing) {
  const int64_t pad = model.task_config().pad_id;
  models::OutputFeatures f = model.features(src, io.tgt_in);
  if (!f.weight.defined()) {
    models::ForwardResult r = model.forward(src, io.tgt_in);
    return {sequence_loss(r.logits, io.tgt_out, {.pad_id = pad, .label_smoothing = label_smoothing}), std::move(r.aux)};
  }
  const Tensor states = reshape(f.states, {-1, f.states.size(-1)});  // [B T, C]
  const Index flat(io.tgt_out.data, Shape{io.tgt_out.numel()});
  return {linear_cross_entropy(states, f.weight, f.bias, flat, {.ignore_index = pad, .label_smoothing = label_smoothing}),
          std::move(f.aux)};
}

}  // namespace

StepLoss SequenceObjective::loss(const data::Batch& b) {
  const models::SequenceToSequenceConfig& c = model_.task_config();
  const DecoderIO io = decoder_io(b.target, b.target_lengths, c);
  auto [l, aux] = teacher_forced_loss(model_, b.source, io, label_smoothing_);
  return with_aux(std::move(l), count_not(io.tgt_out, c.pad_id), aux);
}

Metrics SequenceObjective::validate() {
  Metrics m;
  if (valid_ != nullptr) {
    const models::SequenceToSequenceConfig& c = model_.task_config();
    double nll = 0.0;
    int64_t tokens = 0;
    for (const data::Batch& b : valid_->epoch_batches(0)) {
      const DecoderIO io = decoder_io(b.target, b.target_lengths, c);
      const int64_t t = count_not(io.tgt_out, c.pad_id);
      nll += teacher_forced_loss(model_, b.source, io, 0.0).first.item() * static_cast<double>(t);
      tokens += t;
    }
    m["loss"] = nll / static_cast<double>(std::max<int64_t>(tokens, 1));
    m["ppl"] = std::exp(m["loss"]);
  }
  if (decode_check_)
    for (const auto& [name, value] : decode_check_()) m[name] = value;
  return m;
}

ClassificationObjective::ClassificationObjective(models::Classifier& model, const data::BatchStream* valid)
    : model_(model), valid_(valid) {}

namespace {

Index labels_of(const data::Batch& b, int64_t K) {
  ATTEND_CHECK(static_cast<int64_t>(b.labels.size()) == b.size() && b.size() > 0, "ClassificationObjective",
               "the batch has ", b.labels.size(), " labels for ", b.size(), " examples (a classification batch "
               "needs one label per example)");
  for (const int64_t y : b.labels)
    ATTEND_CHECK(y >= 0 && y < K, "ClassificationObjective", "label ", y, " is outside the classes [0, ", K, ")");
  return Index(b.labels);
}

}  // namespace

StepLoss ClassificationObjective::loss(const data::Batch& b) {
  const Index labels = labels_of(b, model_.num_classes());
  models::ClassifierOutput r = model_.classify(b.source);
  return with_aux(cross_entropy(r.logits, labels), b.size(), r.aux);
}

Metrics ClassificationObjective::validate() {
  const int64_t K = model_.num_classes();
  double nll = 0.0;
  std::vector<int64_t> predicted, gold;
  for (const data::Batch& b : valid_->epoch_batches(0)) {
    const Index labels = labels_of(b, K);
    const Tensor logits = model_.classify(b.source).logits;  // [B, K]
    nll += cross_entropy(logits, labels).item() * static_cast<double>(b.size());
    const std::vector<float> v = logits.to(DType::f32).to_vector<float>();
    for (int64_t r = 0; r < b.size(); ++r) {
      const float* row = v.data() + r * K;
      predicted.push_back(std::max_element(row, row + K) - row);
    }
    gold.insert(gold.end(), b.labels.begin(), b.labels.end());
  }
  return {{"loss", nll / static_cast<double>(std::max<size_t>(gold.size(), 1))},
          {"accuracy", 100.0 * classification_accuracy(predicted, gold)},
          {"macro_f1", 100.0 * macro_f1(predicted, gold, K)}};
}

LanguageModelObjective::LanguageModelObjective(models::LanguageModel& model, const data::BatchStream* valid,
                                               int64_t valid_words)
    : model_(model), valid_(valid), valid_words_(valid_words) {}

namespace {

// The mean next-token cross-entropy of windows [B, T + 1] (pad targets ignored), through the
// fused output layer when the model has one, and the model's aux terms.
std::pair<Tensor, std::vector<models::AuxLoss>> window_loss(models::LanguageModel& model, const Index& windows,
                                                            const char* op) {
  check_windows(op, windows);
  const int64_t W = windows.shape[1], pad = model.task_config().pad_id;
  const Index inputs = columns(windows, 0, W - 1), targets = columns(windows, 1, W);  // [B, T]
  models::OutputFeatures f = model.features(inputs);
  if (!f.weight.defined()) {
    models::LanguageModelOutput r = model.forward(inputs);
    return {sequence_loss(r.logits, targets, {.pad_id = pad}), std::move(r.aux)};
  }
  const Tensor states = reshape(f.states, {-1, f.states.size(-1)});  // [B T, C]
  const Index flat(targets.data, Shape{targets.numel()});
  return {linear_cross_entropy(states, f.weight, f.bias, flat, {.ignore_index = pad}), std::move(f.aux)};
}

}  // namespace

StepLoss LanguageModelObjective::loss(const data::Batch& b) {
  auto [loss, aux] = window_loss(model_, b.tokens, "LanguageModelObjective");
  return with_aux(std::move(loss), count_not(columns(b.tokens, 1, b.tokens.shape[1]), model_.task_config().pad_id), aux);
}

NllSum language_model_nll(models::LanguageModel& model, const Index& windows) {
  const double mean = window_loss(model, windows, "language_model_nll").first.item();  // checks the windows
  const int64_t n = count_not(columns(windows, 1, windows.shape[1]), model.task_config().pad_id);
  return {mean * static_cast<double>(n), n};
}

Metrics LanguageModelObjective::validate() {
  NllSum total;
  for (const data::Batch& b : valid_->epoch_batches(0)) {
    const NllSum s = language_model_nll(model_, b.tokens);
    total.nll += s.nll;
    total.tokens += s.tokens;
  }
  Metrics m{{"loss", total.nll / static_cast<double>(std::max<int64_t>(total.tokens, 1))}};
  m["ppl"] = std::exp(m["loss"]);
  if (valid_words_ > 0) m["ppl_word"] = std::exp(total.nll / static_cast<double>(valid_words_));
  return m;
}

}  // namespace attend::train
