// The CUDA softmax and layer_norm row kernels under the block emulator, against the CPU kernels
// (which tests/ops/test_fused_rows.cpp checks against the composites). The warp's sums run in
// another order than the CPU's lanes, so they agree to rounding, not bit for bit; the special rows
// (all -inf, +inf, NaN, no allowed key) agree exactly.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <ember/backends/backend.h>

#include "tests/cuda_emulated/helpers.h"

using namespace ember;
using namespace emulated_test;

namespace {
View view_of(const Tensor& t) { return View{t.data_ptr(), t.dtype(), t.shape(), t.strides()}; }
Tensor empty_like_rows(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }
// max |a - b| / (tol + tol |b|), NaN matching NaN
double scaled_diff(const Tensor& a, const Tensor& b, double tol) {
  const auto x = cast(a, DType::Float64).to_vector<double>(), y = cast(b, DType::Float64).to_vector<double>();
  double w = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) || std::isnan(y[i])) {
      if (std::isnan(x[i]) != std::isnan(y[i])) return std::numeric_limits<double>::infinity();
      continue;
    }
    w = std::max(w, std::abs(x[i] - y[i]) / (tol + tol * std::abs(y[i])));
  }
  return w;
}
}  // namespace

TEST_CASE("emulated CUDA softmax rows agree with the CPU kernel, forward and backward", "[cuda-emulated][softmax]") {
  const double inf = std::numeric_limits<double>::infinity();
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const double tol = dtype == DType::Float32 ? 1e-6 : 1e-14;
    for (int64_t n : {70, 5}) {  // more and fewer elements than the warp's 32 lanes
      INFO(dtype_name(dtype) << " n=" << n);
      Tensor x = normal({9, n}, 1, dtype, 3.0);
      // Special rows: all -inf, one +inf, one NaN.
      x.select(0, 1).fill_(-inf);
      x.select(0, 2).select(0, 3).fill_(inf);
      x.select(0, 3).select(0, 4).fill_(std::nan(""));
      for (bool empty_rows_zero : {false, true}) {
        Tensor cpu = empty_like_rows(x), gpu = empty_like_rows(x);
        cpu_backend().softmax_forward(view_of(x), view_of(cpu), {.empty_rows_zero = empty_rows_zero});
        cuda::launch_softmax(kv(x), kv(gpu), {1.0, -1, -1, empty_rows_zero}, nullptr);
        CHECK(scaled_diff(gpu, cpu, tol) <= 1);
        const auto row1 = cast(gpu.select(0, 1), DType::Float64).to_vector<double>();
        CHECK((empty_rows_zero ? row1[0] == 0 : std::isnan(row1[0])));
      }
      Tensor y = empty_like_rows(x);
      const Tensor finite = normal({9, n}, 2, dtype, 3.0);
      cpu_backend().softmax_forward(view_of(finite), view_of(y), {});
      const Tensor g = normal({9, n}, 3, dtype);
      Tensor cpu = empty_like_rows(x), gpu = empty_like_rows(x);
      cpu_backend().softmax_backward(view_of(y), view_of(g), view_of(cpu), 1.0);
      cuda::launch_softmax_backward(kv(y), kv(g), kv(gpu), 1.0, nullptr);
      CHECK(scaled_diff(gpu, cpu, tol) <= 1);
    }
  }
}

