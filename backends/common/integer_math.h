#pragma once
// Integer floor division, remainder and power as PyTorch defines them, shared by the CPU and CUDA
// kernels so both give the same answers. ops/ refuses a zero divisor before any kernel runs; these
// still never divide by zero or compute INT_MIN / -1 (both trap with SIGFPE on x86), so a kernel
// reached some other way returns a value instead of killing the process.
#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#define EMBER_HOST_DEVICE __host__ __device__
#else
#define EMBER_HOST_DEVICE
#endif

namespace ember::integer_math {

// -a with two's-complement wrap-around: -INT_MIN is INT_MIN, as in PyTorch (and numpy).
template <typename T>
EMBER_HOST_DEVICE inline T wrapping_negate(T a) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(U(0) - static_cast<U>(a)));
}

// floor(a / b); INT_MIN // -1 wraps to INT_MIN; a // 0 is 0 here (ops/ raises before).
template <typename T>
EMBER_HOST_DEVICE inline T floor_divide(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a;  // b is true (b = false was refused): a // 1 = a
  } else {
    if (b == 0) return T(0);
    if constexpr (std::is_signed_v<T>) {
      if (b == T(-1)) return wrapping_negate(a);
      const T q = static_cast<T>(a / b);
      // C++ truncates towards zero; step down when the exact quotient was negative and inexact.
      return (a % b != 0 && ((a < 0) != (b < 0))) ? static_cast<T>(q - 1) : q;
    } else {
      return static_cast<T>(a / b);
    }
  }
}

// a - floor(a / b) b: the result has the sign of b (Python's %); INT_MIN % -1 is 0; a % 0 is 0
// here (ops/ raises before).
template <typename T>
EMBER_HOST_DEVICE inline T remainder(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return false;  // a % true = 0
  } else {
    if (b == 0) return T(0);
    if constexpr (std::is_signed_v<T>) {
      if (b == T(-1)) return T(0);
      const T r = static_cast<T>(a % b);
      return (r != 0 && ((r < 0) != (b < 0))) ? static_cast<T>(r + b) : r;
    } else {
      return static_cast<T>(a % b);
    }
  }
}

// base^exponent by repeated squaring (O(log exponent) steps, wrapping on overflow as PyTorch does).
// A negative exponent gives what PyTorch's integer pow kernel gives: 1 for base 1, +-1 for base -1,
// 0 otherwise (a Scalar negative exponent is refused in ops/, as in PyTorch).
template <typename T>
EMBER_HOST_DEVICE inline T power(T base, T exponent) {
  if constexpr (std::is_same_v<T, bool>) {
    return exponent ? base : true;
  } else {
    using U = std::make_unsigned_t<T>;
    if constexpr (std::is_signed_v<T>) {
      if (exponent < 0) {
        if (base == 1) return T(1);
        if (base == -1) return (exponent % 2 != 0) ? T(-1) : T(1);
        return T(0);
      }
    }
    // Unsigned arithmetic wraps where signed overflow would be undefined; uint64_t keeps the
    // promotions of 8-bit types out of the way.
    uint64_t result = 1, square = static_cast<uint64_t>(static_cast<U>(base));
    for (uint64_t e = static_cast<uint64_t>(static_cast<U>(exponent)); e != 0; e >>= 1) {
      if (e & 1) result *= square;
      square *= square;
    }
    return static_cast<T>(static_cast<U>(result));
  }
}

}  // namespace ember::integer_math
