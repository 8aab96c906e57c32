// The fallbacks ops/ and optim/ take for a backend without an optional kernel (backends/backend.h:
// "nullptr where a backend has none"). The CUDA table leaves several of them nullptr, so on a GPU
// those fallbacks are what runs; here they run on the CPU, through a copy of the CPU's table with
// every optional kernel removed, and must give what the CPU's kernels give: values and gradients,
// float64 to rounding and float32 to its precision.
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include <ember/backends/backend.h>
#include <ember/core/autograd.h>
#include <ember/nn/attention/attention.h>
#include <ember/ops/ops.h>
#include <ember/optim/optimizers.h>
#include <ember/testing/gradcheck.h>

using namespace ember;

namespace {

// The CPU's kernels less every optional one: a backend that has only the required entries.
Backend without_optional_kernels() {
  Backend table = cpu_backend();
  table.max_pool2d_backward = nullptr;
  table.conv2d_forward = nullptr;
  table.conv2d_backward_data = nullptr;
  table.conv2d_backward_weights = nullptr;
  table.attention_forward = nullptr;
  table.attention_backward = nullptr;
  table.causal_linear_attention_forward = nullptr;
  table.causal_linear_attention_backward = nullptr;
  table.adam_step = nullptr;
  table.softmax_forward = nullptr;
  table.softmax_backward = nullptr;
  table.layer_norm_forward = nullptr;
  table.layer_norm_backward = nullptr;
  table.batch_norm_forward = nullptr;
  table.batch_norm_backward = nullptr;
  table.rotary = nullptr;
  return table;
}

Tensor input(std::initializer_list<int64_t> shape, uint64_t seed, DType dtype) {
  Generator gen(seed);
  return randn(std::vector<int64_t>(shape), {.dtype = dtype}, &gen).requires_grad_();
}

// compute(dtype) returns outputs and gradients; the same with and without the optional kernels.
void check_fallback_agrees(const std::string& what, const std::function<std::vector<Tensor>(DType)>& compute) {
  const Backend fallbacks = without_optional_kernels();
  for (DType dtype : {DType::Float64, DType::Float32}) {
    const double tol = dtype == DType::Float64 ? 1e-12 : 2e-5;
    const std::vector<Tensor> with_kernels = compute(dtype);
    std::vector<Tensor> without;
    {
      detail::CpuBackendOverride override(fallbacks);
      CHECK(&backend(Device::cpu()) == &fallbacks);
      without = compute(dtype);
    }
    REQUIRE(without.size() == with_kernels.size());
    for (size_t i = 0; i < without.size(); ++i) {
      INFO(fmt::format("{}, {}, result {}", what, dtype, i));
      REQUIRE(shape_str(without[i].shape()) == shape_str(with_kernels[i].shape()));
      REQUIRE(without[i].dtype() == with_kernels[i].dtype());
      const Tensor want = cast(with_kernels[i], DType::Float64), got = cast(without[i], DType::Float64);
      const double scale = max(abs(want)).item<double>();
      const double err = max(abs(got - want)).item<double>();
      INFO("largest difference " << err << " against largest value " << scale);
      CHECK(err <= tol * std::max(scale, 1.0));
    }
  }
}

std::vector<Tensor> with_grads(const Tensor& out, const std::vector<Tensor>& inputs, uint64_t seed) {
  Generator gen(seed);
  const Tensor g = randn(out.shape(), {.dtype = out.dtype()}, &gen);
  std::vector<Tensor> result{out.detach()};
  for (const Tensor& t : grad({sum(out * g)}, inputs)) result.push_back(t);
  return result;
}

}  // namespace

TEST_CASE("the override replaces the CPU's table on this thread only, and nests", "[backends][fallback]") {
  const Backend outer = without_optional_kernels(), inner = cpu_backend();
  {
    detail::CpuBackendOverride a(outer);
    CHECK(&backend(Device::cpu()) == &outer);
    {
      detail::CpuBackendOverride b(inner);
      CHECK(&backend(Device::cpu()) == &inner);
    }
    CHECK(&backend(Device::cpu()) == &outer);
  }
  CHECK(&backend(Device::cpu()) == &cpu_backend());
}

TEST_CASE("batch_norm in training without fused kernels: broadcast ops give the kernels' answers", "[backends][fallback]") {
  check_fallback_agrees("batch_norm", [](DType dtype) {
    const Tensor x = input({4, 3, 5, 6}, 1, dtype), w = input({3}, 2, dtype), b = input({3}, 3, dtype);
    Tensor running_mean = zeros({3}, {.dtype = dtype}), running_var = ones({3}, {.dtype = dtype});
    std::vector<Tensor> r = with_grads(batch_norm(x, running_mean, running_var, w, b, true), {x, w, b}, 4);
    r.push_back(running_mean);  // the batch statistics reach the running averages on both paths
    r.push_back(running_var);
    // no affine parameters, and a transposed (non-contiguous) input
    const Tensor xt = input({5, 3, 2, 4}, 5, dtype);
    for (const Tensor& t : with_grads(batch_norm(transpose(xt, 2, 3), Tensor(), Tensor(), std::nullopt, std::nullopt, true),
                                      {xt}, 6))
      r.push_back(t);
    return r;
  });
}

