// Householder reduction of a symmetric matrix to tridiagonal form, blocked (LAPACK's sytrd and latrd,
// the upper-triangle variant read by rows): the fast method's reduction for large matrices
// (ops/linalg_symmetric_eigen.h). The step-by-step reduction (cpu::HostKernels::reduce_to_tridiagonal,
// EISPACK's tred2) reflects row i left of its diagonal onto one entry, i from the last row up, and
// applies each reflector P = I - tau u u^T to the leading block as a symmetric rank-2 update,
//     A <- A - u w^T - w u^T,   w = tau (A u - (tau/2) (u^T A u) u),
// which reads and writes the whole block every step. Here a panel of kPanel rows leaves the leading
// block as it was and keeps each step's u (in A's row) and w (in W); a step brings its own row up to
// date from them, and forms w from the stale block's A u (read only; split among threads when large)
// less the panel's corrections. After the panel the block takes all of them at once,
//     A <- A - U^T W - W^T U,
// as two matrix products (cpu::blas::dgemm). The output is the step-by-step kernel's, so that Q is
// formed the same way: u_i in row i left of the diagonal, scaled so that its last entry is 1, and
// h_i = 1 / tau_i in d[i] (0 for no reflection; P = I - u u^T / h).
#include <ember/ops/linalg_symmetric_eigen.h>

#include <algorithm>

#include <ember/backends/cpu/blas.h>
#include <ember/backends/cpu/host_kernels.h>

namespace ember::linalg::detail {
namespace {

constexpr int64_t kPanel = 32;  // LAPACK's block size for sytrd
static_assert(kBlockedTridiagonalAbove >= kPanel, "a panel must fit above row 0");

// Rows hi - 1 down to lo = hi - kPanel of the n x n matrix a (row-major, both triangles of the
// leading hi x hi block valid), then the update of the leading lo x lo block. W holds w_j in row
// j - lo; the panel's u_j are rows lo..hi-1 of a. tau[j], e[j] for the panel's rows.
void reduce_panel(double* a, int64_t n, int64_t lo, int64_t hi, HostVector& w_rows, double* tau, double* e) {
  const auto small_row_dots = cpu::host_kernels().row_dots;
  const auto small_column_dots = cpu::host_kernels().column_dots;
  auto A = [&](int64_t r, int64_t c) -> double& { return a[r * n + c]; };
  auto W = [&](int64_t j, int64_t c) -> double& { return w_rows[(j - lo) * n + c]; };
  HostVector w(hi), correction_1(hi), correction_2(hi), small_1(kPanel), small_2(kPanel);

  for (int64_t i = hi - 1; i >= lo; --i) {
    const int64_t done = hi - 1 - i;  // the panel's rows already reduced: i + 1..hi - 1
    // Row i, entries 0..i: A[i, k] -= sum over done rows j of u_j[k] w_j[i] + w_j[k] u_j[i].
    if (done > 0) {
      for (int64_t j = i + 1; j < hi; ++j) {
        small_1[j - i - 1] = W(j, i);
        small_2[j - i - 1] = A(j, i);  // u_j[i]; u_(i+1)[i] is its unit entry
      }
      small_column_dots(&A(i + 1, 0), n, done, i + 1, small_1.data(), correction_1.data());
      small_column_dots(&W(i + 1, 0), n, done, i + 1, small_2.data(), correction_2.data());
      for (int64_t k = 0; k <= i; ++k) A(i, k) -= correction_1[k] + correction_2[k];
    }
    // The reflector of row i's entries 0..i-1 onto the subdiagonal one, i - 1 (dlarfg, walked backwards).
    tau[i] = make_householder_reflector(&A(i, i - 1), i, -1);
    e[i] = A(i, i - 1);
    A(i, i - 1) = 1;
    const double* u = &A(i, 0);

    // w = tau (A u - U^T (W u) - W^T (U u)) over the leading i x i block, then w -= (tau/2)(w . u) u.
    matrix_vector_product(a, n, i, i, u, w.data());
    if (done > 0) {
      small_row_dots(&W(i + 1, 0), n, done, i, u, small_1.data());
      small_row_dots(&A(i + 1, 0), n, done, i, u, small_2.data());
      small_column_dots(&A(i + 1, 0), n, done, i, small_1.data(), correction_1.data());
      small_column_dots(&W(i + 1, 0), n, done, i, small_2.data(), correction_2.data());
      for (int64_t k = 0; k < i; ++k) w[k] -= correction_1[k] + correction_2[k];
    }
    double w_dot_u = 0;
    for (int64_t k = 0; k < i; ++k) {
      w[k] *= tau[i];
      w_dot_u += w[k] * u[k];
    }
    const double alpha = -0.5 * tau[i] * w_dot_u;
    for (int64_t k = 0; k < i; ++k) W(i, k) = w[k] + alpha * u[k];
  }

  // The leading lo x lo block: A -= U^T W + W^T U (both triangles).
  const int64_t rows = hi - lo;
  cpu::blas::dgemm(true, false, lo, lo, rows, -1.0, &A(lo, 0), n, w_rows.data(), n, 1.0, a, n);
  cpu::blas::dgemm(true, false, lo, lo, rows, -1.0, w_rows.data(), n, &A(lo, 0), n, 1.0, a, n);
}

}  // namespace

void reduce_to_tridiagonal_blocked(double* a, int64_t n, double* d, double* e) {
  HostVector tau(n, 0.0), w_rows(kPanel * n, 0.0);
  int64_t hi = n;
  for (; hi > kBlockedTridiagonalAbove; hi -= kPanel) reduce_panel(a, n, hi - kPanel, hi, w_rows, tau.data(), e);
  for (int64_t i = hi; i < n; ++i) d[i] = tau[i] == 0 ? 0.0 : 1.0 / tau[i];  // h_i; tau is 0 or in [1, 2]

  // The leading hi x hi block step by step, in a contiguous copy (the kernel has no leading dimension).
  HostVector block(hi * hi);
  for (int64_t r = 0; r < hi; ++r) std::copy(a + r * n, a + r * n + hi, block.data() + r * hi);
  cpu::host_kernels().reduce_to_tridiagonal(block.data(), hi, d, e);
  for (int64_t r = 0; r < hi; ++r) std::copy(block.data() + r * hi, block.data() + (r + 1) * hi, a + r * n);
  // The kernel leaves zeros right of the diagonal, which JAMA's accumulation of Q reads
  // (form_q_by_reflectors): the panels' rows and columns get them too.
  for (int64_t r = 0; r < n; ++r) std::fill(a + r * n + std::max(r + 1, hi), a + (r + 1) * n, 0.0);
}

}  // namespace ember::linalg::detail
