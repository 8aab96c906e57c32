// The host kernels under the LU, Cholesky and triangular-solve ops (ops/linalg_host.h). Each is
// written twice: as the textbook loop, the reference (LAPACK's getf2, potf2, and substitution), and
// as a recursion that splits the matrix in halves (LAPACK's getrf2, potrf2, and trsm's blocking). The
// recursion runs the loop only on blocks of at most kLeaf columns and does the rest of the O(n^3)
// arithmetic as matrix products, cpu::blas::dgemm (OpenBLAS with the kernels chosen for this CPU).
// The ops run the recursion (at kLeaf and below it is the loop itself);
// tests/linalg/test_dense_kernels.cpp checks that the two agree.
//
// The recursion does the same arithmetic in a different order, so its last bits differ from the
// loop's and, like matmul's, may depend on the CPU's GEMM kernels (docs/determinism.md); they do not
// depend on the thread count. Every product is still formed, so NaN and inf spread as in the loops.
#include <ember/ops/linalg_host.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include <ember/backends/cpu/blas.h>

namespace ember::linalg::detail {
namespace {

// The size at and below which the recursions below stop and run the loop: past it, the loops' share
// of the arithmetic is small and the products are large enough to pay for a dgemm call (W13 in
// docs/benchmarks.md).
constexpr int64_t kLeaf = 8;  // measured a little faster than 16 or 32 at n = 64 and 256

// Gaussian elimination with partial pivoting (LAPACK's getf2) of the rows x cols block at a (leading
// dimension lda), over its first min(rows, cols) columns. Rows are swapped within the block's columns
// only; swaps[c] is the block row swapped with row c at step c. Zero and unfactorable pivots are
// recorded in f as columns of the whole matrix (the block's column 0 is column first_column).
void eliminate(double* a, int64_t rows, int64_t cols, int64_t lda, bool pivot, int64_t first_column,
               std::vector<int64_t>& swaps, LuFactorization& f) {
  const int64_t k = std::min(rows, cols);
  swaps.assign(static_cast<size_t>(k), 0);
  for (int64_t c = 0; c < k; ++c) {
    // The largest magnitude in column c at or below the diagonal; the first one on ties. A NaN is
    // never larger, so it is only taken when it already sits on the diagonal; either way it reaches
    // the rest of the factorization (and so the result), as in PyTorch.
    int64_t pivot_row = c;
    if (pivot)
      for (int64_t i = c + 1; i < rows; ++i)
        if (std::abs(a[i * lda + c]) > std::abs(a[pivot_row * lda + c])) pivot_row = i;
    swaps[c] = pivot_row;
    if (pivot_row != c)
      for (int64_t j = 0; j < cols; ++j) std::swap(a[c * lda + j], a[pivot_row * lda + j]);
    const double pivot_value = a[c * lda + c];
    // A zero pivot (with pivoting) means the whole column below is zero too: there is nothing to
    // eliminate and, as in LAPACK, nothing is divided by it. The matrix is singular; U keeps the 0.
    // Without pivoting a non-zero entry below it cannot be eliminated at all.
    if (pivot_value == 0) {
      if (f.zero_pivot_column < 0) f.zero_pivot_column = first_column + c;
      for (int64_t i = c + 1; i < rows && f.unfactorable_column < 0; ++i)
        if (a[i * lda + c] != 0) f.unfactorable_column = first_column + c;
    }
    // Each row below: its multiplier, then the rank-one update along the row (contiguous: it
    // vectorises). The multiplier is made here rather than in a pass down column c, whose stride of
    // a whole row puts every store on the same few cache sets and made that pass most of the time.
    const double* __restrict pivot_row_values = a + c * lda;  // never row i: restrict lets it vectorise
    for (int64_t i = c + 1; i < rows; ++i) {
      double* __restrict row = a + i * lda;
      if (pivot_value != 0) row[c] /= pivot_value;
      const double multiplier = row[c];
      for (int64_t j = c + 1; j < cols; ++j) row[j] -= multiplier * pivot_row_values[j];
    }
  }
}

// The swaps of one elimination, whose block starts at row and column `first`, in f's terms.
void record_swaps(LuFactorization& f, int64_t first, const std::vector<int64_t>& swaps) {
  for (size_t s = 0; s < swaps.size(); ++s) {
    const int64_t c = first + static_cast<int64_t>(s), r = first + swaps[s];
    f.swapped_with[c] = r;
    if (r != c) {
      std::swap(f.row_of[c], f.row_of[r]);
      f.odd_permutation = !f.odd_permutation;
    }
  }
}

// The same swaps applied to columns [begin, end) of the rows from `first` (lda: the row length).
void swap_rows(double* a, int64_t lda, int64_t first, const std::vector<int64_t>& swaps, int64_t begin, int64_t end) {
  for (size_t s = 0; s < swaps.size(); ++s) {
    const int64_t c = first + static_cast<int64_t>(s), r = first + swaps[s];
    if (r != c)
      for (int64_t j = begin; j < end; ++j) std::swap(a[c * lda + j], a[r * lda + j]);
  }
}

LuFactorization start_factorization(int64_t m, int64_t n) {
  LuFactorization f;
  f.row_of.resize(static_cast<size_t>(m));
  f.swapped_with.resize(static_cast<size_t>(std::min(m, n)));
  for (int64_t i = 0; i < m; ++i) f.row_of[i] = i;
  return f;
}


// Gaussian elimination of the rows x cols block at a by halves (LAPACK's getrf2): the left half of
// the columns, then the right half's rows taken through the left half's swaps and L (a triangular
// solve and one product), then the lower right part the same way; only blocks of at most kLeaf
// columns are eliminated by the loop. swaps as eliminate's.
void eliminate_recursive(double* a, int64_t rows, int64_t cols, int64_t lda, bool pivot, int64_t first_column,
                         std::vector<int64_t>& swaps, LuFactorization& f) {
  const int64_t k = std::min(rows, cols);
  if (k <= kLeaf) return eliminate(a, rows, cols, lda, pivot, first_column, swaps, f);
  const int64_t left = k / 2, right = cols - left;
  eliminate_recursive(a, rows, left, lda, pivot, first_column, swaps, f);
  swap_rows(a, lda, 0, swaps, left, cols);
  // U12 = L11^-1 A12, then A22 -= L21 U12.
  solve_triangular_block(a, lda, a + left, lda, left, right, /*upper=*/false, /*unitriangular=*/true);
  double* a22 = a + left * lda + left;
  cpu::blas::dgemm(false, false, rows - left, right, left, -1.0, a + left * lda, lda, a + left, lda, 1.0, a22, lda);
  std::vector<int64_t> lower_swaps;
  eliminate_recursive(a22, rows - left, right, lda, pivot, first_column + left, lower_swaps, f);
  swap_rows(a + left * lda, lda, 0, lower_swaps, 0, left);
  for (const int64_t row : lower_swaps) swaps.push_back(left + row);
}

// In-place Cholesky-Crout of the n x n block at l (leading dimension lda), reading and writing its
// lower triangle only. Returns 0, or 1 + the first column whose pivot is not positive. A NaN passes
// the test (NaN <= 0 is false) and spreads through the rest of L: PyTorch 1.13 gives NaN there too.
int64_t crout(double* l, int64_t lda, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const double* __restrict row_j = l + j * lda;
    double pivot = row_j[j];
    for (int64_t t = 0; t < j; ++t) pivot -= row_j[t] * row_j[t];
    if (pivot <= 0) return j + 1;
    const double l_jj = std::sqrt(pivot);
    l[j * lda + j] = l_jj;
    for (int64_t i = j + 1; i < n; ++i) {
      double* __restrict row_i = l + i * lda;
      double entry = row_i[j];
      for (int64_t t = 0; t < j; ++t) entry -= row_i[t] * row_j[t];
      row_i[j] = entry / l_jj;
    }
  }
  return 0;
}

// The Cholesky factor of the n x n block at l by halves (LAPACK's potrf2): L11, then L21 = A21 L11^-T,
// then the factor of A22 - L21 L21^T. Reads the lower triangle only; the product also writes A22's
// strict upper triangle, which the caller clears. Returns as crout.
int64_t cholesky_recursive(double* l, int64_t lda, int64_t n) {
  if (n <= kLeaf) return crout(l, lda, n);
  const int64_t top = n / 2, bottom = n - top;
  const int64_t failed_top = cholesky_recursive(l, lda, top);
  // L21 L11^T = A21 is L11 L21^T = A21^T: a left solve, on a transposed copy of the block. After a
  // failure in L11 its columns before the failing one are still made, as the column loop makes them.
  const int64_t done = failed_top > 0 ? failed_top - 1 : top;
  double* a21 = l + top * lda;
  detail::HostVector transposed(static_cast<size_t>(done * bottom));
  for (int64_t i = 0; i < bottom; ++i)
    for (int64_t j = 0; j < done; ++j) transposed[j * bottom + i] = a21[i * lda + j];
  solve_triangular_block(l, lda, transposed.data(), bottom, done, bottom, /*upper=*/false, /*unitriangular=*/false);
  for (int64_t i = 0; i < bottom; ++i)
    for (int64_t j = 0; j < done; ++j) a21[i * lda + j] = transposed[j * bottom + i];
  if (failed_top > 0) return failed_top;
  double* a22 = l + top * lda + top;
  cpu::blas::dgemm(false, true, bottom, bottom, top, -1.0, a21, lda, a21, lda, 1.0, a22, lda);
  if (const int64_t failed = cholesky_recursive(a22, lda, bottom)) return top + failed;
  return 0;
}

// l holds a's lower triangle (the diagonal included) and zeros above it.
void copy_lower_triangle(const double* a, double* l, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) l[i * n + j] = j <= i ? a[i * n + j] : 0.0;
}

