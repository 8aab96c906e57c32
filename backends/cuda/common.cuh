#pragma once
// Shared by the .cu kernel files: strided index arithmetic (64-bit throughout, so a tensor of more
// than 2^31 elements works), launch geometry, and the device-side twins of the CPU backend's scalar
// rules (conversion, 16-bit floats computed in float32).
#if !defined(EMBER_CUDA_EMULATION)
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>

#include <ember/backends/cuda/kernels.h>

namespace ember::cuda {

template <typename T>
inline constexpr bool is_half_like = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// N operands that share one shape. Built on the host: size-1 dims are dropped and adjacent dims that
// are contiguous for every operand are merged, so a contiguous tensor becomes one flat dim and the
// per-element division below runs once.
template <int N>
struct Strided {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];

  // Element offsets of operand k at linear (row-major) index i.
  __device__ __forceinline__ void offsets(int64_t i, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t size = shape[d];
      const int64_t q = i / size;
      const int64_t r = i - q * size;
      i = q;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += r * strides[k][d];
    }
  }
  bool contiguous() const {  // every operand one dense run (or a single element)
    if (ndim == 0) return true;
    if (ndim > 1) return false;
    for (int k = 0; k < N; ++k)
      if (strides[k][0] != 1) return false;
    return true;
  }
};

// views[0] gives the shape; all views have it.
template <int N>
Strided<N> make_strided(const KView* const (&views)[N]) {
  Strided<N> g;
  const KView& first = *views[0];
  int nd = 0;
  for (int d = 0; d < first.ndim; ++d) {
    if (first.shape[d] == 1) continue;
    g.shape[nd] = first.shape[d];
    for (int k = 0; k < N; ++k) g.strides[k][nd] = views[k]->strides[d];
    ++nd;
  }
  int merged = 0;
  for (int d = 0; d < nd; ++d) {
    if (merged > 0) {
      bool fusable = true;
      for (int k = 0; k < N; ++k)
        if (g.strides[k][merged - 1] != g.strides[k][d] * g.shape[d]) fusable = false;
      if (fusable) {
        g.shape[merged - 1] *= g.shape[d];
        for (int k = 0; k < N; ++k) g.strides[k][merged - 1] = g.strides[k][d];
        continue;
      }
    }
    g.shape[merged] = g.shape[d];
    for (int k = 0; k < N; ++k) g.strides[k][merged] = g.strides[k][d];
    ++merged;
  }
  g.ndim = merged;
  return g;
}

inline constexpr int kThreads = 256;

// kernel<<<grid, block, 0, stream>>>(args...), or under EMBER_CUDA_EMULATION the same run on host
// threads (emulation.h). Kernels launched through this can be tested without a GPU.
template <class... Params, class... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream, Args&&... args) {
#if defined(EMBER_CUDA_EMULATION)
  (void)stream;
  emulation::run(kernel, grid, block, std::forward<Args>(args)...);
#else
  kernel<<<grid, block, 0, stream>>>(static_cast<Params>(args)...);
#endif
}

// Blocks for a grid-stride loop over n items: enough to fill the chip several times over, capped so
// that huge tensors loop instead of launching millions of blocks.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, 65536)));
}

#define EMBER_GRID_STRIDE(i, n)                                                             \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// The CPU backend's convert<To>(From) (backends/cpu/elementwise.cpp), on the device.
template <typename To, typename From>
__host__ __device__ __forceinline__ To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    if constexpr (is_half_like<From>) return static_cast<float>(v) != 0.0f;
    else return static_cast<float>(v) != 0.0f || v != From{};
  } else if constexpr (is_half_like<To> || is_half_like<From>) {
    return To(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

// A [B, H, n, width] operand by strides (the attention kernels' q, k, v and their gradients).
template <class T>
struct Rows4 {
  T* data;
  int64_t stride[4];
  __device__ T& at(int64_t b, int64_t h, int64_t i, int64_t c) const {
    return data[b * stride[0] + h * stride[1] + i * stride[2] + c * stride[3]];
  }
};
template <class T>
Rows4<T> rows4(const KView& v) {
  return {static_cast<T*>(v.data), {v.strides[0], v.strides[1], v.strides[2], v.strides[3]}};
}

// f(T{}) for a floating dtype's C++ type T; other dtypes do nothing (the callers in cuda_backend.cpp
// have already refused them).
template <class F>
void visit_floating_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32: f(float{}); break;
    case DType::Float64: f(double{}); break;
    case DType::Float16: f(Half{}); break;
    case DType::BFloat16: f(BFloat16{}); break;
    default: break;
  }
}

// Bytes of one number of the type 16-bit and float32 data compute in (float), or of double.
inline size_t compute_size(DType dtype) { return dtype == DType::Float64 ? sizeof(double) : sizeof(float); }

// Floating accumulation type of the reductions (double, as on the CPU) and integer one (int64).
template <typename T>
using acc_t = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, int64_t>;

}  // namespace ember::cuda
