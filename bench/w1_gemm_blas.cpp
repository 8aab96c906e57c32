// W1 (docs/benchmarks.md): square float32 GEMM C = A B for N = 256, 512, 1024, 2048 on 2 threads.
// The first case, "blas", is cblas_sgemm through ember's loader: the limit the other cases are
// measured against (vs_blas = their GFLOP/s over its GFLOP/s at the same N).
//
//   w1_gemm_blas            all sizes
//   w1_gemm_blas 1024 512   only these sizes
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <ember/backends/cpu/blas.h>
#include <ember/ops/ops.h>
#include "bench/bench_util.h"

namespace {

namespace bench = ember::bench;

// A case allocates its inputs for one N and returns the step to time.
struct GemmCase {
  std::string name;
  std::function<std::function<void()>(int64_t n)> prepare;
};

std::vector<float> random_matrix(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::vector<float> m(size_t(n * n));
  for (float& x : m) x = uniform(rng);
  return m;
}

std::function<void()> prepare_blas(int64_t n) {
  auto a = std::make_shared<std::vector<float>>(random_matrix(n, 1));
  auto b = std::make_shared<std::vector<float>>(random_matrix(n, 2));
  auto c = std::make_shared<std::vector<float>>(size_t(n * n));
  return [=] {
    ember::cpu::blas::sgemm(false, false, n, n, n, 1.0f, a->data(), n, b->data(), n, 0.0f,
                            c->data(), n);
  };
}

// ember::matmul on tensors: the same GEMM plus ember's shape checks, dispatch and output allocation.
std::function<void()> prepare_matmul(int64_t n) {
  ember::Generator gen(1);
  auto a = std::make_shared<ember::Tensor>(ember::randn({n, n}, {}, &gen));
  auto b = std::make_shared<ember::Tensor>(ember::randn({n, n}, {}, &gen));
  return [=] { bench::do_not_optimize(ember::matmul(*a, *b)); };
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {256, 512, 1024, 2048};
  if (argc > 1) sizes.clear();
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));

  const std::vector<GemmCase> cases = {
      {"blas", prepare_blas},
      {"matmul", prepare_matmul},
  };

  ember::cpu::blas::set_num_threads(2);
  std::fprintf(stderr, "W1: %s, %d threads\n", ember::cpu::blas::kernel_description().c_str(),
               ember::cpu::blas::num_threads());
  for (int64_t n : sizes) {
    double blas_gflops = 0;
    for (const GemmCase& gemm_case : cases) {
      const bench::Timing timing = bench::time_steps(gemm_case.prepare(n));
      const double gflops = 2.0 * double(n) * double(n) * double(n) / (timing.median_ms * 1e6);
      std::vector<bench::Extra> extras = {{"gflops", gflops}};
      if (&gemm_case == &cases.front()) {
        blas_gflops = gflops;
      } else {
        extras.push_back({"vs_blas", gflops / blas_gflops});
      }
      bench::print_case("W1/" + gemm_case.name + "/" + std::to_string(n), timing, extras);
    }
  }
}
