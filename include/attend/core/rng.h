// The project's counter-based RNG: Philox4x32-10 (Salmon et al. 2011, "Parallel random numbers:
// as easy as 1, 2, 3"). Element i of a draw depends only on (seed, stream offset + i), never on
// the thread count, the machine or the order of evaluation, so every test input and every dropout
// mask reproduces anywhere, and a fused backward can regenerate a dropout mask without storing it.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace attend {

// One Philox4x32-10 block: 4 random 32-bit words for (key, counter).
inline std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter_lo, uint64_t counter_hi = 0) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    const uint64_t p0 = uint64_t{0xD2511F53u} * c0;
    const uint64_t p1 = uint64_t{0xCD9E8D57u} * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = static_cast<uint32_t>(p1);
    c2 = n2;
    c3 = static_cast<uint32_t>(p0);
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {c0, c1, c2, c3};
}

// Uniform in [0, 1) from 32 random bits (24 significant bits, exactly representable in f32).
inline float u32_to_unit_float(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }
// Uniform in [0, 1) from 64 random bits (53 significant bits).
inline double u64_to_unit_double(uint32_t hi, uint32_t lo) {
  return static_cast<double>(((uint64_t{hi} << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

// The uniform number in [0, 1) for element `index` of stream (seed, offset): what dropout
// uses, so that the backward regenerates the mask from (seed, offset, index) alone. Position
// j = offset + index takes word j % 4 of the block at counter j / 4: one Philox block gives four
// consecutive positions (a quarter of the work of one block per position).
inline float philox_uniform(uint64_t seed, uint64_t offset, uint64_t index) {
  const uint64_t j = offset + index;
  return u32_to_unit_float(philox4x32(seed, j >> 2)[j & 3]);
}

// A seeded stream. Each draw of n numbers consumes n counters, so consecutive draws differ and a
// given (seed, sequence of draws) always gives the same numbers.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0x5EED) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }
  // Reserves n counters and returns the first; the caller maps counter offset+i to element i.
  uint64_t advance(uint64_t n) {
    const uint64_t o = offset_;
    offset_ += n;
    return o;
  }
  // Element i of a standard normal draw that started at counter `base` (Box-Muller on 2x64 bits).
  double normal_at(uint64_t base, uint64_t i) const {
    const auto w = philox4x32(seed_, base + i, 1);
    const double u1 = 1.0 - u64_to_unit_double(w[0], w[1]);  // (0, 1]
    const double u2 = u64_to_unit_double(w[2], w[3]);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  double uniform_at(uint64_t base, uint64_t i) const {
    const auto w = philox4x32(seed_, base + i, 2);
    return u64_to_unit_double(w[0], w[1]);
  }
  // Scalar draws, for code that needs one number at a time (shuffles, sampling).
  double uniform() { return uniform_at(advance(1), 0); }
  double normal() { return normal_at(advance(1), 0); }
  uint64_t next_u64() {
    const auto w = philox4x32(seed_, advance(1), 3);
    return (uint64_t{w[0]} << 32) | w[1];
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

}  // namespace attend
