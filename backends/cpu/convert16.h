#pragma once
// Bulk conversion between the 16-bit float types and float32, for kernels that widen whole rows
// (matmul's float32 path for 16-bit operands). Compiled into each instruction-set build of the
// kernels: with F16C, eight float16 values per instruction. Results are the bits of core/dtype.h's
// scalar conversions, NaN included, so the choice of build changes only the speed.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <ember/core/dtype.h>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace ember::cpu::EMBER_CPU_ISA {

// Exact operations on the bits of a 16-bit float T (Half or BFloat16), for kernels that only select
// values (ReLU and its backward) and need not widen them.
template <typename T>
constexpr uint16_t kInfinityBits = std::is_same_v<T, BFloat16> ? 0x7f80 : 0x7c00;

template <typename T>
inline bool is_nan_bits(uint16_t u) { return (u & 0x7fff) > kInfinityBits<T>; }

template <typename T>
inline bool is_positive_bits(uint16_t u) {  // x > 0: sign clear, not zero, not NaN
  return (u & 0x8000) == 0 && u != 0 && u <= kInfinityBits<T>;
}

// The bits of T(float(x)): x itself, but a NaN quiet as the float32 route leaves it (bfloat16 keeps
// the payload, float16 becomes ember's canonical sign | 0x7e00).
template <typename T>
inline uint16_t through_float(uint16_t u) {
  if constexpr (std::is_same_v<T, BFloat16>) return is_nan_bits<T>(u) ? static_cast<uint16_t>(u | 0x40) : u;
  else return is_nan_bits<T>(u) ? static_cast<uint16_t>((u & 0x8000) | 0x7e00) : u;
}

inline void widen(const Half* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
  for (; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

inline void narrow(const float* src, Half* dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(0x80000000u)));
  const __m256 quiet_nan = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000));
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(src + i);
    // A NaN becomes the canonical quiet one with its sign (sign | 0x7e00), as Half::from_float does.
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    x = _mm256_blendv_ps(x, _mm256_or_ps(_mm256_and_ps(x, sign_mask), quiet_nan), nan);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
  }
#endif
  for (; i < n; ++i) dst[i] = Half(src[i]);
}

// bfloat16 needs no intrinsics: its scalar conversions are a shift and a branch-free rounding,
// which the compiler vectorises in these loops.
inline void widen(const BFloat16* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}
inline void narrow(const float* src, BFloat16* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = BFloat16(src[i]);
}

}  // namespace ember::cpu::EMBER_CPU_ISA
