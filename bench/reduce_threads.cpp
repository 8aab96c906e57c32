// The two reductions of docs/determinism.md, timed on 1 thread and on the machine's threads, with
// a check that both give the same bits: a 1.6M-element sum (one output: the long-run path) and the
// row sums of a [512, 4096] matrix (many outputs: one thread per row block).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include <ember/backends/cpu/blas.h>
#include <ember/ops/ops.h>

using namespace ember;

namespace {

template <class F>
double median_ms(F&& f) {
  std::vector<double> times;
  for (int rep = 0; rep < 201; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void measure(const char* name, const Tensor& x, std::initializer_list<int64_t> dims, int threads) {
  auto run = [&] { return sum(x, dims); };
  omp_set_num_threads(1);
  const Tensor one = run();
  const double one_ms = median_ms(run);
  omp_set_num_threads(threads);
  const Tensor many = run();
  const double many_ms = median_ms(run);
  const bool same = std::memcmp(one.data_ptr(), many.data_ptr(), one.numel() * one.element_size()) == 0;
  std::printf("%-22s 1 thread %.3f ms, %d threads %.3f ms, bits %s\n", name, one_ms, threads, many_ms,
              same ? "identical" : "DIFFER");
}

}  // namespace

int main() {
  const int threads = omp_get_max_threads();
  std::printf("%s\n", cpu::blas::kernel_description().c_str());
  Generator gen(1);
  measure("sum [1600000]", randn({1600000}, {}, &gen), {}, threads);
  measure("sum [512, 4096] dim 1", randn({512, 4096}, {}, &gen), {1}, threads);
  return 0;
}
