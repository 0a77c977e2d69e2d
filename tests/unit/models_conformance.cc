// Conformance over the registry (DESIGN.md section 8): every registered architecture, built at a
// tiny size in float32 and inference mode, keeps the contract of its task (models/tasks.h):
//
//   1. incremental steps equal teacher forcing: the log-probabilities (and attention) of
//      StepDecoder::step, one token at a time or t tokens at once ([N, t]), are log_softmax of
//      forward()'s logits at the same position, also with the model in training mode (start()
//      and step() always run as inference);
//   2. DecoderState::select moves the right rows: a state with rows permuted and replicated
//      mid-sequence steps on as a state started over those rows and fed their history, the copies
//      of one row fed different tokens included, and the state selected from is left as it was;
//   3. a batch equals its rows decoded one by one: forward / classify on padded sources of
//      different lengths (language models: right-padded token rows), and greedy search, beam
//      search and sampling;
//   4. save then load changes nothing: a checkpoint read into a model built with another seed, and
//      a ModelBundle saved and loaded, give bit-identical outputs;
//   5. a bad value of any field of the architecture's table is an attend::Error naming the field.
//
// The suites are instantiated over models::architecture_names() (filtered by task), so an
// architecture registered later is covered without editing this file. This file also registers a
// toy architecture of each task (toy_seq2seq, toy_classifier, toy_lm) with its own config type and
// field table, from here alone, before the suites are instantiated: the suites run on them too,
// and app::train trains them and writes checkpoints that app::ModelBundle::load reads back. That
// a new family needs one file and one registration is thereby tested, not just claimed.
//
// The suite is its own executable (tests/CMakeLists.txt) so that the toys never appear in the
// registry of the other models tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "attend/app/model_bundle.h"
#include "attend/app/model_spec.h"
#include "attend/app/training.h"
#include "attend/attention/attention.h"
#include "attend/decode/search.h"
#include "attend/models/registry.h"
#include "attend/models/tasks.h"
#include "attend/nn/embedding.h"
#include "attend/nn/linear.h"
#include "attend/ops/ops.h"
#include "attend/train/checkpoint.h"
#include "support/check.h"
#include "support/models.h"

namespace attend {
namespace {

using models::Task;
using Values = std::map<std::string, std::string>;

// ============================================================================================
// Toy architectures, one per task, registered from this file alone.
// ============================================================================================

// Checks shared by the toys (the built-ins have theirs in src/models/internal.h, which a family
// outside the library cannot include).
void check_token_source(const char* op, const Source& src, int64_t vocab) {
  ATTEND_CHECK(src.kind() == SourceKind::tokens, op, "reads token ids, not a ", source_kind_name(src.kind()),
               " source");
  src.check(op);
  for (const int64_t id : src.tokens.data)
    ATTEND_CHECK(id >= 0 && id < vocab, op, "src id ", id, " is outside the vocabulary [0, ", vocab, ")");
}

void check_ids(const char* op, const Index& ids, int64_t vocab, const char* what) {
  for (const int64_t id : ids.data)
    ATTEND_CHECK(id >= 0 && id < vocab, op, what, " id ", id, " is outside the vocabulary [0, ", vocab, ")");
}

// Step tokens [N] or [N, t] with t >= 1 for a state of `rows` rows; returns t.
int64_t check_step_tokens(const char* op, const Index& tokens, int64_t rows, int64_t vocab) {
  const int64_t r = tokens.shape.rank();
  ATTEND_CHECK((r == 1 || (r == 2 && tokens.shape[1] >= 1)) && tokens.shape[0] == rows, op, "step tokens ",
               tokens.shape.str(), " must be [N] or [N, t] with N = ", rows);
  check_ids(op, tokens, vocab, "step token");
  return r == 1 ? 1 : tokens.shape[1];
}

// Column c of step tokens [N] or [N, t].
std::vector<int64_t> step_column(const Index& tokens, int64_t c) {
  const int64_t N = tokens.shape[0], t = tokens.shape.rank() == 1 ? 1 : tokens.shape[1];
  std::vector<int64_t> col;
  for (int64_t n = 0; n < N; ++n) col.push_back(tokens.data[static_cast<size_t>(n * t + c)]);
  return col;
}

void check_rows(const std::vector<int64_t>& rows, int64_t n) {
  for (const int64_t r : rows)
    ATTEND_CHECK(r >= 0 && r < n, "DecoderState::select", "row ", r, " is outside a state of ", n, " rows");
}

// x[:, t] of x [B, T, ...].
Tensor at_position(const Tensor& x, int64_t t) { return squeeze(slice(x, 1, t, t + 1), 1); }

// ---- toy_seq2seq: embeddings, a mean-pooled source as the initial state, a linear recurrence
//   h_0 = mean_j E_src[x_j],  h_t = decay h_{t-1} + E_tgt[y_{t-1}],
//   a_t = softmax_j(h_t . E_src[x_j] / sqrt(D)) over the real source positions,
//   c_t = sum_j a_tj E_src[x_j],  logits_t = W [h_t; dropout(c_t)] + b.

struct ToySeq2SeqConfig : models::ConfigOf<ToySeq2SeqConfig, models::SequenceToSequenceConfig> {
  static constexpr const char* kName = "toy_seq2seq";
  int64_t embed_dim = 8;  // D
  double decay = 0.5;
  double dropout = 0.0;

  std::vector<models::Field> arch_fields() override {
    return {models::int_field("embed_dim", "--embed", "embedding width", embed_dim, 1, 4096),
            models::real_field("decay", "--decay", "how much of h_{t-1} h_t keeps", decay, 0.0, 1.0),
            models::real_field("dropout", "--dropout", "dropout on the context", dropout, 0.0, 1.0)};
  }

 protected:
  void check_more() const override {
    ATTEND_CHECK(src_vocab > 0, op(), "key 'src_vocab': ", src_vocab, " must be positive (it reads token ids)");
  }
};

class ToySeq2SeqState : public models::DecoderState {
 public:
  int64_t rows() const override { return h.size(0); }
  std::unique_ptr<models::DecoderState> select(const std::vector<int64_t>& rows) const override {
    check_rows(rows, this->rows());
    NoGrad no_grad;
    auto out = std::make_unique<ToySeq2SeqState>();
    out->h = index_select(h, 0, Index(rows));
    out->keys = index_select(keys, 0, Index(rows));
    for (const int64_t r : rows) out->lengths.push_back(lengths[static_cast<size_t>(r)]);
    return out;
  }
  Tensor h;     // [N, D]
  Tensor keys;  // [N, S, D] the source embeddings each row attends to
  std::vector<int64_t> lengths;
};

class ToySeq2Seq : public models::SequenceToSequence {
 public:
  ToySeq2Seq(const ToySeq2SeqConfig& c, Rng& rng)
      : SequenceToSequence(c, rng),
        c_(static_cast<const ToySeq2SeqConfig&>(*config_)),
        src_embed_(c.src_vocab, c.embed_dim, c.pad_id, rng),
        tgt_embed_(c.tgt_vocab, c.embed_dim, -1, rng),
        output_(2 * c.embed_dim, c.tgt_vocab, rng) {
    register_module("src_embed", src_embed_);
    register_module("tgt_embed", tgt_embed_);
    register_module("output", output_);
  }

  models::ForwardResult forward(const Source& src, const Index& tgt_in, const models::ForwardOptions& opt) override {
    const Encoded e = encode(src);
    ATTEND_CHECK(tgt_in.shape.rank() == 2 && tgt_in.shape[0] == src.batch() && tgt_in.shape[1] >= 1, c_.kName,
                 "tgt_in ", tgt_in.shape.str(), " must be [", src.batch(), ", T] with T >= 1");
    check_ids(c_.kName, tgt_in, c_.tgt_vocab, "tgt_in");
    const bool training = is_training();
    const Tensor emb = tgt_embed_.forward(tgt_in);  // [B, T, D]
    Tensor h = e.h0;
    std::vector<Tensor> logits, weights;
    for (int64_t t = 0; t < tgt_in.shape[1]; ++t) {
      const Step s = advance(at_position(emb, t), h, e.keys, src.lengths);
      h = s.h;
      logits.push_back(readout(s, training));
      if (opt.need_attention) weights.push_back(s.weights);
    }
    return {stack(logits, 1), opt.need_attention ? stack(weights, 1) : Tensor(), {}};  // [B, T, V], [B, T, S]
  }

  std::unique_ptr<models::DecoderState> start(const Source& src) override {
    NoGrad no_grad;
    const Encoded e = encode(src);
    auto state = std::make_unique<ToySeq2SeqState>();
    state->h = e.h0;
    state->keys = e.keys;
    state->lengths = src.lengths;
    return state;
  }

