#pragma once
// Element types, the two 16-bit float formats stored natively, and PyTorch's type promotion.
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include <ember/core/error.h>

#if defined(__CUDACC__)
#define EMBER_HOST_DEVICE __host__ __device__
#else
#define EMBER_HOST_DEVICE
#endif

// Code compiled for a CPU with F16C (the AVX2 and AVX-512 builds of the CPU kernels, or a program
// built with -march=native) converts float16 with the CPU's instructions, one instruction instead of
// a dozen with branches; everything else uses the portable bit manipulation below. Both round to
// nearest even and give the same bits for every input, NaN included (see from_float).
#if defined(__F16C__) && !defined(__CUDACC__)
#include <immintrin.h>
#define EMBER_F16C 1
#endif

namespace ember {

enum class DType : uint8_t { Bool, UInt8, Int32, Int64, Float16, BFloat16, Float32, Float64 };
inline constexpr int kNumDTypes = 8;

// IEEE 754 binary16. Conversions round to nearest even and keep subnormals, inf and NaN.
struct Half {
  uint16_t bits = 0;
  Half() = default;
  EMBER_HOST_DEVICE Half(float f) : bits(from_float(f)) {}
  EMBER_HOST_DEVICE operator float() const { return to_float(bits); }
  EMBER_HOST_DEVICE static Half from_bits(uint16_t b) { Half h; h.bits = b; return h; }

  EMBER_HOST_DEVICE static uint16_t from_float(float f) {
#if defined(EMBER_F16C)
    // vcvtps2ph keeps a NaN's payload; ember's NaN is the canonical quiet one (sign | 0x7e00).
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    if (f != f) return static_cast<uint16_t>(((bits >> 16) & 0x8000u) | 0x7e00u);
    return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
#else
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) return sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u);  // NaN stays quiet NaN
    if (x >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: overflow to inf
    if (x < 0x38800000u) {                        // below 2^-14: subnormal or zero in binary16
      if (x < 0x33000000u) return sign;           // below half the smallest subnormal: +-0
      // value = m * 2^(e-150); subnormal half unit is 2^-24, so shift by (126 - e).
      const uint32_t e = x >> 23;
      const uint32_t m = (x & 0x7fffffu) | 0x800000u;
      const uint32_t shift = 126 - e;  // in [14, 24]
      uint32_t h = m >> shift;
      const uint32_t rem = m & ((1u << shift) - 1);
      const uint32_t halfway = 1u << (shift - 1);
      if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
      return static_cast<uint16_t>(sign | h);
    }
    // Normal: rebias exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even.
    uint32_t h = ((x - 0x38000000u) >> 13);
    const uint32_t rem = x & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is correct
    return static_cast<uint16_t>(sign | h);
#endif
  }
  EMBER_HOST_DEVICE static float to_float(uint16_t h) {
#if defined(EMBER_F16C)
    return _cvtsh_ss(h);
#else
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t x;
    if (exp == 0x1f) {  // inf, or NaN made quiet as vcvtph2ps does
      x = sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0u);
    } else if (exp != 0) {
      x = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
      x = sign;
    } else {  // subnormal: normalise the mantissa
      int e = 113;
      while (!(mant & 0x400u)) { mant <<= 1; --e; }
      x = sign | (static_cast<uint32_t>(e) << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &x, 4);
    return f;
#endif
  }
};

// bfloat16: the top 16 bits of a float32, rounded to nearest even.
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  EMBER_HOST_DEVICE BFloat16(float f) : bits(from_float(f)) {}
  EMBER_HOST_DEVICE operator float() const { return to_float(bits); }
  EMBER_HOST_DEVICE static BFloat16 from_bits(uint16_t b) { BFloat16 h; h.bits = b; return h; }

  EMBER_HOST_DEVICE static uint16_t from_float(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    // Both results computed, then one selected: without a branch, loops that round to bfloat16 vectorise.
    const uint32_t quiet_nan = (x >> 16) | 0x40u;
    const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    return static_cast<uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
  }
  EMBER_HOST_DEVICE static float to_float(uint16_t b) {
    const uint32_t x = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  }
};

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::Bool: case DType::UInt8: return 1;
    case DType::Float16: case DType::BFloat16: return 2;
    case DType::Int32: case DType::Float32: return 4;
    case DType::Int64: case DType::Float64: return 8;
  }
  return 0;  // GCOVR_EXCL_LINE: after a switch over every DType
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool";
    case DType::UInt8: return "uint8";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "?";  // GCOVR_EXCL_LINE: after a switch over every DType
}

constexpr bool is_floating(DType t) {
  return t == DType::Float16 || t == DType::BFloat16 || t == DType::Float32 || t == DType::Float64;
}
// The two storage-only float formats: ops that accumulate (norms, attention's sums, softmax) widen them.
constexpr bool is_16bit_float(DType t) { return t == DType::Float16 || t == DType::BFloat16; }
constexpr bool is_integral(DType t, bool include_bool = false) {
  return t == DType::UInt8 || t == DType::Int32 || t == DType::Int64 || (include_bool && t == DType::Bool);
}

// The values an integer dtype holds (a fill or a clamp bound outside them cannot be stored).
struct IntegerRange {
  int64_t lowest, highest;
};
constexpr IntegerRange integer_range(DType t) {
  switch (t) {
    case DType::Bool: return {0, 1};
    case DType::UInt8: return {0, 255};
    case DType::Int32: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default: return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

// PyTorch's promotion lattice for two tensor dtypes (torch.promote_types).
constexpr DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::Bool) return b;
  if (b == DType::Bool) return a;
  const bool fa = is_floating(a), fb = is_floating(b);
  if (fa && !fb) return a;
  if (fb && !fa) return b;
  if (fa && fb) {
    // float16 with bfloat16 has no common 16-bit type: float32.
    if ((a == DType::Float16 && b == DType::BFloat16) || (a == DType::BFloat16 && b == DType::Float16))
      return DType::Float32;
    return static_cast<uint8_t>(a) > static_cast<uint8_t>(b) ? a : b;
  }
  // Both integral (uint8, int32, int64): the wider signed type.
  return static_cast<uint8_t>(a) > static_cast<uint8_t>(b) ? a : b;
}

template <typename T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<Half> { static constexpr DType value = DType::Float16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BFloat16; };
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <typename T> inline constexpr DType dtype_v = dtype_of<T>::value;

// Calls f(T{}) with the C++ type that stores dtype t.
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Bool: return f(bool{});
    case DType::UInt8: return f(uint8_t{});
    case DType::Int32: return f(int32_t{});
    case DType::Int64: return f(int64_t{});
    case DType::Float16: return f(Half{});
    case DType::BFloat16: return f(BFloat16{});
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
  }
  // GCOVR_EXCL_START: after a switch over every DType.
  EMBER_FAIL("dtype", "unknown dtype {}", static_cast<int>(t));
  // GCOVR_EXCL_STOP
}

// The type arithmetic on T is done in: 16-bit floats compute in float32.
template <typename T> struct compute_type { using type = T; };
template <> struct compute_type<Half> { using type = float; };
template <> struct compute_type<BFloat16> { using type = float; };
template <typename T> using compute_t = typename compute_type<T>::type;

}  // namespace ember

template <>
struct fmt::formatter<ember::DType> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(ember::DType t, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(ember::dtype_name(t), ctx);
  }
};
