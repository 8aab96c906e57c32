// Softmax over the last dim, one row at a time (backends/backend.h: softmax_forward/backward). The
// composite reads and writes the scores tensor about seven times (max, subtract, exp, sum, divide,
// and the where that guards an all -inf row), and attention's math path adds a scale, a mask and, under
// autocast, a cast each way; a row of attention scores fits in L1, so here it is read from memory once
// and written once, with the scale, the causal or sliding-window band and the dtypes folded in. Each
// row is independent, so the thread count cannot change the bits; within a row the max and the sum run
// in 16 lanes, combined in a fixed order.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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

// The allowed keys of row r as [lo, hi): query i = r mod n_q sees i - left <= j <= i + right.
struct KeyBand {
  int64_t lo, hi;
};
KeyBand key_band(const SoftmaxSpec& spec, int64_t r, int64_t n_q, int64_t n) {
  const int64_t i = r % n_q;
  const int64_t lo = spec.left >= 0 ? std::clamp<int64_t>(i - spec.left, 0, n) : 0;
  // i + right + 1 would overflow for a bound near INT64_MAX: a bound past the row's end is no bound.
  const int64_t hi = spec.right < 0 || spec.right >= n - i ? n : std::max<int64_t>(i + spec.right + 1, 0);
  return {lo, std::max(lo, hi)};
}

// Float16 and bfloat16 rows are widened to float32, and float32 and float64 rows computed as they
// are, so the allowed part of each row is copied (times the scale) into a row buffer of Acc first:
// the passes over it then stay in L1 whatever the input's dtype.
template <typename In, typename Out>
void softmax_rows(const View& in, const View& out, const SoftmaxSpec& spec) {
  using Acc = std::conditional_t<std::is_same_v<In, double>, double, float>;
  const int64_t n = in.shape.empty() ? 1 : in.shape.back();
  const int64_t n_q = in.shape.size() >= 2 ? in.shape[in.shape.size() - 2] : 1;
  const int64_t rows = n == 0 ? 0 : in.numel() / n;
  const In* x_all = static_cast<const In*>(in.data);
  Out* y_all = static_cast<Out*>(out.data);
  const Acc scale = static_cast<Acc>(spec.scale);
  parallel_for(rows, 4 * n, [=](int64_t begin, int64_t end) {
    std::vector<Acc> buffer(static_cast<size_t>(n));
    for (int64_t r = begin; r < end; ++r) {
      const auto [lo, hi] = key_band(spec, r, n_q, n);
      const int64_t count = hi - lo;
      const In* __restrict x = x_all + r * n + lo;
      Out* __restrict y = y_all + r * n;
      Acc* __restrict s = buffer.data();
      for (int64_t j = 0; j < count; ++j) s[j] = static_cast<Acc>(x[j]) * scale;
      Acc m = row_max(s, count);
      if (std::isinf(m)) m = 0;  // an all -inf row: e = 0 everywhere; a +inf: inf / inf = NaN
      Acc lanes[kLanes] = {};
      int64_t j = 0;
      for (; j + kLanes <= count; j += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) {
          const Acc e = exp_of<Acc>(s[j + l] - m);
          s[j + l] = e;
          lanes[l] += e;
        }
      Acc sum = 0;
      for (; j < count; ++j) {
        const Acc e = exp_of<Acc>(s[j] - m);
        s[j] = e;
        sum += e;
      }
      for (Acc l : lanes) sum += l;
      if (spec.empty_rows_zero && sum == 0) sum = 1;
      // A key outside the band is e = 0: 0 / sum, so 0, or NaN in a row whose sum is 0 or NaN.
      const Out outside = static_cast<Out>(Acc(0) / sum);
      for (int64_t k = 0; k < lo; ++k) y[k] = outside;
      for (int64_t k = 0; k < count; ++k) y[lo + k] = static_cast<Out>(s[k] / sum);
      for (int64_t k = hi; k < n; ++k) y[k] = outside;
    }
  });
}

