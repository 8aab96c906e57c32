// W7 of docs/benchmarks.md: causal attention forward + backward, B = 1, H = 4, head_dim 64, float32,
// n = 512 ... 8192, through the math path (scores materialised) and the fused flash kernel; and causal
// linear attention (elu + 1 features, chunks of 64) to n = 32768, to show its time growing like n:
// the fused kernel ("linear") and the chunked composite of ops ("linear-composite").
//   bench_w7_attention                 every case, each in a process of its own (peak memory is
//                                      per process)
//   bench_w7_attention PATH N          one case: PATH math, flash, linear or linear-composite
// Prints W7/PATH/N with peak_mb (peak resident set of the process) and extra_mb (that peak minus
// the resident set once the inputs exist).
#include <ember/ember.h>
#include <omp.h>

#include <cstdlib>
#include <string>

#include "bench/bench_util.h"

namespace {

int run_case(const std::string& path, int64_t n) {
  using namespace ember;
  omp_set_num_threads(2);
  Generator gen(7);
  const std::vector<int64_t> shape{1, 4, n, 64};
  Tensor q = randn(shape, {}, &gen).requires_grad_(), k = randn(shape, {}, &gen).requires_grad_();
  Tensor v = randn(shape, {}, &gen).requires_grad_(), g = randn(shape, {}, &gen);
  const double setup_mb = bench::peak_rss_mb();
  const AttentionOptions options{.causal = true, .path = path == "math" ? AttentionPath::Math : AttentionPath::Flash};
  const auto timing = bench::time_steps([&] {
    const bool linear = path.starts_with("linear");
    const AttentionPath linear_path = path == "linear" ? AttentionPath::Flash : AttentionPath::Math;
    Tensor out = linear ? linear_attention(q, k, v, {.causal = true, .path = linear_path})
                        : scaled_dot_product_attention(q, k, v, options);
    bench::do_not_optimize(grad({out}, {q, k, v}, {g}));
  }, {.warmup_steps = 1});
  const double peak = bench::peak_rss_mb();
  bench::print_case("W7/" + path + "/" + std::to_string(n), timing, {{"peak_mb", peak}, {"extra_mb", peak - setup_mb}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3) return run_case(argv[1], std::atoll(argv[2]));
  std::printf("# cpu: %s threads: 2\n", ember::bench::cpu_model().c_str());
  std::fflush(stdout);
  for (const std::string path : {"math", "flash", "linear", "linear-composite"})
    for (int64_t n : {512, 1024, 2048, 4096, 8192, 16384, 32768}) {
      if (n > 8192 && !path.starts_with("linear")) continue;
      const std::string command = std::string("\"") + argv[0] + "\" " + path + " " + std::to_string(n);
      if (std::system(command.c_str()) != 0) return 1;
    }
  return 0;
}
