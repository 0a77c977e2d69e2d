// MultiheadAttention (Vaswani et al. 2017, "Attention Is All You Need", section 3.2.2): PyTorch's
// nn.MultiheadAttention with batch_first=True, plus grouped-query / multi-query heads (Ainslie et
// al. 2023, Shazeer 2019) and a key/value cache for incremental decoding.
//
//   q = query Wq^T + bq                                 // [B, Tq, H*D]   -> [B, H, Tq, D]
//   k = key   Wk^T + bk                                 // [B, Tk, Hkv*D] -> [B, Hkv, Tk, D]
//   v = value Wv^T + bv                                 // [B, Tk, Hkv*D] -> [B, Hkv, Tk, D]
//   context = scaled_dot_product_attention(q, k, v, mask, dropout on the weights)  // [B, H, Tq, D]
//   output  = concat_heads(context) Wo^T + bo           // [B, Tq, C]
// with C = embed_dim, H = num_heads, D = C / H, Hkv = num_kv_heads (head h reads key/value head
// h / (H / Hkv); Hkv = H is ordinary multi-head attention, Hkv = 1 multi-query).
//
// Parameters, named as PyTorch's state_dict so golden files and checkpoints map one to one:
//   kdim == vdim == C: in_proj_weight [(H + 2 Hkv) D, C], rows [Wq; Wk; Wv] ([3C, C] when Hkv = H)
//   otherwise:         q_proj_weight [C, C], k_proj_weight [Hkv D, kdim], v_proj_weight [Hkv D, vdim]
//   in_proj_bias [(H + 2 Hkv) D] and out_proj.bias [C] when bias is on; out_proj.weight [C, C].
// Initialization as PyTorch: the input projections Xavier-uniform, out_proj.weight U(-1/sqrt(C),
// 1/sqrt(C)), biases zero.
//
// Masks use attend's convention (attention/mask.h): boolean true = MAY attend. PyTorch's
// key_padding_mask and boolean attn_mask mean the opposite (True = ignore); convert them when
// porting (1 - mask). Sizes in the mask refer to the full key length (cached keys included). A
// query row whose keys are all masked gets zero weights and a zero context (PyTorch 1.13: NaN).
//
// Weights: the softmax output before dropout (PyTorch returns it after dropout; identical when
// dropout is off), [B, Tq, Tk] averaged over heads or [B, H, Tq, Tk] per head.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attend/attention/mask.h"
#include "attend/attention/normalizers.h"
#include "attend/core/rng.h"
#include "attend/nn/linear.h"
#include "attend/nn/module.h"

namespace attend::nn {

struct MultiheadAttentionOptions {
  int64_t embed_dim = 0;     // C
  int64_t num_heads = 1;     // H; must divide C
  int64_t num_kv_heads = 0;  // Hkv; 0 = num_heads; must divide H
  int64_t kdim = 0;          // width of `key`; 0 = embed_dim
  int64_t vdim = 0;          // width of `value`; 0 = embed_dim
  bool bias = true;
  double dropout = 0.0;  // on the attention weights, in training mode only
  DType dtype = DType::f32;
  // The normalizer of every head, by name (attention/normalizers.h: softmax, sparsemax, entmax15,
  // entmax-<alpha>, crf-segment, ...). Softmax runs the fused kernel where it applies; any other the
  // composed path. A learned one (crf-segment: psi [H, 2, 2], per head) is this module's parameter
  // "normalizer.<name>".
  std::string normalizer = "softmax";
};

// Projected keys and values of the steps seen so far, per layer, for incremental (self-attention)
// decoding: forward() appends the new step's k/v and attends the new queries against all of them;
// with Mask::causal (bottom-right) this equals the full causal computation row by row. The cached
// tensors keep their autograd history while grad mode is on, so decode under NoGrad.
//
// Without gradients (decoding), appends write into buffers with room to grow (k and v are then
// views of their first T_cached positions), so a step copies its own keys and values, not the
// whole cache. Copies of a cache share the buffers; `used` (shared too) records how many positions
// hold data, and a cache appends in place only if nobody appended past its own length, so two
// copies that diverge never overwrite each other. select() gathers rows into new buffers of the
// same capacity (a beam's reordering).
struct KVCache {
  Tensor k;  // [B, Hkv, T_cached, D], undefined while empty
  Tensor v;  // [B, Hkv, T_cached, D]
  int64_t length() const { return k.defined() ? k.size(2) : 0; }
  void clear() { *this = KVCache{}; }
  // Appends k_new, v_new [B, Hkv, t, D] (autograd-tracked concatenation while grad mode is on).
  void append(const Tensor& k_new, const Tensor& v_new);
  // The cache of rows `rows` (each in [0, B)), in that order.
  KVCache select(const std::vector<int64_t>& rows) const;

