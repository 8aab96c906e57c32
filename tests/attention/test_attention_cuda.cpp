// The CUDA flash-attention kernels on a real device against the CPU's, through the public ops:
// masks with fully masked rows, dropout (the same Philox mask on both devices), windows, block
// layouts, cross-attention, 16-bit inputs; forward and gradients. Without a GPU this only warns: the
// kernels' logic is still tested everywhere by tests/cuda_emulated on the host.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include <ember/backends/cuda/cuda.h>

#include "tests/attention/helpers.h"

using namespace attention_test;

namespace {

// attend(q, k, v) on `device` and its gradients for the upstream gradient g, all back on the CPU.
template <class Attend>
std::vector<Tensor> output_and_grads(Attend attend, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& g,
                                     Device device) {
  const Tensor qd = q.to(device).requires_grad_(), kd = k.to(device).requires_grad_();
  const Tensor vd = v.to(device).requires_grad_();
  const Tensor out = attend(qd, kd, vd);
  const auto grads = ember::grad({out}, {qd, kd, vd}, {g.to(device)});
  return {out.to(Device::cpu()), grads[0].to(Device::cpu()), grads[1].to(Device::cpu()), grads[2].to(Device::cpu())};
}

}  // namespace

TEST_CASE("on CUDA the flash attention kernel matches the CPU's, forward and backward", "[attention][cuda]") {
  if (!cuda::is_available()) {
    WARN("no CUDA device: the CUDA flash-attention kernels ran only under the host emulator");
    return;
  }
  const Device gpu = Device::cuda(0);
  struct Case {
    std::string name;
    V q_shape, k_shape, v_shape;
    std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, Device)> attend;
  };
  auto masked = [](const Tensor& q, const Tensor& k, const Tensor& v, Device device) {
    Generator gen(5);
    Tensor mask = rand({2, 1, q.size(2), k.size(2)}, {.dtype = DType::Float64}, &gen) < 0.5;
    mask.narrow(0, 0, 1).narrow(2, 0, 2).fill_(0.0);  // two rows that see nothing
    return scaled_dot_product_attention(q, k, v, {.mask = mask.to(device), .path = AttentionPath::Flash});
  };
  const std::vector<Case> cases = {
      {"causal", {2, 3, 150, 64}, {2, 3, 150, 64}, {2, 3, 150, 64},
       [](auto& q, auto& k, auto& v, Device) {
         return scaled_dot_product_attention(q, k, v, {.causal = true, .path = AttentionPath::Flash});
       }},
      {"cross-attention, head dim 100", {1, 2, 70, 100}, {1, 2, 200, 100}, {1, 2, 200, 40},
       [](auto& q, auto& k, auto& v, Device) {
         return scaled_dot_product_attention(q, k, v, {.path = AttentionPath::Flash});
       }},
      {"mask with fully masked rows", {2, 2, 60, 16}, {2, 2, 90, 16}, {2, 2, 90, 16}, masked},
      {"dropout", {1, 2, 100, 32}, {1, 2, 100, 32}, {1, 2, 100, 32},
       [](auto& q, auto& k, auto& v, Device) {
         Generator gen(11);  // the same draw on both devices
         return scaled_dot_product_attention(
             q, k, v, {.causal = true, .dropout = 0.25, .path = AttentionPath::Flash, .generator = &gen});
       }},
      {"local window", {1, 2, 130, 16}, {1, 2, 130, 16}, {1, 2, 130, 16},
       [](auto& q, auto& k, auto& v, Device) { return local_attention(q, k, v, {.window = 17}); }},
      {"block sparse", {1, 2, 128, 16}, {1, 2, 128, 16}, {1, 2, 128, 16},
       [](auto& q, auto& k, auto& v, Device device) {
         return block_sparse_attention(q, k, v, block_sparse_layout(8, 8, 2, 3, 1).to(device),
                                       {.block = 16, .causal = true});
       }},
  };
  for (const Case& c : cases) {
    for (DType dtype : {DType::Float64, DType::Float32, DType::BFloat16}) {
      DYNAMIC_SECTION(c.name << " " << dtype_name(dtype)) {
        const Tensor q = rnd(c.q_shape, 1, dtype), k = rnd(c.k_shape, 2, dtype), v = rnd(c.v_shape, 3, dtype);
        const Tensor g = rnd({c.q_shape[0], c.q_shape[1], c.q_shape[2], c.v_shape[3]}, 4, dtype);
        auto run = [&](Device device) {
          auto attend = [&](const Tensor& q_, const Tensor& k_, const Tensor& v_) { return c.attend(q_, k_, v_, device); };
          return output_and_grads(attend, q, k, v, g, device);
        };
        const auto want = run(Device::cpu()), got = run(gpu);
        const double tol = dtype == DType::Float64 ? 1e-10 : dtype == DType::Float32 ? 1e-4 : 2e-2;
        for (size_t i = 0; i < want.size(); ++i) CHECK(worst(got[i], want[i], tol, tol) <= 1);
      }
    }
  }
}

TEST_CASE("on CUDA the causal linear attention kernel matches the CPU's, forward and backward", "[attention][cuda]") {
  if (!cuda::is_available()) {
    WARN("no CUDA device: the CUDA linear-attention kernels ran only under the host emulator");
    return;
  }
  const Device gpu = Device::cuda(0);
  for (DType dtype : {DType::Float64, DType::Float32, DType::BFloat16}) {
    DYNAMIC_SECTION(dtype_name(dtype)) {
      const Tensor q = rnd({2, 3, 200, 32}, 1, dtype), k = rnd({2, 3, 200, 32}, 2, dtype);
      const Tensor v = rnd({2, 3, 200, 24}, 3, dtype), g = rnd({2, 3, 200, 24}, 4, dtype);
      auto attend = [](const Tensor& q_, const Tensor& k_, const Tensor& v_) {
        return linear_attention(q_, k_, v_, {.causal = true, .path = AttentionPath::Flash});
      };
      auto run = [&](Device device) { return output_and_grads(attend, q, k, v, g, device); };
      const auto want = run(Device::cpu()), got = run(gpu);
      const double tol = dtype == DType::Float64 ? 1e-10 : dtype == DType::Float32 ? 1e-4 : 2e-2;
      for (size_t i = 0; i < want.size(); ++i) CHECK(worst(got[i], want[i], tol, tol) <= 1);
    }
  }
}
