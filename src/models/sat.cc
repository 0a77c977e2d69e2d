// Show, Attend and Tell (sat.h has the equations). The recurrent part runs step by step; the deep
// output runs once over all steps.
#include "attend/models/sat.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "attend/attention/attention.h"
#include "attend/models/encoder_decoder.h"
#include "attend/nn/embedding.h"
#include "attend/nn/linear.h"
#include "attend/nn/rnn.h"
#include "attend/ops/ops.h"
#include "internal.h"
#include "models.h"

namespace attend::models {

namespace {

constexpr const char* kOp = "sat";

constexpr std::pair<const char*, SatAttention> kSatAttentionNames[] = {{"soft", SatAttention::soft},
                                                                       {"hard", SatAttention::hard}};

// The annotations (keys and values of the attention), their projection by W_k, and (h_0, c_0).
struct SatMemory : internal::AttentionMemory {
  Tensor h0, c0;  // [B, H]
};

class SatState : public DecoderState {
 public:
  int64_t rows() const override { return h.size(0); }
  std::unique_ptr<DecoderState> select(const std::vector<int64_t>& rows) const override {
    auto out = std::make_unique<SatState>();
    out->memory = memory.select(rows);
    out->h = internal::select_rows(h, 0, rows);
    out->c = internal::select_rows(c, 0, rows);
    return out;
  }
  // The regions, not the picture's pixels.
  std::vector<int64_t> attention_lengths() const override { return memory.get().lengths; }
  internal::MemoryRows memory;
  Tensor h, c;  // [N, H]
};

// One 3 x 3 convolution of the encoder, its weights as PyTorch's Conv2d initializes them.
class Conv3x3 : public nn::Module {
 public:
  Conv3x3(int64_t in, int64_t out, Rng& rng) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in * 9));
    weight = Tensor::uniform(Shape{out, in, 3, 3}, rng, -bound, bound);
    bias = Tensor::uniform(Shape{out}, rng, -bound, bound);
    register_parameter("weight", weight);
    register_parameter("bias", bias);
  }
  // x [B, in, h, w] -> max_pool(relu(conv(x))) [B, out, h / 2, w / 2]
  Tensor block(const Tensor& x) const {
    return max_pool2d(relu(conv2d(x, weight, bias, {.pad_h = 1, .pad_w = 1})), {});
  }
  Tensor weight, bias;
};

// The encoder's convolutions, "cnn.<i>.*".
class ConvStack : public nn::Module {
 public:
  ConvStack(const SatConfig& c, Rng& rng) {
    int64_t in = c.channels;
    for (int64_t i = 0; i < c.conv_layers; ++i) {
      convs.push_back(std::make_unique<Conv3x3>(in, c.conv_width(i), rng));
      register_module(std::to_string(i), *convs.back());
      in = c.conv_width(i);
    }
  }
  // [B, C, S, S] -> [B, F, G, G]
  Tensor forward(Tensor x) const {
    for (const auto& conv : convs) x = conv->block(x);
    return x;
  }
  std::vector<std::unique_ptr<Conv3x3>> convs;
};

class Sat : public EncoderDecoder {
 public:
  Sat(const SatConfig& c, Rng& rng)
      : EncoderDecoder(c, rng),
        c_(static_cast<const SatConfig&>(*config_)),
        cnn_(c, rng),
        init_h_(c.feature_dim, c.hidden_dim, rng),
        init_c_(c.feature_dim, c.hidden_dim, rng),
        attention_(c.hidden_dim, c.feature_dim, c.attention_dim, rng),
        embed_(c.tgt_vocab, c.embed_dim, c.pad_id, rng),
        decoder_({.input_size = c.embed_dim + c.feature_dim, .hidden_size = c.hidden_dim}, rng),
        readout_(c.hidden_dim + c.feature_dim, c.embed_dim, rng),
        output_(c.embed_dim, c.tgt_vocab, rng) {
    register_module("cnn", cnn_);
    register_module("init_h", init_h_);
    register_module("init_c", init_c_);
    register_module("attention", attention_);
    if (c.gate) {
      gate_ = std::make_unique<nn::Linear>(c.hidden_dim, 1, rng);
      register_module("gate", *gate_);
    }
    register_module("embed", embed_);
    register_module("decoder", decoder_);
    register_module("readout", readout_);
    register_module("output", output_);
  }

