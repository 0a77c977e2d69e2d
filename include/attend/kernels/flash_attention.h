// Fused scaled-dot-product attention on the CPU (FlashAttention-2, Dao 2023), forward and
// backward, on raw float pointers. The attention layer wraps it for Tensors; this header is the
// whole contract.
//
//   S = scale * Q K^T + M_add            (masked entries: S = -inf)       // [B, H, Tq, Tk]
//   P = softmax_rows(S)                                                   // [B, H, Tq, Tk]
//   O = dropout(P) V                                                      // [B, H, Tq, D]
//   LSE[b, h, i] = log(sum_j exp(S[b, h, i, j]))   (natural log)          // [B, H, Tq]
//
// Q K^T is never materialized: the kernel walks tiles of Br queries x Bc keys and keeps an online
// softmax (running max m, running sum l, rescaled output) per query row, so the extra memory is
// O(threads * tile) for the forward and O(threads * tile + B * H * Tq) for the backward.
// docs/flash_attention.md derives the recurrences and the backward.
//
// Shapes (outermost first) and layouts:
//   q, o, dout, dq : [B, H, Tq, D]      k, v, dk, dv : [B, Hkv, Tk, D]      lse : [B, H, Tq]
//   Every 4-d operand is described by element strides for (batch, head, token); the stride along D
//   is 1. So both contiguous [B, H, T, D] tensors and [B, T, H, D] views from a projection
//   (strides {T*H*D, D, H*D}) work without a copy.
//   Grouped-query / multi-query attention: Hkv divides H; query head h reads kv head h / (H / Hkv).
//
// Masks (DESIGN.md section 3; all combinable, an entry is kept only if every mask keeps it):
//   - kv_len[b]: key j is valid iff j < kv_len[b] (key padding; nullptr = all Tk keys).
//   - causal: query i sees keys j <= p(i), with p(i) = i + Tk - Tq (CausalAlign::BottomRight, the
//     default: what incremental decoding with a cache needs) or p(i) = i (TopLeft).
//   - sliding window (left, right), -1 = unbounded: query i sees keys p(i) - left <= j <= p(i) +
//     right, with p(i) aligned as for causal (window.align).
//   - bool_mask: true = may attend; float additive_mask: added to the scaled scores (finite or
//     -inf). Both are broadcastable to [B, H, Tq, Tk] by element strides (stride 0 = broadcast).
//   A query row whose keys are all masked gets O = 0, LSE = -inf, and zero, finite gradients.
//
// Dropout on the weights (p, seed, offset): element (b, h, i, j) of P is kept iff
//     attend::philox_uniform(seed, offset, ((b * H + h) * Tq + i) * Tk + j) >= p
// and kept weights are scaled by 1 / (1 - p). The backward regenerates the same mask from the same
// (seed, offset), so a composed (unfused) path that uses this counter formula draws the identical
// mask. LSE always describes P before dropout.
//
// Numerics: f32 inputs, f32 accumulation; e^y is computed as 2^(y log2 e) through a degree-6
// polynomial (about 1-2 ulp); masked weights are exactly 0. The backward recomputes the scores
// bit-identically to the forward, so P = e^((S - lse) - lse_lo) is exact up to the f32 rounding of
// log l (with lse_lo; without it, up to the f32 rounding of LSE, which grows with |LSE|).
// Results are deterministic: bit-identical for any thread count and across runs, for a given
// instruction set (ATTEND_ISA=generic|avx2|avx512 forces one; instruction sets differ in rounding,
// all within the FlashAttention tolerance of twice the error of a naive f32 composition).
// Fast paths: D a multiple of the vector width (16 floats with AVX-512: D = 32, 64, 128, ...);
// other D pad rows in the backward and work at lower speed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attend::kernels {

// A 4-d operand [B, heads, T, D] with unit stride along D.
template <typename T>
struct FlashTensor {
  T* data = nullptr;
  int64_t stride_b = 0;  // elements between batches
  int64_t stride_h = 0;  // elements between heads
  int64_t stride_t = 0;  // elements between tokens
};

// Strides of a contiguous [B, heads, T, D] tensor.
template <typename T>
FlashTensor<T> flash_contiguous(T* data, int64_t heads, int64_t tokens, int64_t head_dim) {
  return {.data = data, .stride_b = heads * tokens * head_dim, .stride_h = tokens * head_dim, .stride_t = head_dim};
}

// A mask operand broadcastable to [B, H, Tq, Tk]: element (b, h, i, j) lives at
// data[b * stride_b + h * stride_h + i * stride_q + j * stride_k]; a broadcast dim has stride 0.
template <typename T>
struct FlashMaskTensor {
  const T* data = nullptr;  // nullptr = no such mask
  int64_t stride_b = 0;
  int64_t stride_h = 0;
  int64_t stride_q = 0;
  int64_t stride_k = 0;
};