TEST_CASE("emulated CUDA softmax rows with a scale, a band and 16-bit in or out agree with the CPU kernel",
          "[cuda-emulated][softmax]") {
  struct Case { DType in, out; int64_t left, right; };
  for (Case c : {Case{DType::Float32, DType::Float32, -1, 0}, Case{DType::BFloat16, DType::Float32, 2, 0},
                 Case{DType::BFloat16, DType::BFloat16, 1, 1}, Case{DType::Float16, DType::Float32, 0, -1},
                 Case{DType::Float64, DType::Float64, 0, 0}}) {
    INFO(dtype_name(c.in) << " -> " << dtype_name(c.out) << " left=" << c.left << " right=" << c.right);
    // [2, 7, 40]: 7 queries of 40 keys; with left = right = 0 queries see one key each.
    const Tensor x = cast(normal({2, 7, 40}, 8, DType::Float32, 3.0), c.in);
    const SoftmaxSpec spec{.scale = 0.6, .left = c.left, .right = c.right, .empty_rows_zero = true};
    Tensor cpu = Tensor::empty(x.shape(), c.out, x.device()), gpu = Tensor::empty(x.shape(), c.out, x.device());
    cpu_backend().softmax_forward(view_of(x), view_of(cpu), spec);
    cuda::launch_softmax(kv(x), kv(gpu), {spec.scale, spec.left, spec.right, true}, nullptr);
    // 16-bit out: one rounding each of results that agree to float32 rounding, so at most an ulp apart
    // (2^-7 of a bfloat16 value).
    const double tol = c.out == DType::BFloat16 ? 1.0 / 128 : (c.out == DType::Float64 ? 1e-14 : 1e-6);
    CHECK(scaled_diff(gpu, cpu, tol) <= 1);
    // Backward: y in out's dtype, the gradient in the input's.
    const Tensor g = cast(normal({2, 7, 40}, 9, DType::Float32), c.out);
    Tensor dx_cpu = Tensor::empty(x.shape(), c.in, x.device()), dx_gpu = Tensor::empty(x.shape(), c.in, x.device());
    cpu_backend().softmax_backward(view_of(cpu), view_of(g), view_of(dx_cpu), 0.6);
    cuda::launch_softmax_backward(kv(cpu), kv(g), kv(dx_gpu), 0.6, nullptr);
    const double grad_tol = c.in == DType::BFloat16 || c.in == DType::Float16 ? 1.0 / 128 : tol;
    CHECK(scaled_diff(dx_gpu, dx_cpu, grad_tol) <= 1);
  }
}

TEST_CASE("emulated CUDA layer_norm rows agree with the CPU kernel, with and without affine parameters",
          "[cuda-emulated][layer_norm]") {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const double tol = dtype == DType::Float32 ? 2e-6 : 1e-13;
    for (int affine = 0; affine < 4; ++affine) {
      INFO(dtype_name(dtype) << " affine=" << affine);
      const int64_t rows = 40, n = 70;
      const Tensor x = normal({rows, n}, 4, dtype, 2.0, 1.0);
      const Tensor w = (affine & 1) ? normal({n}, 5, dtype) : Tensor(), b = (affine & 2) ? normal({n}, 6, dtype) : Tensor();
      const Tensor stats_shape = Tensor::empty(std::vector<int64_t>{rows}, dtype, Device::cpu());
      Tensor y_cpu = empty_like_rows(x), y_gpu = empty_like_rows(x);
      Tensor mean_cpu = empty_like_rows(stats_shape), rstd_cpu = empty_like_rows(stats_shape);
      Tensor mean_gpu = empty_like_rows(stats_shape), rstd_gpu = empty_like_rows(stats_shape);
      cpu_backend().layer_norm_forward(view_of(x), w.defined() ? view_of(w) : View{}, b.defined() ? view_of(b) : View{},
                                       1e-5, view_of(y_cpu), view_of(mean_cpu), view_of(rstd_cpu));
      cuda::launch_layer_norm(kv(x), kv(w), kv(b), 1e-5, kv(y_gpu), kv(mean_gpu), kv(rstd_gpu), nullptr);
      CHECK(scaled_diff(y_gpu, y_cpu, tol) <= 1);
      CHECK(scaled_diff(mean_gpu, mean_cpu, tol) <= 1);
      CHECK(scaled_diff(rstd_gpu, rstd_cpu, tol) <= 1);
      const Tensor g = normal({rows, n}, 7, dtype);
      Tensor gx_cpu = empty_like_rows(x), gx_gpu = empty_like_rows(x);
      const Tensor param_shape = Tensor::empty(std::vector<int64_t>{n}, dtype, Device::cpu());
      Tensor gw_cpu = empty_like_rows(param_shape), gw_gpu = empty_like_rows(param_shape);
      Tensor gb_cpu = empty_like_rows(param_shape), gb_gpu = empty_like_rows(param_shape);
      cpu_backend().layer_norm_backward(view_of(g), view_of(x), w.defined() ? view_of(w) : View{}, view_of(mean_cpu),
                                        view_of(rstd_cpu), view_of(gx_cpu), view_of(gw_cpu), view_of(gb_cpu));
      cuda::launch_layer_norm_backward(kv(g), kv(x), kv(w), kv(mean_cpu), kv(rstd_cpu), kv(gx_gpu), kv(gw_gpu),
                                       kv(gb_gpu), nullptr);
      CHECK(scaled_diff(gx_gpu, gx_cpu, 4 * tol) <= 1);
      CHECK(scaled_diff(gw_gpu, gw_cpu, 4 * tol * rows) <= 1);  // sums of 40 rows in another order
      CHECK(scaled_diff(gb_gpu, gb_cpu, 4 * tol * rows) <= 1);
    }
  }
}
