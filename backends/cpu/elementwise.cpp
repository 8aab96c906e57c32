// CPU elementwise kernels: fill, copy (with conversion), unary, binary, where.
// 16-bit floats are loaded to float32, computed, and rounded back.
#include <cmath>
#include <cstring>
#include <type_traits>

#include <ember/backends/common/integer_math.h>
#include <ember/backends/cpu/convert16.h>
#include <ember/backends/cpu/fast_math.h>
#include <ember/backends/cpu/kernels.h>
#include <ember/backends/cpu/loops.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

template <typename T>
constexpr bool is_half_like = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// Applies f elementwise; the contiguous case is a plain indexed loop the compiler can vectorise.
template <typename Out, typename In, typename F>
void unary_loop(const View& in, const View& out, F f) {
  std::array<const View*, 2> views{&out, &in};
  for_each_run<2>(views, [&](const std::array<char*, 2>& p, const std::array<int64_t, 2>& s, int64_t n) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const In* a = reinterpret_cast<const In*>(p[1]);
    if (s[0] == sizeof(Out) && s[1] == sizeof(In)) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(*reinterpret_cast<const In*>(p[1] + i * s[1]));
    }
  });
}

template <typename Out, typename In, typename F>
void binary_loop(const View& a, const View& b, const View& out, F f) {
  std::array<const View*, 3> views{&out, &a, &b};
  for_each_run<3>(views, [&](const std::array<char*, 3>& p, const std::array<int64_t, 3>& s, int64_t n) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const In* x = reinterpret_cast<const In*>(p[1]);
    const In* y = reinterpret_cast<const In*>(p[2]);
    if (s[0] == sizeof(Out) && s[1] == sizeof(In) && s[2] == sizeof(In)) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (s[0] == sizeof(Out) && s[1] == sizeof(In) && s[2] == 0) {
      const In yv = *y;
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (s[0] == sizeof(Out) && s[1] == 0 && s[2] == sizeof(In)) {
      const In xv = *x;
      for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(*reinterpret_cast<const In*>(p[1] + i * s[1]),
                                                     *reinterpret_cast<const In*>(p[2] + i * s[2]));
    }
  });
}

