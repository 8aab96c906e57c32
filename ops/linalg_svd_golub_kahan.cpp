// The Golub-Kahan-Reinsch SVD of a tall p x q matrix B (ops/linalg_svd_methods.h), in three steps:
//   1. Householder reflectors from the left (zeroing a column below the diagonal) and from the right
//      (zeroing a row right of the superdiagonal), alternately, reduce B to an upper bidiagonal
//      matrix: B = Q_L Bd Q_R^T (bidiagonalize, ops/linalg_bidiagonalize.cpp: LAPACK's gebrd). Q_L
//      and Q_R are formed as QR's Q is formed.
//   2. Implicit-shift QR steps on Bd (LINPACK's dsvdc, which LAPACK's dbdsqr refines): each step
//      chases a bulge down the unreduced block by rotations from the right and the left, which is QR
//      on Bd^T Bd with the Wilkinson shift from its trailing 2 x 2, converging cubically; negligible
//      superdiagonal entries split the problem, negligible diagonal entries are rotated away.
//   3. The rotations from the right accumulate into Q_R, those from the left into Q_L: their columns
//      become the right and left singular vectors.
// The rotations depend on Bd alone, never on the vectors, so they are logged and applied to the
// vectors a strip at a time (RotationLog, ops/linalg_plane_rotations.h). O(p q^2) for the reduction
// and about 12 q^3 for the rotations, against one-sided Jacobi's O(p q^2) per sweep over some ten
// sweeps. When B is much taller than wide (p >= 1.6 q) it is first factored B = Q R, and the three
// steps run on the q x q R.
#include <ember/ops/linalg_svd_methods.h>

#include <cfloat>
#include <cmath>
#include <tuple>

#include <ember/backends/cpu/blas.h>
#include <ember/ops/linalg_plane_rotations.h>

namespace ember::linalg::detail {
namespace {

constexpr int kMaxIterationsPerValue = 75;  // 2-3 QR steps in practice; guards against a hang
// Entries at most this large are negligible whatever their neighbours (JAMA's "tiny", DBL_MIN * 2^56).
// B's largest entry is about 1, so this is far below the rounding of any singular value that matters;
// without it, eps times neighbours near underflow rounds to 0, only exact zeros pass the relative
// tests, and a block of rounding noise there never converges.
constexpr double kNegligible = 0x1p-966;

// Q_R = G_0 ... G_{q-2} as a q x q row-major matrix. G_k acts on entries k + 1.., so Q_R = diag(1, Q'),
// Q' the (q - 1) x (q - 1) Q of QR's packed form whose column k holds G_k's vector below the diagonal.
HostVector right_reflectors_product(const HostVector& a, int64_t q, const HostVector& tau_right) {
  if (q == 0) return {};
  HostVector v(q * q, 0.0);
  v[0] = 1;
  const int64_t n = q - 1;
  if (n == 0) return v;
  HostVector packed(n * n, 0.0), inner(n * n);
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = k + 1; i < n; ++i) packed[i * n + k] = a[k * q + i + 1];
  form_householder_q(packed.data(), n, n, tau_right.data(), n, inner.data(), n);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) v[(r + 1) * q + c + 1] = inner[r * n + c];
  return v;
}

// (c, s, r) with c f + s g = r, -s f + c g = 0, r = |(f, g)|; the identity when both are zero.
std::tuple<double, double, double> givens(double f, double g) {
  const double r = rotation_radius(f, g);
  if (r == 0) return {1.0, 0.0, 0.0};
  return {f / r, g / r, r};
}

// The vectors the rotations act on: column j of Q_L (or Q_R) kept as row q - 1 - j of `rows` (length
// `length` each), so that the QR step's rotations, which go down the bidiagonal (j = first, first + 1,
// ...), are the upward sweeps RotationLog and rotate_rows apply (see RotationLog: rows i and i + 1 are
// columns j + 1 and j, and with that order the update is the column rotation
//   col_j <- c col_j + s col_(j+1),  col_(j+1) <- -s col_j + c col_(j+1)).
struct RotatedVectors {
  double* rows = nullptr;  // null when only the values are wanted
  int64_t length = 0, q = 0;
  RotationLog log;
  RotatedVectors(double* rows_, int64_t length_, int64_t q_)
      : rows(rows_), length(length_), q(q_), log(rows_, length_, /*deferred=*/true) {}
  int64_t row_of(int64_t column) const { return q - 1 - column; }
  // The rotation above on two columns that need not be adjacent; applied at once, after the log.
  void rotate(int64_t a, int64_t b, double c, double s) {
    if (!rows) return;
    log.apply();
    double* x = rows + row_of(a) * length;
    double* y = rows + row_of(b) * length;
    for (int64_t r = 0; r < length; ++r) {
      const double xr = x[r], yr = y[r];
      x[r] = c * xr + s * yr;
      y[r] = -s * xr + c * yr;
    }
  }
};

