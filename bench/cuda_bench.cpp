// The reference workloads (docs/benchmarks.md) on a CUDA device (built only with the CUDA backend):
//   W1/<dtype>/<N>/cublas   cublasGemmEx called directly on device buffers: the limit
//   W1/<dtype>/<N>/matmul   ember::matmul on CUDA tensors (vs_cublas = its GFLOP/s over cuBLAS's)
//   W2/mlp, W3/convnet      one Adam training step, the networks of bench/w2_w3_train.cpp
//   W7/<path>/<n>           causal attention forward + backward, B = 1, H = 4, head_dim 64, float32,
//                           through the math path (scores materialised) and the fused flash kernel;
//                           extra_mb = the allocator's peak during the step over the inputs
//   W8/add                  10,000 x c = a + b on 1-element CUDA tensors, no grad (the CPU case does
//                           100,000; each CUDA add launches a kernel, so fewer keep the run short)
//   W8/mul_sum_backward     1,000 x (a * b).sum() forward + backward on 16-element CUDA tensors
// Every timed step ends with a device synchronisation, so the host clock measures finished work.
// bench/torch_gpu/*.py run the same cases in PyTorch.
//
//   cuda_bench [W1|W2|W3|W7|W8]...    (all by default)
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <ember/ember.h>

#include <cstdio>
#include <string>
#include <vector>

#include <ember/backends/cuda/cuda.h>
#include "bench/bench_util.h"

using namespace ember;

namespace {

const Device kCuda = Device::cuda(0);

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "cuda_bench: %s failed\n", what);
    std::exit(1);
  }
}

// Times `reps` calls of f per step (one sync per step), reported per call.
template <class F>
bench::Timing time_per_call(int reps, F&& f) {
  bench::Timing t = bench::time_steps([&] {
    for (int i = 0; i < reps; ++i) f();
    cudaDeviceSynchronize();  // every stream: ember's own and the default one direct cuBLAS uses
  });
  t.median_ms /= reps;
  t.min_ms /= reps;
  t.max_ms /= reps;
  return t;
}

void w1() {
  cublasHandle_t handle;
  check(cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS, "cublasCreate");
  for (DType dtype : {DType::Float32, DType::Float16, DType::BFloat16}) {
    for (int64_t n : {1024, 2048, 4096, 8192}) {
      Generator gen(1);
      const Tensor a = randn({n, n}, {.dtype = dtype, .device = kCuda}, &gen);
      const Tensor b = randn({n, n}, {.dtype = dtype, .device = kCuda}, &gen);
      Tensor c = Tensor::empty({n, n}, dtype, kCuda);
      const cudaDataType_t type = dtype == DType::Float32 ? CUDA_R_32F : dtype == DType::Float16 ? CUDA_R_16F : CUDA_R_16BF;
      const float alpha = 1, beta = 0;
      const int reps = n <= 2048 ? 50 : 5;
      // Row-major C = A B is column-major C^T = B^T A^T: cuBLAS's A is b.
      auto direct = [&] {
        cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, int(n), int(n), int(n), &alpha, b.data_ptr(), type, int(n),
                     a.data_ptr(), type, int(n), &beta, c.data_ptr(), type, int(n), CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT);
      };
      const double flop = 2.0 * double(n) * double(n) * double(n);
      const bench::Timing tc = time_per_call(reps, direct);
      const bench::Timing te = time_per_call(reps, [&] { bench::do_not_optimize(matmul(a, b)); });
      const std::string name = std::string("W1/") + std::string(dtype_name(dtype)) + "/" + std::to_string(n);
      const double gc = flop / (tc.median_ms * 1e6), ge = flop / (te.median_ms * 1e6);
      bench::print_case(name + "/cublas", tc, {{"gflops", gc}});
      bench::print_case(name + "/matmul", te, {{"gflops", ge}, {"vs_cublas", ge / gc}});
    }
  }
  cublasDestroy(handle);
}

