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

// e^x = 2^n e^r for x already clamped to a finite range: x = n ln2 + r with |r| <= ln2 / 2 (ln2 in
// two parts, so r is exact), e^r by Cephes' degree-6 polynomial (about 1 ulp). Returns e^r and n.
// No libm call and no fused multiply-add (the kernels build with -ffp-contract=off), so every
// instruction set gives the same bits.
inline float exp_reduced(float clamped, int32_t& n_out) {
  const float round_magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer (ties to even)
  const float n = (clamped * 1.44269504088896341f + round_magic) - round_magic;
  const float r = (clamped - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  n_out = static_cast<int32_t>(n);
  return (p * r) * r + r + 1.0f;
}
inline float power_of_two(int32_t n) {  // 2^n for -126 <= n <= 127 (128 gives inf)
  const int32_t bits = (n + 127) << 23;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// e^x in float32 as straight-line arithmetic the compiler vectorises (glibc's expf is a call per
// element, a fifth of the kernel's time), for the fused kernels: exp(-inf) and anything below
// ln(FLT_MIN) is 0; NaN stays NaN; large x saturates at e^88.7.
inline float exp_float(float x) {
  const float lo = -87.33654f, hi = 88.72283f;
  const float clamped = !(x >= lo) ? lo : (x > hi ? hi : x);  // NaN clamped too: no NaN reaches the int conversion
  int32_t n;
  const float er = exp_reduced(clamped, n);
  const float result = er * power_of_two(n);
  return x != x ? x : (x < lo ? 0.0f : result);
}
template <class Acc>
inline Acc exp_acc(Acc x) {
  if constexpr (std::is_same_v<Acc, float>) return exp_float(x);
  else return std::exp(x);
}

// e^x in float32 with the full range of libm's expf, for the elementwise exp (exp_float above saturates
// and flushes to 0, which its kernels rely on): +inf above ln(FLT_MAX), subnormal results down to
// e^-103.97, 0 below, NaN stays NaN. 2^n (n in [-150, 128]) is applied as two normal powers of two,
// so a subnormal result is rounded once, by the last multiplication.
inline float exp_float_full(float x) {
  const float lo = -103.972084f, hi = 88.7228394f;  // below: the result rounds to 0; above: inf
  const float clamped = !(x >= lo) ? lo : (x > hi ? hi : x);  // NaN clamped too: no NaN reaches the int conversion
  int32_t n;
  const float er = exp_reduced(clamped, n);
  const int32_t half = n / 2;
  const float result = (er * power_of_two(half)) * power_of_two(n - half);
  return x != x ? x : (x > hi ? INFINITY : (x < lo ? 0.0f : result));
}

// erf x in float32 as straight-line arithmetic (glibc's erff is a call per element; GELU spends most
// of its time there), within 3 ulp of the true value. Coefficients fitted for this function by
// relative least squares on Chebyshev nodes (float rounding, not the fit, dominates the error):
//   |x| < 1:      erf x = x c0 + x z Q(z), z = x^2, the leading term apart so it is rounded once;
//   1 <= |x| < 4: erf x = 1 - e^(-x^2) / |x| R(1 / x^2), R in two pieces split at |x| = 2;
//   |x| >= 4:     erf x = +-1 (erfc 4 = 1.5e-8 is below half an ulp of 1).
// erf_with_gaussian takes e^(-x^2) = exp_float(-x * x) from the caller (GELU's derivative needs it
// again for the normal density), erf_float computes it.
inline float erf_with_gaussian(float x, float gaussian) {
  const float a = x < 0 ? -x : x;
  const float z = a * a;
  float q = -5.6253959739e-04f;
  q = q * z + 4.9160233895e-03f;
  q = q * z - 2.6709949549e-02f;
  q = q * z + 1.1280130261e-01f;
  q = q * z - 3.7612319732e-01f;
  const float small = a * 1.1283791211e+00f + a * (z * q);
  const float inv = 1.0f / (a < 1.0f ? 1.0f : a), u = inv * inv;
  float near = 2.2331630130e-02f;  // 1 <= |x| < 2
  near = near * u - 1.3400467105e-01f;
  near = near * u + 3.5868992148e-01f;
  near = near * u - 5.7052430451e-01f;
  near = near * u + 6.1238717563e-01f;
  near = near * u - 4.9060408750e-01f;
  near = near * u + 3.3944993473e-01f;
  near = near * u - 2.7395826276e-01f;
  near = near * u + 5.6381625033e-01f;
  float far = -8.6586024842e-01f;  // 2 <= |x| < 4
  far = far * u + 1.1149514606e+00f;
  far = far * u - 7.3278056956e-01f;
  far = far * u + 3.9655846179e-01f;
  far = far * u - 2.8088023224e-01f;
  far = far * u + 5.6416645541e-01f;
  const float tail = gaussian * inv * (a < 2.0f ? near : far);
  const float magnitude = a < 1.0f ? small : (a < 4.0f ? 1.0f - tail : 1.0f);
  return (x != x || x == 0.0f) ? x : (x < 0 ? -magnitude : magnitude);  // NaN and -0 returned as they are
}
inline float erf_float(float x) { return erf_with_gaussian(x, exp_float(-(x * x))); }

// GELU's derivative Phi(x) + x phi(x), Phi the normal distribution function and phi its density:
// with u = x / sqrt 2, Phi(x) = (1 + erf u) / 2 and phi(x) = e^(-u^2) / sqrt(2 pi), so one exp serves
// both (a third of the cost of computing them apart). It is taken as e^(-x^2 / 2), rounded once,
// rather than from the rounded u, and with the full range (subnormal densities are kept).
inline float gelu_derivative_float(float x) {
  const float gaussian = exp_float_full(-0.5f * x * x);
  return 0.5f * (1.0f + erf_with_gaussian(x * 0.70710678118654752440f, gaussian)) +
         x * (0.39894228040143267794f * gaussian);
}

// tanh x in float32 as straight-line arithmetic (glibc's tanhf is a call per element, about 20 ns: the
// largest op of a recurrent layer's step), within 1.4 ulp of the true value over every float:
//   |x| < 0.625: x + x z P(z), z = x^2, Cephes' tanhf polynomial (no cancellation near 0);
//   otherwise:   sign(x) (1 - 2 / (e^2|x| + 1)), which is exactly +-1 once e^2|x| overflows.
// NaN stays NaN (the second branch), and -0 stays -0 as in libm.
inline float tanh_float(float x) {
  const float a = x < 0 ? -x : x;
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = x + x * (z * p);
  const float large = 1.0f - 2.0f / (exp_float_full(a + a) + 1.0f);
  return x == 0.0f ? x : (a < 0.625f ? small : (x < 0 ? -large : large));
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
