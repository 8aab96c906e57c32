// Softmax and layer normalisation over the last dim of contiguous rows (backends/backend.h:
// softmax_forward/backward, layer_norm_forward/backward), one warp per row: the lanes stride the
// row, a shuffle tree combines their partial maxima and sums, and lane 0 hands the result to the
// others through shared memory. The weight and bias gradients of layer_norm are a second kernel, one
// thread per column summing the rows in order, so their bits never depend on the launch.
#include <ember/backends/cuda/common.cuh>

namespace ember::cuda {
namespace {

constexpr int kRowThreads = 32;  // one warp per row

template <class T>
__device__ __forceinline__ T row_exp(T x) {  // T: float or double
  if constexpr (std::is_same_v<T, float>) return expf(x);
  else return exp(x);
}

template <class T>
__device__ __forceinline__ T lanes_sum(T v) {
  for (int offset = kRowThreads / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;  // complete in lane 0
}

template <class T>
__device__ __forceinline__ T lanes_max(T v) {
  for (int offset = kRowThreads / 2; offset > 0; offset /= 2) {
    const T other = __shfl_down_sync(0xffffffffu, v, offset);
    v = other > v ? other : v;
  }
  return v;
}

// Lane 0's value, for every lane of the warp (the block).
template <class T>
__device__ __forceinline__ T from_lane0(T v, T* slot) {
  if (threadIdx.x == 0) *slot = v;
  __syncthreads();
  const T out = *slot;
  __syncthreads();  // before the next use of the slot overwrites it
  return out;
}

__device__ __forceinline__ int64_t clamp_index(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Row r is query i = r mod n_q; it sees keys [lo, hi) of the band (backends/backend.h SoftmaxSpec).
// Every key outside the band is e = 0, so 0 / sum: 0, or NaN in a row whose sum is 0 or NaN.
template <class In, class Out, class Acc>
__global__ void softmax_kernel(const In* x_all, Out* y_all, int64_t rows, int64_t n, int64_t n_q, KSoftmax spec) {
  __shared__ Acc slot;
  const Acc scale = static_cast<Acc>(spec.scale);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const In* x = x_all + r * n;
    Out* y = y_all + r * n;
    const int64_t i = r % n_q;
    const int64_t lo = spec.left >= 0 ? clamp_index(i - spec.left, 0, n) : 0;
    // i + right + 1 would overflow for a bound near INT64_MAX: a bound past the row's end is no bound.
    const int64_t hi = spec.right < 0 || spec.right >= n - i ? n : clamp_index(i + spec.right + 1, lo, n);
    Acc m = -INFINITY, nan = 0;
    for (int64_t j = lo + threadIdx.x; j < hi; j += kRowThreads) {
      const Acc s = static_cast<Acc>(x[j]) * scale;
      m = s > m ? s : m;
      nan += s != s;
    }
    m = from_lane0(lanes_max(m), &slot);
    nan = from_lane0(lanes_sum(nan), &slot);
    if (nan > 0) m = NAN;  // as amax: a NaN anywhere makes the row NaN
    else if (isinf(m)) m = 0;
    Acc sum = 0;
    for (int64_t j = lo + threadIdx.x; j < hi; j += kRowThreads) sum += row_exp(static_cast<Acc>(x[j]) * scale - m);
    sum = from_lane0(lanes_sum(sum), &slot);
    if (spec.empty_rows_zero && sum == 0) sum = 1;
    for (int64_t j = threadIdx.x; j < n; j += kRowThreads) {
      const Acc e = j >= lo && j < hi ? row_exp(static_cast<Acc>(x[j]) * scale - m) : Acc(0);
      y[j] = static_cast<Out>(e / sum);
    }
  }
}

template <class Y, class G, class Acc>
__global__ void softmax_backward_kernel(const Y* y_all, const Y* g_all, G* dx_all, int64_t rows, int64_t n,
                                        double scale_in) {
  __shared__ Acc slot;
  const Acc scale = static_cast<Acc>(scale_in);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const Y* y = y_all + r * n;
    const Y* g = g_all + r * n;
    G* dx = dx_all + r * n;
    Acc dot = 0;
    for (int64_t i = threadIdx.x; i < n; i += kRowThreads) dot += static_cast<Acc>(g[i]) * static_cast<Acc>(y[i]);
    dot = from_lane0(lanes_sum(dot), &slot);
    for (int64_t i = threadIdx.x; i < n; i += kRowThreads)
      dx[i] = static_cast<G>(static_cast<Acc>(y[i]) * (static_cast<Acc>(g[i]) - dot) * scale);
  }
}

template <class T>
__global__ void layer_norm_kernel(const T* x_all, const T* w, const T* b, T eps, T* y_all, T* mean_all, T* rstd_all,
                                  int64_t rows, int64_t n) {
  __shared__ T slot;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* x = x_all + r * n;
    T* y = y_all + r * n;
    T sum = 0;
    for (int64_t i = threadIdx.x; i < n; i += kRowThreads) sum += x[i];
    const T mu = from_lane0(lanes_sum(sum), &slot) / T(n);
    T squares = 0;
    for (int64_t i = threadIdx.x; i < n; i += kRowThreads) squares += (x[i] - mu) * (x[i] - mu);
    const T var = from_lane0(lanes_sum(squares), &slot) / T(n);
    const T rstd = T(1) / sqrt(var + eps);
    if (threadIdx.x == 0) {
      mean_all[r] = mu;
      rstd_all[r] = rstd;
    }
    for (int64_t i = threadIdx.x; i < n; i += kRowThreads) {
      T v = (x[i] - mu) * rstd;
      if (w) v = v * w[i];
      if (b) v = v + b[i];
      y[i] = v;
    }
  }
}

template <class T>
__global__ void layer_norm_backward_kernel(const T* gy_all, const T* x_all, const T* w, const T* mean_all,
                                           const T* rstd_all, T* gx_all, int64_t rows, int64_t n) {
  __shared__ T slot;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* x = x_all + r * n;
    const T* gy = gy_all + r * n;
    T* gx = gx_all + r * n;
    const T mu = mean_all[r], rstd = rstd_all[r];
    T sum_gw = 0, sum_gw_xhat = 0;
    for (int64_t i = threadIdx.x; i < n; i += kRowThreads) {
      const T gw = w ? gy[i] * w[i] : gy[i];
      sum_gw += gw;
      sum_gw_xhat += gw * ((x[i] - mu) * rstd);
    }
    const T mean_gw = from_lane0(lanes_sum(sum_gw), &slot) / T(n);
    const T mean_gw_xhat = from_lane0(lanes_sum(sum_gw_xhat), &slot) / T(n);
    for (int64_t i = threadIdx.x; i < n; i += kRowThreads) {
      const T xhat = (x[i] - mu) * rstd;
      const T gw = w ? gy[i] * w[i] : gy[i];
      gx[i] = rstd * (gw - mean_gw - xhat * mean_gw_xhat);
    }
  }
}

