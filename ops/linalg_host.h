#pragma once
// What the linalg ops (ops/decompositions.h) share: the checks of a matrix operand, and the move of a
// batch of matrices to the host in float64 and back; and the kernels of the LU, Cholesky and
// triangular-solve ops, over one row-major n x n (or m x n) matrix at a time.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <ember/core/autocast.h>
#include <ember/core/storage.h>
#include <ember/core/tensor.h>
#include <ember/ops/matrix_functions.h>

namespace ember::linalg::detail {

// std::allocator's interface over ember's CPU block cache (CpuAllocator). The host copies of a
// 256 x 256 factorisation are 512 KB each: from the C heap, glibc gave them back to the system and
// faulted them in again on every call, which was half of cholesky's time at that size.
template <class T>
struct CachedHostAllocator {
  using value_type = T;
  CachedHostAllocator() = default;
  template <class U>
  CachedHostAllocator(const CachedHostAllocator<U>&) {}
  T* allocate(size_t count) { return static_cast<T*>(CpuAllocator::allocate(count * sizeof(T))); }
  void deallocate(T* p, size_t count) { CpuAllocator::deallocate(p, count * sizeof(T)); }
  friend bool operator==(const CachedHostAllocator&, const CachedHostAllocator&) { return true; }
};
// The host matrices the linalg ops compute on.
using HostVector = std::vector<double, CachedHostAllocator<double>>;

// The operand `a` as the op computes with it: under autocast, cast to float32 (the policy of every
// linalg op); then checked to be defined, float32 or float64 (a 16-bit operand is refused with a
// pointer to autocast), at least two dims, and square when `square`. `what` names the operand in the
// message ("A", "B").
Tensor matrix_operand(const char* op, const char* what, const Tensor& a, bool square);

// The matrices of `a` ([..., rows, cols], any layout and device) on the host as float64, row-major,
// one after another: matrix i starts at i * rows * cols.
HostVector host_matrices(const Tensor& a);
// The same values for reading only, as a contiguous float64 tensor on the host (read through
// data<double>()): `a` itself, not a copy, when it already is one, as a float64 CPU matrix is. A copy
// of a 256 x 256 matrix costs about as much as a triangular solve with 16 right-hand sides.
Tensor host_matrices_to_read(const Tensor& a);

// A tensor of `shape` holding `values` (row-major), converted to `dtype` and moved to `device`.
Tensor from_host(std::span<const double> values, std::span<const int64_t> shape, DType dtype,
                 Device device);

// "(batch entry 3) " when `a` is a batch of matrices, nothing for a single matrix (as PyTorch's
// messages): the start of an error about matrix m of a.
std::string batch_entry(const Tensor& a, int64_t m);

// A power of two at or above the largest |entry| (1 for a zero matrix; 2^1023, half of it, for an
// entry of 2^1023 or more). Dividing by it is exact and brings the entries into [-1, 1] ([-2, 2)), so that sums of squares neither overflow (entries near 1e200) nor
// underflow (near 1e-200); results are scaled back by it.
double power_of_two_scale(std::span<const double> x);

// The sign (+-1) that makes the first largest-magnitude entry of (x_0, x_stride, ...) positive: the
// sign convention of eigenvectors and singular vectors.
double sign_of_largest(const double* x, int64_t count, int64_t stride);

// The number of matrices in a [..., rows, cols] shape (the product of the batch dims).
int64_t batch_count(std::span<const int64_t> shape);

// The threshold [..., 1] above which a singular value s ([..., k], descending or not) of `a` counts,
// max(atol, rtol * max(s)) with RankTolerance's defaults; for pinv, matrix_rank and lstsq.
Tensor rank_threshold(const Tensor& s, const Tensor& a, const RankTolerance& tolerance);
// How many of the singular values s [..., k] of `a` count (lie above rank_threshold), int64 [...]:
// the rank of matrix_rank and lstsq.
Tensor count_above_threshold(const Tensor& s, const Tensor& a, const RankTolerance& tolerance);
// A negative atol or rtol is an error naming op.
void check_rank_tolerance(const char* op, const RankTolerance& tolerance);

// The identity [..., n, n] in the dtype and device of `like`, broadcast over the batch shape `batch`.
Tensor identity_batch(std::span<const int64_t> batch, int64_t n, const Tensor& like);

// The host kernels (ops/linalg_dense_kernels.cpp). Each has a plain loop, the reference, and a
// recursive version that splits the matrix in halves down to small blocks and hands most of its
// arithmetic to dgemm; the second is the one the ops run, and agrees with the first to rounding.

// P A = L U of one m x n matrix (row-major), stored over it: U on and above the diagonal, L's
// multipliers below (its unit diagonal implied). Gaussian elimination with partial pivoting over
// k = min(m, n) columns: LAPACK's getrf2 (recursive) and getf2 (factor_lu_unblocked, the reference).
struct LuFactorization {
  std::vector<int64_t> row_of;       // row i of P^T A is row row_of[i] of A (m entries)
  std::vector<int64_t> swapped_with;  // at step i, rows i and swapped_with[i] were swapped (k entries)
  bool odd_permutation = false;       // an odd number of row swaps: det(P) = -1
  int64_t zero_pivot_column = -1;     // the first column whose pivot is exactly 0 (singular), or -1
  // Without pivoting only: the first column whose pivot is 0 above a non-zero entry, where no
  // factorization without row swaps exists; or -1.
  int64_t unfactorable_column = -1;
};
LuFactorization factor_lu(double* a, int64_t m, int64_t n, bool pivot = true);
LuFactorization factor_lu_unblocked(double* a, int64_t m, int64_t n, bool pivot = true);

// X = A^-1 B for one n x n triangular A and one n x k B (row-major), overwriting B with X. Only A's
// triangle is read, and not its diagonal when unitriangular. Every product is formed (no skipping of
// zeros), so that a NaN or inf anywhere in the triangle reaches the entries it touches, as in
// PyTorch; a zero on the diagonal divides by zero.
void solve_triangular_in_place(const double* a, double* b, int64_t n, int64_t k, bool upper, bool unitriangular);
// The same for an n x n A and an n x k B inside larger row-major matrices (leading dimensions lda and
// ldb); and the reference, forward or back substitution one row of X at a time.
void solve_triangular_block(const double* a, int64_t lda, double* b, int64_t ldb, int64_t n, int64_t k, bool upper,
                            bool unitriangular);
void substitute(const double* a, int64_t lda, double* b, int64_t ldb, int64_t n, int64_t k, bool upper,
                bool unitriangular);

// L of one n x n matrix (row-major) with A = L L^T, reading only a's lower triangle; l's upper
// triangle is zero. Returns 0, or the order of the first leading minor found not positive definite,
// and then the columns from that one on are zero. A NaN passes the test (NaN <= 0 is false) and
// spreads through the rest of L: PyTorch 1.13 gives NaN there too, not an error. Cholesky-Crout:
// LAPACK's potrf2 (recursive) and potf2 (factor_cholesky_unblocked, the reference).
int64_t factor_cholesky(const double* a, double* l, int64_t n);
int64_t factor_cholesky_unblocked(const double* a, double* l, int64_t n);

// dlarfg on the `count` entries x_0, x_stride, ...: with alpha = x_0, reflects them onto beta e_0 by
// H = I - tau v v^T, v = [1, x_1.. / (alpha - beta)]. Writes beta over x_0 and v's entries after its
// unit one over the rest; returns tau (0 when there is nothing below alpha: H = I).
double make_householder_reflector(double* x, int64_t count, int64_t stride);
// H = I - tau v v^T (v[0] = 1) from the left on rows [first_row, first_row + v.size()) and columns
// [first_col, last_col) of the row-major c (leading dimension ldc), in two passes along the rows.
// scratch is storage the caller reuses.
void apply_householder_left(double* c, int64_t ldc, const HostVector& v, double tau, int64_t first_row,
                            int64_t first_col, int64_t last_col, HostVector& scratch);

// x = a v and y = a^T u for the rows x cols block a (leading dimension lda), through the host kernels
// row_dots and column_dots (backends/cpu/host_kernels.h), split among threads when the block is large;
// each entry is summed by one thread in the kernel's order, so the bits do not depend on the number
// of threads. ops/linalg_matrix_vector.cpp.
void matrix_vector_product(const double* a, int64_t lda, int64_t rows, int64_t cols, const double* v, double* x);
void transposed_matrix_vector_product(const double* a, int64_t lda, int64_t rows, int64_t cols, const double* u,
                                      double* y);

// Householder QR of one m x n matrix (row-major) in place, LAPACK's packed form (geqrf): R on and
// above the diagonal, below it the vectors v_j of the reflectors H_j = I - tau_j v_j v_j^T (v_j's
// unit entry on the diagonal implied), and tau (min(m, n) entries). Blocked (geqrf) and column by
// column (geqr2, householder_qr_unblocked, the reference); ops/linalg_qr_kernels.cpp.
void householder_qr(double* a, int64_t m, int64_t n, double* tau);
// Columns [begin, end) of the m x n matrix a reduced one by one (tau[begin..end)), each reflector
// applied to the columns after it up to update_end: geqr2 on a panel, and the left half of each step
// of the SVD's bidiagonalisation.
void factor_columns(double* a, int64_t m, int64_t n, double* tau, int64_t begin, int64_t end, int64_t update_end);
void householder_qr_unblocked(double* a, int64_t m, int64_t n, double* tau);
// The first q_cols columns of Q = H_0 ... H_{k-1} (m x q_cols, row-major) from the packed m x n
// reflectors of householder_qr; k <= min(m, n). Blocked (orgqr) and by reflectors (org2r).
void form_householder_q(const double* packed, int64_t m, int64_t n, const double* tau, int64_t k, double* q,
                        int64_t q_cols);
void form_householder_q_unblocked(const double* packed, int64_t m, int64_t n, const double* tau, int64_t k,
                                  double* q, int64_t q_cols);

// Raises, naming op and the batch entry, the first non-zero info [...] of an LU factorization
// (1 + the column of its first exact zero pivot) of `a`; `remedy` ends the message. The check_errors
// of the _ex forms, and the error of the ops without _ex that factor through them.
void raise_first_zero_pivot(const char* op, const Tensor& a, const Tensor& info, const char* remedy = "");

}  // namespace ember::linalg::detail
