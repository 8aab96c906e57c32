#pragma once
// ThreadCount: runs a scope on n OpenMP threads (ember's kernels and its GEMM blocks), restoring the
// previous count on exit. Shared by the determinism tests.
#include <omp.h>

#include <ember/backends/cpu/blas.h>

namespace ember::test {

class ThreadCount {
 public:
  explicit ThreadCount(int n) : previous_(omp_get_max_threads()) { cpu::blas::set_num_threads(n); }
  ~ThreadCount() { cpu::blas::set_num_threads(previous_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int previous_;
};

}  // namespace ember::test