// Diagonalises the bidiagonal (d, e) of size q by rotations, accumulated into u and v. On return d
// holds the singular values up to sign (the sign is the caller's to fold into v), in no order.
bool diagonalize_bidiagonal(HostVector& d, HostVector& e, int64_t q, RotatedVectors& u, RotatedVectors& v) {
  const double eps = DBL_EPSILON;
  // Besides the relative tests, an entry at most float64's rounding of B's norm is negligible, as in
  // LAPACK's dbdsqr with an absolute tolerance: zeroing it moves every singular value by no more
  // than that rounding, and a graded B (entries from 1e-100 to 1, say) no longer runs out of
  // iterations chasing relative accuracy in its tiny part with a shift that cannot give it.
  double norm = 0;
  for (int64_t i = 0; i < q; ++i) norm = std::max({norm, std::abs(d[i]), i + 1 < q ? std::abs(e[i]) : 0.0});
  const double negligible = std::max(kNegligible, eps * norm);
  HostVector u_c(q, 0.0), u_s(q, 0.0), v_c(q, 0.0), v_s(q, 0.0);  // one QR step's rotations, by row
  int64_t active = q;  // d[active..] have converged; e[active - 1] = 0
  int iterations = 0;
  while (active > 0) {
    // k: the last negligible e below the bottom of the active part (-1 if none).
    int64_t k = active - 2;
    for (; k >= 0; --k)
      if (std::abs(e[k]) <= negligible + eps * (std::abs(d[k]) + std::abs(d[k + 1]))) {
        e[k] = 0;
        break;
      }
    if (k == active - 2) {  // d[active - 1] is decoupled: converged
      --active;
      iterations = 0;
      continue;
    }
    if (++iterations > kMaxIterationsPerValue) {
      u.log.apply();
      v.log.apply();
      return false;
    }
    const int64_t first = k + 1, last = active - 1;  // the block d[first..last] with no negligible e
    int64_t zero = last;  // a negligible d in the block, if any (first - 1 when none)
    for (; zero >= first; --zero) {
      const double neighbours =
          (zero < last ? std::abs(e[zero]) : 0.0) + (zero > first ? std::abs(e[zero - 1]) : 0.0);
      if (std::abs(d[zero]) <= negligible + eps * neighbours) {
        d[zero] = 0;
        break;
      }
    }
    if (zero == last) {
      // d[last] = 0: rotations from the right chase e[last - 1] up the block and out of it.
      double f = e[last - 1];
      e[last - 1] = 0;
      for (int64_t j = last - 1; j >= first; --j) {
        const auto [c, s, r] = givens(d[j], f);
        d[j] = r;
        if (j > first) {
          f = -s * e[j - 1];
          e[j - 1] = c * e[j - 1];
        }
        v.rotate(j, last, c, s);
      }
    } else if (zero >= first) {
      // d[zero] = 0: rotations from the left chase e[zero] along row zero and out: the block splits.
      double f = e[zero];
      e[zero] = 0;
      for (int64_t j = zero + 1; j <= last; ++j) {
        const auto [c, s, r] = givens(d[j], f);
        d[j] = r;
        f = -s * e[j];
        e[j] = c * e[j];
        u.rotate(j, zero, c, s);
      }
    } else {
      // One QR step. The shift: the eigenvalue of the trailing 2 x 2 of Bd^T Bd nearer its corner,
      // computed on entries scaled by the largest involved.
      const double scale = std::max({std::abs(d[last]), std::abs(d[last - 1]), std::abs(e[last - 1]),
                                     std::abs(d[first]), std::abs(e[first])});
      const double d_last = d[last] / scale, d_prev = d[last - 1] / scale, e_prev = e[last - 1] / scale;
      const double d_first = d[first] / scale, e_first = e[first] / scale;
      const double b = ((d_prev + d_last) * (d_prev - d_last) + e_prev * e_prev) / 2;
      const double c2 = (d_last * e_prev) * (d_last * e_prev);
      double shift = 0;
      if (b != 0 || c2 != 0) {
        shift = std::sqrt(b * b + c2);
        if (b < 0) shift = -shift;
        shift = c2 / (b + shift);
      }
      double f = (d_first + d_last) * (d_first - d_last) + shift;
      double g = d_first * e_first;
      for (int64_t j = first; j < last; ++j) {
        auto [c, s, r] = givens(f, g);  // from the right, on columns j and j + 1
        if (j > first) e[j - 1] = r;
        f = c * d[j] + s * e[j];
        e[j] = c * e[j] - s * d[j];
        g = s * d[j + 1];
        d[j + 1] = c * d[j + 1];
        v_c[v.row_of(j + 1)] = c;
        v_s[v.row_of(j + 1)] = s;
        std::tie(c, s, r) = givens(f, g);  // from the left, on rows j and j + 1
        d[j] = r;
        f = c * e[j] + s * d[j + 1];
        d[j + 1] = -s * e[j] + c * d[j + 1];
        g = s * e[j + 1];
        e[j + 1] = c * e[j + 1];
        u_c[u.row_of(j + 1)] = c;
        u_s[u.row_of(j + 1)] = s;
      }
      e[last - 1] = f;
      if (v.rows) v.log.record(v.row_of(last), v.row_of(first), v_c, v_s);
      if (u.rows) u.log.record(u.row_of(last), u.row_of(first), u_c, u_s);
    }
  }
  u.log.apply();
  v.log.apply();
  return true;
}