  std::shared_ptr<const Memory> encode(const Source& src) override {
    const int64_t B = src.batch(), G = c_.grid();
    Tensor x = cnn_.forward(internal::picture_tensor(kOp, src, c_.image_size, c_.channels, c_.pixel_mean,
                                                     c_.pixel_std, init_h_.weight.dtype()));  // [B, F, G, G]
    const Tensor a = transpose(reshape(x, {B, c_.feature_dim, G * G}), 1, 2);        // [B, R, F]
    auto m = std::make_shared<SatMemory>();
    const Tensor mean_a = mean(a, {1});                                              // [B, F]
    m->h0 = tanh(init_h_.forward(mean_a));
    m->c0 = tanh(init_c_.forward(mean_a));
    m->keys = contiguous(a);
    m->projected = attention_.score.project_keys(m->keys);  // [B, R, A]
    m->lengths.assign(static_cast<size_t>(B), G * G);       // every region is real
    return m;
  }

  ForwardResult decode(const Memory& memory, const Index& tgt_in, const ForwardOptions& opt) override {
    const auto& m = internal::memory_as<SatMemory>(kOp, memory);
    internal::check_target(kOp, c_.tgt_vocab, m.rows(), tgt_in);
    const bool training = is_training();
    const bool hard = c_.attention == SatAttention::hard;
    nn::LSTMState s{m.h0, m.c0};
    const int64_t B = tgt_in.shape[0], T = tgt_in.shape[1];
    const Tensor emb = embed_.forward(tgt_in);  // [B, T, E]
    std::vector<Tensor> states, contexts, weights, chosen_log;
    for (int64_t t = 0; t < T; ++t) {
      const Tensor e_t = squeeze(slice(emb, 1, t, t + 1), 1);  // [B, E]
      Step r = advance(e_t, s, m, training && hard);
      s = r.s;
      states.push_back(r.s.h);
      contexts.push_back(r.z);
      weights.push_back(r.alpha);
      if (r.chosen_log.defined()) chosen_log.push_back(r.chosen_log);
    }
    ForwardResult out;
    out.logits = logits_of(stack(states, 1), emb, stack(contexts, 1), training);  // [B, T, V]
    const Tensor alpha = stack(weights, 1);                                       // [B, T, R]
    if (opt.need_attention) out.attention = alpha;
    if (!training) return out;
    // The real positions: tgt_in is BOS y_1 .. y_n then padding, so step t is real iff tgt_in[t]
    // is not padding; M of them (the objective's target tokens).
    std::vector<float> real(static_cast<size_t>(B * T));
    double M = 0;
    for (size_t i = 0; i < real.size(); ++i) M += real[i] = tgt_in.data[i] != c_.pad_id ? 1.0f : 0.0f;
    const Tensor step_mask = to_dtype(Tensor::from_vector(real, Shape{B, T}), alpha.dtype());
    if (!hard && c_.doubly_stochastic > 0) {
      const Tensor cover = sum(mul(alpha, unsqueeze(step_mask, 2)), {1});  // [B, R]
      out.aux.push_back({"doubly_stochastic", mul(sum(square(add(neg(cover), 1.0))), c_.doubly_stochastic / M)});
    }
    if (hard) {
      // r_b = sum_t log p(y_t) of the caption under the sampled regions (no gradient).
      const std::vector<double> reward = caption_log_probs(out.logits, tgt_in, real);
      double mean_reward = 0;
      for (const double r : reward) mean_reward += r / static_cast<double>(B);
      if (!baseline_seen_) baseline_ = mean_reward, baseline_seen_ = true;  // the first batch starts it
      std::vector<float> advantage(static_cast<size_t>(B));
      for (int64_t b = 0; b < B; ++b)
        advantage[static_cast<size_t>(b)] = static_cast<float>(reward[static_cast<size_t>(b)] - baseline_);
      baseline_ = c_.baseline_decay * baseline_ + (1.0 - c_.baseline_decay) * mean_reward;
      const Tensor log_chosen = sum(mul(stack(chosen_log, 1), step_mask), {1});  // [B]
      const Tensor surrogate =
          mul(sum(mul(log_chosen, to_dtype(Tensor::from_vector(advantage, Shape{B}), alpha.dtype()))), -1.0 / M);
      // The surrogate's value means nothing (only its gradient does): it enters the loss as
      // surrogate - value, 0, so the logged loss stays the captions' cross-entropy.
      out.aux.push_back({"reinforce", add(surrogate, -surrogate.item())});
      if (c_.entropy_bonus > 0) {
        const Tensor entropy = neg(sum(mul(alpha, log(add(alpha, 1e-12))), {2}));  // [B, T]
        out.aux.push_back({"entropy", mul(sum(mul(entropy, step_mask)), -c_.entropy_bonus / M)});
      }
    }
    return out;
  }

