// Dispatcher of the fused attention kernel: validates the parameters, fills the defaults and picks
// the instruction-set instance (src/kernels/cpu/flash_<isa>.cc) at run time.
//
// Choice: ATTEND_ISA=generic|avx2|avx512 (or set_flash_isa) forces one and fails if the machine
// lacks it; otherwise the widest the CPU and OS support (AVX-512 F/BW/DQ/VL, else AVX2 + FMA, else
// generic).
#include "attend/kernels/flash_attention.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "attend/core/error.h"
#include "attend/core/rng.h"

namespace attend::kernels {

#define ATTEND_FLASH_DECLARE(ns)                                             \
  namespace ns {                                                             \
  void forward(const FlashParams& p);                                        \
  void backward(const FlashBackwardParams& p);                               \
  void weights(const FlashParams& p, const FlashWeightsRequest& r);          \
  void uniforms(uint64_t seed, uint64_t first, int64_t n, float* out);      \
  void keep_bits(uint64_t seed, uint64_t first, int64_t n, float p, uint8_t* keep); \
  void apply_keep(const uint8_t* keep, int64_t n, float scale, const float* x, float* y); \
  void softmax_rows(const float* x, float* y, int64_t rows, int64_t n, bool log); \
  void gelu(const float* x, float* y, int64_t n);                             \
  void gelu_backward(const float* x, const float* g, float* dx, int64_t n);   \
  void xent_rows(float* l, int64_t rows, int64_t n, const int64_t* targets, int64_t ignore, double eps, \
                 double scale, bool grad, double* losses);                   \
  void layer_norm_rows(const float* x, const float* w, const float* b, float* y, float* xhat, double* rstd, \
                       int64_t rows, int64_t n, double eps);                 \
  void layer_norm_backward_rows(const float* g, const float* xhat, const float* w, const double* rstd, float* dx, \
                                double* dw_acc, double* db_acc, int64_t rows, int64_t n); \
  }
ATTEND_FLASH_DECLARE(cpu_generic)
ATTEND_FLASH_DECLARE(cpu_avx2)
ATTEND_FLASH_DECLARE(cpu_avx512)
#undef ATTEND_FLASH_DECLARE

namespace flash_detail {

float dropout_uniform(uint64_t seed, uint64_t offset, uint64_t index) { return philox_uniform(seed, offset, index); }

int64_t backward_chunks(int64_t B, int64_t H, int64_t Hkv, int64_t Tq, int64_t D, int64_t key_tiles) {
  // Enough (batch, kv head, chunk) units to keep a few cores busy, but a function of the shapes
  // only (determinism), and partial dQ buffers capped at 32 MiB.
  constexpr int64_t kUnits = 8;
  constexpr int64_t kPartialBytes = int64_t{32} << 20;
  const int64_t units = B * Hkv;
  int64_t c = units >= kUnits ? 1 : (kUnits + units - 1) / units;
  c = std::min(c, std::max<int64_t>(key_tiles, 1));
  const int64_t per_chunk = B * H * Tq * D * static_cast<int64_t>(sizeof(float));
  if (per_chunk > 0) c = std::min(c, 1 + kPartialBytes / per_chunk);
  return std::max<int64_t>(c, 1);
}

}  // namespace flash_detail

namespace {

enum class Isa { Generic, Avx2, Avx512 };

const char* isa_name(Isa i) {
  switch (i) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    case Isa::Generic:
      break;
  }
  return "generic";
}

bool cpu_has(Isa i) {
  switch (i) {
    case Isa::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    case Isa::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Generic:
      break;
  }
  return true;
}

Isa parse_isa(const std::string& s, const char* source) {
  Isa i;
  if (s == "generic")
    i = Isa::Generic;
  else if (s == "avx2")
    i = Isa::Avx2;
  else if (s == "avx512")
    i = Isa::Avx512;
  else
    throw Error("flash_attention", std::string(source) + "='" + s + "': expected generic, avx2 or avx512");
  ATTEND_CHECK(cpu_has(i), "flash_attention", source, "='", s, "': this CPU does not support it");
  return i;
}

struct Choice {
  Isa isa;
  std::string reason;
};

Choice automatic() {
  if (const char* env = std::getenv("ATTEND_ISA"); env && *env)
    return {parse_isa(env, "ATTEND_ISA"), std::string("forced by ATTEND_ISA=") + env};
  if (cpu_has(Isa::Avx512)) return {Isa::Avx512, "widest supported: AVX-512 F/BW/DQ/VL"};
  if (cpu_has(Isa::Avx2)) return {Isa::Avx2, "widest supported: AVX2 + FMA (no AVX-512)"};
  return {Isa::Generic, "no AVX2 + FMA on this CPU"};
}

std::mutex g_mutex;
Choice& choice() {
  static Choice c = automatic();
  return c;
}
Isa current_isa() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return choice().isa;
}