  models::StepOutput step(models::DecoderState& base, const Index& tokens) override {
    auto* state = dynamic_cast<ToySeq2SeqState*>(&base);
    ATTEND_CHECK(state != nullptr, c_.kName, "step got a DecoderState that start() did not make");
    const int64_t t = check_step_tokens(c_.kName, tokens, state->rows(), c_.tgt_vocab);
    NoGrad no_grad;
    Step s;
    for (int64_t c = 0; c < t; ++c) {
      s = advance(tgt_embed_.forward(Index(step_column(tokens, c))), state->h, state->keys, state->lengths);
      state->h = s.h;
    }
    return {log_softmax(readout(s, false), 1), s.weights};
  }

 private:
  struct Encoded {
    Tensor keys;  // [B, S, D]
    Tensor h0;    // [B, D]
  };
  struct Step {
    Tensor h, context, weights;  // [N, D], [N, D], [N, S]
  };

  Encoded encode(const Source& src) const {
    check_token_source(c_.kName, src, c_.src_vocab);
    const int64_t B = src.batch(), S = src.length();
    Encoded e;
    e.keys = src_embed_.forward(src.tokens);
    std::vector<float> mask(static_cast<size_t>(B * S), 0.0f), inverse(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) {
      const int64_t len = src.lengths[static_cast<size_t>(b)];
      for (int64_t j = 0; j < len; ++j) mask[static_cast<size_t>(b * S + j)] = 1.0f;
      inverse[static_cast<size_t>(b)] = 1.0f / static_cast<float>(len);
    }
    e.h0 = mul(sum(mul(e.keys, Tensor::from_vector(mask, Shape{B, S, 1})), {1}),
               Tensor::from_vector(inverse, Shape{B, 1}));
    return e;
  }

  Step advance(const Tensor& e, const Tensor& h_prev, const Tensor& keys, const std::vector<int64_t>& lengths) const {
    Step s;
    s.h = add(mul(h_prev, c_.decay), e);
    const Tensor scores = mul(matmul(unsqueeze(s.h, 1), transpose(keys, 1, 2)),
                              1.0 / std::sqrt(static_cast<double>(c_.embed_dim)));  // [N, 1, S]
    const attention::AttentionResult a =
        attention::attend(scores, keys, {.key_lengths = lengths}, {.need_weights = true, .op = c_.kName});
    s.context = squeeze(a.context, 1);
    s.weights = squeeze(a.weights, 1);
    return s;
  }

  Tensor readout(const Step& s, bool training) {
    return output_.forward(concat({s.h, dropout(s.context, c_.dropout, training, dropout_rng_)}, 1));  // [N, V]
  }

  const ToySeq2SeqConfig& c_;
  nn::Embedding src_embed_, tgt_embed_;
  nn::Linear output_;
};

// ---- toy_classifier: embeddings, attention pooling with one learned query, a linear head:
//   w = softmax_j(q . E[x_j] (/ sqrt(D) when scale_scores)) over the real positions,
//   logits = W dropout(sum_j w_j E[x_j]) + b.

struct ToyClassifierConfig : models::ConfigOf<ToyClassifierConfig, models::ClassifierConfig> {
  static constexpr const char* kName = "toy_classifier";
  int64_t embed_dim = 8;
  bool scale_scores = true;
  double dropout = 0.0;

  std::vector<models::Field> arch_fields() override {
    return {models::int_field("embed_dim", "--embed", "embedding width", embed_dim, 1, 4096),
            models::bool_field("scale_scores", "--scale-scores", "divide the pooling scores by sqrt(D)", scale_scores),
            models::real_field("dropout", "--dropout", "dropout on the pooled vector", dropout, 0.0, 1.0)};
  }

 protected:
  void check_more() const override {
    ATTEND_CHECK(src_vocab > 0, op(), "key 'src_vocab': ", src_vocab, " must be positive (it reads token ids)");
  }
};

class ToyClassifier : public models::Classifier {
 public:
  ToyClassifier(const ToyClassifierConfig& c, Rng& rng)
      : Classifier(c, rng),
        c_(static_cast<const ToyClassifierConfig&>(*config_)),
        embed_(c.src_vocab, c.embed_dim, c.pad_id, rng),
        query_(Tensor::randn(Shape{c.embed_dim, 1}, rng)),
        head_(c.embed_dim, c.num_classes, rng) {
    register_module("embed", embed_);
    register_parameter("query", query_);
    register_module("head", head_);
  }

  models::ClassifierOutput classify(const Source& src) override {
    check_token_source(c_.kName, src, c_.src_vocab);
    const Tensor x = embed_.forward(src.tokens);                                      // [B, S, D]
    Tensor scores = transpose(matmul(x, query_), 1, 2);                              // [B, 1, S]
    if (c_.scale_scores) scores = mul(scores, 1.0 / std::sqrt(static_cast<double>(c_.embed_dim)));
    const attention::AttentionResult a =
        attention::attend(scores, x, {.key_lengths = src.lengths}, {.need_weights = true, .op = c_.kName});
    const Tensor pooled = dropout(squeeze(a.context, 1), c_.dropout, is_training(), dropout_rng_);  // [B, D]
    return {head_.forward(pooled), a.weights, {}};  // [B, K], [B, 1, S]
  }

 private:
  const ToyClassifierConfig& c_;
  nn::Embedding embed_;
  Tensor query_;  // [D, 1]
  nn::Linear head_;
};

// ---- toy_lm: a bigram model, or one with a decaying memory of the tokens so far:
//   h_t = E[x_t] (bigram) or decay h_{t-1} + E[x_t] (decay),  logits_t = W dropout(h_t) + b.

enum class ToyMemory { bigram, decay };
constexpr std::pair<const char*, ToyMemory> kToyMemoryNames[] = {{"bigram", ToyMemory::bigram},
                                                                 {"decay", ToyMemory::decay}};

struct ToyLmConfig : models::ConfigOf<ToyLmConfig, models::LanguageModelConfig> {
  static constexpr const char* kName = "toy_lm";
  int64_t embed_dim = 8;
  ToyMemory memory = ToyMemory::decay;
  double decay = 0.5;
  int64_t max_positions = 64;
  double dropout = 0.0;

  std::vector<models::Field> arch_fields() override {
    return {models::int_field("embed_dim", "--embed", "embedding width", embed_dim, 1, 4096),
            models::choice_field("memory", "--memory", "what h_t remembers", memory, kToyMemoryNames),
            models::real_field("decay", "--decay", "how much of h_{t-1} h_t keeps (memory decay)", decay, 0.0, 1.0),
            models::int_field("max_positions", "--max-positions", "longest context", max_positions, 1, 1 << 20),
            models::real_field("dropout", "--dropout", "dropout before the output layer", dropout, 0.0, 1.0)};
  }
};

class ToyLmState : public models::DecoderState {
 public:
  int64_t rows() const override { return h.size(0); }
  std::unique_ptr<models::DecoderState> select(const std::vector<int64_t>& rows) const override {
    check_rows(rows, this->rows());
    NoGrad no_grad;
    auto out = std::make_unique<ToyLmState>();
    out->h = index_select(h, 0, Index(rows));
    out->position = position;
    return out;
  }
  Tensor h;  // [N, D]
  int64_t position = 0;
};

class ToyLm : public models::LanguageModel {
 public:
  ToyLm(const ToyLmConfig& c, Rng& rng)
      : LanguageModel(c, rng),
        c_(static_cast<const ToyLmConfig&>(*config_)),
        embed_(c.vocab, c.embed_dim, -1, rng),
        output_(c.embed_dim, c.vocab, rng) {
    register_module("embed", embed_);
    register_module("output", output_);
  }

  models::LanguageModelOutput forward(const Index& tokens) override {
    ATTEND_CHECK(tokens.shape.rank() == 2 && tokens.shape[1] >= 1, c_.kName, "tokens ", tokens.shape.str(),
                 " must be [B, T] with T >= 1");
    ATTEND_CHECK(tokens.shape[1] <= c_.max_positions, c_.kName, "tokens of length ", tokens.shape[1],
                 " are beyond max_positions ", c_.max_positions);
    check_ids(c_.kName, tokens, c_.vocab, "token");
    const Tensor emb = embed_.forward(tokens);  // [B, T, D]
    Tensor h = Tensor::zeros(Shape{tokens.shape[0], c_.embed_dim});
    std::vector<Tensor> states;
    for (int64_t t = 0; t < tokens.shape[1]; ++t) states.push_back(h = next(h, at_position(emb, t)));
    return {output_.forward(dropout(stack(states, 1), c_.dropout, is_training(), dropout_rng_)), {}};
  }

  std::unique_ptr<models::DecoderState> start(int64_t rows) override {
    ATTEND_CHECK(rows >= 1, c_.kName, "start needs at least one row, got ", rows);
    auto state = std::make_unique<ToyLmState>();
    state->h = Tensor::zeros(Shape{rows, c_.embed_dim});
    return state;
  }

  models::StepOutput step(models::DecoderState& base, const Index& tokens) override {
    auto* state = dynamic_cast<ToyLmState*>(&base);
    ATTEND_CHECK(state != nullptr, c_.kName, "step got a DecoderState that start() did not make");
    const int64_t t = check_step_tokens(c_.kName, tokens, state->rows(), c_.vocab);
    ATTEND_CHECK(state->position + t <= c_.max_positions, c_.kName, "a step to position ", state->position + t,
                 " is beyond max_positions ", c_.max_positions);
    NoGrad no_grad;
    for (int64_t c = 0; c < t; ++c) state->h = next(state->h, embed_.forward(Index(step_column(tokens, c))));
    state->position += t;
    return {log_softmax(output_.forward(state->h), 1), Tensor()};
  }

