// Householder reduction of a tall matrix to upper bidiagonal form, the first step of the Golub-Kahan
// SVD (ops/linalg_svd_methods.h). Written twice:
//   - step by step (LAPACK's gebd2), the reference: at step k a reflector from the left zeroes column
//     k below the diagonal and is applied to the columns right of it, then a reflector from the right
//     zeroes row k right of the superdiagonal and is applied to the rows below. Four passes over the
//     trailing matrix per step, each a matrix-vector product;
//   - blocked (LAPACK's gebrd and labrd), the one the SVD runs: a panel of kPanel steps is reduced
//     while the trailing matrix is left as it was, the panel's updates to it gathered in two tall
//     matrices X and Y, so that after the panel
//         A <- A - V Y^T - X U^T
//     (V: the panel's left reflectors, U: its right reflectors, as rows) is two matrix products
//     (cpu::blas::dgemm, on every thread). Each step still reads the trailing matrix twice, for
//     A^T u and A v, but only reads it, and reading needs no move of the matrix between the cores'
//     caches: those products are split among threads for large matrices (matrix_vector_product,
//     ops/linalg_host.h). Splitting the step-by-step loop's writing passes instead made a 256 x 256
//     reduction slower, not faster: the matrix then changed caches every step.
// tests/linalg/test_svd_methods.cpp holds the two to each other.
#include <algorithm>
#include <cstdint>

#include <ember/backends/cpu/blas.h>
#include <ember/backends/cpu/host_kernels.h>
#include <ember/ops/linalg_svd_methods.h>

