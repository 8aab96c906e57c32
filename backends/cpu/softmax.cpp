// Softmax over the last dim, one row at a time (backends/backend.h: softmax_forward/backward). The
// composite reads and writes the scores tensor about seven times (max, subtract, exp, sum, divide,
// and the where that guards an all -inf row); a row of attention scores fits in L1, so here it is
// read from memory once and written once. Each row is independent, so the thread count cannot change
// the bits; within a row the max and the sum run in 16 lanes, combined in a fixed order.
#include <cmath>
#include <limits>

#include <ember/backends/cpu/fast_math.h>
#include <ember/backends/cpu/kernels.h>
#include <ember/backends/cpu/loops.h>
#include <ember/core/error.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

constexpr int64_t kLanes = 16;

template <typename T>
T exp_of(T x) {
  if constexpr (std::is_same_v<T, float>) return exp_float_full(x);
  else return std::exp(x);
}

// The row's maximum, NaN if any element is NaN (as amax).
template <typename T>
T row_max(const T* x, int64_t n) {
  T lanes[kLanes];
  for (T& l : lanes) l = -std::numeric_limits<T>::infinity();
  bool nan = false;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) {
      lanes[l] = x[i + l] > lanes[l] ? x[i + l] : lanes[l];
      nan |= x[i + l] != x[i + l];
    }
  T m = -std::numeric_limits<T>::infinity();
  for (; i < n; ++i) {
    m = x[i] > m ? x[i] : m;
    nan |= x[i] != x[i];
  }
  for (T l : lanes) m = l > m ? l : m;
  return nan ? std::numeric_limits<T>::quiet_NaN() : m;
}

template <typename T>
void softmax_rows(const View& in, const View& out, bool empty_rows_zero) {
  const int64_t n = in.shape.empty() ? 1 : in.shape.back();
  const int64_t rows = n == 0 ? 0 : in.numel() / n;
  const T* x_all = static_cast<const T*>(in.data);
  T* y_all = static_cast<T*>(out.data);
  parallel_for(rows, 4 * n, [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* __restrict x = x_all + r * n;
      T* __restrict y = y_all + r * n;
      T m = row_max(x, n);
      if (std::isinf(m)) m = 0;  // an all -inf row: e = 0 everywhere; a +inf: inf / inf = NaN
      T lanes[kLanes] = {};
      int64_t i = 0;
      for (; i + kLanes <= n; i += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) {
          const T e = exp_of<T>(x[i + l] - m);
          y[i + l] = e;
          lanes[l] += e;
        }
      T sum = 0;
      for (; i < n; ++i) {
        const T e = exp_of<T>(x[i] - m);
        y[i] = e;
        sum += e;
      }
      for (T l : lanes) sum += l;
      if (empty_rows_zero && sum == 0) sum = 1;
      for (int64_t j = 0; j < n; ++j) y[j] = y[j] / sum;
    }
  });
}

template <typename T>
void softmax_backward_rows(const View& y_view, const View& g_view, const View& out) {
  const int64_t n = y_view.shape.empty() ? 1 : y_view.shape.back();
  const int64_t rows = n == 0 ? 0 : y_view.numel() / n;
  const T* y_all = static_cast<const T*>(y_view.data);
  const T* g_all = static_cast<const T*>(g_view.data);
  T* dx_all = static_cast<T*>(out.data);
  parallel_for(rows, 3 * n, [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* __restrict y = y_all + r * n;
      const T* __restrict g = g_all + r * n;
      T* __restrict dx = dx_all + r * n;
      T lanes[kLanes] = {};
      int64_t i = 0;
      for (; i + kLanes <= n; i += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) lanes[l] += g[i + l] * y[i + l];
      T dot = 0;
      for (; i < n; ++i) dot += g[i] * y[i];
      for (T l : lanes) dot += l;
      for (int64_t j = 0; j < n; ++j) dx[j] = y[j] * (g[j] - dot);
    }
  });
}

}  // namespace

void softmax_forward(const View& in, const View& out, bool empty_rows_zero) {
  switch (in.dtype) {
    case DType::Float32: return softmax_rows<float>(in, out, empty_rows_zero);
    case DType::Float64: return softmax_rows<double>(in, out, empty_rows_zero);
    default: EMBER_FAIL("softmax", "the fused kernel takes float32 or float64, got {}", in.dtype);
  }
}

void softmax_backward(const View& y, const View& grad_out, const View& grad_in) {
  switch (y.dtype) {
    case DType::Float32: return softmax_backward_rows<float>(y, grad_out, grad_in);
    case DType::Float64: return softmax_backward_rows<double>(y, grad_out, grad_in);
    default: EMBER_FAIL("softmax_backward", "the fused kernel takes float32 or float64, got {}", y.dtype);
  }
}

}  // namespace ember::cpu::EMBER_CPU_ISA