TEST_CASE("batch_norm's broadcast-op path passes gradcheck and gradgradcheck", "[backends][fallback][grad]") {
  const Backend fallbacks = without_optional_kernels();
  detail::CpuBackendOverride override(fallbacks);
  const Tensor x = input({3, 2, 2, 2}, 7, DType::Float64), w = input({2}, 8, DType::Float64),
               b = input({2}, 9, DType::Float64);
  const testing::Fn f = [](const std::vector<Tensor>& in) {
    return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true);
  };
  CHECK(testing::gradcheck(f, {x, w, b}) == "");
  CHECK(testing::gradgradcheck(f, {x, w, b}) == "");
}

TEST_CASE("max_pool2d's backward without its kernel: scatter_add", "[backends][fallback]") {
  check_fallback_agrees("max_pool2d", [](DType dtype) {
    const Tensor x = input({2, 3, 7, 8}, 10, dtype);
    return with_grads(max_pool2d(x, {3, 3}, Size2{2, 2}, {1, 1}), {x}, 11);
  });
}

TEST_CASE("conv2d without a fused convolution: im2col and GEMM", "[backends][fallback]") {
  check_fallback_agrees("conv2d", [](DType dtype) {
    const Tensor x = input({2, 4, 9, 9}, 12, dtype), w = input({6, 4, 3, 3}, 13, dtype), b = input({6}, 14, dtype);
    return with_grads(conv2d(x, w, b, {2, 2}, {1, 1}), {x, w, b}, 15);
  });
}

TEST_CASE("conv_transpose2d without fused convolutions: GEMM and col2im", "[backends][fallback]") {
  check_fallback_agrees("conv_transpose2d", [](DType dtype) {
    // 16 output channels: on the CPU every one of its three kernels takes this layer
    const Tensor x = input({2, 8, 5, 5}, 40, dtype), w = input({8, 16, 4, 4}, 41, dtype), b = input({16}, 42, dtype);
    return with_grads(conv_transpose2d(x, w, b, 2, 1), {x, w, b}, 43);
  });
}

TEST_CASE("softmax, layer_norm and attention without their kernels: the composites", "[backends][fallback]") {
  check_fallback_agrees("softmax", [](DType dtype) {
    const Tensor x = input({5, 17}, 16, dtype);
    return with_grads(softmax(x, 1), {x}, 17);
  });
  check_fallback_agrees("layer_norm", [](DType dtype) {
    const Tensor x = input({4, 3, 8}, 18, dtype), w = input({8}, 19, dtype), b = input({8}, 20, dtype);
    const std::vector<int64_t> normalized{8};
    return with_grads(layer_norm(x, normalized, w, b), {x, w, b}, 21);
  });
  check_fallback_agrees("scaled_dot_product_attention", [](DType dtype) {
    const Tensor q = input({2, 2, 7, 4}, 22, dtype), k = input({2, 2, 9, 4}, 23, dtype), v = input({2, 2, 9, 3}, 24, dtype);
    return with_grads(scaled_dot_product_attention(q, k, v, {.causal = true}), {q, k, v}, 25);
  });
  check_fallback_agrees("linear_attention", [](DType dtype) {
    const Tensor q = input({1, 2, 11, 4}, 26, dtype), k = input({1, 2, 11, 4}, 27, dtype), v = input({1, 2, 11, 3}, 28, dtype);
    return with_grads(linear_attention(q, k, v, {.causal = true}), {q, k, v}, 29);
  });
  check_fallback_agrees("rotary_embedding", [](DType dtype) {
    const Tensor x = input({2, 5, 6}, 30, dtype);
    return with_grads(nn::rotary_embedding(x, 1), {x}, 31);
  });
}

TEST_CASE("Adam without its fused step: the op-by-op update", "[backends][fallback]") {
  check_fallback_agrees("adam", [](DType dtype) {
    Tensor p = input({4, 5}, 32, dtype);
    optim::Adam adam({p}, {.lr = 0.1, .weight_decay = 0.01, .amsgrad = true});
    for (uint64_t step = 0; step < 3; ++step) {
      adam.zero_grad();
      Generator gen(33 + step);
      backward({sum(p * randn(p.shape(), {.dtype = dtype}, &gen))});
      adam.step();
    }
    return std::vector<Tensor>{p.detach()};
  });
}
