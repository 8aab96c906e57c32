// Causal linear attention's CUDA kernels (backends/cuda/kernels_linear_attention.cu), run on the host
// by the block emulator, against the CPU backend's fused kernel, which the attention tests check
// against the chunked composite and the O(n^2) reference.
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

struct Case {
  std::string name;
  int64_t B, H, n, d, dv;
  DType dtype = DType::Float64;
  bool strided = false;
};

TEST_CASE("emulated CUDA causal linear attention agrees with the CPU kernel", "[cuda-emulated][attention]") {
  const std::vector<Case> cases = {
      {"several heads, n off the CPU's chunks", 2, 3, 37, 8, 5},
      {"d != dv, one position", 1, 1, 1, 4, 6},
      {"float32, strided inputs", 1, 2, 50, 16, 16, DType::Float32, true},
      {"bfloat16", 1, 2, 20, 8, 8, DType::BFloat16},
      {"no value columns", 1, 1, 9, 3, 0},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      // Positive features, as elu + 1 gives: the denominators stay away from 0.
      auto operand = [&](int64_t width, uint64_t seed, bool positive) {
        Generator gen(seed);
        const V shape = c.strided ? V{c.B, c.n, c.H, width} : V{c.B, c.H, c.n, width};
        Tensor t = randn(shape, {.dtype = DType::Float64}, &gen);
        if (positive) t = elu(t) + 1.0;
        t = cast(t, c.dtype);
        return c.strided ? transpose(t, 1, 2) : t;
      };
      const Tensor fq = operand(c.d, 1, true), fk = operand(c.d, 2, true), v = operand(c.dv, 3, false);
      const Tensor grad_out = cast(randn({c.B, c.H, c.n, c.dv}, {.dtype = DType::Float64}), c.dtype);
      const DType den_dtype = c.dtype == DType::Float64 ? DType::Float64 : DType::Float32;
      const double eps = 1e-6;
      struct Result {
        Tensor out, den, grad_fq, grad_fk, grad_v;
      };
      auto run = [&](bool emulated) {
        Result r{Tensor::empty(Shape{c.B, c.H, c.n, c.dv}, c.dtype), Tensor::empty(Shape{c.B, c.H, c.n}, den_dtype),
                 Tensor::empty(fq.shape(), c.dtype), Tensor::empty(fk.shape(), c.dtype),
                 Tensor::empty(v.shape(), c.dtype)};
        if (emulated) {
          std::vector<double> scratch(cuda::causal_linear_attention_scratch_bytes(kv(fq), kv(v)) / 8 + 1);
          cuda::launch_causal_linear_attention_forward(kv(fq), kv(fk), kv(v), eps, kv(r.out), kv(r.den),
                                                       scratch.data(), nullptr);
          cuda::launch_causal_linear_attention_backward(kv(fq), kv(fk), kv(v), kv(r.out), kv(r.den), kv(grad_out),
                                                        kv(r.grad_fq), kv(r.grad_fk), kv(r.grad_v), scratch.data(),
                                                        nullptr);
        } else {
          const int64_t chunk = 16;
          cpu_backend().causal_linear_attention_forward(kview(fq), kview(fk), kview(v), eps, chunk, kview(r.out),
                                                        kview(r.den));
          cpu_backend().causal_linear_attention_backward(kview(fq), kview(fk), kview(v), kview(r.out), kview(r.den),
                                                         kview(grad_out), chunk, kview(r.grad_fq), kview(r.grad_fk),
                                                         kview(r.grad_v));
        }
        return r;
      };
      const Result gpu = run(true), cpu = run(false);
      // Different summation orders (the CPU sums in chunks); 16-bit outputs rounded once from float32.
      const double tol = c.dtype == DType::Float64 ? 1e-11 : c.dtype == DType::Float32 ? 2e-5 : 1.6e-2;
      const double den_tol = c.dtype == DType::Float64 ? 1e-11 : 2e-5;  // float32 or float64 either way
      CHECK(worst(gpu.out, cpu.out, tol, tol) <= 1);
      CHECK(worst(gpu.den, cpu.den, den_tol, den_tol) <= 1);
      CHECK(worst(gpu.grad_fq, cpu.grad_fq, tol, tol) <= 1);
      CHECK(worst(gpu.grad_fk, cpu.grad_fk, tol, tol) <= 1);
      CHECK(worst(gpu.grad_v, cpu.grad_v, tol, tol) <= 1);
    }
  }
}

}  // namespace