  std::unique_ptr<DecoderState> init_state(std::shared_ptr<const Memory> memory) override {
    auto m = internal::memory_as<SatMemory>(kOp, std::move(memory));
    auto state = std::make_unique<SatState>();
    state->h = m->h0;
    state->c = m->c0;
    state->memory = internal::memory_rows(std::move(m));
    return state;
  }

  StepOutput step(DecoderState& base, const Index& tokens) override {
    auto& state = internal::step_state<SatState>(kOp, c_.tgt_vocab, base, tokens);
    NoGrad no_grad;
    internal::EvalGuard eval(*this);
    Tensor e;
    Step r;
    for (int64_t c = 0; c < internal::step_length(tokens); ++c) {
      e = embed_.forward(Index(internal::step_column(tokens, c)));  // [N, E]
      r = advance(e, {state.h, state.c}, state.memory.get(), false);
      state.h = r.s.h;
      state.c = r.s.c;
    }
    return {internal::step_log_probs(logits_of(r.s.h, e, r.z, false)), r.alpha};
  }

 private:
  struct Step {
    nn::LSTMState s;   // h_t, c_t [N, H]
    Tensor z;          // [N, F]
    Tensor alpha;      // [N, R]
    Tensor chosen_log;  // [N] log alpha_{t, s_t} (hard attention, training)
  };


  // alpha_t and z_t from h_{t-1}, then (h_t, c_t) = LSTM([E y_{t-1}; z_t], (h_{t-1}, c_{t-1})).
  // sample: hard attention draws the region; otherwise hard attention takes the arg max.
  Step advance(const Tensor& e_prev, const nn::LSTMState& prev, const internal::AttentionMemory& m, bool sample) {
    const Tensor scores = attention_.score.scores_projected(unsqueeze(prev.h, 1), m.projected);  // [N, 1, R]
    const attention::AttentionResult a =
        attention::attend(scores, m.keys, {.key_lengths = m.lengths}, {.need_weights = true, .op = kOp});
    Step r;
    r.alpha = squeeze(a.weights, 1);  // [N, R]
    if (c_.attention == SatAttention::soft) {
      r.z = squeeze(a.context, 1);  // [N, F]
    } else {
      const Index chosen = sample ? draw(r.alpha) : argmax(r.alpha, 1);  // [N]
      const Index at(chosen.data, Shape{chosen.numel(), 1});
      r.z = squeeze(gather(m.keys, 1, Index(expand_index(at, m.keys.size(2)), Shape{at.numel(), 1, m.keys.size(2)})), 1);
      if (sample) r.chosen_log = squeeze(log(add(gather(r.alpha, 1, at), 1e-12)), 1);  // [N]
    }
    if (gate_) r.z = mul(r.z, sigmoid(gate_->forward(prev.h)));  // beta_t [N, 1]
    r.s = decoder_.forward(concat({e_prev, r.z}, 1), prev);
    return r;
  }

  // ids [N, 1] repeated along a last axis of F: [N * F] in row order.
  static std::vector<int64_t> expand_index(const Index& at, int64_t F) {
    std::vector<int64_t> out;
    out.reserve(static_cast<size_t>(at.numel() * F));
    for (const int64_t i : at.data) out.insert(out.end(), static_cast<size_t>(F), i);
    return out;
  }

  // One region per row drawn from alpha [N, R] with the model's dropout stream.
  Index draw(const Tensor& alpha) {
    NoGrad no_grad;
    const Tensor p = contiguous(to_dtype(alpha, DType::f32));
    const int64_t N = p.size(0), R = p.size(1);
    const Tensor u = Tensor::uniform(Shape{N}, dropout_rng_);
    std::vector<int64_t> out(static_cast<size_t>(N));
    const float* pp = p.data<float>();
    for (int64_t n = 0; n < N; ++n) {
      const double target = u.data<float>()[n];
      double acc = 0;
      int64_t i = 0;
      for (; i < R - 1; ++i) {
        acc += pp[n * R + i];
        if (acc > target) break;
      }
      out[static_cast<size_t>(n)] = i;
    }
    return Index(std::move(out), Shape{N});
  }

