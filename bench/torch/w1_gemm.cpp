// W1 for libtorch: torch::matmul on square float32 matrices, same output format as ember's.
#include <torch/torch.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_util.h"

int main(int argc, char** argv) {
  namespace bench = ember::bench;
  torch::set_num_threads(2);
  std::vector<int64_t> sizes = {256, 512, 1024, 2048};
  if (argc > 1) sizes.clear();
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  torch::manual_seed(0);
  for (int64_t n : sizes) {
    torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
    torch::NoGradGuard no_grad;
    auto timing = bench::time_steps([&] { bench::do_not_optimize(torch::matmul(a, b)); });
    const double gflops = 2.0 * double(n) * double(n) * double(n) / (timing.median_ms * 1e6);
    bench::print_case("W1/matmul/" + std::to_string(n), timing, {{"gflops", gflops}});
  }
}
