#pragma once
// OneOpenMpThread: for its lifetime, omp_get_max_threads() on the calling thread is 1. Libraries
// built on OpenMP (OpenBLAS, oneDNN) size their work split from that count when called (OpenBLAS)
// or when a kernel is created (oneDNN), so a call in this scope runs, or a kernel is planned, for
// one thread. OpenMP keeps the count per thread, so other threads are unaffected.
#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember::cpu {

class OneOpenMpThread {
 public:
#ifdef _OPENMP
  OneOpenMpThread() : previous_(omp_get_max_threads()) {
    if (previous_ != 1) omp_set_num_threads(1);
  }
  ~OneOpenMpThread() {
    if (previous_ != 1) omp_set_num_threads(previous_);
  }
#endif
  OneOpenMpThread(const OneOpenMpThread&) = delete;
  OneOpenMpThread& operator=(const OneOpenMpThread&) = delete;

 private:
  [[maybe_unused]] int previous_ = 1;
};

}  // namespace ember::cpu