  std::vector<models::AttentionMap> attention_maps(const Index&) override { return {}; }  // no attention
  int64_t max_positions() const override { return c_.max_positions; }

 private:
  Tensor next(const Tensor& h, const Tensor& e) const {
    return c_.memory == ToyMemory::bigram ? e : add(mul(h, c_.decay), e);
  }

  const ToyLmConfig& c_;
  nn::Embedding embed_;
  nn::Linear output_;
};

template <typename Config, typename Model>
models::ArchitectureInfo toy_architecture(const char* summary, Task task, bool has_attention) {
  return {.name = Config::kName,
          .summary = summary,
          .task = task,
          .has_attention = has_attention,
          .source = SourceKind::tokens,
          .make_config = [] { return std::make_unique<Config>(); },
          .make_model = [](const models::ModelConfig& c, Rng& rng) -> std::unique_ptr<models::Model> {
            const auto* typed = dynamic_cast<const Config*>(&c);
            ATTEND_CHECK(typed != nullptr, Config::kName, "got a ", c.architecture(), " config");
            return std::make_unique<Model>(*typed, rng);
          }};
}

// Registers the toys during static initialization, before main() and so before GoogleTest
// evaluates the suites' generators (INSTANTIATE_TEST_SUITE_P reads the registry lazily).
struct ToyRegistrar {
  ToyRegistrar() {
    models::register_architecture(toy_architecture<ToySeq2SeqConfig, ToySeq2Seq>(
        "test toy: mean-pooled source, linear recurrence, dot attention", Task::sequence_to_sequence, true));
    models::register_architecture(toy_architecture<ToyClassifierConfig, ToyClassifier>(
        "test toy: attention pooling with one learned query", Task::classification, true));
    models::register_architecture(toy_architecture<ToyLmConfig, ToyLm>(
        "test toy: bigram or decaying-memory language model", Task::language_model, false));
  }
};
const ToyRegistrar kToyRegistrar;

// ============================================================================================
// The conformance suites.
// ============================================================================================

// Tiny sizes for every architecture at once; keys an architecture lacks are skipped
// (test::model_config). Dropout is on, so that a model applying it outside training mode fails.
const Values kTiny{{"src_vocab", "11"},   {"tgt_vocab", "9"},       {"vocab", "9"},          {"num_classes", "3"},
                   {"embed_dim", "6"},    {"hidden_dim", "7"},      {"attention_dim", "5"},  {"readout_dim", "4"},
                   {"window", "2"},       {"max_source_len", "8"},  {"num_layers", "2"},     {"d_model", "8"},
                   {"num_heads", "2"},    {"ffn_dim", "12"},        {"encoder_layers", "2"}, {"decoder_layers", "2"},
                   {"max_positions", "32"}, {"dropout", "0.1"}};

// Float32 tolerances. The paths compared run the same arithmetic on operands of other shapes (a
// whole target against one position, a batch against one row, N rows against N' rows), where the
// BLAS blocking and the reductions may add the same terms in another order: float32 results then
// move by a few ulps per operation (~1e-7 relative), compounded over a few layers and a
// log-softmax. Log-probabilities and logits are O(1..10), so 2e-5 absolute + 1e-5 relative is two
// orders above that noise and far below what a mistake moves (a wrong row, position or mask
// changes them by 1e-3 to 1). Attention weights lie in [0, 1]: 2e-6 + 1e-5 relative. A sum of up
// to 8 step log-probabilities (a hypothesis' log_prob): 1e-4.
constexpr double kAtol = 2e-5, kRtol = 1e-5, kWeightAtol = 2e-6, kWeightRtol = 1e-5, kSumTol = 1e-4;

// The normalizers every architecture with a "normalizer" field also runs the suites with (as the
// parameter "<architecture>/<normalizer>"): an exactly sparse one and a learned structured one.
const char* const kOtherNormalizers[] = {"sparsemax", "crf-segment"};

bool has_field(const std::string& arch, const std::string& key) {
  for (const models::Field& f : models::make_config(arch)->fields())
    if (f.key == key) return true;
  return false;
}

std::vector<std::string> architectures(std::optional<Task> task = {}) {
  std::vector<std::string> names;
  for (const std::string& n : models::architecture_names()) {
    if (task && models::architecture(n).task != *task) continue;
    names.push_back(n);
    if (has_field(n, "normalizer"))
      for (const char* norm : kOtherNormalizers) names.push_back(n + "/" + norm);
  }
  return names;
}

// "transformer/crf-segment" -> "transformer"; "transformer" -> itself.
std::string arch_of(const std::string& param) { return param.substr(0, param.find('/')); }

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

// Random ids in [4, V) (no special ids), each row padded with pad_id after its length.
Index random_ids(Rng& rng, int64_t V, const std::vector<int64_t>& lengths, int64_t S, int64_t pad_id,
                 int64_t first = -1) {
  const auto B = static_cast<int64_t>(lengths.size());
  std::vector<int64_t> ids(static_cast<size_t>(B * S), pad_id);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < lengths[static_cast<size_t>(b)]; ++j)
      ids[static_cast<size_t>(b * S + j)] =
          j == 0 && first >= 0 ? first : 4 + static_cast<int64_t>(rng.uniform() * static_cast<double>(V - 4));
  return Index(ids, Shape{B, S});
}

// Row b of ids [B, S], its first `len` ids: [1, len].
Index row_ids(const Index& ids, int64_t b, int64_t len) {
  const int64_t S = ids.shape[1];
  return Index(std::vector<int64_t>(ids.data.begin() + b * S, ids.data.begin() + b * S + len), Shape{1, len});
}

// Columns [from, to) of ids [B, T]: [B, to - from].
Index columns(const Index& ids, int64_t from, int64_t to) {
  const int64_t B = ids.shape[0], T = ids.shape[1];
  std::vector<int64_t> out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = from; t < to; ++t) out.push_back(ids.data[static_cast<size_t>(b * T + t)]);
  return Index(out, Shape{B, to - from});
}

// Rows `rows` of ids [N, t] (or [N]).
Index pick_rows(const Index& ids, const std::vector<int64_t>& rows) {
  const int64_t t = ids.shape.rank() == 1 ? 1 : ids.shape[1];
  std::vector<int64_t> out;
  for (const int64_t r : rows) out.insert(out.end(), ids.data.begin() + r * t, ids.data.begin() + (r + 1) * t);
  return ids.shape.rank() == 1 ? Index(out) : Index(out, Shape{static_cast<int64_t>(rows.size()), t});
}

Tensor row(const Tensor& x, int64_t r) { return slice(x, 0, r, r + 1); }

// Bit for bit: same definedness, shape, dtype and bytes.
::testing::AssertionResult identical(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return ::testing::AssertionFailure() << "one of the two is undefined";
  if (!a.defined()) return ::testing::AssertionSuccess();
  if (a.shape() != b.shape() || a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << a.str() << " vs " << b.str();
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  if (std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) != 0)
    return ::testing::AssertionFailure() << "values differ, max |a - b| = " << test::max_abs_diff(a, b);
  return ::testing::AssertionSuccess();
}

// The side of the pictures the picture models (vit, sat) read here, and the regions sat attends
// to over them (2 x 2 after two poolings).
constexpr int64_t kPictureSide = 8, kPictureRegions = 4;

// A source of B rows of token ids with these lengths, padded to the longest; for a model that
// reads pictures (vocab 0), B random pictures of kPictureSide^2 pixels (pictures are never padded).
Source token_source(Rng& rng, int64_t vocab, int64_t pad_id, const std::vector<int64_t>& lengths) {
  if (vocab == 0) {
    const auto B = static_cast<int64_t>(lengths.size()), R = kPictureSide * kPictureSide;
    return Source::of_features(Tensor::uniform(Shape{B, R, 1}, rng), std::vector<int64_t>(static_cast<size_t>(B), R));
  }
  const int64_t S = *std::max_element(lengths.begin(), lengths.end());
  return Source::of_tokens(random_ids(rng, vocab, lengths, S, pad_id), lengths);
}

