#pragma once
// GEMM for the CPU backend: OpenBLAS loaded at run time with the kernels chosen for this CPU, or
// ember's own portable GEMM when OpenBLAS is missing or fails its self-check. See docs/blas.md.
//
// All matrices are row-major, as cblas_?gemm with CblasRowMajor:
//   C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C
// where op(A) = A (stored m x k, lda >= k) or A^T (stored k x m, lda >= m), and likewise for B.
// As in BLAS, beta == 0 overwrites C (NaN in C does not survive) and alpha == 0 or k == 0 reads
// neither A nor B. Negative sizes, or leading dimensions below those minimums (and at least 1),
// throw ember::Error("[sgemm] inconsistent sizes: ...").
#include <cstdint>
#include <string>

namespace ember::cpu::blas {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
           const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
           int64_t ldc);

// Which GEMM runs and why, e.g. "OpenBLAS 0.3.21 core=SkylakeX (chosen by ember: AVX-512)" or
// "ember fallback GEMM (OpenBLAS not found: ...)". Loads OpenBLAS if that has not happened yet.
// EMBER_BLAS=fallback in the environment makes ember use its own GEMM without loading OpenBLAS.
std::string kernel_description();

// Threads used by one GEMM call: the calling thread's OpenMP thread count. OpenBLAS itself always
// runs on one thread; sgemm/dgemm cut C into blocks fixed by m, n and k and share the blocks out
// among these threads, so results are bit-identical whatever the count (docs/determinism.md).
void set_num_threads(int n);
int num_threads();

// The test oracle: the textbook triple loop with the BLAS conventions above. Slow on purpose.
template <class T>
void reference_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                    const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      T sum = 0;
      if (alpha != T(0)) {
        for (int64_t p = 0; p < k; ++p) {
          const T a_ip = trans_a ? a[p * lda + i] : a[i * lda + p];
          const T b_pj = trans_b ? b[j * ldb + p] : b[p * ldb + j];
          sum += a_ip * b_pj;  // C_ij = sum_p op(A)_ip * op(B)_pj
        }
      }
      T& c_ij = c[i * ldc + j];
      c_ij = alpha * sum + (beta == T(0) ? T(0) : beta * c_ij);
    }
  }
}

// ember's portable cache-blocked GEMM: the fallback when OpenBLAS is unusable. Same conventions
// and arguments as sgemm/dgemm; defined (for float and double) in blas.cpp, which runs the build of
// fallback_gemm.cpp for the CPU's instruction set.
template <class T>
void naive_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// C = beta * C; beta == 0 writes zeros so that NaN garbage in C does not survive (BLAS semantics).
template <class T>
void scale_c(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  if (beta == T(1)) return;
  for (int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0)) {
      std::fill(row, row + n, T(0));
    } else {
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

}  // namespace ember::cpu::blas
