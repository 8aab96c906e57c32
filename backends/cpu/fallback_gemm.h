#pragma once
// ember's own cache-blocked GEMM, one build per instruction set (fallback_gemm.cpp, compiled like the
// kernels into ember::cpu::baseline, ::avx2 and ::avx512). blas::naive_gemm checks the arguments and
// calls the build for cpu_isa(); the tests compare the builds with each other.
#include <cstdint>

#define EMBER_DECLARE_FALLBACK_GEMM(isa)                                                            \
  namespace isa {                                                                                   \
  template <class T>                                                                                \
  void fallback_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,         \
                     const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc); \
  }

namespace ember::cpu {
EMBER_DECLARE_FALLBACK_GEMM(baseline)
EMBER_DECLARE_FALLBACK_GEMM(avx2)
EMBER_DECLARE_FALLBACK_GEMM(avx512)
}  // namespace ember::cpu

#undef EMBER_DECLARE_FALLBACK_GEMM