// Row b of a source, alone and unpadded.
Source source_row(const Source& src, int64_t b) {
  const int64_t len = src.lengths[static_cast<size_t>(b)];
  if (src.kind() == SourceKind::features)
    return Source::of_features(contiguous(slice(slice(src.features, 0, b, b + 1), 1, 0, len)), {len});
  return Source::of_tokens(row_ids(src.tokens, b, len), {len});
}

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  const models::ArchitectureInfo& info() const { return models::architecture(arch()); }
  std::string arch() const { return arch_of(GetParam()); }
  std::shared_ptr<models::ModelConfig> config() const {
    if (GetParam() != arch()) {
      Values v = kTiny;
      v.insert_or_assign("normalizer", GetParam().substr(arch().size() + 1));
      return test::model_config(arch(), v);
    }
    if (!reads_features()) return test::model_config(arch(), kTiny);
    Values v = kTiny;  // pictures of kPictureSide^2 pixels: vit's 4 patches, sat's 2 x 2 regions
    v.insert_or_assign("src_vocab", "0");
    v.insert({{"image_size", std::to_string(kPictureSide)}, {"patch", "4"}, {"conv_layers", "2"}, {"cnn_width", "2"},
              {"feature_dim", "5"}});
    return test::model_config(arch(), v);
  }
  std::unique_ptr<models::Model> model(uint64_t seed = 7) const {
    Rng rng(seed);
    std::unique_ptr<models::Model> m = models::make_model(*config(), rng);
    m->eval();
    return m;
  }
  // Sources here are token ids, or pictures for the models that read them (token_source).
  bool reads_features() const {
    return info().task != Task::language_model && info().source == SourceKind::features;
  }
};

// ---- every architecture

class ArchitectureConformance : public Conformance {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& ch : name)
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    dir_ = std::filesystem::temp_directory_path() / ("attend_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_P(ArchitectureConformance, RegistrationConfigAndModelAgreeOnTheTask) {
  const auto c = config();
  EXPECT_EQ(c->architecture(), arch());
  EXPECT_EQ(c->task(), info().task);
  EXPECT_EQ(models::make_config(arch())->task(), info().task);
  EXPECT_EQ(models::make_config(arch(), c->to_map())->to_map(), c->to_map()) << "the text map round-trips";
  const auto m = model();
  EXPECT_EQ(m->task(), info().task);
  EXPECT_EQ(std::string(m->config().architecture()), arch());
  EXPECT_FALSE(m->named_parameters().empty());
  for (const auto& [name, p] : m->named_parameters()) EXPECT_EQ(p.dtype(), DType::f32) << name;
  switch (info().task) {
    case Task::sequence_to_sequence:
      EXPECT_NO_THROW(models::as_task<models::SequenceToSequence>(*m, "m", "test"));
      break;
    case Task::classification: EXPECT_NO_THROW(models::as_task<models::Classifier>(*m, "m", "test")); break;
    case Task::language_model: EXPECT_NO_THROW(models::as_task<models::LanguageModel>(*m, "m", "test")); break;
  }
}

// Everything a model of its task computes on fixed inputs: teacher forcing (or classify) with
// attention, and steps of one and of two tokens.
std::vector<Tensor> outputs(models::Model& model) {
  Rng rng(99);
  std::vector<Tensor> out;
  switch (model.task()) {
    case Task::sequence_to_sequence: {
      auto& m = models::as_task<models::SequenceToSequence>(model, "model", "outputs");
      const auto& c = m.task_config();
      const Source src = token_source(rng, c.src_vocab, c.pad_id, {4, 2});
      const models::ForwardResult fr =
          m.forward(src, random_ids(rng, c.tgt_vocab, {3, 3}, 3, c.pad_id, c.bos_id), {.need_attention = true});
      out = {fr.logits, fr.attention};
      auto state = m.start(src);
      for (const Index& tokens : {Index({c.bos_id, c.bos_id}), Index({5, 6, 7, 4}, Shape{2, 2})}) {
        const models::StepOutput o = m.step(*state, tokens);
        out.push_back(o.log_probs);
        out.push_back(o.attention);
      }
      break;
    }
    case Task::classification: {
      auto& m = models::as_task<models::Classifier>(model, "model", "outputs");
      const auto& c = m.task_config();
      const models::ClassifierOutput o = m.classify(token_source(rng, c.src_vocab, c.pad_id, {4, 2}));
      out = {o.logits, o.weights};
      break;
    }
    case Task::language_model: {
      auto& m = models::as_task<models::LanguageModel>(model, "model", "outputs");
      const auto& c = m.task_config();
      out = {m.forward(random_ids(rng, c.vocab, {4, 4}, 4, c.pad_id, c.eos_id)).logits};
      auto state = m.start(2);
      for (const Index& tokens : {Index({c.eos_id, c.eos_id}), Index({5, 6, 7, 4}, Shape{2, 2})})
        out.push_back(m.step(*state, tokens).log_probs);
      break;
    }
  }
  return out;
}

// A spec with what the task needs besides the config (a classifier's class names), and
// vocabularies of the sizes the config demands.
app::ModelSpec minimal_spec(std::shared_ptr<const models::ModelConfig> c) {
  app::ModelSpec spec;
  spec.model = std::move(c);
  if (spec.model->task() == Task::classification)
    for (int64_t k = 0; k < static_cast<const models::ClassifierConfig&>(*spec.model).num_classes; ++k)
      spec.labels.push_back("class" + std::to_string(k));
  return spec;
}

std::map<std::string, data::Vocab> vocabularies(const app::ModelSpec& spec) {
  std::map<std::string, data::Vocab> v;
  for (const auto& [name, size] : app::expected_vocabs(spec)) {
    std::vector<std::string> tokens{"<pad>", "<unk>", "<s>", "</s>"};
    for (int64_t i = 4; i < size; ++i) tokens.push_back(name + std::to_string(i));
    v.emplace(name, data::Vocab::of_tokens(tokens, name));
  }
  return v;
}

