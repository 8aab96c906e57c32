// The CUDA flash-attention kernels (backends/cuda/kernels_attention.cu), run on the host by the block
// emulator (backends/cuda/emulation.h), against the CPU backend's fused kernel, which the attention
// tests check against the math path. No GPU is needed, so this runs in CI; on a GPU, test_cuda runs
// the same kernels on the device against the CPU over the op table.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <ember/backends/backend.h>
#include <ember/ops/op.h>

#include "tests/cuda_emulated/helpers.h"

namespace {

using namespace emulated_test;

View view_optional(const Tensor& t) { return t.defined() ? kview(t) : View{}; }

struct Case {
  std::string name;
  int64_t B, H, n_q, n_k, d, dv;
  int64_t left = -1, right = -1;  // the window (right = 0, left = -1: causal)
  bool mask = false;              // random, with some rows fully masked, broadcast over heads
  int64_t block = 0;              // > 0: a random block layout of this block size
  double dropout = 0.0;
  DType dtype = DType::Float64;
  bool strided = false;  // q, k, v as transposed views of [B, n, H, d]
  int64_t nan_keys = 0;  // the first nan_keys keys are NaN: every output and gradient must be NaN
};

struct Result {
  Tensor out, lse, grad_q, grad_k, grad_v;
};

Tensor make_operand(const Case& c, int64_t n, int64_t width, uint64_t seed) {
  if (!c.strided) return normal({c.B, c.H, n, width}, seed, c.dtype);
  return transpose(normal({c.B, n, c.H, width}, seed, c.dtype), 1, 2);
}

TEST_CASE("emulated CUDA flash attention agrees with the CPU kernel", "[cuda-emulated][attention]") {
  const std::vector<Case> cases = {
      {"plain, sizes off the tiles", 2, 2, 70, 45, 16, 8},
      {"causal, head dim over one slice", 1, 2, 130, 130, 40, 40, -1, 0},
      {"sliding window", 1, 1, 100, 100, 8, 8, 9, 0},
      {"symmetric window, cross lengths", 1, 2, 50, 90, 8, 8, 5, 5},
      {"mask with fully masked rows", 2, 2, 33, 50, 8, 12, -1, -1, true},
      {"block layout", 1, 2, 96, 96, 16, 16, -1, -1, false, 16},
      {"dropout, causal", 2, 1, 67, 67, 16, 16, -1, 0, false, 0, 0.3},
      {"one position, width one", 1, 1, 1, 1, 1, 1},
      {"head dim 128, float32", 1, 1, 65, 33, 128, 64, -1, 0, false, 0, 0.0, DType::Float32},
      {"bfloat16, strided", 1, 2, 40, 40, 16, 16, -1, 0, false, 0, 0.0, DType::BFloat16, true},
      {"float16, mask and dropout", 1, 1, 20, 70, 8, 8, -1, -1, true, 0, 0.2, DType::Float16},
      // A whole tile of NaN scores once read as "no allowed key yet" (output 0) in both kernels.
      {.name = "NaN keys filling a tile", .B = 1, .H = 1, .n_q = 5, .n_k = 40, .d = 8, .dv = 8, .nan_keys = 32},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const Tensor q = make_operand(c, c.n_q, c.d, 1), k = make_operand(c, c.n_k, c.d, 2);
      const Tensor v = make_operand(c, c.n_k, c.dv, 3);
      if (c.nan_keys > 0) k.narrow(2, 0, c.nan_keys).fill_(std::nan(""));
      const Tensor grad_out = normal({c.B, c.H, c.n_q, c.dv}, 4, c.dtype);
      Tensor mask, layout;
      if (c.mask) {
        Generator gen(5);
        mask = rand({c.B, 1, c.n_q, c.n_k}, {.dtype = DType::Float64}, &gen) < 0.6;
        // Rows 0 and 3 of the first batch see nothing: output and gradients 0, never NaN.
        mask.narrow(0, 0, 1).narrow(2, 0, 1).fill_(0.0);
        if (c.n_q > 3) mask.narrow(0, 0, 1).narrow(2, 3, 1).fill_(0.0);
        mask = expand(mask, Shape{c.B, c.H, c.n_q, c.n_k});
      }
      if (c.block > 0) {
        const int64_t bq = (c.n_q + c.block - 1) / c.block, bk = (c.n_k + c.block - 1) / c.block;
        Generator gen(6);
        layout = logical_or(rand({bq, bk}, {.dtype = DType::Float64}, &gen) < 0.4, eye(bq, bk, {.dtype = DType::Bool}));
      }
      const double scale = 1.0 / std::sqrt(static_cast<double>(c.d));
      const AttentionSpec spec{.scale = scale, .window_left = c.left, .window_right = c.right,
                               .mask = view_optional(mask), .layout = view_optional(layout), .block = c.block,
                               .dropout = c.dropout, .dropout_seed = 1234, .dropout_offset = 99};
      cuda::KAttention ka{.q = kv(q), .k = kv(k), .v = kv(v), .scale = scale, .window_left = c.left,
                          .window_right = c.right, .mask = kv(mask), .layout = kv(layout),
                          .block = c.block, .dropout = c.dropout, .dropout_seed = 1234, .dropout_offset = 99};
      const DType lse_dtype = c.dtype == DType::Float64 ? DType::Float64 : DType::Float32;
      auto run = [&](bool emulated) {
        Result r;
        r.out = Tensor::empty(Shape{c.B, c.H, c.n_q, c.dv}, c.dtype);
        r.lse = Tensor::empty(Shape{c.B, c.H, c.n_q}, lse_dtype);
        r.grad_q = Tensor::empty(q.shape(), c.dtype);
        r.grad_k = Tensor::empty(k.shape(), c.dtype);
        r.grad_v = Tensor::empty(v.shape(), c.dtype);
        if (emulated) {
          std::vector<double> scratch((std::max(cuda::attention_forward_scratch_bytes(ka),
                                                cuda::attention_backward_scratch_bytes(ka)) + 7) / 8);
          cuda::launch_attention_forward(ka, kv(r.out), kv(r.lse), scratch.data(), nullptr);
          cuda::launch_attention_backward(ka, kv(r.out), kv(r.lse), kv(grad_out), kv(r.grad_q), kv(r.grad_k),
                                          kv(r.grad_v), scratch.data(), nullptr);
        } else {
          cpu_backend().attention_forward(kview(q), kview(k), kview(v), spec, kview(r.out), kview(r.lse));
          cpu_backend().attention_backward(kview(q), kview(k), kview(v), kview(r.out), kview(r.lse), kview(grad_out),
                                           spec, kview(r.grad_q), kview(r.grad_k), kview(r.grad_v));
        }
        return r;
      };
      const Result gpu = run(true), cpu = run(false);
      if (c.nan_keys > 0) {
        for (const Result* r : {&gpu, &cpu})
          for (const Tensor* t : {&r->out, &r->lse, &r->grad_q, &r->grad_k, &r->grad_v})
            for (double x : vals(*t)) CHECK(std::isnan(x));
        continue;
      }
      // float64 and float32 differ from the CPU only in summation order; 16-bit outputs are rounded
      // once from float32, so they may differ by a unit in the last place (2^-8 for bfloat16).
      const double tol = c.dtype == DType::Float64 ? 1e-11
                         : c.dtype == DType::Float32 ? 2e-5
                         : c.dtype == DType::Float16 ? 2e-3 : 1.6e-2;
      CHECK(worst(gpu.out, cpu.out, tol, tol) <= 1);
      const auto lse_gpu = vals(gpu.lse), lse_cpu = vals(cpu.lse);
      for (size_t i = 0; i < lse_cpu.size(); ++i) {
        if (std::isinf(lse_cpu[i])) CHECK(lse_gpu[i] == lse_cpu[i]);  // a row with no allowed key
        else CHECK(std::abs(lse_gpu[i] - lse_cpu[i]) <= (c.dtype == DType::Float64 ? 1e-11 : 2e-5));
      }
      CHECK(worst(gpu.grad_q, cpu.grad_q, tol, tol) <= 1);
      CHECK(worst(gpu.grad_k, cpu.grad_k, tol, tol) <= 1);
      CHECK(worst(gpu.grad_v, cpu.grad_v, tol, tol) <= 1);
      if (c.mask) {  // the fully masked rows: exactly 0
        CHECK(vals(gpu.out.narrow(0, 0, 1).narrow(2, 0, 1)) == std::vector<double>(c.H * c.dv, 0.0));
        CHECK(vals(gpu.grad_q.narrow(0, 0, 1).narrow(2, 0, 1)) == std::vector<double>(c.H * c.d, 0.0));
      }
    }
  }
}

}  // namespace