enum class CausalMode { None, BottomRight, TopLeft };

struct FlashMask {
  CausalMode causal = CausalMode::None;
  // Sliding window; -1 = unbounded on that side. Aligned like causal (bottom-right unless
  // window_align is TopLeft).
  int64_t window_left = -1;
  int64_t window_right = -1;
  CausalMode window_align = CausalMode::BottomRight;  // BottomRight or TopLeft
  const int64_t* kv_len = nullptr;                    // [B] valid keys per batch, nullptr = Tk
  FlashMaskTensor<bool> bool_mask;                    // true = may attend
  FlashMaskTensor<float> additive_mask;               // added to the scaled scores
};

struct FlashDropout {
  float p = 0.0f;  // drop probability in [0, 1)
  uint64_t seed = 0;
  uint64_t offset = 0;
};

// Reported by a call when FlashParams::stats is set (the benchmark reads it).
struct FlashStats {
  int64_t workspace_bytes = 0;  // peak bytes the call allocated beyond its inputs and outputs
  const char* isa = "";         // instruction set that ran
};

struct FlashParams {
  int64_t B = 0, H = 0, Hkv = 0, Tq = 0, Tk = 0, D = 0;
  FlashTensor<const float> q;  // [B, H, Tq, D]
  FlashTensor<const float> k;  // [B, Hkv, Tk, D]
  FlashTensor<const float> v;  // [B, Hkv, Tk, D]
  FlashTensor<float> o;        // [B, H, Tq, D]   forward output (backward input)
  float* lse = nullptr;        // [B, H, Tq]      forward output (backward input)
  int64_t lse_stride_b = 0;    // 0 = contiguous (H * Tq)
  int64_t lse_stride_h = 0;    // 0 = contiguous (Tq); the stride along Tq is 1
  // Optional low part of the LSE, [B, H, Tq] with lse's strides: the forward writes it, the
  // backward and flash_attention_weights read it. lse + lse_lo (an unevaluated sum of two floats)
  // equals m + log(l) to about f32 precision of log(l), so P = e^((S - lse) - lse_lo) does not
  // inherit the rounding of lse (half an ulp of |LSE|: 1e-4 at |LSE| = 2400), which would otherwise
  // scale whole rows of the recomputed P for large logits. 0 for fully masked rows.
  // nullptr: only lse is written/read (lse_lo taken as 0, the less accurate behaviour).
  float* lse_lo = nullptr;
  std::optional<float> scale;  // default 1 / sqrt(D)
  // No backward and no flash_attention_weights call will read this forward's LSE. A forward of
  // few queries (Tq <= lanes / 4, no dropout: a decoding step) then computes the scores with
  // vectors along D, reduced across lanes, instead of in the backward's rounding order: the same
  // values to f32 rounding, and every lane busy (docs/performance.md, "GPT generation").
  bool inference_only = false;
  FlashMask mask;
  FlashDropout dropout;
  FlashStats* stats = nullptr;  // optional report
};

// The backward reads q, k, v, o, lse, lse_lo, mask, dropout from `fwd` (o, lse and lse_lo as
// written by the forward) and writes dq, dk, dv (overwritten, not accumulated).
struct FlashBackwardParams {
  FlashParams fwd;
  FlashTensor<const float> dout;  // [B, H, Tq, D]
  FlashTensor<float> dq;          // [B, H, Tq, D]
  FlashTensor<float> dk;          // [B, Hkv, Tk, D]
  FlashTensor<float> dv;          // [B, Hkv, Tk, D]
};

// Which weights flash_attention_weights recomputes: heads [head_begin, head_end) and query rows
// [row_begin, row_end) of every batch; -1 ends mean H / Tq.
struct FlashWeightsRequest {
  int64_t head_begin = 0, head_end = -1;
  int64_t row_begin = 0, row_end = -1;
  // Output [B, nh, nr, Tk] with nh = head_end - head_begin, nr = row_end - row_begin; element
  // (b, h', i', j) at out[b * stride_b + h' * stride_h + i' * stride_q + j] (0 = contiguous).
  float* out = nullptr;
  int64_t stride_b = 0, stride_h = 0, stride_q = 0;
};

// Forward: writes o [B, H, Tq, D] and lse [B, H, Tq] (and lse_lo [B, H, Tq] if given).
void flash_attention_forward(const FlashParams& p);