std::string shape4(const char* name, int64_t a, int64_t b, int64_t c, int64_t d) {
  return detail::concat(name, " [", a, ", ", b, ", ", c, ", ", d, "]");
}

std::string shapes(const FlashParams& p) {
  return shape4("q", p.B, p.H, p.Tq, p.D) + ", " + shape4("k/v", p.B, p.Hkv, p.Tk, p.D);
}

// Validates `in` and returns it with the defaults filled in (scale, lse strides).
FlashParams normalized(const FlashParams& in) {
  FlashParams p = in;
  const char* op = "flash_attention";
  ATTEND_CHECK(p.B >= 0 && p.H >= 1 && p.Hkv >= 1 && p.Tq >= 0 && p.Tk >= 0 && p.D >= 1, op,
               "invalid sizes: ", shapes(p));
  ATTEND_CHECK(p.H % p.Hkv == 0, op, "query heads must be a multiple of key/value heads: ", shapes(p));
  ATTEND_CHECK(p.Tq < (int64_t{1} << 24) && p.Tk < (int64_t{1} << 24), op, "sequence lengths must be below 2^24: ",
               shapes(p));
  const bool work = p.B > 0 && p.Tq > 0;
  ATTEND_CHECK(!work || (p.q.data && p.o.data && p.lse), op, "null q, o or lse pointer for ", shapes(p));
  ATTEND_CHECK(!work || p.Tk == 0 || (p.k.data && p.v.data), op, "null k or v pointer for ", shapes(p));
  if (!p.scale) p.scale = 1.0f / std::sqrt(static_cast<float>(p.D));
  ATTEND_CHECK(std::isfinite(*p.scale), op, "scale must be finite, got ", *p.scale, " for ", shapes(p));
  if (p.lse_stride_b == 0 && p.lse_stride_h == 0) {
    p.lse_stride_b = p.H * p.Tq;
    p.lse_stride_h = p.Tq;
  }
  ATTEND_CHECK(p.dropout.p >= 0.0f && p.dropout.p < 1.0f, op, "dropout p must be in [0, 1), got ", p.dropout.p);
  ATTEND_CHECK(p.mask.window_left >= -1 && p.mask.window_right >= -1, op, "window sizes must be >= -1, got (",
               p.mask.window_left, ", ", p.mask.window_right, ")");
  ATTEND_CHECK(p.mask.window_align != CausalMode::None, op, "window_align must be BottomRight or TopLeft");
  if (p.mask.kv_len)
    for (int64_t b = 0; b < p.B; ++b)
      ATTEND_CHECK(p.mask.kv_len[b] >= 0 && p.mask.kv_len[b] <= p.Tk, op, "kv_len[", b, "] = ", p.mask.kv_len[b],
                   " is outside [0, Tk] for ", shapes(p));
  return p;
}

}  // namespace

void flash_attention_forward(const FlashParams& in) {
  const FlashParams p = normalized(in);
  const Isa isa = current_isa();
  if (p.stats) *p.stats = {.workspace_bytes = 0, .isa = isa_name(isa)};
  if (p.B == 0 || p.Tq == 0) return;
  switch (isa) {
    case Isa::Avx512:
      return cpu_avx512::forward(p);
    case Isa::Avx2:
      return cpu_avx2::forward(p);
    case Isa::Generic:
      break;
  }
  cpu_generic::forward(p);
}