  Tensor k_buf, v_buf;            // [B, Hkv, capacity, D] when appended without gradients
  std::shared_ptr<int64_t> used;  // positions of the buffers that hold data
};

// The self-attention caches of the L layers of a stack in one buffer [N, L, 2, Hkv, capacity, D]
// (layer l's keys at [:, l, 0], its values at [:, l, 1]), so that a beam's reordering of the rows
// is one gather for every layer, of the positions in use only, and no copy at all when the rows
// keep their order (the buffer is then shared; the `used` rule of KVCache keeps two states that
// diverge from overwriting each other: reserve() gives the second one its own copy).
//
//   stack.reserve(N, T + t);                        // before each step of t new positions
//   layer l: mha.forward(..., {.cache = &stack[l]}) // appends in place, into the stack's buffer
//   stack = stack.select(rows);                     // beam bookkeeping
//
// Without gradients only (decoding).
class KVCacheStack {
 public:
  KVCacheStack() = default;
  // Error "[KVCacheStack] ..." for non-positive sizes.
  KVCacheStack(int64_t layers, int64_t kv_heads, int64_t head_dim, DType dtype);
  // Room for `need` positions of `rows` rows in every layer, each layer's cache holding the same
  // positions (a step then appends in place). Moves the caches into a new buffer when there is no
  // room, when the rows changed or when a copy sharing the buffer appended first.
  void reserve(int64_t rows, int64_t need);
  KVCache& operator[](int64_t layer) { return layers_[static_cast<size_t>(layer)]; }
  int64_t layers() const { return static_cast<int64_t>(layers_.size()); }
  int64_t rows() const { return rows_; }
  int64_t length() const { return layers_.empty() ? 0 : layers_.front().length(); }
  // The stack of rows `rows` (each in [0, rows())): one gather of every layer's positions in use
  // into a new buffer of the same capacity, or a shared buffer when rows is 0, 1, ..., rows() - 1.
  KVCacheStack select(const std::vector<int64_t>& rows) const;

 private:
  // Points layer l's cache at its planes of buf_ (positions [0, length)).
  void bind(int64_t length);
  int64_t kv_heads_ = 0, head_dim_ = 0, rows_ = 0;
  DType dtype_ = DType::f32;
  Tensor buf_;  // [N, L, 2, Hkv, capacity, D]
  std::vector<KVCache> layers_;
};

struct MhaCallOptions {
  bool need_weights = false;
  bool average_attn_weights = true;  // [B, Tq, Tk]; false: per head [B, H, Tq, Tk]
  KVCache* cache = nullptr;          // when set: append this call's k/v, attend over the whole cache
};

struct MhaOutput {
  Tensor output;   // [B, Tq, C]
  Tensor weights;  // undefined unless need_weights
};

class MultiheadAttention : public Module {
 public:
  MultiheadAttention(const MultiheadAttentionOptions& opt, Rng& rng);

  // query [B, Tq, C], key [B, Tk, kdim], value [B, Tk, vdim] (self attention: the same tensor
  // three times). Errors "[MultiheadAttention] ..." name the offending shapes.
  MhaOutput forward(const Tensor& query, const Tensor& key, const Tensor& value, const attention::Mask& mask = {},
                    const MhaCallOptions& opt = {});

  // Keys and values projected once, for cross-attention during incremental decoding: key
  // [B, Tk, kdim], value [B, Tk, vdim] -> k, v [B, Hkv, Tk, D]. forward_kv(query, kv) then equals
  // forward(query, key, value) at a query projection's cost per step.
  KVCache project_kv(const Tensor& key, const Tensor& value) const;
  // query [B, Tq, C] against keys and values that project_kv made (opt.cache is not read); the
  // mask's sizes refer to Tk = kv.length().
  MhaOutput forward_kv(const Tensor& query, const KVCache& kv, const attention::Mask& mask = {},
                       const MhaCallOptions& opt = {});

  const MultiheadAttentionOptions& options() const { return opt_; }
  int64_t head_dim() const { return head_dim_; }
  bool packed_in_proj() const { return in_proj_weight.defined(); }
  // The stream dropout draws from (seeded from the constructor's rng); reseed to reproduce a run.
  Rng& dropout_rng() { return dropout_rng_; }

  Tensor in_proj_weight;  // [(H + 2 Hkv) D, C] when kdim == vdim == C
  Tensor q_proj_weight;   // [C, C]        otherwise
  Tensor k_proj_weight;   // [Hkv D, kdim] otherwise
  Tensor v_proj_weight;   // [Hkv D, vdim] otherwise
  Tensor in_proj_bias;    // [(H + 2 Hkv) D] when bias
  Linear out_proj;        // weight [C, C], bias [C] when bias

 private:
  void check_inputs(const Tensor& query, const Tensor& key, const Tensor& value, const attention::Mask& mask,
                    const KVCache* cache) const;
  void check_query(const Tensor& query) const;
  void check_mask(const attention::Mask& mask, int64_t B, int64_t Tq, int64_t Tk) const;
  // The rows of the packed projection (or the separate weights) and biases of q, k and v.
  struct Projections {
    Tensor wq, wk, wv, bq, bk, bv;
  };
  Projections projections() const;
  // Attention of projected q [B, H, Tq, D] over k, v [B, Hkv, Tk, D], then the output projection.
  MhaOutput attend_heads(const Tensor& q, const Tensor& k, const Tensor& v, const attention::Mask& mask,
                         const MhaCallOptions& opt);

  MultiheadAttentionOptions opt_;
  int64_t head_dim_;
  Rng dropout_rng_;
  attention::Normalizer normalizer_;
};

}  // namespace attend::nn
