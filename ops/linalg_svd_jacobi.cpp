// One-sided Jacobi (Hestenes) on a tall p x q matrix B, the reference SVD (ops/linalg_svd_methods.h).
// Plane rotations applied on the right make B's columns mutually orthogonal: B V = W. Then the
// singular values are the column norms of W, the left vectors its normalised columns, and the right
// vectors V's columns. Small singular values keep their relative accuracy, and the code is a few
// loops. Left vectors for zero singular values, and the extra columns full_matrices asks for, are
// completed by Gram-Schmidt against the standard basis.
#include <ember/ops/linalg_svd_methods.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

namespace ember::linalg::detail {
namespace {

constexpr int kMaxSweeps = 100;  // never reached in practice (about 10 suffice); guards against a hang

// Orthogonalises the columns of the tall p x q matrix B in place by Jacobi rotations of column pairs,
// accumulating them into V (q x q, starting as the identity) when given. Both are stored by columns
// (`columns[i * p + r]` is B's entry (r, i)), so that every inner product and rotation below walks
// memory in order: by rows, each step strided by q and ran several times slower. A pair is
// rotated while its inner product exceeds p * DBL_EPSILON times the product of the column norms (the
// rounding level of that inner product); converged when a whole sweep rotates nothing. A pair whose
// shorter column is at the rounding level of the longer one is left alone (as LAPACK's dgesvj does):
// that column is the rounding noise of a rank-deficient matrix, and rotating it against the longer
// one only makes new noise, so the relative test above would never pass.
bool orthogonalise_columns(HostVector& columns, int64_t p, int64_t q, HostVector* v_columns) {
  const double tolerance = static_cast<double>(p) * DBL_EPSILON;
  for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
    bool rotated = false;
    for (int64_t i = 0; i < q; ++i) {
      for (int64_t j = i + 1; j < q; ++j) {
        const double* bi = columns.data() + i * p;
        const double* bj = columns.data() + j * p;
        double alpha = 0, beta = 0, gamma = 0;  // |b_i|^2, |b_j|^2, b_i . b_j
        for (int64_t r = 0; r < p; ++r) {
          alpha += bi[r] * bi[r];
          beta += bj[r] * bj[r];
          gamma += bi[r] * bj[r];
        }
        if (gamma == 0 || std::abs(gamma) <= tolerance * std::sqrt(alpha) * std::sqrt(beta)) continue;
        if (std::sqrt(std::min(alpha, beta)) <= tolerance * std::sqrt(std::max(alpha, beta))) continue;
        rotated = true;
        // tan of the angle that makes the pair orthogonal: the smaller root of t^2 + 2 zeta t - 1 = 0
        const double zeta = (beta - alpha) / (2 * gamma);
        const double t = std::abs(zeta) > 1e150
                             ? 0.5 / zeta
                             : (zeta >= 0 ? 1.0 : -1.0) / (std::abs(zeta) + std::sqrt(1 + zeta * zeta));
        const double c = 1 / std::sqrt(1 + t * t), s = t * c;
        auto rotate = [&](HostVector& m, int64_t length) {  // columns i and j of length `length`
          double* mi = m.data() + i * length;
          double* mj = m.data() + j * length;
          for (int64_t r = 0; r < length; ++r) {
            const double old_i = mi[r], old_j = mj[r];
            mi[r] = c * old_i - s * old_j;
            mj[r] = s * old_i + c * old_j;
          }
        };
        rotate(columns, p);
        if (v_columns) rotate(*v_columns, q);
      }
    }
    if (!rotated) return true;
  }
  return false;
}

// Fills the columns of the p x cols matrix `u` (row-major) not marked in `have` with unit vectors
// orthogonal to all the others, by Gram-Schmidt over the standard basis in one pass: e_0, e_1, ... is
// taken when its component orthogonal to the columns so far has a norm of at least 1 / sqrt(2p), and
// skipped otherwise. The skipped ones leave less than 1/2 of squared norm outside the span, so while a
// column is missing a later e_i always passes (and nothing divides by ~0). Each candidate is
// orthogonalised twice (once more restores what rounding lost the first time), then normalised.
// O(p^2 cols) per matrix.
void complete_orthonormal_columns(HostVector& u, int64_t p, int64_t cols, std::vector<bool>& have) {
  auto project_out = [&](HostVector& x) {
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t c = 0; c < cols; ++c) {
        if (!have[c]) continue;
        double dot = 0;
        for (int64_t r = 0; r < p; ++r) dot += u[r * cols + c] * x[r];
        for (int64_t r = 0; r < p; ++r) x[r] -= dot * u[r * cols + c];
      }
  };
  const double threshold = 1 / std::sqrt(2.0 * static_cast<double>(p));
  int64_t next_basis_vector = 0;
  for (int64_t c = 0; c < cols; ++c) {
    if (have[c]) continue;
    for (; next_basis_vector < p; ++next_basis_vector) {
      HostVector x(p, 0.0);
      x[next_basis_vector] = 1;
      project_out(x);
      double norm = 0;
      for (double xi : x) norm = std::hypot(norm, xi);
      if (norm < threshold) continue;
      for (int64_t r = 0; r < p; ++r) u[r * cols + c] = x[r] / norm;
      have[c] = true;
      ++next_basis_vector;
      break;
    }
    EMBER_CHECK(have[c], "linalg.svd", "internal: no basis vector left to complete column {} of {}", c, cols);  // GCOVR_EXCL_LINE
  }
}

}  // namespace

bool tall_svd_jacobi(HostVector b, int64_t p, int64_t q, int64_t left_cols, bool want_vectors, TallSVD& out) {
  HostVector columns(p * q);  // B by columns: B's entry (r, c) at columns[c * p + r]
  for (int64_t r = 0; r < p; ++r)
    for (int64_t c = 0; c < q; ++c) columns[c * p + r] = b[r * q + c];
  HostVector v(want_vectors ? q * q : 0, 0.0);  // V by columns too
  for (int64_t i = 0; want_vectors && i < q; ++i) v[i * q + i] = 1;
  const bool converged = orthogonalise_columns(columns, p, q, want_vectors ? &v : nullptr);
  HostVector norms(q, 0.0);
  for (int64_t j = 0; j < q; ++j)
    for (int64_t r = 0; r < p; ++r) norms[j] = std::hypot(norms[j], columns[j * p + r]);
  const std::vector<int64_t> order = descending_order(norms);
  out.values.resize(q);
  for (int64_t j = 0; j < q; ++j) out.values[j] = norms[order[j]];
  out.left.clear();
  out.right.clear();
  if (!want_vectors) return converged;

  // A column whose norm is at rounding level of the largest has no reliable direction: it is
  // completed, like the extra columns.
  const double cutoff = (q > 0 ? norms[order[0]] : 0) * static_cast<double>(p) * DBL_EPSILON;
  out.left.assign(p * left_cols, 0.0);
  out.right.resize(q * q);
  std::vector<bool> have(left_cols, false);
  for (int64_t j = 0; j < q; ++j) {
    const int64_t src = order[j];
    for (int64_t r = 0; r < q; ++r) out.right[r * q + j] = v[src * q + r];
    if (norms[src] <= cutoff || norms[src] == 0) continue;
    for (int64_t r = 0; r < p; ++r) out.left[r * left_cols + j] = columns[src * p + r] / norms[src];
    have[j] = true;
  }
  complete_orthonormal_columns(out.left, p, left_cols, have);
  return converged;
}

}  // namespace ember::linalg::detail