template <class Model>
bench::Timing time_training(Model& model, const Tensor& x, const Tensor& y) {
  optim::Adam opt(model->parameters(), {.lr = 1e-3});
  return bench::time_steps([&] {
    Tensor loss = cross_entropy((*model)(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    cuda::synchronize();
  });
}

void w2() {
  manual_seed(0);
  auto mlp = nn::Sequential({nn::Linear(784, 512), nn::ReLU(), nn::Linear(512, 512), nn::ReLU(), nn::Linear(512, 10)});
  mlp->to(kCuda);
  Tensor x = randn({128, 784}).to(kCuda), y = randint(0, 10, {128}).to(kCuda);
  bench::print_case("W2/mlp", time_training(mlp, x, y));
}

void w3() {
  manual_seed(0);
  auto cnn = nn::Sequential({nn::Conv2d(1, 32, 3, {.padding = {1, 1}}), nn::ReLU(), nn::MaxPool2d(2),
                             nn::Conv2d(32, 64, 3, {.padding = {1, 1}}), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                             nn::Linear(3136, 128), nn::ReLU(), nn::Linear(128, 10)});
  cnn->to(kCuda);
  Tensor x = randn({64, 1, 28, 28}).to(kCuda), y = randint(0, 10, {64}).to(kCuda);
  bench::print_case("W3/convnet", time_training(cnn, x, y));
}

void w7() {
  for (const char* path : {"math", "flash"}) {
    for (int64_t n : {512, 1024, 2048, 4096, 8192}) {
      Generator gen(7);
      const std::vector<int64_t> shape{1, 4, n, 64};
      Tensor q = randn(shape, {.device = kCuda}, &gen).requires_grad_();
      Tensor k = randn(shape, {.device = kCuda}, &gen).requires_grad_();
      Tensor v = randn(shape, {.device = kCuda}, &gen).requires_grad_(), g = randn(shape, {.device = kCuda}, &gen);
      AttentionOptions options;
      options.causal = true;
      options.path = std::string(path) == "math" ? AttentionPath::Math : AttentionPath::Flash;
      cuda::synchronize();
      const size_t inputs = cuda::memory_stats(0).allocated_bytes;
      cuda::reset_peak_memory_stats(0);
      const bench::Timing t = bench::time_steps([&] {
        bench::do_not_optimize(grad({scaled_dot_product_attention(q, k, v, options)}, {q, k, v}, {g}));
        cuda::synchronize();
      });
      const double extra_mb = double(cuda::memory_stats(0).peak_allocated_bytes - inputs) / (1 << 20);
      bench::print_case(std::string("W7/") + path + "/" + std::to_string(n), t, {{"extra_mb", extra_mb}});
    }
  }
}

void w8() {
  Tensor a = ones({1}, {.device = kCuda}), b = ones({1}, {.device = kCuda});
  auto add = bench::time_steps([&] {
    for (int i = 0; i < 10000; ++i) bench::do_not_optimize(a + b);
    cuda::synchronize();
  });
  bench::print_case("W8/add", add, {{"us_per_iter", add.median_ms * 1000 / 10000}});
  Tensor x = randn({16}).to(kCuda).requires_grad_(), y = randn({16}).to(kCuda).requires_grad_();
  auto backward = bench::time_steps([&] {
    for (int i = 0; i < 1000; ++i) {
      Tensor loss = (x * y).sum();
      loss.backward();
    }
    cuda::synchronize();
  });
  bench::print_case("W8/mul_sum_backward", backward, {{"us_per_iter", backward.median_ms * 1000 / 1000}});
}

}  // namespace

int main(int argc, char** argv) {
  if (!cuda::is_available()) {
    std::fprintf(stderr, "cuda_bench: no CUDA device\n");
    return 77;
  }
  std::fprintf(stderr, "cuda_bench on %s\n", cuda::device_name(0).c_str());
  std::vector<std::string> which(argv + 1, argv + argc);
  if (which.empty()) which = {"W1", "W2", "W3", "W7", "W8"};
  for (const std::string& w : which) {
    if (w == "W1") w1();
    else if (w == "W2") w2();
    else if (w == "W3") w3();
    else if (w == "W7") w7();
    else if (w == "W8") w8();
  }
}