// The factor as the callers see it: zeros above the diagonal and, after a failure at 1-based order
// `failed`, zeros in the columns from the failing one on (they held partial sums), as the loop that
// never reached them leaves them. Returns failed.
int64_t finish_cholesky(double* l, int64_t n, int64_t failed) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) l[i * n + j] = 0.0;
  if (failed > 0)
    for (int64_t i = failed - 1; i < n; ++i)
      for (int64_t j = failed - 1; j <= i; ++j) l[i * n + j] = 0.0;
  return failed;
}

}  // namespace

void substitute(const double* a, int64_t lda, double* b, int64_t ldb, int64_t n, int64_t k, bool upper,
                bool unitriangular) {
  for (int64_t step = 0; step < n; ++step) {
    const int64_t i = upper ? n - 1 - step : step;  // upper: the last row first
    double* __restrict row = b + i * ldb;  // never row j's: restrict lets the loop below vectorise
    // The unknowns already solved: columns j < i of a lower A, j > i of an upper one.
    const int64_t j_begin = upper ? i + 1 : 0, j_end = upper ? n : i;
    for (int64_t j = j_begin; j < j_end; ++j) {
      const double a_ij = a[i * lda + j];
      const double* __restrict solved = b + j * ldb;
      for (int64_t c = 0; c < k; ++c) row[c] -= a_ij * solved[c];
    }
    if (!unitriangular) {
      const double diagonal = a[i * lda + i];
      for (int64_t c = 0; c < k; ++c) row[c] /= diagonal;
    }
  }
}