template <typename To, typename From>
To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return static_cast<float>(v) != 0.0f || (!is_half_like<From> && v != From{});
  } else if constexpr (is_half_like<To> || is_half_like<From>) {
    return To(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

// ---- unary math in the compute type C (float for 16-bit floats, T otherwise) ----
// Always inlined: each unary_typed<T, kOp> passes a constant op, which folds the switch away and
// leaves the loop vectorisable. Left to itself, GCC stopped inlining this function once the GELU
// polynomials made it large, and every unary op (relu included) became a call per element.
template <typename C>
[[gnu::always_inline]] inline C apply_unary(UnaryOp op, C x) {
  // In float32 (and so for 16-bit floats) exp, sigmoid, erf and tanh are straight-line code the loop
  // vectorises (fast_math.h: exp within 1 ulp, erf within 3, tanh within 1.4); glibc's are a call per element, which
  // made a transformer's softmax and GELU its slowest elementwise work. Double keeps libm.
  if constexpr (std::is_same_v<C, float>) {
    if (op == UnaryOp::Exp) return exp_float_full(x);
    if (op == UnaryOp::Sigmoid) {  // e^-|x| / (1 + e^-|x|) for x < 0 keeps the tiny results' precision
      const float e = exp_float_full(x < 0 ? x : -x), r = 1.0f / (1.0f + e);
      return x < 0 ? e * r : r;
    }
    if (op == UnaryOp::Erf) return erf_float(x);
    if (op == UnaryOp::Tanh) return tanh_float(x);
    if (op == UnaryOp::Gelu) return x * (0.5f * (1.0f + erf_float(x * 0.70710678118654752440f)));
    if (op == UnaryOp::GeluDerivative) return gelu_derivative_float(x);
  }
  if constexpr (std::is_floating_point_v<C>) {
    switch (op) {
      case UnaryOp::Neg: return -x;
      case UnaryOp::Abs: return std::abs(x);
      case UnaryOp::Sign: return static_cast<C>((x > 0) - (x < 0));
      case UnaryOp::Exp: return std::exp(x);
      case UnaryOp::Log: return std::log(x);
      case UnaryOp::Log1p: return std::log1p(x);
      case UnaryOp::Expm1: return std::expm1(x);
      case UnaryOp::Sqrt: return std::sqrt(x);
      case UnaryOp::Rsqrt: return C(1) / std::sqrt(x);
      case UnaryOp::Sin: return std::sin(x);
      case UnaryOp::Cos: return std::cos(x);
      case UnaryOp::Tanh: return std::tanh(x);
      case UnaryOp::Sigmoid: return C(1) / (C(1) + std::exp(-x));
      case UnaryOp::Relu: return (x > 0 || std::isnan(x)) ? x : C(0);  // NaN stays NaN, as in PyTorch
      case UnaryOp::Erf: return std::erf(x);
      case UnaryOp::Reciprocal: return C(1) / x;
      case UnaryOp::Floor: return std::floor(x);
      case UnaryOp::Ceil: return std::ceil(x);
      case UnaryOp::Round: return std::nearbyint(x);  // ties to even, like torch.round
      case UnaryOp::Gelu: return x * (C(0.5) * (C(1) + std::erf(x * C(0.70710678118654752440))));
      case UnaryOp::GeluDerivative:  // Phi(x) + x phi(x)
        return C(0.5) * (C(1) + std::erf(x * C(0.70710678118654752440))) +
               x * (C(0.39894228040143267794) * std::exp(C(-0.5) * x * x));
      default: break;  // GCOVR_EXCL_LINE: only called for the ops above
    }
  } else {
    switch (op) {
      case UnaryOp::Neg: return static_cast<C>(-x);
      case UnaryOp::Abs: return x < 0 ? static_cast<C>(-x) : x;
      case UnaryOp::Sign: return static_cast<C>((x > 0) - (x < 0));
      case UnaryOp::Relu: return x > 0 ? x : C(0);
      case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round: return x;
      default: break;  // GCOVR_EXCL_LINE: only called for the ops above
    }
  }
  // GCOVR_EXCL_START: unary_dispatch calls this only for the ops of the switches above.
  EMBER_FAIL("unary", "op {} is not defined for this dtype", static_cast<int>(op));
  // GCOVR_EXCL_STOP
}

// ReLU and its backward only choose between an input and zero, so on 16-bit floats they need no trip
// through float32: deciding on the bits is exact (convert16.h), and a loop of 16-bit integer
// operations vectorises 32 lanes wide, where widening and rounding took about 30 instructions per 32
// elements (ReLU on bfloat16 ran slower than on float32). The bits are the float32 route's: a NaN
// comes out quiet, as T(float) makes it, and relu(-0) is +0.
template <typename T, UnaryOp kOp>
void unary_typed(const View& in, const View& out) {
  using C = compute_t<T>;
  if constexpr (is_half_like<T> && kOp == UnaryOp::Relu) {
    unary_loop<T, T>(in, out, [](T v) {
      return T::from_bits(is_nan_bits<T>(v.bits) || is_positive_bits<T>(v.bits) ? through_float<T>(v.bits) : uint16_t{0});
    });
  } else {
    unary_loop<T, T>(in, out, [](T v) { return T(apply_unary<C>(kOp, static_cast<C>(v))); });
  }
}

template <typename T>
void unary_dispatch(UnaryOp op, const View& in, const View& out) {
  using C = compute_t<T>;
  if (op == UnaryOp::IsNan || op == UnaryOp::IsInf || op == UnaryOp::LogicalNot) {
    unary_loop<bool, T>(in, out, [op](T v) {
      const C x = static_cast<C>(v);
      if (op == UnaryOp::LogicalNot) return !static_cast<bool>(x);
      if constexpr (std::is_floating_point_v<C>) return op == UnaryOp::IsNan ? std::isnan(x) : std::isinf(x);
      return false;
    });
    return;
  }
  if constexpr (std::is_same_v<T, bool>) {
    EMBER_FAIL("unary", "op {} is not defined for bool tensors", static_cast<int>(op));
  } else {
    // Each op gets its own instantiation so the switch is resolved outside the loop.
#define EMBER_UNARY_CASE(name) case UnaryOp::name: return unary_typed<T, UnaryOp::name>(in, out);
    switch (op) {
      EMBER_UNARY_CASE(Neg) EMBER_UNARY_CASE(Abs) EMBER_UNARY_CASE(Sign) EMBER_UNARY_CASE(Relu)
      EMBER_UNARY_CASE(Floor) EMBER_UNARY_CASE(Ceil) EMBER_UNARY_CASE(Round)
      default: break;
    }
    if constexpr (std::is_floating_point_v<C>) {
      switch (op) {
        EMBER_UNARY_CASE(Exp) EMBER_UNARY_CASE(Log) EMBER_UNARY_CASE(Log1p) EMBER_UNARY_CASE(Expm1)
        EMBER_UNARY_CASE(Sqrt) EMBER_UNARY_CASE(Rsqrt) EMBER_UNARY_CASE(Sin) EMBER_UNARY_CASE(Cos)
        EMBER_UNARY_CASE(Tanh) EMBER_UNARY_CASE(Sigmoid) EMBER_UNARY_CASE(Erf) EMBER_UNARY_CASE(Reciprocal)
        EMBER_UNARY_CASE(Gelu) EMBER_UNARY_CASE(GeluDerivative)
        default: break;  // GCOVR_EXCL_LINE: every op has its case above
      }
    }
#undef EMBER_UNARY_CASE
    EMBER_FAIL("unary", "op {} is not defined for {} tensors", static_cast<int>(op), dtype_v<T>);
  }
}

// ---- binary ----
// Always inlined for the reason apply_unary is: GeluBackward's polynomials would otherwise make it a
// call per element for every binary op.
template <typename C>
[[gnu::always_inline]] inline C apply_binary_arith(BinaryOp op, C a, C b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div:
      // Integers divide with floor rounding (floor_divide); div() itself computes in floating point.
      if constexpr (std::is_floating_point_v<C>) return a / b;
      else return integer_math::floor_divide(a, b);
    case BinaryOp::Pow:
      if constexpr (std::is_floating_point_v<C>) return std::pow(a, b);
      else return integer_math::power(a, b);
    case BinaryOp::Maximum:
      if constexpr (std::is_floating_point_v<C>) { if (std::isnan(a) || std::isnan(b)) return a + b; }
      return a > b ? a : b;
    case BinaryOp::Minimum:
      if constexpr (std::is_floating_point_v<C>) { if (std::isnan(a) || std::isnan(b)) return a + b; }
      return a < b ? a : b;
    case BinaryOp::Atan2:
      if constexpr (std::is_floating_point_v<C>) return std::atan2(a, b);
      else return static_cast<C>(std::atan2(double(a), double(b)));
    case BinaryOp::Remainder:  // Python's modulo: the result has the sign of b
      if constexpr (std::is_floating_point_v<C>) { C r = std::fmod(a, b); return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }
      else return integer_math::remainder(a, b);
    case BinaryOp::ReluBackward: return b > C(0) ? a : C(0);
    case BinaryOp::GeluBackward:  // binary_dispatch refuses integer dtypes
      if constexpr (std::is_floating_point_v<C>) return a * apply_unary<C>(UnaryOp::GeluDerivative, b);
      else return C(0);
    default: return C(0);  // GCOVR_EXCL_LINE: only called for the arithmetic ops
  }
}

template <typename C>
inline bool apply_comparison(BinaryOp op, C a, C b) {
  switch (op) {
    case BinaryOp::Eq: return a == b;
    case BinaryOp::Ne: return a != b;
    case BinaryOp::Lt: return a < b;
    case BinaryOp::Le: return a <= b;
    case BinaryOp::Gt: return a > b;
    case BinaryOp::Ge: return a >= b;
    case BinaryOp::LogicalAnd: return (a != C(0)) && (b != C(0));
    case BinaryOp::LogicalOr: return (a != C(0)) || (b != C(0));
    case BinaryOp::LogicalXor: return (a != C(0)) != (b != C(0));
    default: return false;  // GCOVR_EXCL_LINE: only called for the comparisons
  }
}

template <typename T, BinaryOp kOp>
void binary_typed(const View& a, const View& b, const View& out) {
  using C = compute_t<T>;
  if constexpr (kOp >= BinaryOp::Eq) {
    binary_loop<bool, T>(a, b, out, [](T x, T y) { return apply_comparison<C>(kOp, static_cast<C>(x), static_cast<C>(y)); });
  } else if constexpr (is_half_like<T> && kOp == BinaryOp::ReluBackward) {  // see unary_typed
    binary_loop<T, T>(a, b, out, [](T g, T s) {
      return T::from_bits(is_positive_bits<T>(s.bits) ? through_float<T>(g.bits) : uint16_t{0});
    });
  } else {
    binary_loop<T, T>(a, b, out, [](T x, T y) { return T(apply_binary_arith<C>(kOp, static_cast<C>(x), static_cast<C>(y))); });
  }
}

template <typename T>
void binary_dispatch(BinaryOp op, const View& a, const View& b, const View& out) {
  if constexpr (!std::is_floating_point_v<compute_t<T>>) {
    if (op == BinaryOp::ReluBackward || op == BinaryOp::GeluBackward)
      EMBER_FAIL("binary", "op {} is not defined for {} tensors", static_cast<int>(op), dtype_v<T>);
  }
#define EMBER_BINARY_CASE(name) case BinaryOp::name: return binary_typed<T, BinaryOp::name>(a, b, out);
  switch (op) {
    EMBER_BINARY_CASE(Add) EMBER_BINARY_CASE(Sub) EMBER_BINARY_CASE(Mul) EMBER_BINARY_CASE(Div)
    EMBER_BINARY_CASE(Pow) EMBER_BINARY_CASE(Maximum) EMBER_BINARY_CASE(Minimum) EMBER_BINARY_CASE(Atan2)
    EMBER_BINARY_CASE(Remainder) EMBER_BINARY_CASE(ReluBackward) EMBER_BINARY_CASE(GeluBackward) EMBER_BINARY_CASE(Eq) EMBER_BINARY_CASE(Ne) EMBER_BINARY_CASE(Lt)
    EMBER_BINARY_CASE(Le) EMBER_BINARY_CASE(Gt) EMBER_BINARY_CASE(Ge) EMBER_BINARY_CASE(LogicalAnd)
    EMBER_BINARY_CASE(LogicalOr) EMBER_BINARY_CASE(LogicalXor)
  }
#undef EMBER_BINARY_CASE
}

}  // namespace