// grad_weight[i] = sum over rows of grad_y xhat, grad_bias[i] = sum of grad_y: a thread per column,
// the rows in order (adjacent threads read adjacent columns, so each row's read is coalesced).
template <class T>
__global__ void layer_norm_params_kernel(const T* gy, const T* x, const T* mean_all, const T* rstd_all, T* gw, T* gb,
                                         int64_t rows, int64_t n) {
  EMBER_GRID_STRIDE(i, n) {
    T sw = 0, sb = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const T g = gy[r * n + i];
      sw += g * ((x[r * n + i] - mean_all[r]) * rstd_all[r]);
      sb += g;
    }
    if (gw) gw[i] = sw;
    if (gb) gb[i] = sb;
  }
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(rows, 65536))); }

int64_t row_length(const KView& v) { return v.ndim ? v.shape[v.ndim - 1] : 1; }

}  // namespace

void launch_softmax(const KView& in, const KView& out, const KSoftmax& spec, cudaStream_t stream) {
  const int64_t n = row_length(in), rows = n ? in.numel() / n : 0;
  if (rows == 0) return;
  const int64_t n_q = in.ndim >= 2 ? in.shape[in.ndim - 2] : 1;
  visit_floating_dtype(in.dtype, [&](auto in_type) {
    using In = decltype(in_type);
    using Acc = std::conditional_t<std::is_same_v<In, double>, double, float>;
    auto launch = [&](auto out_type) {
      using Out = decltype(out_type);
      launch_kernel(softmax_kernel<In, Out, Acc>, dim3(row_blocks(rows)), dim3(kRowThreads), stream,
                    static_cast<const In*>(in.data), static_cast<Out*>(out.data), rows, n, n_q, spec);
    };
    if (out.dtype == DType::Float32) launch(float{});
    else launch(In{});
  });
}

