#pragma once
// Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC11; Random123)
// and ember's random stream, shared by the CPU and CUDA backends.
//
// THE EMBER RANDOM STREAM (a contract: the CUDA kernels must produce the same numbers)
//   A generator is (seed, offset), both uint64. A random tensor of n elements drawn at offset `off`
//   gives element i (in row-major order of the output) the counter index idx = off + i (mod 2^64)
//   and advances the generator's offset by n, so consecutive draws never reuse a counter.
//   Element i then uses one Philox4x32-10 call:
//       counter = {lo32(idx), hi32(idx), 0, 0},  key = {lo32(seed), hi32(seed)}
//   whose output words are r0, r1, r2, r3. From them:
//     uniform_float   = (r0 >> 8) * 2^-24                                  in [0, 1)
//     uniform_double  = ((uint64(r0) << 32 | r1) >> 11) * 2^-53            in [0, 1)
//     normal_float    = sqrt(-2 ln u1) * cos(2 pi u2), computed in float, with
//                       u1 = 1 - uniform_float(r0) in (0, 1] (so ln never sees 0),
//                       u2 = uniform_float(r1)
//     normal_double   = the same in double, with
//                       u1 = 1 - uniform_double(r0, r1), u2 = uniform_double(r2, r3)
//     random_bits64   = uint64(r0) | uint64(r1) << 32                      (for randint)
//   Only the cos branch of Box-Muller is used: one normal per element, so every element is an
//   independent function of its index and any element can be computed alone, in any order.
//   Uniforms and bits are exact integer arithmetic and agree bit for bit on every platform.
//   Normals go through log/cos/sqrt, whose last bit may differ between libm and CUDA's math
//   library: CPU and CUDA normals agree to a few ulp, not necessarily bit for bit.
//   Compile the CUDA side without --use_fast_math: it swaps logf/cosf for coarse intrinsics.
//
// Plain structs and functions only: everything here compiles as host and as CUDA device code.
#include <math.h>  // ::logf, ::cosf, ::sqrtf, ...: callable on host and, under nvcc, on device

#include <cstdint>

#include <ember/core/dtype.h>  // EMBER_HOST_DEVICE

namespace ember {

struct Philox4x32 {
  uint32_t v[4];
};

// One Philox4x32 round: two 32x32->64 bit multiplies; the high halves are xored with the key
// and the other words (a Feistel-like network).
EMBER_HOST_DEVICE inline Philox4x32 philox4x32_round(Philox4x32 c, uint32_t k0, uint32_t k1) {
  const uint64_t p0 = uint64_t{0xD2511F53u} * c.v[0];
  const uint64_t p1 = uint64_t{0xCD9E8D57u} * c.v[2];
  const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
  return Philox4x32{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
}

// Random123's philox4x32_R(10, ...): ten rounds, the key bumped by the Weyl constants between
// rounds.
EMBER_HOST_DEVICE inline Philox4x32 philox4x32_10(Philox4x32 counter, uint32_t key0,
                                                  uint32_t key1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += 0x9E3779B9u;  // golden ratio
      key1 += 0xBB67AE85u;  // sqrt(3) - 1
    }
    counter = philox4x32_round(counter, key0, key1);
  }
  return counter;
}

// The four words for counter index idx of the stream keyed by seed.
EMBER_HOST_DEVICE inline Philox4x32 philox_words(uint64_t seed, uint64_t idx) {
  const Philox4x32 counter{{static_cast<uint32_t>(idx), static_cast<uint32_t>(idx >> 32), 0u, 0u}};
  return philox4x32_10(counter, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Word -> value maps of the stream, separate so that a kernel holding the words can reuse them.

// The top 24 bits: every result is exactly representable, the largest is 1 - 2^-24.
EMBER_HOST_DEVICE inline float bits_to_uniform_float(uint32_t r0) {
  return static_cast<float>(r0 >> 8) * 0x1p-24f;
}

// The top 53 bits of (hi:lo): exactly representable, the largest is 1 - 2^-53.
EMBER_HOST_DEVICE inline double bits_to_uniform_double(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 32) | lo;
  return static_cast<double>(bits >> 11) * 0x1p-53;
}

// Box-Muller, cos branch. 1 - u is exact (u is a multiple of 2^-24 below 1) and at least 2^-24.
EMBER_HOST_DEVICE inline float bits_to_normal_float(uint32_t r0, uint32_t r1) {
  const float u1 = 1.0f - bits_to_uniform_float(r0);
  const float u2 = bits_to_uniform_float(r1);
  return ::sqrtf(-2.0f * ::logf(u1)) * ::cosf(6.2831853071795865f * u2);
}

// Box-Muller, cos branch, in double. 1 - u is exact and at least 2^-53.
EMBER_HOST_DEVICE inline double bits_to_normal_double(uint32_t r0, uint32_t r1, uint32_t r2,
                                                      uint32_t r3) {
  const double u1 = 1.0 - bits_to_uniform_double(r0, r1);
  const double u2 = bits_to_uniform_double(r2, r3);
  return ::sqrt(-2.0 * ::log(u1)) * ::cos(6.2831853071795865 * u2);
}

// Element idx of the stream keyed by seed, as each distribution (see the definition above).
EMBER_HOST_DEVICE inline float uniform_float(uint64_t seed, uint64_t idx) {
  return bits_to_uniform_float(philox_words(seed, idx).v[0]);
}

EMBER_HOST_DEVICE inline double uniform_double(uint64_t seed, uint64_t idx) {
  const Philox4x32 r = philox_words(seed, idx);
  return bits_to_uniform_double(r.v[0], r.v[1]);
}

EMBER_HOST_DEVICE inline float normal_float(uint64_t seed, uint64_t idx) {
  const Philox4x32 r = philox_words(seed, idx);
  return bits_to_normal_float(r.v[0], r.v[1]);
}

EMBER_HOST_DEVICE inline double normal_double(uint64_t seed, uint64_t idx) {
  const Philox4x32 r = philox_words(seed, idx);
  return bits_to_normal_double(r.v[0], r.v[1], r.v[2], r.v[3]);
}

EMBER_HOST_DEVICE inline uint64_t random_bits64(uint64_t seed, uint64_t idx) {
  const Philox4x32 r = philox_words(seed, idx);
  return static_cast<uint64_t>(r.v[0]) | (static_cast<uint64_t>(r.v[1]) << 32);
}

}  // namespace ember