void flash_attention_backward(const FlashBackwardParams& in) {
  FlashBackwardParams p = in;
  p.fwd = normalized(in.fwd);
  const FlashParams& f = p.fwd;
  const bool work = f.B > 0 && f.Tq > 0;
  ATTEND_CHECK(!work || (p.dout.data && p.dq.data), "flash_attention", "backward: null dout or dq for ", shapes(f));
  ATTEND_CHECK(f.B == 0 || f.Tk == 0 || (p.dk.data && p.dv.data), "flash_attention", "backward: null dk or dv for ",
               shapes(f));
  const Isa isa = current_isa();
  if (f.stats) *f.stats = {.workspace_bytes = 0, .isa = isa_name(isa)};
  if (f.B == 0) return;
  if (f.Tq == 0) {  // no queries: no gradient reaches k and v
    for (int64_t b = 0; b < f.B; ++b)
      for (int64_t h = 0; h < f.Hkv; ++h)
        for (int64_t j = 0; j < f.Tk; ++j)
          for (int64_t d = 0; d < f.D; ++d) {
            p.dk.data[b * p.dk.stride_b + h * p.dk.stride_h + j * p.dk.stride_t + d] = 0.0f;
            p.dv.data[b * p.dv.stride_b + h * p.dv.stride_h + j * p.dv.stride_t + d] = 0.0f;
          }
    return;
  }
  switch (isa) {
    case Isa::Avx512:
      return cpu_avx512::backward(p);
    case Isa::Avx2:
      return cpu_avx2::backward(p);
    case Isa::Generic:
      break;
  }
  cpu_generic::backward(p);
}

void flash_attention_weights(const FlashParams& in, const FlashWeightsRequest& req) {
  const FlashParams p = normalized(in);
  FlashWeightsRequest r = req;
  if (r.head_end < 0) r.head_end = p.H;
  if (r.row_end < 0) r.row_end = p.Tq;
  ATTEND_CHECK(0 <= r.head_begin && r.head_begin <= r.head_end && r.head_end <= p.H, "flash_attention",
               "weights: heads [", r.head_begin, ", ", r.head_end, ") outside [0, ", p.H, ") for ", shapes(p));
  ATTEND_CHECK(0 <= r.row_begin && r.row_begin <= r.row_end && r.row_end <= p.Tq, "flash_attention",
               "weights: rows [", r.row_begin, ", ", r.row_end, ") outside [0, ", p.Tq, ") for ", shapes(p));
  const int64_t nh = r.head_end - r.head_begin, nr = r.row_end - r.row_begin;
  if (p.B == 0 || nh == 0 || nr == 0 || p.Tk == 0) return;
  ATTEND_CHECK(r.out != nullptr, "flash_attention", "weights: null output for ", shapes(p));
  if (r.stride_b == 0 && r.stride_h == 0 && r.stride_q == 0) {
    r.stride_q = p.Tk;
    r.stride_h = nr * p.Tk;
    r.stride_b = nh * nr * p.Tk;
  }
  switch (current_isa()) {
    case Isa::Avx512:
      return cpu_avx512::weights(p, r);
    case Isa::Avx2:
      return cpu_avx2::weights(p, r);
    case Isa::Generic:
      break;
  }
  cpu_generic::weights(p, r);
}

void dropout_uniforms(uint64_t seed, uint64_t first, int64_t n, float* out) {
  if (n <= 0) return;
  switch (current_isa()) {
    case Isa::Avx512:
      return cpu_avx512::uniforms(seed, first, n, out);
    case Isa::Avx2:
      return cpu_avx2::uniforms(seed, first, n, out);
    case Isa::Generic:
      break;
  }
  cpu_generic::uniforms(seed, first, n, out);
}

void dropout_keep_bits(uint64_t seed, uint64_t first, int64_t n, float p, uint8_t* keep) {
  if (n <= 0) return;
  switch (current_isa()) {
    case Isa::Avx512: return cpu_avx512::keep_bits(seed, first, n, p, keep);
    case Isa::Avx2: return cpu_avx2::keep_bits(seed, first, n, p, keep);
    case Isa::Generic: break;
  }
  cpu_generic::keep_bits(seed, first, n, p, keep);
}

