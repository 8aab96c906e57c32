// W7 for libtorch 1.13: causal attention forward + backward through its math path (1.13 has no fused
// CPU attention), same cases, arguments and output format as ember's bench/w7_attention.cpp.
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "bench/bench_util.h"

namespace {

int run_case(int64_t n) {
  namespace bench = ember::bench;
  torch::set_num_threads(2);
  torch::manual_seed(7);
  auto q = torch::randn({1, 4, n, 64}).requires_grad_(), k = torch::randn({1, 4, n, 64}).requires_grad_();
  auto v = torch::randn({1, 4, n, 64}).requires_grad_(), g = torch::randn({1, 4, n, 64});
  const double setup_mb = bench::peak_rss_mb();
  const auto future = torch::ones({n, n}, torch::kBool).triu(1);
  const auto timing = bench::time_steps([&] {
    auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(64.0);
    auto out = torch::matmul(torch::softmax(scores.masked_fill(future, -INFINITY), -1), v);
    bench::do_not_optimize(torch::autograd::grad({out}, {q, k, v}, {g}));
  }, {.warmup_steps = 1});
  const double peak = bench::peak_rss_mb();
  bench::print_case("W7/math/" + std::to_string(n), timing, {{"peak_mb", peak}, {"extra_mb", peak - setup_mb}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3) return run_case(std::atoll(argv[2]));
  std::printf("# cpu: %s threads: 2 (libtorch)\n", ember::bench::cpu_model().c_str());
  std::fflush(stdout);
  for (int64_t n : {512, 1024, 2048, 4096, 8192}) {
    const std::string command = std::string("\"") + argv[0] + "\" math " + std::to_string(n);
    if (std::system(command.c_str()) != 0) return 1;
  }
  return 0;
}