TEST_P(ArchitectureConformance, SaveThenLoadGivesBitIdenticalOutputs) {
  std::unique_ptr<models::Model> original = model(7);
  const std::vector<Tensor> expected = outputs(*original);

  // save_checkpoint with the config's JSON (app::ModelSpec), then load_checkpoint into a model
  // built from the JSON read back, drawn from another seed.
  const app::ModelSpec spec = minimal_spec(config());
  train::CheckpointInfo info;
  spec.to_checkpoint(info);
  train::save_checkpoint(path("model.ckpt"), *original, nullptr, info);
  const app::ModelSpec back =
      app::ModelSpec::from_checkpoint(train::read_checkpoint_info(path("model.ckpt")), "model.ckpt");
  EXPECT_EQ(back.model->to_map(), spec.model->to_map());
  Rng other(8);
  std::unique_ptr<models::Model> fresh = models::make_model(*back.model, other);
  fresh->eval();
  {
    // Else this test could not fail: the fresh model must start elsewhere.
    const std::vector<Tensor> before = outputs(*fresh);
    double moved = 0.0;
    for (size_t i = 0; i < before.size(); ++i)
      if (before[i].defined()) moved = std::max(moved, test::max_abs_diff(before[i], expected[i]));
    EXPECT_GT(moved, 1e-3) << "a model drawn from another seed computes the same";
  }
  train::load_checkpoint(path("model.ckpt"), *fresh);
  std::vector<Tensor> loaded = outputs(*fresh);
  ASSERT_EQ(loaded.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(identical(loaded[i], expected[i])) << "output " << i;

  // ModelBundle::save and ModelBundle::load, as the commands do.
  app::ModelBundle bundle{.model = std::move(original), .spec = spec, .vocabs = vocabularies(spec)};
  bundle.save(path("bundle.ckpt"));
  app::ModelBundle again = app::ModelBundle::load(path("bundle.ckpt"));
  EXPECT_FALSE(again.model->is_training());
  EXPECT_EQ(again.spec.model->to_map(), spec.model->to_map());
  EXPECT_EQ(again.spec.labels, spec.labels);
  EXPECT_EQ(again.vocabs, bundle.vocabs);
  loaded = outputs(*again.model);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(identical(loaded[i], expected[i])) << "bundle output " << i;
}

// make_config(arch, values) with one field's value replaced: the message of the attend::Error it
// throws, or "no error".
std::string error_with(const std::string& arch, Values values, const std::string& key, const std::string& value) {
  values[key] = value;
  return test::error_of([&] { models::make_config(arch, values); });
}

TEST_P(ArchitectureConformance, BadFieldValuesAreErrorsNamingTheField) {
  const std::string arch = this->arch();
  // Valid values of every field but the one under test: kTiny restricted to this table's keys, so
  // that an accepted bad value shows as "no error" rather than as another field's complaint.
  const std::unique_ptr<models::ModelConfig> defaults = models::make_config(arch);
  const std::vector<models::Field> table = defaults->fields();  // bound to *defaults' members
  Values base;
  const std::map<std::string, std::string> tiny = config()->to_map();
  for (const models::Field& f : table)
    if (kTiny.count(f.key)) base[f.key] = tiny.at(f.key);
  ASSERT_EQ(test::error_of([&] { models::make_config(arch, base); }), "no error");

  std::set<std::string> keys;
  for (const models::Field& f : table) {
    SCOPED_TRACE("field '" + f.key + "'");
    EXPECT_TRUE(keys.insert(f.key).second) << "the table has the key twice";
    const auto expect_named = [&](const std::string& message, const std::string& value) {
      EXPECT_NE(message.find("'" + f.key + "'"), std::string::npos) << "value '" << value << "': " << message;
      EXPECT_EQ(message.rfind("[" + arch + " config] ", 0), 0u) << message;
    };
    const auto expect_rejected = [&](const std::string& value) {
      const std::string message = error_with(arch, base, f.key, value);
      if (message == "no error") ADD_FAILURE() << "value '" << value << "' was accepted";
      else expect_named(message, value);
    };
    // Values out of range on either side: at least one must be rejected (every field has a range).
    const auto expect_range = [&](const std::vector<std::string>& values) {
      int rejected = 0;
      for (const std::string& v : values) {
        const std::string message = error_with(arch, base, f.key, v);
        if (message == "no error") continue;
        ++rejected;
        expect_named(message, v);
      }
      EXPECT_GT(rejected, 0) << "no value out of range is rejected";
    };
    switch (f.kind) {
      case models::Field::Kind::integer:
        // Every integer field of a model is a size, a count, an id or an index: -5 is out of range.
        for (const char* v : {"x", "", "1.5", "7x", " 7", "-5"}) expect_rejected(v);
        expect_range({"99999999999999999999", "4294967296"});
        break;
      case models::Field::Kind::real:
        for (const char* v : {"nan", "inf", "-inf", "x", "", "0.1x"}) expect_rejected(v);
        expect_range({"-1e9", "1e9"});
        break;
      case models::Field::Kind::choice:
        EXPECT_FALSE(f.choices.empty());
        for (const std::string& v : {std::string("no-such-") + f.key, std::string(""), std::string("1")})
          expect_rejected(v);
        break;
      case models::Field::Kind::boolean:
        for (const char* v : {"maybe", "2", "", "yes"}) expect_rejected(v);
        break;
      case models::Field::Kind::text:  // the one text field is the normalizer
        for (const char* v : {"softermax", "", "entmax:1", "entmax:x", "dependency-tree"}) expect_rejected(v);
        break;
    }
  }
  const std::string unknown = error_with(arch, base, "no_such_field", "1");
  EXPECT_NE(unknown.find("'no_such_field'"), std::string::npos) << unknown;
}

// ---- step decoders (sequence-to-sequence models and language models)

// Two step outputs of the same rows: log-probs [N, V] and attention [N, S], row by row.
void expect_same_rows(const models::StepOutput& x, const models::StepOutput& ref, const std::string& where) {
  ASSERT_EQ(x.log_probs.shape(), ref.log_probs.shape()) << where;
  ASSERT_EQ(x.attention.defined(), ref.attention.defined()) << where;
  for (int64_t r = 0; r < ref.log_probs.size(0); ++r) {
    EXPECT_TRUE(test::all_close(row(x.log_probs, r), row(ref.log_probs, r), kAtol, kRtol)) << where << ", row " << r;
    if (ref.attention.defined()) {
      EXPECT_TRUE(test::all_close(row(x.attention, r), row(ref.attention, r), kWeightAtol, kWeightRtol))
          << where << ": attention of row " << r;
    }
  }
}

// DecoderState::select against a reference that never selects: start(rows) makes a state over the
// given rows of 3 inputs that differ (sources, or the prefixes fed), so a selected state must step
// exactly as a state started over the selected rows and fed their whole history.
//   a = start({0, 1, 2}), fed `prefix` ([3, t]); b = a.select({2, 0, 0, 1}) mid-sequence
//   (permuted and replicated rows); b's rows are then fed different tokens, the two copies of
//   row 0 included, by one token and by two at once, while a goes on with tokens of its own;
//   then c = b.select({3, 1}) shrinks it. After every step b, c and a equal their references.
using StartRows = std::function<std::unique_ptr<models::DecoderState>(const std::vector<int64_t>& rows)>;
void expect_select_moves_rows(models::StepDecoder& m, const StartRows& start, const Index& prefix) {
  const int64_t V = m.vocab_size();
  const auto tok = [V](int64_t id) { return 4 + id % (V - 4); };  // no special ids
  std::unique_ptr<models::DecoderState> a = start({0, 1, 2}), a_ref = start({0, 1, 2});
  ASSERT_EQ(a->rows(), 3);
  m.step(*a, prefix);
  m.step(*a_ref, prefix);

  const std::vector<int64_t> sel{2, 0, 0, 1};
  std::unique_ptr<models::DecoderState> b = a->select(sel), b_ref = start(sel);
  ASSERT_EQ(b->rows(), 4);
  ASSERT_EQ(a->rows(), 3) << "select changed the state it selects from";
  m.step(*b_ref, pick_rows(prefix, sel));
  const std::vector<Index> b_feeds{Index({tok(0), tok(1), tok(2), tok(3)}),
                                   Index({tok(4), tok(5), tok(1), tok(2), tok(3), tok(0), tok(5), tok(5)}, Shape{4, 2}),
                                   Index({tok(2), tok(4), tok(0), tok(1)})};
  const std::vector<Index> a_feeds{Index({tok(3), tok(4), tok(5)}), Index({tok(2), tok(2), tok(1)}),
                                   Index({tok(0), tok(3), tok(4)})};
  for (size_t k = 0; k < b_feeds.size(); ++k) {
    const std::string where = "step " + std::to_string(k) + " after select {2, 0, 0, 1}";
    expect_same_rows(m.step(*b, b_feeds[k]), m.step(*b_ref, b_feeds[k]), where);
    expect_same_rows(m.step(*a, a_feeds[k]), m.step(*a_ref, a_feeds[k]), where + ", the state selected from");
  }

  // c's rows are b's rows 3 and 1: started over rows 1 and 2, fed their history.
  const std::vector<int64_t> from_b{3, 1};
  std::unique_ptr<models::DecoderState> c = b->select(from_b), c_ref = start({sel[3], sel[1]});
  ASSERT_EQ(c->rows(), 2);
  m.step(*c_ref, pick_rows(prefix, {sel[3], sel[1]}));
  for (const Index& feed : b_feeds) m.step(*c_ref, pick_rows(feed, from_b));
  const Index feed({tok(1), tok(1)});
  expect_same_rows(m.step(*c, feed), m.step(*c_ref, feed), "after a second select {3, 1}");

  EXPECT_THROW(a->select({3}), Error);
  EXPECT_THROW(a->select({-1}), Error);
}

// Two hypotheses of one row, one decoded in a batch and one alone: same tokens and end, the same
// scores and attention up to float32 reassociation.
void expect_same_hypothesis(const decode::Hypothesis& x, const decode::Hypothesis& alone) {
  EXPECT_EQ(x.tokens, alone.tokens);
  EXPECT_EQ(x.finished, alone.finished);
  EXPECT_NEAR(x.log_prob, alone.log_prob, kSumTol);
  EXPECT_NEAR(x.score, alone.score, kSumTol);
  ASSERT_EQ(x.attention.defined(), alone.attention.defined());
  if (x.attention.defined()) {
    EXPECT_TRUE(test::all_close(x.attention, alone.attention, kWeightAtol, kWeightRtol));
  }
}

// Greedy search, beam search (3 beams, 2 best) and sampling over a batch of `rows` rows against
// each row searched alone. start(-1) is the batch's SearchStart, start(b) row b's alone. Sampling
// gives each row its own stream, so a row's draws do not depend on its batch (decode/search.h).
void expect_searches_match_rows(models::StepDecoder& m, int64_t rows,
                                const std::function<decode::SearchStart(int64_t)>& start, bool attention) {
  const std::vector<decode::Hypothesis> greedy = decode::greedy(m, start(-1));
  const decode::BeamOptions beam_options{.beam_size = 3, .nbest = 2};
  const std::vector<std::vector<decode::Hypothesis>> beams = decode::beam_search(m, start(-1), beam_options);
  std::vector<uint64_t> streams;
  for (int64_t b = 0; b < rows; ++b) streams.push_back(static_cast<uint64_t>(100 + b));
  const std::vector<decode::Hypothesis> samples =
      decode::sample(m, start(-1), {.temperature = 1.0, .seed = 11, .streams = streams});
  ASSERT_EQ(greedy.size(), static_cast<size_t>(rows));
  ASSERT_EQ(beams.size(), static_cast<size_t>(rows));
  ASSERT_EQ(samples.size(), static_cast<size_t>(rows));
  for (int64_t b = 0; b < rows; ++b) {
    const auto i = static_cast<size_t>(b);
    {
      SCOPED_TRACE("greedy, row " + std::to_string(b));
      const std::vector<decode::Hypothesis> alone = decode::greedy(m, start(b));
      ASSERT_EQ(alone.size(), 1u);
      EXPECT_EQ(greedy[i].attention.defined(), attention);
      expect_same_hypothesis(greedy[i], alone[0]);
    }
    {
      SCOPED_TRACE("beam 3, row " + std::to_string(b));
      const std::vector<std::vector<decode::Hypothesis>> alone = decode::beam_search(m, start(b), beam_options);
      ASSERT_EQ(alone.size(), 1u);
      ASSERT_EQ(beams[i].size(), alone[0].size());
      for (size_t k = 0; k < alone[0].size(); ++k) expect_same_hypothesis(beams[i][k], alone[0][k]);
    }
    {
      SCOPED_TRACE("sampling, row " + std::to_string(b));
      const std::vector<decode::Hypothesis> alone =
          decode::sample(m, start(b), {.temperature = 1.0, .seed = 11, .streams = {streams[i]}});
      ASSERT_EQ(alone.size(), 1u);
      expect_same_hypothesis(samples[i], alone[0]);
    }
  }
}

// ---- sequence to sequence

class SequenceToSequenceConformance : public Conformance {
 protected:
  void SetUp() override {
    owned_ = model();
    m_ = &models::as_task<models::SequenceToSequence>(*owned_, arch(), "conformance");
  }
  const models::SequenceToSequenceConfig& c() const { return m_->task_config(); }
  std::unique_ptr<models::Model> owned_;
  models::SequenceToSequence* m_ = nullptr;
};

TEST_P(SequenceToSequenceConformance, IncrementalStepsEqualTeacherForcing) {
  models::SequenceToSequence& m = *m_;
  Rng rng(1);
  const Source src = token_source(rng, c().src_vocab, c().pad_id, {5, 3, 4});
  const int64_t B = 3, S = reads_features() ? kPictureRegions : 5, T = 5, V = c().tgt_vocab;
  const Index tgt_in = random_ids(rng, V, {T, T, T}, T, c().pad_id, m.bos_id());
  const models::ForwardResult fr = m.forward(src, tgt_in, {.need_attention = true});
  ASSERT_EQ(fr.logits.shape(), Shape({B, T, V}));
  ASSERT_EQ(fr.attention.defined(), info().has_attention) << "attention returned iff the architecture has it";
  if (fr.attention.defined()) {
    ASSERT_EQ(fr.attention.shape(), Shape({B, T, S}));
  }
  const Tensor lp = log_softmax(fr.logits, 2);

  const auto expect_position = [&](const models::StepOutput& o, int64_t t, const std::string& how) {
    ASSERT_EQ(o.log_probs.shape(), Shape({B, V})) << how;
    EXPECT_EQ(o.log_probs.dtype(), DType::f32) << how;
    EXPECT_TRUE(test::all_close(o.log_probs, at_position(lp, t), kAtol, kRtol)) << how << ", position " << t;
    ASSERT_EQ(o.attention.defined(), fr.attention.defined()) << how;
    if (o.attention.defined()) {
      EXPECT_TRUE(test::all_close(o.attention, at_position(fr.attention, t), kWeightAtol, kWeightRtol))
          << how << ": attention at position " << t;
    }
  };
  auto one = m.start(src);
  ASSERT_EQ(one->rows(), B);
  for (int64_t t = 0; t < T; ++t) expect_position(m.step(*one, Index(step_column(tgt_in, t))), t, "one token [N]");
  auto chunked = m.start(src);
  int64_t done = 0;
  for (const int64_t t : {2, 1, 2}) {
    expect_position(m.step(*chunked, columns(tgt_in, done, done + t)), done + t - 1,
                    "tokens [N, " + std::to_string(t) + "]");
    done += t;
  }
  // start() and step() run as inference whatever the mode (tasks.h): in training mode (dropout
  // 0.1 here) they give the same, and leave the mode as it was.
  m.train();
  auto training = m.start(src);
  for (int64_t t = 0; t < T; ++t)
    expect_position(m.step(*training, Index(step_column(tgt_in, t))), t, "one token [N] in training mode");
  EXPECT_TRUE(m.is_training());
  m.eval();
}

TEST_P(SequenceToSequenceConformance, SelectMovesTheRightRows) {
  Rng rng(2);
  const Source src = token_source(rng, c().src_vocab, c().pad_id, {5, 2, 4});
  // Rows of the source, padded as the whole (so that attention keeps its width S).
  const auto start = [&](const std::vector<int64_t>& rows) {
    std::vector<int64_t> lengths;
    for (const int64_t r : rows) lengths.push_back(src.lengths[static_cast<size_t>(r)]);
    if (src.kind() == SourceKind::features) return m_->start(Source::of_features(index_select(src.features, 0, Index(rows)), lengths));
    return m_->start(Source::of_tokens(pick_rows(src.tokens, rows), lengths));
  };
  expect_select_moves_rows(*m_, start, Index({c().bos_id, c().bos_id, c().bos_id, 5, 6, 4}, Shape{3, 2}));
}

TEST_P(SequenceToSequenceConformance, BatchEqualsItsRowsOneByOne) {
  models::SequenceToSequence& m = *m_;
  Rng rng(3);
  const std::vector<int64_t> lengths{5, 2, 4, 1};
  const Source src = token_source(rng, c().src_vocab, c().pad_id, lengths);
  const int64_t T = 4;
  const Index tgt_in = random_ids(rng, c().tgt_vocab, {T, T, T, T}, T, c().pad_id, m.bos_id());
  const models::ForwardResult batch = m.forward(src, tgt_in, {.need_attention = true});
  for (int64_t b = 0; b < src.batch(); ++b) {
    SCOPED_TRACE("row " + std::to_string(b));
    // The positions attended: the tokens, or sat's regions of every picture.
    const int64_t len = reads_features() ? kPictureRegions : lengths[static_cast<size_t>(b)];
    const int64_t width = reads_features() ? kPictureRegions : src.length();
    const models::ForwardResult alone = m.forward(source_row(src, b), row_ids(tgt_in, b, T), {.need_attention = true});
    EXPECT_TRUE(test::all_close(row(batch.logits, b), alone.logits, kAtol, kRtol));
    ASSERT_EQ(batch.attention.defined(), alone.attention.defined());
    if (!alone.attention.defined()) continue;
    const Tensor w = row(batch.attention, b);  // [1, T, S]
    EXPECT_TRUE(test::all_close(slice(w, 2, 0, len), alone.attention, kWeightAtol, kWeightRtol));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = len; j < width; ++j) EXPECT_EQ(w.at({0, t, j}), 0.0) << "padded source position " << j;
  }

  // Searches from decode::start_of over the padded batch and over each source alone.
  const decode::LengthLimit limit{.max_len = 8};
  expect_searches_match_rows(
      m, src.batch(),
      [&](int64_t b) { return decode::start_of(m, b < 0 ? src : source_row(src, b), limit); },
      info().has_attention);
}