// Backward (recomputes P tile by tile from lse, and lse_lo if given): with dS = P * (dP - delta), dP = dO V^T (through
// the dropout mask), delta = rowsum(dO * O):
//   dV = dropout(P)^T dO,  dQ = scale * dS K,  dK = scale * dS^T Q.
// K/V heads shared by a group of query heads sum the group's gradients.
void flash_attention_backward(const FlashBackwardParams& p);

// Exact attention weights P (after masking, before dropout) for the requested heads and rows,
// recomputed from q, k, the masks and the lse (and lse_lo if given) of a previous forward. Fully
// masked rows give 0.
void flash_attention_weights(const FlashParams& p, const FlashWeightsRequest& req);

// out[e] = attend::philox_uniform(seed, 0, first + e) for e < n, bit for bit (core/rng.h: word
// (first + e) % 4 of Philox4x32-10 at counter (first + e) / 4, 24 bits as a float in [0, 1)), many
// counters per instruction: the uniforms of the kernel's attention dropout, and of the dropout op.
void dropout_uniforms(uint64_t seed, uint64_t first, int64_t n, float* out);

// The dropout op's mask as bits: bit e % 8 of keep[e / 8] is 1 iff
// philox_uniform(seed, 0, first + e) >= p, for e < n (the unused high bits of a last partial byte
// are 0). ceil(n / 8) bytes: a 32nd of a float mask's memory traffic.
void dropout_keep_bits(uint64_t seed, uint64_t first, int64_t n, float p, uint8_t* keep);

// y[e] = x[e] * scale where bit e of keep (as above) is 1, else 0, for e < n; x and y may alias.
// The dropout op's forward (x the input) and backward (x the incoming gradient).
void dropout_apply(const uint8_t* keep, int64_t n, float scale, const float* x, float* y);

// Row-wise softmax (log = false) or log-softmax (log = true) of `rows` contiguous rows of n
// floats, x -> y (distinct buffers): y = e^(x - m) / s or y = x - m - log s, m = the row's max,
// s = sum e^(x - m) accumulated in double over the vector lanes. -inf entries get exactly 0 (or
// -inf); a row of all -inf gives 0 (or -inf). The exponential is the kernel's (relative error
// about 1e-7), the instruction set the dispatcher's; the ops' softmax of float rows runs here.
void softmax_rows(const float* x, float* y, int64_t rows, int64_t n, bool log);

// GELU (the exact erf form) of n contiguous floats, x -> y, and its backward: dx = g * (Phi(x) +
// x phi(x)). erf and exp are fast_math.h's (within 5e-7), vectorized for the dispatcher's
// instruction set; the ops' gelu of float tensors runs here.
void gelu(const float* x, float* y, int64_t n);
void gelu_backward(const float* x, const float* g, float* dx, int64_t n);

// Layer normalization of `rows` contiguous rows of n floats (ops layer_norm's float path):
//   mean, var (biased) of the row, rstd = 1 / sqrt(var + eps), xhat = (x - mean) rstd,
//   y = xhat * w + b (w, b may be null: 1 and 0)
// statistics accumulated in float lanes and combined in double; xhat and rstd kept for backward.
void layer_norm_rows(const float* x, const float* w, const float* b, float* y, float* xhat, double* rstd,
                     int64_t rows, int64_t n, double eps);
// Its backward over the same rows: dx = rstd (g w - mean(g w) - xhat mean(g w xhat)); g xhat and g
// are added to dw_acc and db_acc (double, n each; null when not wanted).
void layer_norm_backward_rows(const float* g, const float* xhat, const float* w, const double* rstd, float* dx,
                              double* dw_acc, double* db_acc, int64_t rows, int64_t n);

// Softmax cross-entropy of `rows` contiguous rows of n logits, in place: row r against target t_r
// (rows whose target is `ignore` give loss 0), label smoothing eps:
//   loss_r = lse - (1 - eps) l_t - eps / n * sum_c l_c           (written to losses[r], double)
// and with grad the row becomes d loss_r / d l times scale: (softmax - eps / n) * scale, minus
// (1 - eps) * scale at t (zeros for an ignored row). lse = m + log s as softmax_rows computes it.
// The fused linear + cross-entropy (ops linear_cross_entropy) runs its chunks of logits here.
void xent_rows(float* l, int64_t rows, int64_t n, const int64_t* targets, int64_t ignore, double eps, double scale,
               bool grad, double* losses);

// The instruction set the dispatcher uses ("generic", "avx2", "avx512"), and why.
const char* flash_isa_name();
std::string flash_isa_reason();
// Every instruction set this machine can run, generic first (tests iterate over them).
std::vector<std::string> supported_isas();
// Forces an instruction set for subsequent calls ("" = automatic / ATTEND_ISA); throws if the
// machine lacks it. Tests use it to run every variant in one process.
void set_flash_isa(const std::string& isa);

}  // namespace attend::kernels
