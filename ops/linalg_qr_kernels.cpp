// The host kernels under linalg.qr and linalg.geqrf (ops/linalg_host.h): Householder QR in LAPACK's
// packed form, and Q formed from it. Each is written twice: column by column (LAPACK's geqr2 and
// org2r), the reference; and blocked (geqrf and orgqr), the one the ops run: a panel of kPanel
// columns is factored column by column, its reflectors are gathered into one block reflector
// I - V T V^T (larft), and that is applied to the rest of the matrix by three matrix products (larfb),
// cpu::blas::dgemm. tests/linalg/test_dense_kernels.cpp holds the two to each other.
//
// The reflectors are LAPACK's (dlarfg): with alpha = a_jj and x the entries below it,
// beta = -sign(alpha) |(alpha, x)|, tau = (beta - alpha) / beta, v = [1, x / (alpha - beta)]; when x is
// zero, H = I (tau = 0) and R_jj keeps alpha's sign. So Q and R agree with PyTorch's, signs included.
#include <ember/ops/linalg_host.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <ember/backends/cpu/blas.h>
#include <ember/backends/cpu/host_kernels.h>

namespace ember::linalg::detail {
namespace {

// Columns per panel; matrices with fewer than two panels' worth run the column-by-column loops.
constexpr int64_t kPanel = 32;

// |x| for the `count` entries x_0, x_stride, ...: scaled by the largest magnitude, so that squares
// neither overflow nor underflow (as LAPACK's dnrm2). As hypot: inf if any entry is infinite, else
// NaN if any is NaN.
double norm2(const double* x, int64_t count, int64_t stride) {
  double largest = 0;
  bool nan = false;
  for (int64_t i = 0; i < count; ++i) {
    const double magnitude = std::abs(x[i * stride]);
    nan = nan || std::isnan(magnitude);
    largest = std::max(largest, magnitude);
  }
  if (std::isinf(largest)) return largest;
  if (nan) return std::numeric_limits<double>::quiet_NaN();
  if (largest == 0) return 0;
  double sum = 0;
  for (int64_t i = 0; i < count; ++i) {
    const double scaled = x[i * stride] / largest;
    sum += scaled * scaled;
  }
  return largest * std::sqrt(sum);
}

// dlarfg on column j of the m x n matrix a, rows j..m: writes beta on the diagonal and v's entries
// below the unit one under it; returns tau.
double make_reflector(double* a, int64_t m, int64_t n, int64_t j) {
  return make_householder_reflector(a + j * n + j, m - j, n);
}

// v_j of the packed reflectors (m x n, leading dimension lda) as rows j..m of a contiguous vector.
void reflector_vector(const double* packed, int64_t m, int64_t lda, int64_t j, HostVector& v) {
  v.assign(static_cast<size_t>(m - j), 0.0);
  v[0] = 1;
  for (int64_t r = j + 1; r < m; ++r) v[r - j] = packed[r * lda + j];
}

// The block reflector of reflectors [first, first + width) of the packed m x n matrix: V (rows
// first.., width columns, unit lower trapezoidal, row-major) and the upper triangular T (width x
// width) with H_first ... H_{first+width-1} = I - V T V^T (larft, forward and by columns).
struct BlockReflector {
  HostVector v, t;
  int64_t rows = 0, width = 0;
};
BlockReflector block_reflector(const double* packed, int64_t m, int64_t n, const double* tau, int64_t first,
                               int64_t width) {
  BlockReflector b;
  b.rows = m - first;
  b.width = width;
  b.v.assign(static_cast<size_t>(b.rows * width), 0.0);
  for (int64_t r = 0; r < b.rows; ++r)
    for (int64_t c = 0; c < width && c <= r; ++c) b.v[r * width + c] = r == c ? 1.0 : packed[(first + r) * n + first + c];
  b.t.assign(static_cast<size_t>(width * width), 0.0);
  for (int64_t i = 0; i < width; ++i) {
    const double tau_i = tau[first + i];
    if (tau_i == 0) continue;  // H_i = I: T's column i is zero
    // T[0:i, i] = T[0:i, 0:i] z with z_p = -tau_i (v_p . v_i); v_i is zero above its row i.
    HostVector z(static_cast<size_t>(i), 0.0);
    for (int64_t r = i; r < b.rows; ++r) {
      const double v_ri = b.v[r * width + i];
      for (int64_t p = 0; p < i; ++p) z[p] += b.v[r * width + p] * v_ri;
    }
    for (int64_t row = 0; row < i; ++row) {
      double sum = 0;
      for (int64_t p = row; p < i; ++p) sum += b.t[row * width + p] * z[p];
      b.t[row * width + i] = -tau_i * sum;
    }
    b.t[i * width + i] = tau_i;
  }
  return b;
}

// C = (I - V T V^T) C, or with transpose_t (I - V T^T V^T) C, for C the b.rows x cols block at c
// (leading dimension ldc): W = V^T C, W = T W (or T^T W), C -= V W (larfb).
void apply_block_reflector(const BlockReflector& b, bool transpose_t, double* c, int64_t ldc, int64_t cols) {
  if (cols <= 0 || b.width == 0) return;
  HostVector w(static_cast<size_t>(b.width * cols)), tw(static_cast<size_t>(b.width * cols));
  cpu::blas::dgemm(true, false, b.width, cols, b.rows, 1.0, b.v.data(), b.width, c, ldc, 0.0, w.data(), cols);
  cpu::blas::dgemm(transpose_t, false, b.width, cols, b.width, 1.0, b.t.data(), b.width, w.data(), cols, 0.0,
                   tw.data(), cols);
  cpu::blas::dgemm(false, false, b.rows, cols, b.width, -1.0, b.v.data(), b.width, tw.data(), cols, 1.0, c, ldc);
}

// The blocked versions multiply by the explicit zeros above V's unit diagonal and below T's, and
// 0 * NaN is NaN: a NaN or inf would reach entries of R that the loops (and LAPACK, whose larfb skips
// those triangles) leave finite. Such inputs take the loops.
bool all_finite(const double* x, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}

bool blocked(int64_t k) { return k >= 2 * kPanel; }

}  // namespace

double make_householder_reflector(double* x, int64_t count, int64_t stride) {
  double alpha = x[0];
  double below_norm = count > 1 ? norm2(x + stride, count - 1, stride) : 0.0;  // no pointer past the end
  if (below_norm == 0) return 0;  // nothing below alpha to reflect away: H = I
  double beta = -std::copysign(std::hypot(alpha, below_norm), alpha);
  // As LAPACK's dlarfg: a vector this short is scaled up by 2^970 (exactly) until it is not, so that
  // alpha - beta and the quotients below are not subnormal; with them, v and tau would lose their
  // precision and H would not be orthogonal. beta is scaled back at the end.
  constexpr double kSmall = 0x1p-970;  // DBL_MIN / DBL_EPSILON
  int scalings = 0;
  while (std::abs(beta) < kSmall && scalings < 20) {
    for (int64_t i = 0; i < count; ++i) x[i * stride] *= 0x1p970;
    ++scalings;
    alpha = x[0];
    below_norm = norm2(x + stride, count - 1, stride);
    beta = -std::copysign(std::hypot(alpha, below_norm), alpha);
  }
  const double divisor = alpha - beta;
  for (int64_t i = 1; i < count; ++i) x[i * stride] /= divisor;
  const double tau = (beta - alpha) / beta;
  x[0] = std::ldexp(beta, -970 * scalings);
  return tau;
}

void apply_householder_left(double* c, int64_t ldc, const HostVector& v, double tau, int64_t first_row,
                            int64_t first_col, int64_t last_col, HostVector& scratch) {
  if (tau == 0 || first_col >= last_col) return;
  const int64_t cols = last_col - first_col;
  scratch.resize(static_cast<size_t>(cols));
  cpu::host_kernels().reflect_columns(c + first_row * ldc + first_col, ldc, static_cast<int64_t>(v.size()), cols,
                                      v.data(), tau, scratch.data());
}

void factor_columns(double* a, int64_t m, int64_t n, double* tau, int64_t begin, int64_t end, int64_t update_end) {
  HostVector v, scale;
  for (int64_t j = begin; j < end; ++j) {
    tau[j] = make_reflector(a, m, n, j);
    reflector_vector(a, m, n, j, v);
    apply_householder_left(a, n, v, tau[j], j, j + 1, update_end, scale);
  }
}

void householder_qr_unblocked(double* a, int64_t m, int64_t n, double* tau) {
  factor_columns(a, m, n, tau, 0, std::min(m, n), n);
}

void householder_qr(double* a, int64_t m, int64_t n, double* tau) {
  const int64_t k = std::min(m, n);
  if (!blocked(k) || !all_finite(a, m * n)) return householder_qr_unblocked(a, m, n, tau);
  for (int64_t first = 0; first < k; first += kPanel) {
    const int64_t end = std::min(first + kPanel, k);
    factor_columns(a, m, n, tau, first, end, end);
    if (end >= n) continue;
    // The panel's reflectors on the columns to its right: H_{end-1} ... H_first C = (I - V T^T V^T) C.
    const BlockReflector b = block_reflector(a, m, n, tau, first, end - first);
    apply_block_reflector(b, /*transpose_t=*/true, a + first * n + end, n, n - end);
  }
}

// Q = H_0 ... H_{k-1} applied to the first q columns of the identity, the last reflector first. When
// reflector j is applied, the columns before j are still the identity's, zero in rows j.. where it
// acts, so only columns j.. are touched (as LAPACK's orgqr).
void form_householder_q_unblocked(const double* packed, int64_t m, int64_t n, const double* tau, int64_t k,
                                  double* q, int64_t q_cols) {
  std::fill(q, q + m * q_cols, 0.0);
  for (int64_t i = 0; i < std::min(m, q_cols); ++i) q[i * q_cols + i] = 1;
  HostVector v, scale;
  for (int64_t j = k - 1; j >= 0; --j) {
    reflector_vector(packed, m, n, j, v);
    apply_householder_left(q, q_cols, v, tau[j], j, j, q_cols, scale);
  }
}

void form_householder_q(const double* packed, int64_t m, int64_t n, const double* tau, int64_t k, double* q,
                        int64_t q_cols) {
  if (!blocked(k) || !all_finite(packed, m * n) || !all_finite(tau, k))
    return form_householder_q_unblocked(packed, m, n, tau, k, q, q_cols);
  std::fill(q, q + m * q_cols, 0.0);
  for (int64_t i = 0; i < std::min(m, q_cols); ++i) q[i * q_cols + i] = 1;
  for (int64_t first = (k - 1) / kPanel * kPanel; first >= 0; first -= kPanel) {
    const int64_t width = std::min(kPanel, k - first);
    const BlockReflector b = block_reflector(packed, m, n, tau, first, width);
    apply_block_reflector(b, /*transpose_t=*/false, q + first * q_cols + first, q_cols, q_cols - first);
  }
}

}  // namespace ember::linalg::detail