// The method on B itself: bidiagonalise, then QR steps.
bool bidiagonal_svd(HostVector b, int64_t p, int64_t q, int64_t left_cols, bool want_vectors, TallSVD& out) {
  HostVector d, e, tau_left, tau_right;
  bidiagonalize(b, p, q, d, e, tau_left, tau_right);
  HostVector q_left, u_rows, v_rows;
  if (want_vectors) {
    q_left.resize(p * left_cols);
    form_householder_q(b.data(), p, q, tau_left.data(), q, q_left.data(), left_cols);
    const HostVector q_right = right_reflectors_product(b, q, tau_right);
    u_rows.resize(q * p);
    v_rows.resize(q * q);
    for (int64_t j = 0; j < q; ++j) {
      for (int64_t r = 0; r < p; ++r) u_rows[(q - 1 - j) * p + r] = q_left[r * left_cols + j];
      for (int64_t r = 0; r < q; ++r) v_rows[(q - 1 - j) * q + r] = q_right[r * q + j];
    }
  }
  RotatedVectors u(want_vectors ? u_rows.data() : nullptr, p, q);
  RotatedVectors v(want_vectors ? v_rows.data() : nullptr, q, q);
  const bool converged = diagonalize_bidiagonal(d, e, q, u, v);

  const std::vector<bool> negative = [&] {
    std::vector<bool> flags(q);
    for (int64_t j = 0; j < q; ++j) flags[j] = std::signbit(d[j]);
    return flags;
  }();
  for (double& x : d) x = std::abs(x);
  const std::vector<int64_t> order = descending_order(d);
  out.values.resize(q);
  for (int64_t j = 0; j < q; ++j) out.values[j] = d[order[j]];
  out.left.clear();
  out.right.clear();
  if (!want_vectors) return converged;
  // Column j of the result is vector order[j]; a negative d flips its right vector. Q_L's columns
  // past q, untouched by the rotations, complete the left basis.
  out.left = std::move(q_left);
  out.right.resize(q * q);
  for (int64_t j = 0; j < q; ++j) {
    const int64_t src = order[j];
    const double* u_src = u_rows.data() + (q - 1 - src) * p;
    const double* v_src = v_rows.data() + (q - 1 - src) * q;
    const double sign = negative[src] ? -1.0 : 1.0;
    for (int64_t r = 0; r < p; ++r) out.left[r * left_cols + j] = u_src[r];
    for (int64_t r = 0; r < q; ++r) out.right[r * q + j] = sign * v_src[r];
  }
  return converged;
}

// B = Q R first (householder_qr, blocked over dgemm), then the SVD of the q x q R: R = L S R_v^T gives
// B = (Q L) S R_v^T, with Q L one matrix product, and Q's columns past q complete the left basis.
bool svd_through_qr(HostVector b, int64_t p, int64_t q, int64_t left_cols, bool want_vectors, TallSVD& out) {
  HostVector tau(q);
  householder_qr(b.data(), p, q, tau.data());
  HostVector r(q * q, 0.0);
  for (int64_t i = 0; i < q; ++i)
    for (int64_t j = i; j < q; ++j) r[i * q + j] = b[i * q + j];
  TallSVD of_r;
  const bool converged = bidiagonal_svd(std::move(r), q, q, q, want_vectors, of_r);
  out.values = std::move(of_r.values);
  out.left.clear();
  out.right.clear();
  if (!want_vectors) return converged;
  HostVector q_matrix(p * left_cols);
  form_householder_q(b.data(), p, q, tau.data(), q, q_matrix.data(), left_cols);
  out.left = q_matrix;  // columns q.. as they are; the first q replaced by Q L below
  cpu::blas::dgemm(false, false, p, q, q, 1.0, q_matrix.data(), left_cols, of_r.left.data(), q, 0.0, out.left.data(),
                   left_cols);
  out.right = std::move(of_r.right);
  return converged;
}

}  // namespace

bool tall_svd_golub_kahan(HostVector b, int64_t p, int64_t q, int64_t left_cols, bool want_vectors,
                          TallSVD& out) {
  // LAPACK's choice (dgesvd's crossover): from p = 1.6 q on, the QR factorisation and the SVD of R
  // cost less than bidiagonalising B, most of all in the rotations, which then turn q-long rows of
  // vectors instead of p-long ones.
  if (q > 0 && 5 * p >= 8 * q) return svd_through_qr(std::move(b), p, q, left_cols, want_vectors, out);
  return bidiagonal_svd(std::move(b), p, q, left_cols, want_vectors, out);
}

}  // namespace ember::linalg::detail
