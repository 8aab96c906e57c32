// The CUDA fused Adam step under the block emulator, against the CPU kernel (which the optimizer
// tests check against the op-by-op update). Both promise the composite's bits, so they must agree
// exactly.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include <ember/backends/backend.h>

#include "tests/cuda_emulated/helpers.h"

using namespace ember;
using namespace emulated_test;

namespace {
View view_of(const Tensor& t) { return View{t.data_ptr(), t.dtype(), t.shape(), t.strides()}; }
bool same_bits(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::memcmp(a.data_ptr(), b.data_ptr(), a.numel() * a.element_size()) == 0;
}
}  // namespace

TEST_CASE("emulated CUDA adam_step gives the CPU kernel's bits", "[cuda-emulated][optim]") {
  const int64_t n = 5001;  // 20 blocks of 256 threads, the last one mostly idle
  for (DType dtype : {DType::Float32, DType::Float64})
    for (int decay = 0; decay < 3; ++decay)
      for (bool amsgrad : {false, true}) {
        INFO(fmt::format("{} decay mode {} amsgrad {}", dtype, decay, amsgrad));
        const Tensor grad = normal({n}, 1, dtype, 3.0);
        std::vector<Tensor> cpu = {normal({n}, 2, dtype), normal({n}, 3, dtype, 0.1), abs(normal({n}, 4, dtype, 0.01)),
                                   abs(normal({n}, 5, dtype, 0.01))};
        std::vector<Tensor> gpu;
        for (const Tensor& t : cpu) gpu.push_back(t.clone());
        const AdamSpec spec{.beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6, .weight_decay = decay == 0 ? 0.0 : 0.05,
                            .decay_factor = 1 - 3e-3 * 0.05, .decoupled = decay == 2, .amsgrad = amsgrad,
                            .step_size = -3e-3 / (1 - 0.8 * 0.8 * 0.8), .bias2_sqrt = std::sqrt(1 - 0.95 * 0.95 * 0.95)};
        cpu_backend().adam_step(view_of(cpu[0]), view_of(grad), view_of(cpu[1]), view_of(cpu[2]),
                                amsgrad ? view_of(cpu[3]) : View{}, spec);
        const cuda::KAdam k{.beta1 = spec.beta1, .beta2 = spec.beta2, .eps = spec.eps, .weight_decay = spec.weight_decay,
                            .decay_factor = spec.decay_factor, .decoupled = spec.decoupled, .amsgrad = spec.amsgrad,
                            .step_size = spec.step_size, .bias2_sqrt = spec.bias2_sqrt};
        cuda::launch_adam_step(kv(gpu[0]), kv(grad), kv(gpu[1]), kv(gpu[2]), amsgrad ? kv(gpu[3]) : cuda::KView{}, k,
                               nullptr);
        for (size_t i = 0; i < cpu.size(); ++i) CHECK(same_bits(cpu[i], gpu[i]));
        CHECK_FALSE(same_bits(cpu[0], normal({n}, 2, dtype)));  // the step changed the parameter
      }
}