void fill(const View& out, FillValue value) {
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    T v;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) v = static_cast<T>(value.integer);
    else v = convert<T>(value.real);
    std::array<const View*, 1> views{&out};
    for_each_run<1>(views, [&](const std::array<char*, 1>& p, const std::array<int64_t, 1>& s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
    });
  });
}

void copy(const View& in, const View& out) {
  visit_dtype(out.dtype, [&](auto out_tag) {
    using Out = decltype(out_tag);
    visit_dtype(in.dtype, [&](auto in_tag) {
      using In = decltype(in_tag);
      if constexpr (std::is_same_v<In, Out>) {
        std::array<const View*, 2> views{&out, &in};
        for_each_run<2>(views, [&](const std::array<char*, 2>& p, const std::array<int64_t, 2>& s, int64_t n) {
          if (s[0] == sizeof(Out) && s[1] == sizeof(In)) {
            std::memcpy(p[0], p[1], n * sizeof(Out));
          } else {
            for (int64_t i = 0; i < n; ++i)
              *reinterpret_cast<Out*>(p[0] + i * s[0]) = *reinterpret_cast<const In*>(p[1] + i * s[1]);
          }
        });
      } else {
        unary_loop<Out, In>(in, out, [](In v) { return convert<Out>(v); });
      }
    });
  });
}

