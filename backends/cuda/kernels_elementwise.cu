// CUDA elementwise kernels: fill, copy (with conversion), unary, binary, where, has_nonfinite.
// One thread per element over a grid-stride loop; operands are addressed through Strided<N>
// (common.cuh), with a division-free path when every operand is one dense run. The scalar rules are
// the CPU backend's (backends/cpu/elementwise.cpp) line for line, so results agree: bit for bit where
// the arithmetic is exact, and to the last ulp or so where CUDA's libm differs from glibc's.
#include <ember/backends/common/integer_math.h>
#include <ember/backends/cuda/common.cuh>

namespace ember::cuda {
namespace {

template <int N, typename F>
__global__ void strided_kernel(Strided<N> g, int64_t n, F f) {
  EMBER_GRID_STRIDE(i, n) {
    int64_t off[N];
    g.offsets(i, off);
    f(off);
  }
}

template <int N, typename F>
__global__ void dense_kernel(int64_t n, F f) {
  EMBER_GRID_STRIDE(i, n) {
    int64_t off[N];
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = i;
    f(off);
  }
}

// Runs f(offsets) for every element of views[0]'s shape.
template <int N, typename F>
void for_each(const KView* const (&views)[N], F f, cudaStream_t s) {
  const int64_t n = views[0]->numel();
  if (n == 0) return;
  const Strided<N> g = make_strided<N>(views);
  if (g.contiguous()) {
    dense_kernel<N><<<grid_for(n), kThreads, 0, s>>>(n, f);
  } else {
    strided_kernel<N><<<grid_for(n), kThreads, 0, s>>>(g, n, f);
  }
}

// ---- device math: explicit float and double overloads (no reliance on std:: in device code)
__device__ __forceinline__ float d_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double d_abs(double x) { return fabs(x); }
__device__ __forceinline__ float d_exp(float x) { return expf(x); }
__device__ __forceinline__ double d_exp(double x) { return exp(x); }
__device__ __forceinline__ float d_log(float x) { return logf(x); }
__device__ __forceinline__ double d_log(double x) { return log(x); }
__device__ __forceinline__ float d_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double d_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float d_expm1(float x) { return expm1f(x); }
__device__ __forceinline__ double d_expm1(double x) { return expm1(x); }
__device__ __forceinline__ float d_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double d_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float d_sin(float x) { return sinf(x); }
__device__ __forceinline__ double d_sin(double x) { return sin(x); }
__device__ __forceinline__ float d_cos(float x) { return cosf(x); }
__device__ __forceinline__ double d_cos(double x) { return cos(x); }
__device__ __forceinline__ float d_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double d_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float d_erf(float x) { return erff(x); }
__device__ __forceinline__ double d_erf(double x) { return erf(x); }
__device__ __forceinline__ float d_floor(float x) { return floorf(x); }
__device__ __forceinline__ double d_floor(double x) { return floor(x); }
__device__ __forceinline__ float d_ceil(float x) { return ceilf(x); }
__device__ __forceinline__ double d_ceil(double x) { return ceil(x); }
__device__ __forceinline__ float d_rint(float x) { return rintf(x); }  // ties to even
__device__ __forceinline__ double d_rint(double x) { return rint(x); }
__device__ __forceinline__ float d_pow(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double d_pow(double a, double b) { return pow(a, b); }
__device__ __forceinline__ float d_fmod(float a, float b) { return fmodf(a, b); }
__device__ __forceinline__ double d_fmod(double a, double b) { return fmod(a, b); }
__device__ __forceinline__ float d_atan2(float a, float b) { return atan2f(a, b); }
__device__ __forceinline__ double d_atan2(double a, double b) { return atan2(a, b); }
template <typename C>
__device__ __forceinline__ bool d_isnan(C x) {
  if constexpr (std::is_floating_point_v<C>) return x != x;
  else return false;
}

// ---- unary: math in the compute type C (float for 16-bit floats)
template <typename C>
__device__ __forceinline__ C apply_unary(KUnary op, C x) {
  if constexpr (std::is_floating_point_v<C>) {
    switch (op) {
      case KUnary::Neg: return -x;
      case KUnary::Abs: return d_abs(x);
      case KUnary::Sign: return static_cast<C>((x > 0) - (x < 0));
      case KUnary::Exp: return d_exp(x);
      case KUnary::Log: return d_log(x);
      case KUnary::Log1p: return d_log1p(x);
      case KUnary::Expm1: return d_expm1(x);
      case KUnary::Sqrt: return d_sqrt(x);
      case KUnary::Rsqrt: return C(1) / d_sqrt(x);
      case KUnary::Sin: return d_sin(x);
      case KUnary::Cos: return d_cos(x);
      case KUnary::Tanh: return d_tanh(x);
      case KUnary::Sigmoid: return C(1) / (C(1) + d_exp(-x));
      case KUnary::Relu: return (x > 0 || d_isnan(x)) ? x : C(0);  // NaN stays NaN, as in PyTorch
      case KUnary::Erf: return d_erf(x);
      case KUnary::Reciprocal: return C(1) / x;
      case KUnary::Floor: return d_floor(x);
      case KUnary::Ceil: return d_ceil(x);
      case KUnary::Round: return d_rint(x);
      case KUnary::Gelu: return x * (C(0.5) * (C(1) + d_erf(x * C(0.70710678118654752440))));
      case KUnary::GeluDerivative:  // Phi(x) + x phi(x)
        return C(0.5) * (C(1) + d_erf(x * C(0.70710678118654752440))) +
               x * (C(0.39894228040143267794) * d_exp(C(-0.5) * x * x));
      default: return x;  // the C++ side refuses the rest before launching
    }
  } else {
    switch (op) {
      case KUnary::Neg: return static_cast<C>(-x);
      case KUnary::Abs: return x < 0 ? static_cast<C>(-x) : x;
      case KUnary::Sign: return static_cast<C>((x > 0) - (x < 0));
      case KUnary::Relu: return x > 0 ? x : C(0);
      default: return x;  // Floor, Ceil, Round are the identity on integers
    }
  }
}

template <typename T>
struct UnaryF {
  KUnary op;
  T* out;
  const T* in;
  __device__ void operator()(const int64_t (&off)[2]) const {
    using C = compute_t<T>;
    out[off[0]] = T(apply_unary<C>(op, static_cast<C>(in[off[1]])));
  }
};

template <typename T>
struct PredicateF {  // IsNan, IsInf, LogicalNot: bool out
  KUnary op;
  bool* out;
  const T* in;
  __device__ void operator()(const int64_t (&off)[2]) const {
    using C = compute_t<T>;
    const C x = static_cast<C>(in[off[1]]);
    bool r = false;
    if (op == KUnary::LogicalNot) {
      r = !static_cast<bool>(x);
    } else if constexpr (std::is_floating_point_v<C>) {
      r = op == KUnary::IsNan ? d_isnan(x) : (!d_isnan(x) && (x - x) != (x - x));
    }
    out[off[0]] = r;
  }
};

// ---- binary
template <typename C>
__device__ __forceinline__ C apply_binary(KBinary op, C a, C b) {
  switch (op) {
    case KBinary::Add: return a + b;
    case KBinary::Sub: return a - b;
    case KBinary::Mul: return a * b;
    case KBinary::Div:
      if constexpr (std::is_floating_point_v<C>) return a / b;
      else return integer_math::floor_divide(a, b);  // floor_divide; div() computes in floating point
    case KBinary::Pow:
      if constexpr (std::is_floating_point_v<C>) return d_pow(a, b);
      else return integer_math::power(a, b);
    case KBinary::Maximum:
      if constexpr (std::is_floating_point_v<C>) { if (d_isnan(a) || d_isnan(b)) return a + b; }
      return a > b ? a : b;
    case KBinary::Minimum:
      if constexpr (std::is_floating_point_v<C>) { if (d_isnan(a) || d_isnan(b)) return a + b; }
      return a < b ? a : b;
    case KBinary::Atan2:
      if constexpr (std::is_floating_point_v<C>) return d_atan2(a, b);
      else return static_cast<C>(atan2(double(a), double(b)));
    case KBinary::Remainder:  // Python's modulo: the result has the sign of b
      if constexpr (std::is_floating_point_v<C>) {
        C r = d_fmod(a, b);
        return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
      } else {
        return integer_math::remainder(a, b);
      }
    case KBinary::ReluBackward: return b > C(0) ? a : C(0);
    case KBinary::GeluBackward:  // a GeluDerivative(b); the C++ side refuses integer dtypes
      if constexpr (std::is_floating_point_v<C>) return a * apply_unary<C>(KUnary::GeluDerivative, b);
      else return C(0);
    default: return C(0);
  }
}

template <typename C>
__device__ __forceinline__ bool apply_comparison(KBinary op, C a, C b) {
  switch (op) {
    case KBinary::Eq: return a == b;
    case KBinary::Ne: return a != b;
    case KBinary::Lt: return a < b;
    case KBinary::Le: return a <= b;
    case KBinary::Gt: return a > b;
    case KBinary::Ge: return a >= b;
    case KBinary::LogicalAnd: return (a != C(0)) && (b != C(0));
    case KBinary::LogicalOr: return (a != C(0)) || (b != C(0));
    case KBinary::LogicalXor: return (a != C(0)) != (b != C(0));
    default: return false;
  }
}

template <typename T>
struct BinaryF {
  KBinary op;
  T* out;
  const T* a;
  const T* b;
  __device__ void operator()(const int64_t (&off)[3]) const {
    using C = compute_t<T>;
    out[off[0]] = T(apply_binary<C>(op, static_cast<C>(a[off[1]]), static_cast<C>(b[off[2]])));
  }
};

template <typename T>
struct CompareF {
  KBinary op;
  bool* out;
  const T* a;
  const T* b;
  __device__ void operator()(const int64_t (&off)[3]) const {
    using C = compute_t<T>;
    out[off[0]] = apply_comparison<C>(op, static_cast<C>(a[off[1]]), static_cast<C>(b[off[2]]));
  }
};

template <typename Out, typename In>
struct CopyF {
  Out* out;
  const In* in;
  __device__ void operator()(const int64_t (&off)[2]) const { out[off[0]] = convert<Out>(in[off[1]]); }
};

template <typename T>
struct FillF {
  T* out;
  T value;
  __device__ void operator()(const int64_t (&off)[1]) const { out[off[0]] = value; }
};

template <typename T>
struct WhereF {
  T* out;
  const bool* cond;
  const T* a;
  const T* b;
  __device__ void operator()(const int64_t (&off)[4]) const {
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
};

template <typename T>
struct NonfiniteF {
  const T* in;
  int* flag;
  __device__ void operator()(const int64_t (&off)[1]) const {
    const double x = static_cast<double>(static_cast<compute_t<T>>(in[off[0]]));
    if (x != x || x - x != 0.0) *flag = 1;  // NaN, or inf (inf - inf is NaN)
  }
};

}  // namespace

void launch_fill(const KView& out, double real, int64_t integer, cudaStream_t s) {
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    T value;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) value = static_cast<T>(integer);
    else value = convert<T>(real);
    const KView* views[1] = {&out};
    for_each<1>(views, FillF<T>{static_cast<T*>(out.data), value}, s);
  });
}

