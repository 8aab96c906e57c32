// The eigendecomposition of one symmetric matrix on the host: cyclic Jacobi (the reference) and
// Householder tridiagonalisation followed by implicit QL (the fast method). See the header.
#include <ember/ops/linalg_symmetric_eigen.h>

#include <algorithm>
#include <cfloat>
#include <cmath>

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

// Householder reduction of the symmetric matrix held in v (n x n, both triangles) to tridiagonal
// form T = Q^T A Q: on return d is T's diagonal, e[1..n-1] its subdiagonal (e[0] = 0), and v holds
// Q^T row-major. Each step i, from the last row up, reflects row i's entries left of the diagonal
// onto one entry; the reflectors are stored in v as they are made and accumulated into Q at the end.
// The algorithm (JAMA's) walks down columns, V(k, j) with k innermost; V is therefore kept by
// columns (V(i, j) at v[j * n + i]; A is symmetric, so its storage reads the same either way) and
// those walks run along memory. Same arithmetic in the same order as the row-major form, 4 times
// faster at n = 256.
void householder_tridiagonalise(detail::HostVector& v, int64_t n, detail::HostVector& d, detail::HostVector& e) {
  auto V = [&](int64_t i, int64_t j) -> double& { return v[j * n + i]; };
  for (int64_t j = 0; j < n; ++j) d[j] = V(n - 1, j);
  for (int64_t i = n - 1; i > 0; --i) {
    double scale = 0, h = 0;  // scaling the row by its 1-norm keeps h = |x|^2 from under- or overflowing
    for (int64_t k = 0; k < i; ++k) scale += std::abs(d[k]);
    if (scale == 0) {  // the row is already zero left of the subdiagonal: nothing to reflect
      e[i] = d[i - 1];
      for (int64_t j = 0; j < i; ++j) {
        d[j] = V(i - 1, j);
        V(i, j) = 0;
        V(j, i) = 0;
      }
    } else {
      // The reflector P = I - u u^T / h with u = x - g e_(i-1), g = -sign(f) |x| (no cancellation).
      for (int64_t k = 0; k < i; ++k) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      double f = d[i - 1];
      double g = f > 0 ? -std::sqrt(h) : std::sqrt(h);
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (int64_t j = 0; j < i; ++j) e[j] = 0;
      // p = A u / h (in e), using the lower triangle of the leading i x i block.
      for (int64_t j = 0; j < i; ++j) {
        f = d[j];
        V(j, i) = f;
        g = e[j] + V(j, j) * f;
        for (int64_t k = j + 1; k <= i - 1; ++k) {
          g += V(k, j) * d[k];
          e[k] += V(k, j) * f;
        }
        e[j] = g;
      }
      f = 0;
      for (int64_t j = 0; j < i; ++j) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      // q = p - (u^T p / 2h) u, then A <- A - q u^T - u q^T (the symmetric rank-2 update).
      const double hh = f / (h + h);
      for (int64_t j = 0; j < i; ++j) e[j] -= hh * d[j];
      for (int64_t j = 0; j < i; ++j) {
        f = d[j];
        g = e[j];
        for (int64_t k = j; k <= i - 1; ++k) V(k, j) -= (f * e[k] + g * d[k]);
        d[j] = V(i - 1, j);
        V(i, j) = 0;
      }
    }
    d[i] = h;
  }
  // Q = P_(n-1) ... P_1, built from the stored reflectors.
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

// One QL sweep's rotations applied to the rows of w (n x n, row-major): rotation i, from i = last - 1
// down to first, turns rows i and i + 1 by (c[i], s[i]). Two consecutive rotations share a row, so
// they are applied in one pass over three rows, which reads and writes the shared row once instead
// of twice; each entry still sees the rotations in the same order, with the same arithmetic.
void rotate_rows(double* w, int64_t n, int64_t first, int64_t last, const detail::HostVector& c,
                 const detail::HostVector& s) {
  int64_t i = last - 1;
  for (; i - 1 >= first; i -= 2) {
    double* __restrict w0 = w + (i - 1) * n;
    double* __restrict w1 = w + i * n;
    double* __restrict w2 = w + (i + 1) * n;
    const double c1 = c[i], s1 = s[i], c0 = c[i - 1], s0 = s[i - 1];
    for (int64_t k = 0; k < n; ++k) {
      const double next = w2[k], middle = w1[k];
      w2[k] = s1 * middle + c1 * next;
      const double turned = c1 * middle - s1 * next;
      const double top = w0[k];
      w1[k] = s0 * top + c0 * turned;
      w0[k] = c0 * top - s0 * turned;
    }
  }
  if (i == first) {
    double* __restrict wi = w + i * n;
    double* __restrict wi1 = w + (i + 1) * n;
    for (int64_t k = 0; k < n; ++k) {
      const double next = wi1[k];
      wi1[k] = s[i] * wi[k] + c[i] * next;
      wi[k] = c[i] * wi[k] - s[i] * next;
    }
  }
}

// The implicit QL iteration on the tridiagonal (d, e): each sweep over the unreduced block l..m
// applies plane rotations that chase the shift's bulge up the matrix, until e[l] is negligible and
// d[l] is an eigenvalue. The Wilkinson-like shift (from the leading 2 x 2) gives cubic convergence.
// The rotations are applied to w, Q^T stored row-major (row j is column j of Q, so each rotation walks
// two contiguous rows), a sweep's at once (rotate_rows); w is null when only eigenvalues are wanted.
bool implicit_ql(detail::HostVector& d, detail::HostVector& e, int64_t n, double* w) {
  detail::HostVector rotation_c(static_cast<size_t>(n)), rotation_s(static_cast<size_t>(n));
  for (int64_t i = 1; i < n; ++i) e[i - 1] = e[i];
  e[n - 1] = 0;
  double shift_sum = 0, largest = 0;
  for (int64_t l = 0; l < n; ++l) {
    largest = std::max(largest, std::abs(d[l]) + std::abs(e[l]));
    int64_t m = l;
    while (m < n - 1 && std::abs(e[m]) > DBL_EPSILON * largest) ++m;  // the first negligible e[m]
    if (m > l) {
      int iterations = 0;
      do {
        if (++iterations > kMaxQlIterations) return false;
        double g = d[l];
        double p = (d[l + 1] - g) / (2 * e[l]);
        double r = std::hypot(p, 1.0);
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
          r = std::hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          rotation_c[i] = c;
          rotation_s[i] = s;
        }
        if (w) rotate_rows(w, n, l, m, rotation_c, rotation_s);
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (std::abs(e[l]) > DBL_EPSILON * largest);
    }
    d[l] += shift_sum;
    e[l] = 0;
  }
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
                                 detail::HostVector* vectors) {
  values.assign(n, 0.0);
  if (n == 0) {
    if (vectors) vectors->clear();
    return true;
  }
  detail::HostVector e(n, 0.0);
  householder_tridiagonalise(a, n, values, e);  // a now holds Q^T, row-major
  if (!vectors) return implicit_ql(values, e, n, nullptr);
  // Row j of Q^T is column j of Q, which the rotations turn into eigenvector j (the layout the header
  // promises).
  *vectors = std::move(a);
  return implicit_ql(values, e, n, vectors->data());
}

}  // namespace ember::linalg::detail
