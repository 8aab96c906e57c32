// The selective scan's CUDA kernels (backends/cuda/kernels_scan.cu), run on the host by the block
// emulator (backends/cuda/emulation.h; warp shuffles included), against the CPU backend's fused scan,
// which tests/ssm checks against the reference loop of ops and a textbook recurrence.
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

View view(const Tensor& t) { return t.defined() ? kview(t) : View{}; }

struct Operands {
  Tensor u, delta, A, B, C, D, z, bias;
};

SelectiveScanTensors views(const Operands& o) {
  return {view(o.u), view(o.delta), view(o.A), view(o.B), view(o.C), view(o.D), view(o.z), view(o.bias)};
}
cuda::KScan kscan(const Operands& o, bool softplus, int64_t chunk) {
  return {kv(o.u), kv(o.delta), kv(o.A), kv(o.B), kv(o.C), kv(o.D), kv(o.z), kv(o.bias), softplus, chunk};
}

struct Case {
  std::string name;
  int64_t batch, channels, L, N, chunk;
  bool extras;  // D, z and delta_bias present, softplus on delta
  DType dtype;
};

TEST_CASE("emulated CUDA selective scan agrees with the CPU kernel", "[cuda-emulated][ssm]") {
  const std::vector<Case> cases = {
      {"every operand, channels off the warp, partial last chunk", 2, 40, 50, 16, 16, true, DType::Float64},
      {"state 20 (the 64-wide kernel), no extras", 1, 33, 37, 20, 8, false, DType::Float64},
      {"float32, one chunk", 2, 32, 24, 16, 64, true, DType::Float32},
      {"one timestep, one channel", 1, 1, 1, 4, 64, true, DType::Float64},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const DType t = c.dtype;
      Operands in;
      in.u = normal({c.batch, c.channels, c.L}, 1, t);
      in.delta = c.extras ? normal({c.batch, c.channels, c.L}, 2, t) : normal({c.batch, c.channels, c.L}, 2, t, 0.05, 0.1);
      in.A = cast(-exp(normal({c.channels, c.N}, 3, DType::Float64, 0.5)), t);
      in.B = normal({c.batch, c.N, c.L}, 4, t);
      in.C = normal({c.batch, c.N, c.L}, 5, t);
      if (c.extras) {
        in.D = normal({c.channels}, 6, t);
        in.z = normal({c.batch, c.channels, c.L}, 7, t);
        in.bias = normal({c.channels}, 8, t, 0.5, -1.0);
      }
      const int64_t chunks = (c.L + c.chunk - 1) / c.chunk;
      const Tensor grad_out = normal({c.batch, c.channels, c.L}, 9, t);
      const Tensor grad_last = normal({c.batch, c.channels, c.N}, 10, t);
      struct Result {
        Tensor out, last, checkpoints;
        Operands grads;
      };
      auto run = [&](bool emulated) {
        Result r;
        r.out = Tensor::empty(Shape{c.batch, c.channels, c.L}, t);
        r.last = Tensor::empty(Shape{c.batch, c.channels, c.N}, t);
        r.checkpoints = Tensor::empty(Shape{c.batch, c.channels, chunks, c.N}, t);
        Operands& g = r.grads;
        for (auto [grad, input] : {std::pair{&g.u, &in.u}, {&g.delta, &in.delta}, {&g.A, &in.A}, {&g.B, &in.B},
                                   {&g.C, &in.C}, {&g.D, &in.D}, {&g.z, &in.z}, {&g.bias, &in.bias}})
          if (input->defined()) *grad = empty_like(*input);
        if (emulated) {
          const cuda::KScan s = kscan(in, c.extras, c.chunk);
          std::vector<double> scratch(cuda::selective_scan_scratch_bytes(s) / sizeof(double) + 1);
          cuda::launch_selective_scan_forward(s, kv(r.out), kv(r.last), kv(r.checkpoints), nullptr);
          cuda::launch_selective_scan_backward(s, kv(r.checkpoints), kv(grad_out), kv(grad_last),
                                               kscan(g, c.extras, c.chunk), scratch.data(), nullptr);
        } else {
          const SelectiveScanSpec spec{.delta_softplus = c.extras, .chunk = c.chunk};
          cpu_backend().selective_scan_forward(views(in), spec, kview(r.out), kview(r.last), kview(r.checkpoints));
          cpu_backend().selective_scan_backward(views(in), spec, kview(r.checkpoints), kview(grad_out),
                                                kview(grad_last), views(g));
        }
        return r;
      };
      const Result gpu = run(true), cpu = run(false);
      const double tol = t == DType::Float64 ? 1e-10 : 1e-4;
      CHECK(worst(gpu.out, cpu.out, tol, tol) <= 1);
      CHECK(worst(gpu.last, cpu.last, tol, tol) <= 1);
      CHECK(worst(gpu.checkpoints, cpu.checkpoints, tol, tol) <= 1);
      CHECK(worst(gpu.grads.u, cpu.grads.u, tol, tol) <= 1);
      CHECK(worst(gpu.grads.delta, cpu.grads.delta, tol, tol) <= 1);
      CHECK(worst(gpu.grads.A, cpu.grads.A, tol, tol) <= 1);
      CHECK(worst(gpu.grads.B, cpu.grads.B, tol, tol) <= 1);
      CHECK(worst(gpu.grads.C, cpu.grads.C, tol, tol) <= 1);
      if (c.extras) {
        CHECK(worst(gpu.grads.D, cpu.grads.D, tol, tol) <= 1);
        CHECK(worst(gpu.grads.z, cpu.grads.z, tol, tol) <= 1);
        CHECK(worst(gpu.grads.bias, cpu.grads.bias, tol, tol) <= 1);
      }
    }
  }
}

}  // namespace