  // sum over the real steps of log softmax(logits)[t, y_t], per row; y_t is tgt_in[t + 1], and EOS
  // at the step after the last word.
  std::vector<double> caption_log_probs(const Tensor& logits, const Index& tgt_in, const std::vector<float>& real) {
    NoGrad no_grad;
    const Tensor lp = contiguous(to_dtype(log_softmax(logits, 2), DType::f32));  // [B, T, V]
    const int64_t B = tgt_in.shape[0], T = tgt_in.shape[1], V = lp.size(2);
    std::vector<double> out(static_cast<size_t>(B), 0.0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        if (real[static_cast<size_t>(b * T + t)] == 0.0f) continue;
        const int64_t next = t + 1 < T ? tgt_in.data[static_cast<size_t>(b * T + t + 1)] : c_.pad_id;
        const int64_t y = next == c_.pad_id ? c_.eos_id : next;
        out[static_cast<size_t>(b)] += lp.data<float>()[(b * T + t) * V + y];
      }
    return out;
  }

  // Deep output: L_o dropout(E y_{t-1} + L_hz [h_t; z_t]), over any leading dims.
  Tensor logits_of(const Tensor& h, const Tensor& e, const Tensor& z, bool training) {
    const int last = h.dim() - 1;
    const Tensor t = add(e, readout_.forward(concat({h, z}, last)));  // [..., E]
    return output_.forward(dropout(t, c_.dropout, training, dropout_rng_));
  }

  const SatConfig& c_;
  ConvStack cnn_;
  nn::Linear init_h_, init_c_;
  internal::AdditiveAttention attention_;
  std::unique_ptr<nn::Linear> gate_;
  nn::Embedding embed_;
  nn::LSTMCell decoder_;
  nn::Linear readout_;  // [E, H + F]
  nn::Linear output_;   // [V, E]
  double baseline_ = 0.0;  // the moving average of the rewards (hard attention)
  bool baseline_seen_ = false;
};

}  // namespace

int64_t SatConfig::conv_width(int64_t i) const {
  if (i == conv_layers - 1) return feature_dim;
  return std::min(cnn_width << std::min<int64_t>(i, 20), feature_dim);
}

std::vector<Field> SatConfig::arch_fields() {
  std::vector<Field> f = internal::picture_fields(image_size, channels, pixel_mean, pixel_std);
  f.insert(f.end(), {
          int_field("conv_layers", "--conv-layers", "encoder blocks (3x3 convolution, ReLU, 2x2 max pooling)",
                    conv_layers, 1, 8),
          int_field("cnn_width", "--cnn-width", "channels of the first convolution (doubling per block)", cnn_width),
          int_field("feature_dim", "--features", "channels of the region features F", feature_dim),
          int_field("embed_dim", "--embed", "word embedding width", embed_dim),
          int_field("hidden_dim", "--hidden", "LSTM state width", hidden_dim),
          int_field("attention_dim", "--attention-dim", "additive attention width", attention_dim),
          real_field("dropout", "--dropout", "dropout on the deep output", dropout, 0.0, 1.0),
          choice_field("attention", "--sat-attention", "soft (expected annotation) or hard (sampled region, REINFORCE)",
                       attention, kSatAttentionNames),
          bool_field("gate", "--gate", "the gating scalar beta on the context", gate),
          real_field("doubly_stochastic", "--doubly-stochastic",
                     "lambda of the doubly stochastic regularization (soft attention; 0: off)", doubly_stochastic, 0.0,
                     1e6),
          real_field("entropy_bonus", "--entropy-bonus", "weight of the attention entropy bonus (hard attention)",
                     entropy_bonus, 0.0, 1e6),
          real_field("baseline_decay", "--baseline-decay", "decay of the moving-average reward baseline (hard)",
                     baseline_decay, 0.0, 1.0)});
  return f;
}

void SatConfig::check_more() const {
  ATTEND_CHECK(src_vocab == 0, op(), "key 'src_vocab': ", src_vocab, " must be 0 (sat reads images, not tokens)");
  ATTEND_CHECK((image_size >> conv_layers) >= 1 && (image_size >> conv_layers) << conv_layers == image_size, op(),
               "key 'image_size': ", image_size, " is not divisible by 2^conv_layers = ", int64_t{1} << conv_layers);
}

ArchitectureInfo sat_architecture() {
  return {.name = SatConfig::kName,
          .summary = "Xu et al. 2015 (Show, Attend and Tell): CNN region features, LSTM decoder with soft or hard "
                     "attention over the regions (images)",
          .task = Task::sequence_to_sequence,
          .has_attention = true,
          .source = SourceKind::features,
          .make_config = [] { return std::make_unique<SatConfig>(); },
          .make_model = [](const ModelConfig& c, Rng& rng) -> std::unique_ptr<Model> {
            return std::make_unique<Sat>(internal::config_as<SatConfig>(kOp, c), rng);
          }};
}

}  // namespace attend::models
