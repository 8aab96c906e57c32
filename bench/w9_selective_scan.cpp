// W9 of docs/benchmarks.md: Mamba's selective scan, forward + backward, batch 16, seq 256, d_inner
// 512, d_state 16, float32, with D, z, delta_bias and softplus (the block's configuration), through
// the fused kernel and through the reference loop of ops.
//   bench_w9_selective_scan            both cases, each in a process of its own (peak memory is per process)
//   bench_w9_selective_scan PATH       one case: PATH fused or loop
// Prints W9/PATH with peak_mb and extra_mb (the peak minus the resident set once the inputs exist).
#include <ember/ember.h>
#include <omp.h>

#include <cstdlib>
#include <string>

#include "bench/bench_util.h"

namespace {

int run_case(const std::string& path) {
  using namespace ember;
  omp_set_num_threads(2);
  const int64_t batch = 16, L = 256, D = 512, N = 16;
  Generator gen(9);
  auto leaf = [](Tensor t) { return t.requires_grad_(); };
  Tensor u = leaf(randn({batch, D, L}, {}, &gen)), delta = leaf(randn({batch, D, L}, {}, &gen) * 0.5);
  Tensor A = leaf(neg(exp(randn({D, N}, {}, &gen) * 0.5))), B = leaf(randn({batch, N, L}, {}, &gen));
  Tensor C = leaf(randn({batch, N, L}, {}, &gen)), Dskip = leaf(randn({D}, {}, &gen));
  Tensor z = leaf(randn({batch, D, L}, {}, &gen)), bias = leaf(randn({D}, {}, &gen) * 0.3);
  Tensor g = randn({batch, D, L}, {}, &gen);
  const double setup_mb = bench::peak_rss_mb();
  const SelectiveScanOptions options{.D = Dskip, .z = z, .delta_bias = bias, .delta_softplus = true,
                                     .path = path == "loop" ? ScanPath::Reference : ScanPath::Fused};
  const auto timing = bench::time_steps([&] {
    Tensor out = selective_scan(u, delta, A, B, C, options);
    bench::do_not_optimize(grad({out}, {u, delta, A, B, C, Dskip, z, bias}, {g}));
  }, {.warmup_steps = 2});
  const double peak = bench::peak_rss_mb();
  bench::print_case("W9/" + path, timing, {{"peak_mb", peak}, {"extra_mb", peak - setup_mb}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2) return run_case(argv[1]);
  std::printf("# cpu: %s threads: 2\n", ember::bench::cpu_model().c_str());
  std::fflush(stdout);
  for (const char* path : {"fused", "loop"}) {
    const std::string command = std::string("\"") + argv[0] + "\" " + path;
    if (std::system(command.c_str()) != 0) return 1;
  }
  return 0;
}