// attention_maps: every map is zero at the keys its attention masks (the padded source positions;
// a decoder's later positions), and the alignment layer's cross-attention, averaged over heads, is
// the attention forward() returns.
TEST_P(SequenceToSequenceConformance, AttentionMapsAgreeWithForward) {
  models::SequenceToSequence& m = *m_;
  Rng rng(5);
  const std::vector<int64_t> lengths{2, 5, 3};
  const Source src = token_source(rng, c().src_vocab, c().pad_id, lengths);
  const int64_t B = 3, S = reads_features() ? kPictureRegions : 5, T = 4;
  const Index tgt_in = random_ids(rng, c().tgt_vocab, {T, T, T}, T, c().pad_id, m.bos_id());
  if (!info().has_attention) {
    EXPECT_THROW(m.attention_maps(src, tgt_in), Error) << "a model without attention has no maps to draw";
    return;
  }
  const Tensor attention = m.forward(src, tgt_in, {.need_attention = true}).attention;  // [B, T, S]
  const std::vector<models::AttentionMap> maps = m.attention_maps(src, tgt_in);
  bool aligned = false;
  for (const models::AttentionMap& map : maps) {
    const std::string what = std::string(models::to_string(map.kind)) + " layer " + std::to_string(map.layer);
    ASSERT_EQ(map.weights.dim(), 4) << what;
    const int64_t H = map.weights.size(1), Tq = map.weights.size(2), Tk = map.weights.size(3);
    ASSERT_EQ(map.weights.size(0), B) << what;
    ASSERT_EQ(Tq, map.kind == models::AttentionKind::encoder_self ? S : T) << what;
    ASSERT_EQ(Tk, map.kind == models::AttentionKind::decoder_self ? T : S) << what;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < Tq; ++i)
          for (int64_t j = 0; j < Tk; ++j) {
            const bool masked =
                map.kind == models::AttentionKind::decoder_self ? j > i
                : reads_features()                               ? false
                                                                 : j >= lengths[static_cast<size_t>(b)];
            if (masked) {
              EXPECT_EQ(map.weights.at({b, h, i, j}), 0.0)
                  << what << " at [" << b << ", " << h << ", " << i << ", " << j << "]";
            }
          }
    if (map.kind == models::AttentionKind::cross && map.layer == m.alignment_layer()) {
      aligned = true;
      EXPECT_TRUE(test::all_close(mean(map.weights, {1}), attention, kWeightAtol, kWeightRtol)) << what;
    }
  }
  EXPECT_TRUE(aligned) << "no cross-attention map of the alignment layer " << m.alignment_layer();
}

// ---- classification

class ClassifierConformance : public Conformance {
 protected:
  void SetUp() override {
    owned_ = model();
    m_ = &models::as_task<models::Classifier>(*owned_, arch(), "conformance");
  }
  std::unique_ptr<models::Model> owned_;
  models::Classifier* m_ = nullptr;
};

