#pragma once
// Vectorisable exp, log and the functions built on them (softplus, sigmoid) for the CPU kernels
// (fused attention, the selective scan): straight-line float arithmetic with no libm call, so that a
// loop over them compiles to SIMD code, and with no fused multiply-add (the kernels build with
// -ffp-contract=off), so every instruction set gives the same bits. The double versions call libm.
// Included inside each instruction set's namespace by kernels compiled once per ISA.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace ember::cpu::EMBER_CPU_ISA {

// e^x in float32 as straight-line arithmetic the compiler vectorises (glibc's expf is a call per
// element, a fifth of the kernel's time): x = n ln2 + r with |r| <= ln2 / 2, e^r by Cephes' degree-6
// polynomial (about 1 ulp), 2^n built in the exponent bits. No libm call and no fused multiply-add
// (the kernels build with -ffp-contract=off), so every instruction set gives the same bits.
// exp(-inf) and anything below ln(FLT_MIN) is 0; NaN stays NaN; large x saturates at e^88.7.
inline float exp_float(float x) {
  const float lo = -87.33654f, hi = 88.72283f;
  const float clamped = x < lo ? lo : (x > hi ? hi : x);
  const float round_magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer (ties to even)
  const float n = (clamped * 1.44269504088896341f + round_magic) - round_magic;
  const float r = (clamped - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = (p * r) * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  const float result = er * scale;
  return x != x ? x : (x < lo ? 0.0f : result);
}
template <class Acc>
inline Acc exp_acc(Acc x) {
  if constexpr (std::is_same_v<Acc, float>) return exp_float(x);
  else return std::exp(x);
}

// log x in float32 for normal x > 0 (Cephes' logf, about 1 ulp): x = m 2^k with m in
// [sqrt(1/2), sqrt(2)), log m by a degree-9 polynomial in f = m - 1. Only called on arguments in
// [1, 2] here (softplus); no handling of 0, negatives, infinities or denormals.
inline float log_float(float x) {
  int32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int32_t k = ((bits >> 23) & 0xff) - 127;
  const int32_t mantissa_bits = (bits & 0x007fffff) | 0x3f800000;  // m in [1, 2)
  float m;
  std::memcpy(&m, &mantissa_bits, sizeof m);
  const bool high = m > 1.41421356f;
  m = high ? m * 0.5f : m;
  k = high ? k + 1 : k;
  const float f = m - 1.0f, z = f * f, kf = static_cast<float>(k);
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  float y = p * f * z;
  y = y + kf * -2.12194440e-4f;
  y = y - 0.5f * z;
  return (f + y) + kf * 0.693359375f;
}

// softplus(x) = log(1 + e^x) with ops' threshold (x > 20: x), as max(x, 0) + log1p(e^-|x|); log1p(e)
// by Goldberg's correction log(1 + e) * e / ((1 + e) - 1), exact where 1 + e rounds.
inline float softplus_float(float x) {
  const float e = exp_float(x < 0 ? x : -x);
  const float one_plus = 1.0f + e;
  const float spent = one_plus - 1.0f;
  // Every operation runs unconditionally and only values are selected: a division under a condition
  // would keep the compiler from vectorising the loop (it may not speculate an operation that traps).
  const float corrected = log_float(one_plus) * (e / (spent == 0.0f ? 1.0f : spent));
  const float log1p_e = spent == 0.0f ? e : corrected;
  const float result = (x > 0 ? x : 0.0f) + log1p_e;
  return x > 20.0f ? x : result;
}

inline float sigmoid_float(float x) { return 1.0f / (1.0f + exp_float(-x)); }

template <class Acc>
inline Acc softplus_acc(Acc x) {
  if constexpr (std::is_same_v<Acc, float>) return softplus_float(x);
  else return x > 20 ? x : std::log1p(std::exp(x));
}
template <class Acc>
inline Acc sigmoid_acc(Acc x) {
  if constexpr (std::is_same_v<Acc, float>) return sigmoid_float(x);
  else return 1 / (1 + std::exp(-x));
}

}  // namespace ember::cpu::EMBER_CPU_ISA
