#pragma once
// A vectorisable exponential for the CPU kernels (fused attention, the selective scan). Included
// inside each instruction set's namespace by kernels compiled once per ISA (backends/cpu/cpu_isa.h).
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


}  // namespace ember::cpu::EMBER_CPU_ISA