TEST_P(ClassifierConformance, BatchEqualsItsRowsOneByOne) {
  models::Classifier& m = *m_;
  Rng rng(3);
  const std::vector<int64_t> lengths{5, 2, 4, 1};
  const Source src = token_source(rng, m.task_config().src_vocab, m.task_config().pad_id, lengths);
  const models::ClassifierOutput batch = m.classify(src);
  ASSERT_EQ(batch.logits.shape(), Shape({4, m.num_classes()}));
  // A picture model (vit) attends without pooling weights: its class token reads the patches.
  ASSERT_EQ(batch.weights.defined(), info().has_attention && !reads_features())
      << "pooling weights returned iff it pools with attention";
  if (batch.weights.defined()) {
    ASSERT_EQ(batch.weights.dim(), 3);
    ASSERT_EQ(batch.weights.size(0), 4);
    ASSERT_EQ(batch.weights.size(2), src.length());
  }
  for (int64_t b = 0; b < src.batch(); ++b) {
    SCOPED_TRACE("row " + std::to_string(b));
    const int64_t len = lengths[static_cast<size_t>(b)];
    const models::ClassifierOutput alone = m.classify(source_row(src, b));
    EXPECT_TRUE(test::all_close(row(batch.logits, b), alone.logits, kAtol, kRtol));
    if (!batch.weights.defined()) continue;
    const Tensor w = row(batch.weights, b);  // [1, H, S]
    EXPECT_TRUE(test::all_close(slice(w, 2, 0, len), alone.weights, kWeightAtol, kWeightRtol));
    for (int64_t h = 0; h < w.size(1); ++h)
      for (int64_t j = len; j < src.length(); ++j) EXPECT_EQ(w.at({0, h, j}), 0.0) << "padded source position " << j;
  }
}

TEST_P(ClassifierConformance, AttentionMapsHoldThePoolingWeights) {
  Rng rng(4);
  const Source src = token_source(rng, m_->task_config().src_vocab, m_->task_config().pad_id, {3, 5});
  if (!info().has_attention) {
    EXPECT_THROW(m_->attention_maps(src), Error) << "a model without attention has no maps to draw";
    return;
  }
  const models::ClassifierOutput out = m_->classify(src);
  const std::vector<models::AttentionMap> maps = m_->attention_maps(src);
  ASSERT_FALSE(maps.empty());
  if (reads_features()) {  // vit: each layer's self-attention [B, H, T, T], every row a distribution
    for (const models::AttentionMap& m : maps) {
      EXPECT_EQ(m.kind, models::AttentionKind::encoder_self);
      ASSERT_EQ(m.weights.dim(), 4);
      EXPECT_TRUE(test::all_close(sum(m.weights, {3}), Tensor::ones(Shape{2, m.weights.size(1), m.weights.size(2)}),
                                  kWeightAtol, kWeightRtol));
    }
    return;
  }
  const models::AttentionMap& pooling = maps.back();
  EXPECT_EQ(pooling.kind, models::AttentionKind::pooling);
  EXPECT_TRUE(test::all_close(pooling.weights, unsqueeze(out.weights, 2), kWeightAtol, kWeightRtol));  // [B, H, 1, S]
}

// ---- language models

class LanguageModelConformance : public Conformance {
 protected:
  void SetUp() override {
    owned_ = model();
    m_ = &models::as_task<models::LanguageModel>(*owned_, arch(), "conformance");
  }
  const models::LanguageModelConfig& c() const { return m_->task_config(); }
  std::unique_ptr<models::Model> owned_;
  models::LanguageModel* m_ = nullptr;
};

TEST_P(LanguageModelConformance, IncrementalStepsEqualTeacherForcing) {
  models::LanguageModel& m = *m_;
  Rng rng(1);
  const int64_t B = 3, T = 6, V = c().vocab;
  ASSERT_GE(m.max_positions(), T);
  const Index tokens = random_ids(rng, V, {T, T, T}, T, c().pad_id, c().eos_id);
  const Tensor logits = m.forward(tokens).logits;
  ASSERT_EQ(logits.shape(), Shape({B, T, V}));
  const Tensor lp = log_softmax(logits, 2);
  const auto expect_position = [&](const models::StepOutput& o, int64_t t, const std::string& how) {
    ASSERT_EQ(o.log_probs.shape(), Shape({B, V})) << how;
    EXPECT_EQ(o.log_probs.dtype(), DType::f32) << how;
    EXPECT_TRUE(test::all_close(o.log_probs, at_position(lp, t), kAtol, kRtol)) << how << ", position " << t;
  };
  auto one = m.start(B);
  ASSERT_EQ(one->rows(), B);
  for (int64_t t = 0; t < T; ++t) expect_position(m.step(*one, Index(step_column(tokens, t))), t, "one token [N]");
  auto chunked = m.start(B);
  int64_t done = 0;
  for (const int64_t t : {3, 1, 2}) {
    expect_position(m.step(*chunked, columns(tokens, done, done + t)), done + t - 1,
                    "tokens [N, " + std::to_string(t) + "]");
    done += t;
  }
  // start() and step() run as inference whatever the mode (tasks.h): in training mode (dropout
  // 0.1 here) they give the same, and leave the mode as it was.
  m.train();
  auto training = m.start(B);
  for (int64_t t = 0; t < T; ++t)
    expect_position(m.step(*training, Index(step_column(tokens, t))), t, "one token [N] in training mode");
  EXPECT_TRUE(m.is_training());
  m.eval();
}

TEST_P(LanguageModelConformance, SelectMovesTheRightRows) {
  const int64_t e = c().eos_id;
  // The rows differ by the prefixes they are fed.
  expect_select_moves_rows(
      *m_, [&](const std::vector<int64_t>& rows) { return m_->start(static_cast<int64_t>(rows.size())); },
      Index({e, 4, e, 5, e, 6}, Shape{3, 2}));
}

TEST_P(LanguageModelConformance, BatchEqualsItsRowsOneByOne) {
  models::LanguageModel& m = *m_;
  Rng rng(3);
  // Right padding needs no mask (causal): row b's first lengths[b] positions are the row alone.
  const std::vector<int64_t> lengths{6, 3, 5};
  const Index tokens = random_ids(rng, c().vocab, lengths, 6, c().pad_id, c().eos_id);
  const Tensor batch = m.forward(tokens).logits;
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t len = lengths[static_cast<size_t>(b)];
    const Tensor alone = m.forward(row_ids(tokens, b, len)).logits;
    EXPECT_TRUE(test::all_close(slice(row(batch, b), 1, 0, len), alone, kAtol, kRtol)) << "row " << b;
  }

  // Searches from a SearchStart with a prefix per row (end-of-text, then a prompt of its own
  // length), against each row started alone.
  const int64_t e = c().eos_id;
  const std::vector<std::vector<int64_t>> prefixes{{e, 5, 6}, {e}, {e, 7 % c().vocab, 4, 4}};
  const std::vector<int64_t> max_new{6, 5, 4};
  expect_searches_match_rows(
      m, 3,
      [&](int64_t b) -> decode::SearchStart {
        if (b < 0) return {.state = m.start(3), .prefix = prefixes, .max_new = max_new, .attention_length = {}};
        const auto i = static_cast<size_t>(b);
        return {.state = m.start(1), .prefix = {prefixes[i]}, .max_new = {max_new[i]}, .attention_length = {}};
      },
      false);
}

// attention_maps: causal self-attention maps [B, H, T, T], zero at later positions; none for a
// model without attention.
TEST_P(LanguageModelConformance, AttentionMapsAreCausal) {
  Rng rng(5);
  const int64_t B = 2, T = 5;
  const std::vector<models::AttentionMap> maps =
      m_->attention_maps(random_ids(rng, c().vocab, {T, T}, T, c().pad_id, c().eos_id));
  EXPECT_EQ(maps.empty(), !info().has_attention);
  for (const models::AttentionMap& map : maps) {
    EXPECT_EQ(map.kind, models::AttentionKind::decoder_self);
    ASSERT_EQ(map.weights.dim(), 4);
    ASSERT_EQ(map.weights.size(0), B);
    ASSERT_EQ(map.weights.size(2), T);
    ASSERT_EQ(map.weights.size(3), T);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < map.weights.size(1); ++h)
        for (int64_t i = 0; i < T; ++i)
          for (int64_t j = i + 1; j < T; ++j)
            EXPECT_EQ(map.weights.at({b, h, i, j}), 0.0)
                << "layer " << map.layer << " at [" << b << ", " << h << ", " << i << ", " << j << "]";
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, ArchitectureConformance, ::testing::ValuesIn(architectures()), param_name);
INSTANTIATE_TEST_SUITE_P(Registry, SequenceToSequenceConformance,
                         ::testing::ValuesIn(architectures(Task::sequence_to_sequence)), param_name);
INSTANTIATE_TEST_SUITE_P(Registry, ClassifierConformance, ::testing::ValuesIn(architectures(Task::classification)),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Registry, LanguageModelConformance, ::testing::ValuesIn(architectures(Task::language_model)),
                         param_name);

