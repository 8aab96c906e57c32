// W8 for libtorch: per-op overhead, same cases and output format as ember's bench/w8_overhead.cpp.
#include <torch/torch.h>

#include "bench/bench_util.h"

int main() {
  namespace bench = ember::bench;
  torch::set_num_threads(2);
  torch::Tensor a = torch::ones({1}), b = torch::ones({1});
  auto add = bench::time_steps([&] {
    for (int i = 0; i < 100000; ++i) bench::do_not_optimize(a + b);
  });
  bench::print_case("W8/add", add, {{"us_per_iter", add.median_ms * 1000 / 100000}});

  torch::Tensor x = torch::randn({16}).requires_grad_(), y = torch::randn({16}).requires_grad_();
  auto backward = bench::time_steps([&] {
    for (int i = 0; i < 10000; ++i) {
      torch::Tensor loss = (x * y).sum();
      loss.backward();
    }
  });
  bench::print_case("W8/mul_sum_backward", backward, {{"us_per_iter", backward.median_ms * 1000 / 10000}});
}
