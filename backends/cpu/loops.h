#pragma once
// The strided iteration every CPU elementwise kernel is built on. Operands share one shape (broadcast
// operands have stride 0). Adjacent dims that are contiguous for every operand are merged first, so a
// contiguous tensor is one flat run; the element range is then split evenly across OpenMP threads.
//
// The split follows the thread count, so it may only cut work whose outputs are each computed by
// one thread in an order fixed by the sizes (elementwise ops, one output row per item): results
// are then bit-identical on any number of threads. A kernel that combines partial results (a long
// sum) cuts its work into blocks fixed by the problem size and combines them in a fixed order
// instead; see docs/determinism.md.
#include <omp.h>

#include <array>
#include <cstdint>
#include <string>

#include <ember/backends/backend.h>

namespace ember::cpu {

// Work below parallel_grain() elements (or element-sized steps of cost) runs on the calling thread:
// 32768 when OpenMP's idle threads spin, 2^18 under OMP_WAIT_POLICY=passive, where every parallel
// region wakes them through the kernel; EMBER_PARALLEL_GRAIN sets it. It decides only where work
// is split, never the results (see above).
int64_t parallel_grain();  // never throws
// Raises an ember::Error naming a bad EMBER_PARALLEL_GRAIN (cpu_backend() calls it before any kernel).
void check_parallel_grain();
// "262144 elements (OMP_WAIT_POLICY=passive: ...)", for ember::info().
std::string parallel_grain_description();
// Whether a matrix product of this many multiply-adds is worth splitting among threads: a
// multiply-add in a GEMM kernel takes about an eighth of the time of an element of an elementwise op.
bool gemm_worth_threads(double multiply_adds);

template <int N>
struct Operands {
  std::array<char*, N> data;
  std::array<int64_t, N> elem_size;
  std::array<const View*, N> views;
};

// Calls run(ptrs, byte_strides, n) on runs of n elements along the innermost merged dim.
template <int N, typename Run>
void for_each_run(const std::array<const View*, N>& views, Run&& run, int64_t grain = parallel_grain()) {
  const View& first = *views[0];
  const int64_t numel = first.numel();
  if (numel == 0) return;
  if (numel == 1) {  // common for scalars; skip the dim merging below
    std::array<char*, N> p;
    std::array<int64_t, N> s{};
    for (int k = 0; k < N; ++k) p[k] = static_cast<char*>(views[k]->data);
    run(p, s, 1);
    return;
  }
  // Merge dims (drop size-1 dims; fuse d into d+1 when every operand is contiguous across them).
  int64_t shape[16];
  int64_t strides[N][16];
  int nd = 0;
  for (int64_t d = 0; d < first.ndim(); ++d) {
    if (first.shape[d] == 1) continue;
    EMBER_ASSERT(nd < 16);
    shape[nd] = first.shape[d];
    for (int k = 0; k < N; ++k) strides[k][nd] = views[k]->strides[d] * static_cast<int64_t>(dtype_size(views[k]->dtype));
    ++nd;
  }
  int merged = 0;
  for (int d = 0; d < nd; ++d) {
    if (merged > 0) {
      bool fusable = true;
      for (int k = 0; k < N; ++k)
        if (strides[k][merged - 1] != strides[k][d] * shape[d]) fusable = false;
      if (fusable) {
        shape[merged - 1] *= shape[d];
        for (int k = 0; k < N; ++k) strides[k][merged - 1] = strides[k][d];
        continue;
      }
    }
    shape[merged] = shape[d];
    for (int k = 0; k < N; ++k) strides[k][merged] = strides[k][d];
    ++merged;
  }
  nd = merged;
  if (nd == 0) {  // a single element
    // GCOVR_EXCL_START: unreachable, numel == 1 returned above and numel > 1 leaves a dim > 1.
    shape[0] = 1;
    for (int k = 0; k < N; ++k) strides[k][0] = 0;
    nd = 1;
    // GCOVR_EXCL_STOP
  }
  std::array<char*, N> base;
  for (int k = 0; k < N; ++k) base[k] = static_cast<char*>(views[k]->data);
  std::array<int64_t, N> inner;
  for (int k = 0; k < N; ++k) inner[k] = strides[k][nd - 1];
  const int64_t inner_size = shape[nd - 1];

  auto run_range = [&](int64_t begin, int64_t end) {
    int64_t idx[16];
    int64_t rem = begin;
    for (int d = nd - 1; d >= 0; --d) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    while (begin < end) {
      std::array<char*, N> p;
      for (int k = 0; k < N; ++k) {
        int64_t off = 0;
        for (int d = 0; d < nd; ++d) off += idx[d] * strides[k][d];
        p[k] = base[k] + off;
      }
      const int64_t n = std::min(inner_size - idx[nd - 1], end - begin);
      run(p, inner, n);
      begin += n;
      idx[nd - 1] += n;
      for (int d = nd - 1; d > 0 && idx[d] == shape[d]; --d) {
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  };
  if (numel < grain || omp_get_max_threads() == 1 || omp_in_parallel()) {
    run_range(0, numel);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads();
    const int64_t t = omp_get_thread_num();
    const int64_t chunk = (numel + threads - 1) / threads;
    const int64_t begin = std::min(numel, t * chunk);
    const int64_t end = std::min(numel, begin + chunk);
    if (begin < end) run_range(begin, end);
  }
}

// Runs f(begin, end) over [0, n) split across threads when n * cost_per_item is worth it.
template <typename F>
void parallel_for(int64_t n, int64_t cost_per_item, F&& f) {
  if (n <= 0) return;
  // cost_per_item < ceil(grain / n) is n * cost_per_item < grain without the product's overflow
  const int64_t grain = parallel_grain();
  if (cost_per_item < grain / n + (grain % n > 0) || n == 1 || omp_get_max_threads() == 1 || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads();
    const int64_t t = omp_get_thread_num();
    const int64_t chunk = (n + threads - 1) / threads;
    const int64_t begin = std::min(n, t * chunk);
    const int64_t end = std::min(n, begin + chunk);
    if (begin < end) f(begin, end);
  }
}

}  // namespace ember::cpu