template <typename Y, typename G>
void softmax_backward_rows(const View& y_view, const View& g_view, const View& out, double scale_in) {
  using Acc = std::conditional_t<std::is_same_v<Y, double>, double, float>;
  const int64_t n = y_view.shape.empty() ? 1 : y_view.shape.back();
  const int64_t rows = n == 0 ? 0 : y_view.numel() / n;
  const Y* y_all = static_cast<const Y*>(y_view.data);
  const Y* g_all = static_cast<const Y*>(g_view.data);
  G* dx_all = static_cast<G*>(out.data);
  const Acc scale = static_cast<Acc>(scale_in);
  parallel_for(rows, 3 * n, [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const Y* __restrict y = y_all + r * n;
      const Y* __restrict g = g_all + r * n;
      G* __restrict dx = dx_all + r * n;
      Acc lanes[kLanes] = {};
      int64_t i = 0;
      for (; i + kLanes <= n; i += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) lanes[l] += static_cast<Acc>(g[i + l]) * static_cast<Acc>(y[i + l]);
      Acc dot = 0;
      for (; i < n; ++i) dot += static_cast<Acc>(g[i]) * static_cast<Acc>(y[i]);
      for (Acc l : lanes) dot += l;
      for (int64_t j = 0; j < n; ++j)
        dx[j] = static_cast<G>(static_cast<Acc>(y[j]) * (static_cast<Acc>(g[j]) - dot) * scale);
    }
  });
}

}  // namespace

// A 16-bit input may be written as float32; every other input in its own dtype.
bool widens(DType in, DType out) { return out == DType::Float32 && is_16bit_float(in); }

void softmax_forward(const View& in, const View& out, const SoftmaxSpec& spec) {
  EMBER_CHECK(out.dtype == in.dtype || widens(in.dtype, out.dtype), "softmax",
              "writes its input's dtype (or float32 for 16-bit input), got {} to {}", in.dtype, out.dtype);
  const bool widened = out.dtype != in.dtype;
  switch (in.dtype) {
    case DType::Float32: return softmax_rows<float, float>(in, out, spec);
    case DType::Float64: return softmax_rows<double, double>(in, out, spec);
    case DType::BFloat16:
      return widened ? softmax_rows<BFloat16, float>(in, out, spec) : softmax_rows<BFloat16, BFloat16>(in, out, spec);
    case DType::Float16:
      return widened ? softmax_rows<Half, float>(in, out, spec) : softmax_rows<Half, Half>(in, out, spec);
    default: EMBER_FAIL("softmax", "the fused kernel takes floating-point rows, got {}", in.dtype);
  }
}

void softmax_backward(const View& y, const View& grad_out, const View& grad_in, double scale) {
  EMBER_CHECK(grad_out.dtype == y.dtype && (grad_in.dtype == y.dtype || widens(grad_in.dtype, y.dtype)),
              "softmax_backward", "expected y and grad_out of one dtype and grad_in in it (or 16-bit for float32 y), got {}, {}, {}",
              y.dtype, grad_out.dtype, grad_in.dtype);
  const bool narrowed = grad_in.dtype != y.dtype;
  switch (y.dtype) {
    case DType::Float32:
      if (!narrowed) return softmax_backward_rows<float, float>(y, grad_out, grad_in, scale);
      if (grad_in.dtype == DType::BFloat16) return softmax_backward_rows<float, BFloat16>(y, grad_out, grad_in, scale);
      return softmax_backward_rows<float, Half>(y, grad_out, grad_in, scale);
    case DType::Float64: return softmax_backward_rows<double, double>(y, grad_out, grad_in, scale);
    case DType::BFloat16: return softmax_backward_rows<BFloat16, BFloat16>(y, grad_out, grad_in, scale);
    case DType::Float16: return softmax_backward_rows<Half, Half>(y, grad_out, grad_in, scale);
    default: EMBER_FAIL("softmax_backward", "the fused kernel takes floating-point rows, got {}", y.dtype);
  }
}

}  // namespace ember::cpu::EMBER_CPU_ISA