void launch_softmax_backward(const KView& y, const KView& grad_out, const KView& grad_in, double scale,
                             cudaStream_t stream) {
  const int64_t n = row_length(y), rows = n ? y.numel() / n : 0;
  if (rows == 0) return;
  visit_floating_dtype(y.dtype, [&](auto y_type) {
    using Y = decltype(y_type);
    using Acc = std::conditional_t<std::is_same_v<Y, double>, double, float>;
    visit_floating_dtype(grad_in.dtype, [&](auto g_type) {
      using G = decltype(g_type);
      launch_kernel(softmax_backward_kernel<Y, G, Acc>, dim3(row_blocks(rows)), dim3(kRowThreads), stream,
                    static_cast<const Y*>(y.data), static_cast<const Y*>(grad_out.data), static_cast<G*>(grad_in.data),
                    rows, n, scale);
    });
  });
}

namespace {
template <class T>
void layer_norm_typed(const KView& x, const KView& weight, const KView& bias, double eps, const KView& y,
                      const KView& mean, const KView& rstd, cudaStream_t stream) {
  const int64_t n = row_length(x), rows = x.numel() / n;
  launch_kernel(layer_norm_kernel<T>, dim3(row_blocks(rows)), dim3(kRowThreads), stream,
                static_cast<const T*>(x.data), static_cast<const T*>(weight.data), static_cast<const T*>(bias.data),
                T(eps), static_cast<T*>(y.data), static_cast<T*>(mean.data), static_cast<T*>(rstd.data), rows, n);
}
template <class T>
void layer_norm_backward_typed(const KView& grad_y, const KView& x, const KView& weight, const KView& mean,
                               const KView& rstd, const KView& grad_x, const KView& grad_weight, const KView& grad_bias,
                               cudaStream_t stream) {
  const int64_t n = row_length(x), rows = x.numel() / n;
  launch_kernel(layer_norm_backward_kernel<T>, dim3(row_blocks(rows)), dim3(kRowThreads), stream,
                static_cast<const T*>(grad_y.data), static_cast<const T*>(x.data), static_cast<const T*>(weight.data),
                static_cast<const T*>(mean.data), static_cast<const T*>(rstd.data), static_cast<T*>(grad_x.data), rows,
                n);
  if (grad_weight.data || grad_bias.data)
    launch_kernel(layer_norm_params_kernel<T>, dim3(grid_for(n)), dim3(kThreads), stream,
                  static_cast<const T*>(grad_y.data), static_cast<const T*>(x.data), static_cast<const T*>(mean.data),
                  static_cast<const T*>(rstd.data), static_cast<T*>(grad_weight.data), static_cast<T*>(grad_bias.data),
                  rows, n);
}
}  // namespace

void launch_layer_norm(const KView& x, const KView& weight, const KView& bias, double eps, const KView& y,
                       const KView& mean, const KView& rstd, cudaStream_t stream) {
  if (x.numel() == 0) return;
  if (x.dtype == DType::Float64) layer_norm_typed<double>(x, weight, bias, eps, y, mean, rstd, stream);
  else layer_norm_typed<float>(x, weight, bias, eps, y, mean, rstd, stream);
}

void launch_layer_norm_backward(const KView& grad_y, const KView& x, const KView& weight, const KView& mean,
                                const KView& rstd, const KView& grad_x, const KView& grad_weight,
                                const KView& grad_bias, cudaStream_t stream) {
  if (x.numel() == 0) return;
  if (x.dtype == DType::Float64)
    layer_norm_backward_typed<double>(grad_y, x, weight, mean, rstd, grad_x, grad_weight, grad_bias, stream);
  else
    layer_norm_backward_typed<float>(grad_y, x, weight, mean, rstd, grad_x, grad_weight, grad_bias, stream);
}

}  // namespace ember::cuda