void unary(UnaryOp op, const View& in, const View& out) {
  visit_dtype(in.dtype, [&](auto tag) { unary_dispatch<decltype(tag)>(op, in, out); });
}

void binary(BinaryOp op, const View& a, const View& b, const View& out) {
  visit_dtype(a.dtype, [&](auto tag) { binary_dispatch<decltype(tag)>(op, a, b, out); });
}

void where(const View& cond, const View& a, const View& b, const View& out) {
  visit_dtype(out.dtype, [&](auto tag) {
    // A select moves bits: 16-bit floats are selected as uint16_t, which GCC vectorises (it does not
    // vectorise a select between two structs).
    using T = std::conditional_t<is_half_like<decltype(tag)>, uint16_t, decltype(tag)>;
    std::array<const View*, 4> views{&out, &cond, &a, &b};
    // Both sides are loaded and one is selected, with no branch: a mask like a sign test's is a coin
    // toss per element, and a mispredicted branch per element made this loop ~20x slower than a multiply.
    for_each_run<4>(views, [&](const std::array<char*, 4>& p, const std::array<int64_t, 4>& s, int64_t n) {
      T* o = reinterpret_cast<T*>(p[0]);
      // The condition is read as bytes (ember's bools are 0 or 1): GCC 12 does not vectorise a select
      // on a bool load, and does on a uint8_t one.
      const uint8_t* c = reinterpret_cast<const uint8_t*>(p[1]);
      const T* x = reinterpret_cast<const T*>(p[2]);
      const T* y = reinterpret_cast<const T*>(p[3]);
      constexpr int64_t size = sizeof(T);
      // Contiguous runs, either side possibly a broadcast scalar (masked_fill, relu's backward); each
      // value is loaded before the select, since a load on one side only would be kept as a branch.
      auto select = [&]<bool x_scalar, bool y_scalar>() {
        for (int64_t i = 0; i < n; ++i) {
          const T xv = x[x_scalar ? 0 : i], yv = y[y_scalar ? 0 : i];
          o[i] = c[i] ? xv : yv;
        }
      };
      if (s[0] == size && s[1] == 1 && (s[2] == size || s[2] == 0) && (s[3] == size || s[3] == 0)) {
        if (s[2] == 0 && s[3] == 0) select.template operator()<true, true>();
        else if (s[2] == 0) select.template operator()<true, false>();
        else if (s[3] == 0) select.template operator()<false, true>();
        else select.template operator()<false, false>();
        return;
      }
      for (int64_t i = 0; i < n; ++i) {
        const T xv = *reinterpret_cast<const T*>(p[2] + i * s[2]), yv = *reinterpret_cast<const T*>(p[3] + i * s[3]);
        *reinterpret_cast<T*>(p[0] + i * s[0]) = *reinterpret_cast<const bool*>(p[1] + i * s[1]) ? xv : yv;
      }
    });
  });
}

bool has_nonfinite(const View& in) {
  bool found = false;
  visit_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_half_like<T> || std::is_floating_point_v<T>) {
      std::array<const View*, 1> views{&in};
      for_each_run<1>(views, [&](const std::array<char*, 1>& p, const std::array<int64_t, 1>& s, int64_t n) {
        for (int64_t i = 0; i < n; ++i)
          if (!std::isfinite(static_cast<double>(static_cast<compute_t<T>>(*reinterpret_cast<const T*>(p[0] + i * s[0])))))
            found = true;
      }, INT64_MAX);
    }
  });
  return found;
}

}  // namespace ember::cpu::EMBER_CPU_ISA