// ============================================================================================
// The toys through the registry and app::train: a new family is one file plus one registration.
// ============================================================================================

class ConformanceToys : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("attend_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(ConformanceToys, AreRegisteredBesideTheBuiltIns) {
  const std::vector<std::string> names = models::architecture_names();
  for (const char* n : {"rnnsearch", "transformer", "gpt", "toy_seq2seq", "toy_classifier", "toy_lm"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(models::architecture("toy_classifier").task, Task::classification);
  EXPECT_EQ(models::architecture("toy_lm").task, Task::language_model);
  // Each suite above runs on at least its task's toy.
  for (const Task t : {Task::sequence_to_sequence, Task::classification, Task::language_model})
    EXPECT_FALSE(architectures(t).empty());
}

// The mean cross-entropy of a classifier over examples (source ids, label).
double classifier_loss(models::Classifier& m, const std::vector<data::Example>& examples) {
  NoGrad no_grad;
  double total = 0.0;
  for (const data::Example& e : examples) {
    const auto n = static_cast<int64_t>(e.source.size());
    const Tensor logits = m.classify(Source::of_tokens(Index(e.source, Shape{1, n}), {n})).logits;
    total += cross_entropy(logits, Index({e.label})).item();
  }
  return total / static_cast<double>(examples.size());
}

TEST_F(ConformanceToys, AppTrainTrainsTheToyClassifierAndItsCheckpointLoads) {
  // Sentiment of a bag of words: the label is "pos" when a positive word occurs, else "neg".
  const std::vector<std::string> positive{"good", "great", "fine", "nice"}, negative{"bad", "awful", "poor", "sad"},
      filler{"the", "movie", "was", "a", "plot"};
  Rng rng(5);
  const auto pick = [&](const std::vector<std::string>& words) {
    return words[static_cast<size_t>(rng.uniform() * static_cast<double>(words.size()))];
  };
  std::ofstream tsv(path("train.tsv"));
  for (int i = 0; i < 48; ++i) {
    const bool pos = i % 2 == 0;
    std::vector<std::string> words{pick(filler), pick(pos ? positive : negative)};
    for (int k = i % 3; k > 0; --k) words.push_back(pick(filler));
    std::string text;
    for (const std::string& w : words) text.append(text.empty() ? "" : " ").append(w);
    tsv << text << "\t" << (pos ? "pos" : "neg") << "\n";
  }
  tsv.close();

  app::TrainRecipe r;
  r.arch = "toy_classifier";
  r.train_tsv = r.valid_tsv = path("train.tsv");
  r.model = {{"embed_dim", "8"}};
  r.batch = 8;
  r.epochs = 100;
  r.max_steps = 20;
  r.lr = 0.05;
  r.schedule = "constant";
  r.out = path("classifier.ckpt");
  r.show_examples = 0;
  std::ostringstream log, out;
  app::TrainResult result = app::train(r, log, out);
  EXPECT_EQ(result.fit.state.updates, 20) << log.str();
  EXPECT_NE(log.str().find("validation:"), std::string::npos) << log.str();

  // The loss on the training data went down from the initial model (same config and seed).
  auto& trained = models::as_task<models::Classifier>(*result.model.model, "trained", "test");
  std::vector<data::Example> examples;
  const data::Tokenizer tok = result.model.spec.source_tokenizer();
  const data::Vocab& vocab = result.model.vocab("source");
  for (const data::Pair& p : data::read_tsv(path("train.tsv")))
    examples.push_back({.source = vocab.encode(tok.tokenize(p.source)), .label = p.target == "pos" ? 1 : 0});
  Rng init(r.seed);
  auto initial_model = models::make_model(*result.model.spec.model, init);
  initial_model->eval();
  auto& initial = models::as_task<models::Classifier>(*initial_model, "initial", "test");
  EXPECT_LT(classifier_loss(trained, examples), 0.9 * classifier_loss(initial, examples));

  app::ModelBundle loaded = app::ModelBundle::load(r.out);
  EXPECT_EQ(loaded.spec.model->architecture(), std::string("toy_classifier"));
  EXPECT_EQ(loaded.spec.labels, (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(loaded.vocab("source"), vocab);
  EXPECT_EQ(loaded.spec.model->to_map(), result.model.spec.model->to_map());
  auto& back = models::as_task<models::Classifier>(*loaded.model, r.out, "test");
  // Two examples padded to one length: several positions, so that the pooling query matters.
  const std::vector<int64_t>& x0 = examples[0].source;
  const std::vector<int64_t>& x1 = examples[2].source;
  ASSERT_GT(x0.size(), 1u);
  ASSERT_GT(x1.size(), x0.size());
  std::vector<int64_t> ids(x1.size() * 2, data::Vocab::kPad);
  std::copy(x0.begin(), x0.end(), ids.begin());
  std::copy(x1.begin(), x1.end(), ids.begin() + static_cast<std::ptrdiff_t>(x1.size()));
  const auto S = static_cast<int64_t>(x1.size());
  const Source src = Source::of_tokens(Index(ids, Shape{2, S}), {static_cast<int64_t>(x0.size()), S});
  const models::ClassifierOutput x = back.classify(src), y = trained.classify(src);
  EXPECT_TRUE(identical(x.logits, y.logits));
  EXPECT_TRUE(identical(x.weights, y.weights));
}

TEST_F(ConformanceToys, AppTrainTrainsTheToyLanguageModelAndItsCheckpointLoads) {
  std::ofstream text(path("train.txt"));
  const char* lines[] = {"the cat sat on the mat", "the dog sat on the log", "a cat and a dog",
                         "the mat and the log", "on the mat sat a cat", "a dog on a log"};
  for (int i = 0; i < 4; ++i)
    for (const char* l : lines) text << l << "\n";
  text.close();

  app::TrainRecipe r;
  r.arch = "toy_lm";
  r.train_text = r.valid_text = path("train.txt");
  r.context = 8;
  r.model = {{"embed_dim", "8"}, {"memory", "decay"}};
  r.batch = 4;
  r.max_steps = 12;
  r.lr = 0.05;
  r.schedule = "constant";
  r.out = path("lm.ckpt");
  r.show_examples = 2;  // samples through app::Generator: the toy's steps in a real generation
  std::ostringstream log, out;
  app::TrainResult result = app::train(r, log, out);
  EXPECT_EQ(result.fit.state.updates, 12) << log.str();
  EXPECT_NE(out.str().find("samples"), std::string::npos) << out.str();

  app::ModelBundle loaded = app::ModelBundle::load(r.out);
  auto& back = models::as_task<models::LanguageModel>(*loaded.model, r.out, "test");
  auto& trained = models::as_task<models::LanguageModel>(*result.model.model, "trained", "test");
  EXPECT_EQ(back.max_positions(), 8) << "max_positions left out becomes the recipe's context";
  EXPECT_EQ(loaded.vocab("target"), result.model.vocab("target"));
  const Index tokens({3, 4, 5, 6, 3, 7, 8, 4}, Shape{2, 4});
  EXPECT_TRUE(identical(back.forward(tokens).logits, trained.forward(tokens).logits));
  Rng init(r.seed);
  auto initial_model = models::make_model(*loaded.spec.model, init);
  initial_model->eval();
  auto& initial = models::as_task<models::LanguageModel>(*initial_model, "initial", "test");
  EXPECT_GT(test::max_abs_diff(initial.forward(tokens).logits, trained.forward(tokens).logits), 1e-3)
      << "training changed the weights";
}

TEST_F(ConformanceToys, AppTrainTrainsTheToySequenceToSequenceModelAndItsCheckpointLoads) {
  app::TrainRecipe r;
  r.arch = "toy_seq2seq";
  r.task = "reverse";
  r.train_size = 64;
  r.valid_size = 8;
  r.task_max_length = 5;
  r.valid_decode = 8;  // greedy decoding of the validation pairs through app::Translator
  r.batch = 16;
  r.max_steps = 8;
  r.out = path("s2s.ckpt");
  r.show_examples = 2;
  std::ostringstream log, out;
  app::TrainResult result = app::train(r, log, out);
  EXPECT_EQ(result.fit.state.updates, 8) << log.str();
  EXPECT_NE(log.str().find("exact"), std::string::npos) << log.str();
  app::ModelBundle loaded = app::ModelBundle::load(r.out);
  auto& back = models::as_task<models::SequenceToSequence>(*loaded.model, r.out, "test");
  auto& trained = models::as_task<models::SequenceToSequence>(*result.model.model, "trained", "test");
  const Source src = Source::of_tokens(Index({4, 5, 6, 5, 4, 0}, Shape{2, 3}), {3, 2});
  const Index tgt_in({2, 4, 5, 2, 6, 4}, Shape{2, 3});
  const models::ForwardResult x = back.forward(src, tgt_in, {.need_attention = true});
  const models::ForwardResult y = trained.forward(src, tgt_in, {.need_attention = true});
  EXPECT_TRUE(identical(x.logits, y.logits));
  EXPECT_TRUE(identical(x.attention, y.attention));
}

}  // namespace
}  // namespace attend
