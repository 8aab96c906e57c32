// Batch normalisation in training mode, a channel at a time (backends/backend.h: batch_norm_forward/
// backward). The composite (mean, subtract, square, mean, then a scale and a shift) reads the
// activations about six times forward and its autograd backward about fifteen times, each a sum
// over dims {0, 2, 3} or a broadcast over them. Here a channel's N x S values are read twice forward
// (statistics, then output) and twice backward (sums, then grad_x); for the layers of a small
// convolutional network a channel's values stay in cache between the two reads.
// Each channel is reduced by one thread, in a fixed order (16 lanes in double, per image, images in
// order), so the thread count never changes the bits.
#include <cmath>

#include <ember/backends/cpu/kernels.h>
#include <ember/backends/cpu/lane_sum.h>
#include <ember/backends/cpu/loops.h>
#include <ember/core/error.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

// x viewed as [N, C, S]: the N runs of S values that channel c owns.
struct ChannelRuns {
  int64_t N, C, S;
  int64_t offset(int64_t n, int64_t c) const { return (n * C + c) * S; }
};

ChannelRuns runs_of(const View& x) {
  const int64_t N = x.shape[0], C = x.shape[1];
  return {N, C, C > 0 && N > 0 ? x.numel() / (N * C) : 0};
}

template <typename T>
void forward_channels(const View& x_view, const View& w_view, const View& b_view, double eps, const View& y_view,
                      const View& mean_view, const View& var_view) {
  const ChannelRuns g = runs_of(x_view);
  const T* x_all = static_cast<const T*>(x_view.data);
  const T* w = static_cast<const T*>(w_view.data);
  const T* b = static_cast<const T*>(b_view.data);
  T* y_all = static_cast<T*>(y_view.data);
  T* mean_out = static_cast<T*>(mean_view.data);
  T* var_out = static_cast<T*>(var_view.data);
  const double count = static_cast<double>(g.N * g.S);
  parallel_for(g.C, 4 * g.N * g.S, [=](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double total = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* __restrict x = x_all + g.offset(n, c);
        total += lane_sum<double>(g.S, [&](int64_t i) { return x[i]; });
      }
      const T mu = static_cast<T>(total / count);
      double squares = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* __restrict x = x_all + g.offset(n, c);
        squares += lane_sum<double>(g.S, [&](int64_t i) { return (x[i] - mu) * (x[i] - mu); });
      }
      const T var = static_cast<T>(squares / count);
      mean_out[c] = mu;
      var_out[c] = var;
      const T rstd = T(1) / std::sqrt(var + static_cast<T>(eps));
      const T scale = w ? rstd * w[c] : rstd, shift = b ? b[c] : T(0);
      for (int64_t n = 0; n < g.N; ++n) {
        const T* __restrict x = x_all + g.offset(n, c);
        T* __restrict y = y_all + g.offset(n, c);
        for (int64_t i = 0; i < g.S; ++i) y[i] = (x[i] - mu) * scale + shift;
      }
    }
  });
}

template <typename T>
void backward_channels(const View& gy_view, const View& x_view, const View& w_view, const View& mean_view,
                       const View& rstd_view, const View& gx_view, const View& gw_view, const View& gb_view) {
  const ChannelRuns g = runs_of(x_view);
  const T* gy_all = static_cast<const T*>(gy_view.data);
  const T* x_all = static_cast<const T*>(x_view.data);
  const T* w = static_cast<const T*>(w_view.data);
  const T* mean_in = static_cast<const T*>(mean_view.data);
  const T* rstd_in = static_cast<const T*>(rstd_view.data);
  T* gx_all = static_cast<T*>(gx_view.data);
  T* gw_out = static_cast<T*>(gw_view.data);
  T* gb_out = static_cast<T*>(gb_view.data);
  const double count = static_cast<double>(g.N * g.S);
  parallel_for(g.C, 6 * g.N * g.S, [=](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const T mu = mean_in[c], rstd = rstd_in[c];
      double sum_g = 0, sum_g_centered = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* __restrict x = x_all + g.offset(n, c);
        const T* __restrict gy = gy_all + g.offset(n, c);
        sum_g += lane_sum<double>(g.S, [&](int64_t i) { return gy[i]; });
        sum_g_centered += lane_sum<double>(g.S, [&](int64_t i) { return gy[i] * (x[i] - mu); });
      }
      const double sum_g_xhat = sum_g_centered * static_cast<double>(rstd);
      if (gw_out) gw_out[c] = static_cast<T>(sum_g_xhat);
      if (gb_out) gb_out[c] = static_cast<T>(sum_g);
      // grad_x = scale (g - mean(g) - xhat mean(g xhat)) = g scale + (x - mu) a + b
      const double scale = static_cast<double>(w ? rstd * w[c] : rstd);
      const T s = static_cast<T>(scale);
      const T a = static_cast<T>(-scale * static_cast<double>(rstd) * sum_g_xhat / count);
      const T shift = static_cast<T>(-scale * sum_g / count);
      for (int64_t n = 0; n < g.N; ++n) {
        const T* __restrict x = x_all + g.offset(n, c);
        const T* __restrict gy = gy_all + g.offset(n, c);
        T* __restrict gx = gx_all + g.offset(n, c);
        for (int64_t i = 0; i < g.S; ++i) gx[i] = gy[i] * s + ((x[i] - mu) * a + shift);
      }
    }
  });
}

}  // namespace

void batch_norm_forward(const View& x, const View& weight, const View& bias, double eps, const View& y,
                        const View& mean, const View& var) {
  switch (x.dtype) {
    case DType::Float32: return forward_channels<float>(x, weight, bias, eps, y, mean, var);
    case DType::Float64: return forward_channels<double>(x, weight, bias, eps, y, mean, var);
    default: EMBER_FAIL("batch_norm", "the fused kernel takes float32 or float64, got {}", x.dtype);
  }
}

void batch_norm_backward(const View& grad_y, const View& x, const View& weight, const View& mean, const View& rstd,
                         const View& grad_x, const View& grad_weight, const View& grad_bias) {
  switch (x.dtype) {
    case DType::Float32: return backward_channels<float>(grad_y, x, weight, mean, rstd, grad_x, grad_weight, grad_bias);
    case DType::Float64: return backward_channels<double>(grad_y, x, weight, mean, rstd, grad_x, grad_weight, grad_bias);
    default: EMBER_FAIL("batch_norm_backward", "the fused kernel takes float32 or float64, got {}", x.dtype);
  }
}

}  // namespace ember::cpu::EMBER_CPU_ISA
