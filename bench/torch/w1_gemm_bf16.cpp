// W1 in 16 bits for libtorch: torch::matmul on square bfloat16 (and float32) matrices, same case
// names and output format as ember's bench/w1_gemm_bf16.cpp. libtorch 1.13 has no float16 matmul
// on the CPU ("addmm_impl_cpu_ not implemented for 'Half'"), so matmul_f16 has no peer.
#include <torch/torch.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_util.h"

int main(int argc, char** argv) {
  namespace bench = ember::bench;
  torch::set_num_threads(2);
  std::vector<int64_t> sizes = {1024, 2048, 4096};
  if (argc > 1) sizes.clear();
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  for (int64_t n : sizes) {
    const double flop = 2.0 * double(n) * double(n) * double(n);
    for (auto [name, dtype] : {std::pair{"matmul", torch::kBFloat16}, std::pair{"matmul_f32", torch::kFloat}}) {
      torch::Tensor a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
      auto timing = bench::time_steps([&] { bench::do_not_optimize(torch::matmul(a, b)); });
      bench::print_case(std::string("W1bf16/") + name + "/" + std::to_string(n), timing,
                        {{"gflops", flop / (timing.median_ms * 1e6)}});
    }
  }
}
