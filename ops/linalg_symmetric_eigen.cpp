// The eigendecomposition of one symmetric matrix on the host: cyclic Jacobi (the reference) and
// Householder tridiagonalisation followed by implicit QL (the fast method). See the header.
#include <ember/ops/linalg_symmetric_eigen.h>

#include <algorithm>
#include <cfloat>
#include <cmath>

#include <ember/backends/cpu/host_kernels.h>
#include <ember/ops/linalg_plane_rotations.h>

namespace ember::linalg::detail {
namespace {

constexpr int kMaxSweeps = 100;  // Jacobi: never reached in practice (about 10 suffice); guards against a hang
constexpr int kMaxQlIterations = 60;  // QL, per eigenvalue: 2-3 in practice (cubic convergence)

// tan of the Jacobi angle that zeroes a_pq, from theta = (a_qq - a_pp) / (2 a_pq): the smaller root of
// t^2 + 2 theta t - 1 = 0 (|t| <= 1, the rotation by at most 45 degrees, which converges).
double jacobi_tangent(double theta) {
  if (std::abs(theta) > 1e150) return 0.5 / theta;  // theta^2 would overflow; t ~ 1 / (2 theta)
  return (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(1 + theta * theta));
}

// Q from the output of reduce_to_tridiagonal (backends/cpu/host_kernels.h), one reflector at a time
// (JAMA's loop, the reference): on return d is T's diagonal, e[0] = 0, and v holds Q^T row-major (Q
// by columns).
void form_q_by_reflectors(detail::HostVector& v, int64_t n, detail::HostVector& d, detail::HostVector& e) {
  auto V = [&](int64_t i, int64_t j) -> double& { return v[j * n + i]; };
  for (int64_t i = 0; i < n - 1; ++i) {
    V(n - 1, i) = V(i, i);
    V(i, i) = 1;
    const double h = d[i + 1];
    if (h != 0) {
      for (int64_t k = 0; k <= i; ++k) d[k] = V(k, i + 1) / h;
      // Column j -= (u . column j) d, u = column i + 1, for each j <= i. Each column's dot product is
      // a chain of dependent additions; four columns at a time run four chains side by side (the
      // same sums in the same order, so the same bits), which made this loop 3 times faster.
      const double* u = &V(0, i + 1);
      int64_t j = 0;
      for (; j + 4 <= i + 1; j += 4) {
        double* c0 = &V(0, j);
        double* c1 = &V(0, j + 1);
        double* c2 = &V(0, j + 2);
        double* c3 = &V(0, j + 3);
        double g0 = 0, g1 = 0, g2 = 0, g3 = 0;
        for (int64_t k = 0; k <= i; ++k) {
          g0 += u[k] * c0[k];
          g1 += u[k] * c1[k];
          g2 += u[k] * c2[k];
          g3 += u[k] * c3[k];
        }
        for (int64_t k = 0; k <= i; ++k) {
          c0[k] -= g0 * d[k];
          c1[k] -= g1 * d[k];
          c2[k] -= g2 * d[k];
          c3[k] -= g3 * d[k];
        }
      }
      for (; j <= i; ++j) {
        double g = 0;
        for (int64_t k = 0; k <= i; ++k) g += V(k, i + 1) * V(k, j);
        for (int64_t k = 0; k <= i; ++k) V(k, j) -= g * d[k];
      }
    }
    for (int64_t k = 0; k <= i; ++k) V(k, i + 1) = 0;
  }
  for (int64_t j = 0; j < n; ++j) {
    d[j] = V(n - 1, j);
    V(n - 1, j) = 0;
  }
  V(n - 1, n - 1) = 1;
  e[0] = 0;
}

// The same Q from block reflectors, as QR's Q is formed (form_householder_q, over dgemm). P_i acts on
// indices 0..i-1 with u_i's leading entry last (at i - 1); read with the indices reversed (k -> n-2-k
// on the leading n-1 indices; index n-1 is untouched) it is a QR reflector H_j = I - tau v v^T with
// v's unit entry first, at j = n-1-i, where v = u_i / u_i[i-1] and tau = u_i[i-1]^2 / h_i. The
// product P_(n-1) ... P_1 becomes H_0 ... H_(n-2), QR's Q.
void form_q_by_block_reflectors(detail::HostVector& v, int64_t n, detail::HostVector& d, detail::HostVector& e) {
  auto V = [&](int64_t i, int64_t j) -> double& { return v[j * n + i]; };
  const int64_t m = n - 1;
  detail::HostVector packed(m * m, 0.0), tau(m, 0.0), q(m * m);
  for (int64_t i = 1; i < n; ++i) {
    const int64_t j = m - i;
    const double h = d[i], lead = V(i - 1, i);
    if (h == 0) continue;  // no reflection: tau = 0 makes H_j the identity
    tau[j] = lead * lead / h;
    for (int64_t k = 0; k < i - 1; ++k) packed[(m - 1 - k) * m + j] = V(k, i) / lead;
  }
  detail::form_householder_q(packed.data(), m, m, tau.data(), m, q.data(), m);
  for (int64_t j = 0; j < n; ++j) d[j] = V(j, j);
  for (int64_t c = 0; c < m; ++c) {
    for (int64_t r = 0; r < m; ++r) V(r, c) = q[(m - 1 - r) * m + (m - 1 - c)];
    V(m, c) = 0;
    V(c, m) = 0;
  }
  V(m, m) = 1;
  e[0] = 0;
}

// The implicit QL iteration on the tridiagonal (d, e): each sweep over the unreduced block l..m
// applies plane rotations that chase the shift's bulge up the matrix, until e[l] is negligible and
// d[l] is an eigenvalue. The Wilkinson-like shift (from the leading 2 x 2) gives cubic convergence.
// The rotations are applied to w, Q^T stored row-major (row j is column j of Q, so each rotation walks
// two contiguous rows), through a RotationLog; w is null when only eigenvalues are wanted. The
// rotations depend on d and e alone, never on w, which is what lets their application wait.
bool implicit_ql(detail::HostVector& d, detail::HostVector& e, int64_t n, double* w, EigenKernels how) {
  detail::HostVector rotation_c(static_cast<size_t>(n)), rotation_s(static_cast<size_t>(n));
  RotationLog log(w, n, /*deferred=*/how == EigenKernels::fast);
  for (int64_t i = 1; i < n; ++i) e[i - 1] = e[i];
  e[n - 1] = 0;
  // An off-diagonal entry is negligible against the whole matrix's norm, not (as in JAMA's tql2)
  // against the largest of the rows 0..l seen so far. With the running maximum a matrix whose
  // leading rows are tiny (a rank-deficient one reduces to a tridiagonal that starts with entries
  // near 1e-320) was iterated on at that tiny scale, in subnormal numbers, whose few significant bits
  // gave rotations with c^2 + s^2 far from 1: the eigenvectors of a constant 60 x 60 matrix came out
  // with |V^T V - I| near 1. Deflating at float64's rounding of the norm is backward stable, the
  // normwise bound dsyev promises; a graded tridiagonal's tiny eigenvalues lose their relative
  // accuracy (LAPACK's dsteqr keeps it with a test relative to the neighbouring diagonal entries and
  // a scaling of each block; Jacobi, eigh's reference, keeps it too).
  double shift_sum = 0, largest = 0;
  for (int64_t l = 0; l < n; ++l) largest = std::max(largest, std::abs(d[l]) + std::abs(e[l]));
  for (int64_t l = 0; l < n; ++l) {
    int64_t m = l;
    while (m < n - 1 && std::abs(e[m]) > DBL_EPSILON * largest) ++m;  // the first negligible e[m]
    if (m > l) {
      int iterations = 0;
      do {
        if (++iterations > kMaxQlIterations) {
          if (w) log.apply();  // the vectors are then those of the rotations made, as in the reference
          return false;
        }
        double g = d[l];
        double p = (d[l + 1] - g) / (2 * e[l]);
        double r = rotation_radius(p, 1.0);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const double dl1 = d[l + 1];
        double h = g - d[l];
        for (int64_t i = l + 2; i < n; ++i) d[i] -= h;
        shift_sum += h;
        p = d[m];
        double c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const double el1 = e[l + 1];
        for (int64_t i = m - 1; i >= l; --i) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = rotation_radius(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          rotation_c[i] = c;
          rotation_s[i] = s;
        }
        if (w) log.record(l, m, rotation_c, rotation_s);
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (std::abs(e[l]) > DBL_EPSILON * largest);
    }
    d[l] += shift_sum;
    e[l] = 0;
  }
  if (w) log.apply();  // what the last sweeps logged
  return true;
}

}  // namespace

bool symmetric_eigen_jacobi(detail::HostVector a, int64_t n, detail::HostVector& values,
                            detail::HostVector* vectors) {
  // Rotations A <- J^T A J, accumulated into V <- V J. V is stored by columns, and A's columns p and q
  // are read as its rows (A is symmetric), so the loops read memory in order; only A's column writes
  // stride. Converged when the off-diagonal Frobenius norm is at most DBL_EPSILON times A's.
  auto at = [&](int64_t i, int64_t j) -> double& { return a[i * n + j]; };
  if (vectors) {
    vectors->assign(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i) (*vectors)[i * n + i] = 1;
  }
  double norm_squared = 0;
  for (double x : a) norm_squared += x * x;
  const double tolerance = DBL_EPSILON * std::sqrt(norm_squared);
  bool converged = false;
  for (int sweep = 0; sweep < kMaxSweeps && !converged; ++sweep) {
    double off_squared = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) off_squared += 2 * at(p, q) * at(p, q);
    if (std::sqrt(off_squared) <= tolerance) {
      converged = true;
      break;
    }
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = at(p, q);
        if (apq == 0) continue;
        const double t = jacobi_tangent((at(q, q) - at(p, p)) / (2 * apq));
        const double c = 1 / std::sqrt(1 + t * t), s = t * c;
        // J has c at (p, p) and (q, q), s at (p, q) and -s at (q, p); the 2 x 2 block becomes diagonal.
        at(p, p) -= t * apq;
        at(q, q) += t * apq;
        at(p, q) = at(q, p) = 0;
        for (int64_t r = 0; r < n; ++r) {
          if (r == p || r == q) continue;
          const double arp = at(p, r), arq = at(q, r);
          at(r, p) = at(p, r) = c * arp - s * arq;
          at(r, q) = at(q, r) = s * arp + c * arq;
        }
        if (vectors) {
          double* vp = vectors->data() + p * n;
          double* vq = vectors->data() + q * n;
          for (int64_t r = 0; r < n; ++r) {
            const double old_p = vp[r];
            vp[r] = c * old_p - s * vq[r];
            vq[r] = s * old_p + c * vq[r];
          }
        }
      }
    }
  }
  values.resize(n);
  for (int64_t i = 0; i < n; ++i) values[i] = at(i, i);
  return converged;
}