void dropout_apply(const uint8_t* keep, int64_t n, float scale, const float* x, float* y) {
  if (n <= 0) return;
  switch (current_isa()) {
    case Isa::Avx512: return cpu_avx512::apply_keep(keep, n, scale, x, y);
    case Isa::Avx2: return cpu_avx2::apply_keep(keep, n, scale, x, y);
    case Isa::Generic: break;
  }
  cpu_generic::apply_keep(keep, n, scale, x, y);
}

void softmax_rows(const float* x, float* y, int64_t rows, int64_t n, bool log) {
  if (rows <= 0 || n <= 0) return;
  switch (current_isa()) {
    case Isa::Avx512:
      return cpu_avx512::softmax_rows(x, y, rows, n, log);
    case Isa::Avx2:
      return cpu_avx2::softmax_rows(x, y, rows, n, log);
    case Isa::Generic:
      break;
  }
  cpu_generic::softmax_rows(x, y, rows, n, log);
}

void gelu(const float* x, float* y, int64_t n) {
  switch (current_isa()) {
    case Isa::Avx512: return cpu_avx512::gelu(x, y, n);
    case Isa::Avx2: return cpu_avx2::gelu(x, y, n);
    case Isa::Generic: break;
  }
  cpu_generic::gelu(x, y, n);
}

void gelu_backward(const float* x, const float* g, float* dx, int64_t n) {
  switch (current_isa()) {
    case Isa::Avx512: return cpu_avx512::gelu_backward(x, g, dx, n);
    case Isa::Avx2: return cpu_avx2::gelu_backward(x, g, dx, n);
    case Isa::Generic: break;
  }
  cpu_generic::gelu_backward(x, g, dx, n);
}

void xent_rows(float* l, int64_t rows, int64_t n, const int64_t* targets, int64_t ignore, double eps, double scale,
               bool grad, double* losses) {
  if (rows <= 0 || n <= 0) return;
  switch (current_isa()) {
    case Isa::Avx512: return cpu_avx512::xent_rows(l, rows, n, targets, ignore, eps, scale, grad, losses);
    case Isa::Avx2: return cpu_avx2::xent_rows(l, rows, n, targets, ignore, eps, scale, grad, losses);
    case Isa::Generic: break;
  }
  cpu_generic::xent_rows(l, rows, n, targets, ignore, eps, scale, grad, losses);
}

void layer_norm_rows(const float* x, const float* w, const float* b, float* y, float* xhat, double* rstd,
                     int64_t rows, int64_t n, double eps) {
  if (rows <= 0 || n <= 0) return;
  switch (current_isa()) {
    case Isa::Avx512: return cpu_avx512::layer_norm_rows(x, w, b, y, xhat, rstd, rows, n, eps);
    case Isa::Avx2: return cpu_avx2::layer_norm_rows(x, w, b, y, xhat, rstd, rows, n, eps);
    case Isa::Generic: break;
  }
  cpu_generic::layer_norm_rows(x, w, b, y, xhat, rstd, rows, n, eps);
}

void layer_norm_backward_rows(const float* g, const float* xhat, const float* w, const double* rstd, float* dx,
                              double* dw_acc, double* db_acc, int64_t rows, int64_t n) {
  if (rows <= 0 || n <= 0) return;
  switch (current_isa()) {
    case Isa::Avx512: return cpu_avx512::layer_norm_backward_rows(g, xhat, w, rstd, dx, dw_acc, db_acc, rows, n);
    case Isa::Avx2: return cpu_avx2::layer_norm_backward_rows(g, xhat, w, rstd, dx, dw_acc, db_acc, rows, n);
    case Isa::Generic: break;
  }
  cpu_generic::layer_norm_backward_rows(g, xhat, w, rstd, dx, dw_acc, db_acc, rows, n);
}

const char* flash_isa_name() { return isa_name(current_isa()); }

std::string flash_isa_reason() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return choice().reason;
}

std::vector<std::string> supported_isas() {
  std::vector<std::string> out;
  for (Isa i : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (cpu_has(i)) out.emplace_back(isa_name(i));
  return out;
}

void set_flash_isa(const std::string& isa) {
  Choice c = isa.empty() ? automatic() : Choice{parse_isa(isa, "set_flash_isa"), "forced by set_flash_isa(" + isa + ")"};
  std::lock_guard<std::mutex> lock(g_mutex);
  choice() = std::move(c);
}

}  // namespace attend::kernels