void launch_copy(const KView& in, const KView& out, cudaStream_t s) {
  visit_dtype(out.dtype, [&](auto out_tag) {
    using Out = decltype(out_tag);
    visit_dtype(in.dtype, [&](auto in_tag) {
      using In = decltype(in_tag);
      const KView* views[2] = {&out, &in};
      for_each<2>(views, CopyF<Out, In>{static_cast<Out*>(out.data), static_cast<const In*>(in.data)}, s);
    });
  });
}

void launch_unary(KUnary op, const KView& in, const KView& out, cudaStream_t s) {
  visit_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    const KView* views[2] = {&out, &in};
    if (op == KUnary::IsNan || op == KUnary::IsInf || op == KUnary::LogicalNot) {
      for_each<2>(views, PredicateF<T>{op, static_cast<bool*>(out.data), static_cast<const T*>(in.data)}, s);
    } else if constexpr (!std::is_same_v<T, bool>) {
      for_each<2>(views, UnaryF<T>{op, static_cast<T*>(out.data), static_cast<const T*>(in.data)}, s);
    }
  });
}

void launch_binary(KBinary op, const KView& a, const KView& b, const KView& out, cudaStream_t s) {
  visit_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const KView* views[3] = {&out, &a, &b};
    const T* pa = static_cast<const T*>(a.data);
    const T* pb = static_cast<const T*>(b.data);
    if (op >= KBinary::Eq) {
      for_each<3>(views, CompareF<T>{op, static_cast<bool*>(out.data), pa, pb}, s);
    } else {
      for_each<3>(views, BinaryF<T>{op, static_cast<T*>(out.data), pa, pb}, s);
    }
  });
}

void launch_where(const KView& cond, const KView& a, const KView& b, const KView& out, cudaStream_t s) {
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const KView* views[4] = {&out, &cond, &a, &b};
    for_each<4>(views,
                WhereF<T>{static_cast<T*>(out.data), static_cast<const bool*>(cond.data),
                          static_cast<const T*>(a.data), static_cast<const T*>(b.data)},
                s);
  });
}

void launch_has_nonfinite(const KView& in, int* flag, cudaStream_t s) {
  visit_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<compute_t<T>>) {
      const KView* views[1] = {&in};
      for_each<1>(views, NonfiniteF<T>{static_cast<const T*>(in.data), flag}, s);
    }
  });
}

}  // namespace ember::cuda