void solve_triangular_block(const double* a, int64_t lda, double* b, int64_t ldb, int64_t n, int64_t k, bool upper,
                            bool unitriangular) {
  if (n <= kLeaf) return substitute(a, lda, b, ldb, n, k, upper, unitriangular);
  // By halves of the unknowns (LAPACK's trsm): the half solved first is taken out of the other half's
  // right-hand sides by one product.
  const int64_t top = n / 2, bottom = n - top;
  const double* a22 = a + top * lda + top;
  double* b2 = b + top * ldb;
  if (upper) {
    solve_triangular_block(a22, lda, b2, ldb, bottom, k, upper, unitriangular);
    cpu::blas::dgemm(false, false, top, k, bottom, -1.0, a + top, lda, b2, ldb, 1.0, b, ldb);
    solve_triangular_block(a, lda, b, ldb, top, k, upper, unitriangular);
  } else {
    solve_triangular_block(a, lda, b, ldb, top, k, upper, unitriangular);
    cpu::blas::dgemm(false, false, bottom, k, top, -1.0, a + top * lda, lda, b, ldb, 1.0, b2, ldb);
    solve_triangular_block(a22, lda, b2, ldb, bottom, k, upper, unitriangular);
  }
}

void solve_triangular_in_place(const double* a, double* b, int64_t n, int64_t k, bool upper, bool unitriangular) {
  if (n == 0 || k == 0) return;  // nothing to solve (and no leading dimension dgemm would accept)
  solve_triangular_block(a, n, b, k, n, k, upper, unitriangular);
}

LuFactorization factor_lu_unblocked(double* a, int64_t m, int64_t n, bool pivot) {
  LuFactorization f = start_factorization(m, n);
  std::vector<int64_t> swaps;
  eliminate(a, m, n, n, pivot, 0, swaps, f);
  record_swaps(f, 0, swaps);
  return f;
}

LuFactorization factor_lu(double* a, int64_t m, int64_t n, bool pivot) {
  LuFactorization f = start_factorization(m, n);
  std::vector<int64_t> swaps;
  eliminate_recursive(a, m, n, n, pivot, 0, swaps, f);
  record_swaps(f, 0, swaps);
  return f;
}

int64_t factor_cholesky_unblocked(const double* a, double* l, int64_t n) {
  copy_lower_triangle(a, l, n);
  return finish_cholesky(l, n, crout(l, n, n));
}

int64_t factor_cholesky(const double* a, double* l, int64_t n) {
  copy_lower_triangle(a, l, n);
  return finish_cholesky(l, n, cholesky_recursive(l, n, n));
}

}  // namespace ember::linalg::detail
