// W8 of docs/benchmarks.md: per-op framework overhead.
//   W8/add               100,000 x c = a + b on 1-element tensors, no grad
//   W8/mul_sum_backward   10,000 x (a * b).sum() forward + backward on 16-element tensors
#include <ember/ember.h>
#include <omp.h>

#include "bench/bench_util.h"

int main() {
  using namespace ember;
  omp_set_num_threads(2);
  Tensor a = ones({1}), b = ones({1});
  auto add = bench::time_steps([&] {
    for (int i = 0; i < 100000; ++i) bench::do_not_optimize(a + b);
  });
  bench::print_case("W8/add", add, {{"us_per_iter", add.median_ms * 1000 / 100000}});

  Tensor x = randn({16}).requires_grad_(), y = randn({16}).requires_grad_();
  auto backward = bench::time_steps([&] {
    for (int i = 0; i < 10000; ++i) {
      Tensor loss = (x * y).sum();
      loss.backward();
    }
  });
  bench::print_case("W8/mul_sum_backward", backward, {{"us_per_iter", backward.median_ms * 1000 / 10000}});
}