namespace ember::linalg::detail {
namespace {

constexpr int64_t kPanel = 32;  // LAPACK's block size for gebrd
// The blocked loop stops when this few columns are left; the step-by-step loop finishes them (so a
// matrix this narrow or narrower is never blocked). Measured (one thread, Zen 5): the two break even
// near 70 columns (65: 0.079 against 0.073 ms; 80: 0.124 against 0.130; 128: 0.41 against 0.49).
constexpr int64_t kBlockedAbove = 64;

// Steps first..q-1 of the reduction, one at a time (gebd2).
void reduce_step_by_step(HostVector& a, int64_t p, int64_t q, int64_t first, HostVector& d, HostVector& e,
                         HostVector& tau_left, HostVector& tau_right) {
  const auto reflect_rows = cpu::host_kernels().reflect_rows;
  for (int64_t k = first; k < q; ++k) {
    factor_columns(a.data(), p, q, tau_left.data(), k, k + 1, q);  // column k, as QR reduces it
    d[k] = a[k * q + k];
    if (k + 1 == q) break;

    double* row_k = a.data() + k * q + k + 1;  // entries k + 1.. of row k
    const int64_t width = q - k - 1;
    const double tau = tau_right[k] = make_householder_reflector(row_k, width, 1);
    e[k] = row_k[0];
    if (tau == 0) continue;
    // G_k from the right on rows k + 1.. (row_k[0], beta, is not read)
    reflect_rows(a.data() + (k + 1) * q + k + 1, q, p - k - 1, width, row_k, tau);
  }
}

// Steps s..s+width-1 (labrd) on the trailing m x n matrix A = a[s.., s..] (m = p - s, n = q - s > width),
// then the update of A's rows and columns past the panel. Within the panel, step i first brings
// column i (then row i) up to date from the stale A with the corrections of steps 0..i-1, forms its
// reflector, and records in row i of Y^T (width x n) and X^T (width x m) what the reflector does to
// the rest of A:
//   from the left,  H_i A  = A - u_i (tau_i A^T u_i)^T,       Y[:, i] = tau_i (A_current)^T u_i;
//   from the right, A G_i  = A - (tau_i A_current v_i) v_i^T, X[:, i] = tau_i A_current v_i,
// where A_current = A - V Y^T - X U^T (V's columns the u's, U's rows the v's) over the reflectors
// applied so far: steps 0..i-1 for Y[:, i], and H_i too for X[:, i]. Its products with a vector are
// the stale A's product (the expensive one) and small corrections through the panel. V, X and Y are
// kept transposed, so that every correction is a product with a few contiguous rows (row_dots and
// column_dots with `i` rows).
void reduce_panel(HostVector& a, int64_t p, int64_t q, int64_t s, int64_t width, HostVector& d, HostVector& e,
                  HostVector& tau_left, HostVector& tau_right) {
  const int64_t m = p - s, n = q - s;
  // The corrections' products with the panel have at most `width` terms: one thread each.
  const auto small_row_dots = cpu::host_kernels().row_dots;
  const auto small_column_dots = cpu::host_kernels().column_dots;
  auto A = [&](int64_t r, int64_t c) -> double& { return a[(s + r) * q + s + c]; };
  HostVector vt(width * m, 0.0), xt(width * m, 0.0), yt(width * n, 0.0);
  auto Vt = [&](int64_t k, int64_t r) -> double& { return vt[k * m + r]; };
  auto Xt = [&](int64_t k, int64_t r) -> double& { return xt[k * m + r]; };
  auto Yt = [&](int64_t k, int64_t c) -> double& { return yt[k * n + c]; };
  // column, row: a column's or a row's product with the stale A, then less its two corrections
  // (correction_1, correction_2); small_1, small_2: the vectors of a few entries those are made from.
  HostVector column(m), row(n), correction_1(std::max(m, n)), correction_2(std::max(m, n)), small_1(width),
      small_2(width);

  for (int64_t i = 0; i < width; ++i) {
    // Column i, rows i..: A[r, i] -= V[r, :i] . Y[i, :i] + X[r, :i] . U[:i, i]
    for (int64_t k = 0; k < i; ++k) {
      small_1[k] = Yt(k, i);
      small_2[k] = A(k, i);
    }
    small_column_dots(&Vt(0, i), m, i, m - i, small_1.data(), correction_1.data());
    small_column_dots(&Xt(0, i), m, i, m - i, small_2.data(), correction_2.data());
    // The reflector is made in row i of V^T, where the column is contiguous, and copied back.
    double* u = &Vt(i, i);
    for (int64_t r = i; r < m; ++r) u[r - i] = A(r, i) - (correction_1[r - i] + correction_2[r - i]);
    const double tau_u = tau_left[s + i] = make_householder_reflector(u, m - i, 1);
    d[s + i] = u[0];
    u[0] = 1;
    for (int64_t r = i; r < m; ++r) A(r, i) = u[r - i];  // u_i's unit entry too, read by the row update

    // Y[i+1:, i] = tau_u (A^T u - Y[i+1:, :i] (V^T u) - U[:i, i+1:]^T (X^T u)), over rows i..
    transposed_matrix_vector_product(&A(i, i + 1), q, m - i, n - i - 1, u, row.data());
    small_row_dots(&Vt(0, i), m, i, m - i, u, small_1.data());
    small_row_dots(&Xt(0, i), m, i, m - i, u, small_2.data());
    small_column_dots(&Yt(0, i + 1), n, i, n - i - 1, small_1.data(), correction_1.data());
    small_column_dots(&A(0, i + 1), q, i, n - i - 1, small_2.data(), correction_2.data());
    for (int64_t c = 0; c < n - i - 1; ++c) Yt(i, i + 1 + c) = tau_u * (row[c] - (correction_1[c] + correction_2[c]));

    // Row i, columns i + 1..: A[i, c] -= V[i, :i+1] . Y[c, :i+1] + X[i, :i] . U[:i, c] (V[i, i] = 1)
    for (int64_t k = 0; k < i; ++k) small_2[k] = Xt(k, i);
    small_column_dots(&Yt(0, i + 1), n, i + 1, n - i - 1, &A(i, 0), correction_1.data());
    small_column_dots(&A(0, i + 1), q, i, n - i - 1, small_2.data(), correction_2.data());
    for (int64_t c = 0; c < n - i - 1; ++c) A(i, i + 1 + c) -= correction_1[c] + correction_2[c];
    const double tau_v = tau_right[s + i] = make_householder_reflector(&A(i, i + 1), n - i - 1, 1);
    e[s + i] = A(i, i + 1);
    A(i, i + 1) = 1;  // v_i's unit entry, read as U[i, i + 1] by the next step and by the trailing
                      // update; e restores it at the end
    const double* v = &A(i, i + 1);

    // X[i+1:, i] = tau_v (A v - V[i+1:, :i+1] (Y^T v) - X[i+1:, :i] (U v)), over columns i + 1..
    matrix_vector_product(&A(i + 1, i + 1), q, m - i - 1, n - i - 1, v, column.data());
    small_row_dots(&Yt(0, i + 1), n, i + 1, n - i - 1, v, small_1.data());
    small_row_dots(&A(0, i + 1), q, i, n - i - 1, v, small_2.data());
    small_column_dots(&Vt(0, i + 1), m, i + 1, m - i - 1, small_1.data(), correction_1.data());
    small_column_dots(&Xt(0, i + 1), m, i, m - i - 1, small_2.data(), correction_2.data());
    for (int64_t r = 0; r < m - i - 1; ++r)
      Xt(i, i + 1 + r) = tau_v * (column[r] - (correction_1[r] + correction_2[r]));
  }

  // The trailing (m - width) x (n - width) block: A -= V Y^T + X U^T.
  const int64_t rows = m - width, cols = n - width;
  double* trailing = &A(width, width);
  cpu::blas::dgemm(true, false, rows, cols, width, -1.0, &Vt(0, width), m, &Yt(0, width), n, 1.0, trailing, q);
  cpu::blas::dgemm(true, false, rows, cols, width, -1.0, &Xt(0, width), m, &A(0, width), q, 1.0, trailing, q);
  for (int64_t i = 0; i < width; ++i) {
    A(i, i) = d[s + i];
    A(i, i + 1) = e[s + i];
  }
}

void start(int64_t q, HostVector& d, HostVector& e, HostVector& tau_left, HostVector& tau_right) {
  d.assign(q, 0.0);
  e.assign(q, 0.0);
  tau_left.assign(q, 0.0);
  tau_right.assign(q, 0.0);
}

}  // namespace

void bidiagonalize_unblocked(HostVector& a, int64_t p, int64_t q, HostVector& d, HostVector& e,
                             HostVector& tau_left, HostVector& tau_right) {
  start(q, d, e, tau_left, tau_right);
  reduce_step_by_step(a, p, q, 0, d, e, tau_left, tau_right);
}

void bidiagonalize(HostVector& a, int64_t p, int64_t q, HostVector& d, HostVector& e, HostVector& tau_left,
                   HostVector& tau_right) {
  start(q, d, e, tau_left, tau_right);
  int64_t s = 0;
  for (; q - s > kBlockedAbove; s += kPanel) reduce_panel(a, p, q, s, kPanel, d, e, tau_left, tau_right);
  reduce_step_by_step(a, p, q, s, d, e, tau_left, tau_right);
}

}  // namespace ember::linalg::detail
