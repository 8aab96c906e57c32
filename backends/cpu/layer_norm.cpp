// Layer normalisation over the last dim, one row at a time (backends/backend.h: layer_norm_forward/
// backward). The composite (mean, subtract, square, mean, add, rsqrt, multiply, then the affine map)
// makes about ten passes over the activations forward and twice that backward; a row of a
// transformer's activations fits in L1, so here each row is read from memory once per direction.
// Rows are independent, and the weight and bias gradients are summed over blocks of kRowBlock rows
// and then over the blocks in order, so the thread count cannot change the bits.
#include <algorithm>
#include <cmath>

#include <ember/backends/cpu/attention_tiles.h>  // ZeroedBuffer
#include <ember/backends/cpu/kernels.h>
#include <ember/backends/cpu/lane_sum.h>
#include <ember/backends/cpu/loops.h>
#include <ember/core/error.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

constexpr int64_t kRowBlock = 32;

template <typename T>
void forward_rows(const View& x_view, const View& w_view, const View& b_view, double eps_d, const View& y_view,
                  const View& mean_view, const View& rstd_view) {
  const int64_t n = x_view.shape.back();
  const int64_t rows = x_view.numel() / n;
  const T* x_all = static_cast<const T*>(x_view.data);
  const T* __restrict w = static_cast<const T*>(w_view.data);
  const T* __restrict b = static_cast<const T*>(b_view.data);
  T* y_all = static_cast<T*>(y_view.data);
  T* mean_all = static_cast<T*>(mean_view.data);
  T* rstd_all = static_cast<T*>(rstd_view.data);
  const T eps = T(eps_d), count = T(n);
  parallel_for(rows, 6 * n, [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* __restrict x = x_all + r * n;
      T* __restrict y = y_all + r * n;
      const T mu = lane_sum<T>(n, [&](int64_t i) { return x[i]; }) / count;
      const T var = lane_sum<T>(n, [&](int64_t i) { return (x[i] - mu) * (x[i] - mu); }) / count;
      const T rstd = T(1) / std::sqrt(var + eps);
      mean_all[r] = mu;
      rstd_all[r] = rstd;
      if (w && b) {
        for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mu) * rstd * w[i] + b[i];
      } else if (w) {
        for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mu) * rstd * w[i];
      } else if (b) {
        for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mu) * rstd + b[i];
      } else {
        for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mu) * rstd;
      }
    }
  });
}

template <typename T>
void backward_rows(const View& gy_view, const View& x_view, const View& w_view, const View& mean_view,
                   const View& rstd_view, const View& gx_view, const View& gw_view, const View& gb_view) {
  const int64_t n = x_view.shape.back();
  const int64_t rows = x_view.numel() / n;
  const T* gy_all = static_cast<const T*>(gy_view.data);
  const T* x_all = static_cast<const T*>(x_view.data);
  const T* __restrict w = static_cast<const T*>(w_view.data);
  const T* mean_all = static_cast<const T*>(mean_view.data);
  const T* rstd_all = static_cast<const T*>(rstd_view.data);
  T* gx_all = static_cast<T*>(gx_view.data);
  const bool want_w = gw_view.data != nullptr, want_b = gb_view.data != nullptr;
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  // Per block of rows: its partial sums of grad_y * xhat and grad_y, for the weight and bias.
  ZeroedBuffer<T> partial_w(want_w ? size_t(blocks * n) : 0), partial_b(want_b ? size_t(blocks * n) : 0);
  T* pw_all = partial_w.data();
  T* pb_all = partial_b.data();
  const T count = T(n);
  parallel_for(blocks, 8 * n * kRowBlock, [=](int64_t block_begin, int64_t block_end) {
    for (int64_t blk = block_begin; blk < block_end; ++blk) {
      T* __restrict pw = want_w ? pw_all + blk * n : nullptr;
      T* __restrict pb = want_b ? pb_all + blk * n : nullptr;
      const int64_t row_end = std::min(rows, (blk + 1) * kRowBlock);
      for (int64_t r = blk * kRowBlock; r < row_end; ++r) {
        const T* __restrict x = x_all + r * n;
        const T* __restrict gy = gy_all + r * n;
        T* __restrict gx = gx_all + r * n;
        const T mu = mean_all[r], rstd = rstd_all[r];
        // gw = grad_y * weight; grad_x = rstd (gw - mean(gw) - xhat mean(gw xhat))
        const T mean_gw = lane_sum<T>(n, [&](int64_t i) { return w ? gy[i] * w[i] : gy[i]; }) / count;
        const T mean_gw_xhat =
            lane_sum<T>(n, [&](int64_t i) { return (w ? gy[i] * w[i] : gy[i]) * ((x[i] - mu) * rstd); }) / count;
        for (int64_t i = 0; i < n; ++i) {
          const T xhat = (x[i] - mu) * rstd;
          const T gw = w ? gy[i] * w[i] : gy[i];
          gx[i] = rstd * (gw - mean_gw - xhat * mean_gw_xhat);
        }
        if (pw)
          for (int64_t i = 0; i < n; ++i) pw[i] += gy[i] * ((x[i] - mu) * rstd);
        if (pb)
          for (int64_t i = 0; i < n; ++i) pb[i] += gy[i];
      }
    }
  });
  // The blocks' partial sums, added in block order.
  auto finish = [&](const ZeroedBuffer<T>& partial, const View& out_view) {
    T* out = static_cast<T*>(out_view.data);
    std::fill(out, out + n, T(0));
    for (int64_t blk = 0; blk < blocks; ++blk)
      for (int64_t i = 0; i < n; ++i) out[i] += partial[blk * n + i];
  };
  if (want_w) finish(partial_w, gw_view);
  if (want_b) finish(partial_b, gb_view);
}

}  // namespace

void layer_norm_forward(const View& x, const View& weight, const View& bias, double eps, const View& y,
                        const View& mean, const View& rstd) {
  switch (x.dtype) {
    case DType::Float32: return forward_rows<float>(x, weight, bias, eps, y, mean, rstd);
    case DType::Float64: return forward_rows<double>(x, weight, bias, eps, y, mean, rstd);
    default: EMBER_FAIL("layer_norm", "the fused kernel takes float32 or float64, got {}", x.dtype);
  }
}

void layer_norm_backward(const View& grad_y, const View& x, const View& weight, const View& mean, const View& rstd,
                         const View& grad_x, const View& grad_weight, const View& grad_bias) {
  switch (x.dtype) {
    case DType::Float32: return backward_rows<float>(grad_y, x, weight, mean, rstd, grad_x, grad_weight, grad_bias);
    case DType::Float64: return backward_rows<double>(grad_y, x, weight, mean, rstd, grad_x, grad_weight, grad_bias);
    default: EMBER_FAIL("layer_norm_backward", "the fused kernel takes float32 or float64, got {}", x.dtype);
  }
}

}  // namespace ember::cpu::EMBER_CPU_ISA
