#pragma once
// Host loops that are not tensor ops: kernels the linalg code (ops/linalg_*.cpp) runs on its plain
// float64 arrays. Like the Backend table's kernels they are compiled once per instruction set
// (backends/cpu/cpu_isa.h), without floating-point contraction, so every level gives the same bits;
// host_kernels() is the table of the level cpu_backend() uses (cpu_isa(); a CpuBackendOverride,
// which swaps the tensor kernels for a test, does not reach these).
#include <cstdint>

#include <ember/backends/cpu/cpu_isa.h>

namespace ember::cpu {

struct HostKernels {
  // One sweep of plane rotations applied to columns [k0, k1) of the rows of w (n columns, row-major):
  // for i from last - 1 down to first, rows i and i + 1 become
  //   row_i <- c_i row_i - s_i row_(i+1),   row_(i+1) <- s_i row_i + c_i row_(i+1),
  // with (c_i, s_i) = (c[i - first], s[i - first]). The eigenvector update of implicit QL
  // (ops/linalg_symmetric_eigen.cpp); backends/cpu/plane_rotations.cpp.
  void (*rotate_rows)(double* w, int64_t n, int64_t first, int64_t last, const double* c, const double* s,
                      int64_t k0, int64_t k1);
  // Householder reduction of the symmetric n x n matrix in v (both triangles filled) to tridiagonal
  // form T = Q^T A Q, Q = P_(n-1) ... P_1: each step i, from the last row up, reflects row i's entries
  // left of the diagonal onto one entry with P_i = I - u_i u_i^T / h_i. On return T's diagonal is on
  // v's diagonal, its subdiagonal in e[1..n-1], u_i in v[i * n + 0 .. i * n + i - 1] and h_i in d[i]
  // (0 for no reflection). EISPACK's tred2, as JAMA writes it; backends/cpu/tridiagonal_reduction.cpp.
  // The fast one forms A u four columns at a time; the reference one column at a time, as JAMA. They
  // give the same bits.
  void (*reduce_to_tridiagonal)(double* v, int64_t n, double* d, double* e);
  void (*reduce_to_tridiagonal_reference)(double* v, int64_t n, double* d, double* e);
  // H = I - tau v v^T from the left on the rows x cols block at c (leading dimension ldc): C - tau v
  // (v^T C), in two passes along the rows (every column's v . column, then the update); scratch holds
  // cols doubles. QR's reflections (ops/linalg_qr_kernels.cpp); backends/cpu/householder_reflections.cpp.
  void (*reflect_columns)(double* c, int64_t ldc, int64_t rows, int64_t cols, const double* v, double tau,
                          double* scratch);
  // G = I - tau v v^T from the right on the rows x width block at c, v = [1, v[1], ..., v[width - 1]]
  // (v[0] is not read): row <- row - tau (row . v) v. The SVD's bidiagonalisation
  // (ops/linalg_svd_golub_kahan.cpp). The fast one runs four rows' dot products side by side, the
  // reference one row at a time; they give the same bits.
  void (*reflect_rows)(double* c, int64_t ldc, int64_t rows, int64_t width, const double* v, double tau);
  void (*reflect_rows_reference)(double* c, int64_t ldc, int64_t rows, int64_t width, const double* v, double tau);
  // The two products of a rows x cols block a (leading dimension lda) with a vector that the blocked
  // bidiagonalisation's panel takes with the matrix not yet updated (ops/linalg_bidiagonalize.cpp):
  // y = a^T u (each column's dot product with u, summed down the rows, as reflect_columns' first
  // pass) and x = a v (each row's dot product with v: the products of whole blocks of eight summed
  // into eight partial sums by j mod 8, those added as ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)), then
  // the rest added in order).
  void (*column_dots)(const double* a, int64_t lda, int64_t rows, int64_t cols, const double* u, double* y);
  void (*row_dots)(const double* a, int64_t lda, int64_t rows, int64_t cols, const double* v, double* x);
};

// The table compiled for isa, whatever this CPU supports (for tests that compare the levels).
const HostKernels& host_kernels_for(CpuIsa isa);
// The table for cpu_isa().
const HostKernels& host_kernels();

}  // namespace ember::cpu