bool symmetric_eigen_tridiagonal(detail::HostVector a, int64_t n, detail::HostVector& values,
                                 detail::HostVector* vectors, EigenKernels how) {
  values.assign(n, 0.0);
  if (n == 0) {
    if (vectors) vectors->clear();
    return true;
  }
  detail::HostVector e(n, 0.0);
  const cpu::HostKernels& kernels = cpu::host_kernels();
  if (how == EigenKernels::reference)
    kernels.reduce_to_tridiagonal_reference(a.data(), n, values.data(), e.data());
  else if (n > kBlockedTridiagonalAbove)
    reduce_to_tridiagonal_blocked(a.data(), n, values.data(), e.data());
  else
    kernels.reduce_to_tridiagonal(a.data(), n, values.data(), e.data());
  if (!vectors) {
    for (int64_t j = 0; j < n; ++j) values[j] = a[j * n + j];  // T's diagonal; Q is not needed
    e[0] = 0;
    return implicit_ql(values, e, n, nullptr, how);
  }
  if (how == EigenKernels::reference)
    form_q_by_reflectors(a, n, values, e);
  else
    form_q_by_block_reflectors(a, n, values, e);
  // a now holds Q^T row-major. Row j of Q^T is column j of Q, which the rotations turn into
  // eigenvector j (the layout the header promises).
  *vectors = std::move(a);
  return implicit_ql(values, e, n, vectors->data(), how);
}

}  // namespace ember::linalg::detail
