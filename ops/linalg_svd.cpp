// linalg.svd and linalg.svdvals by one-sided Jacobi (Hestenes), on the host in float64, one matrix at
// a time.
//
// The method works on a tall p x q matrix B (p >= q: A itself, or A^T when A is wide). Plane rotations
// applied on the right make B's columns mutually orthogonal: B V = W. Then the singular values are the
// column norms of W, the left vectors its normalised columns, and the right vectors V's columns. Small
// singular values keep their relative accuracy, and the code is a few loops. Left vectors for zero
// singular values, and the extra columns full_matrices asks for, are completed by Gram-Schmidt against
// the standard basis.
//
// The gradient is PyTorch's (svd_backward), written with matmul and division so that it is itself
// differentiable.

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <vector>

#include <ember/ops/decompositions.h>
#include <ember/ops/linalg_host.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
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
bool orthogonalise_columns(detail::HostVector& columns, int64_t p, int64_t q, detail::HostVector* v_columns) {
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
        auto rotate = [&](detail::HostVector& m, int64_t length) {  // columns i and j of length `length`
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
void complete_orthonormal_columns(detail::HostVector& u, int64_t p, int64_t cols, std::vector<bool>& have) {
  auto project_out = [&](detail::HostVector& x) {
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
      detail::HostVector x(p, 0.0);
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

struct HostSVD {
  detail::HostVector U, S, Vh;  // one matrix after another; U and Vh empty when not wanted
};

// The SVD of every matrix of `a` (m x n): U m x u_cols, S k, Vh vh_rows x n, with u_cols = vh_rows = k
// = min(m, n), or m and n when full_matrices. A NaN or inf entry is an error, as in PyTorch 1.13
// ("the input matrix contained non-finite values"), rather than a loop that never converges.
HostSVD svd_on_host(const char* op, const Tensor& a, bool full_matrices, bool want_vectors) {
  const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n), batch = detail::batch_count(a.shape());
  const bool wide = m < n;
  const int64_t p = std::max(m, n), q = k;  // B, the taller orientation, is p x q
  const int64_t left_cols = full_matrices ? p : q;  // B's left vectors kept
  const detail::HostVector input = detail::host_matrices(a);
  HostSVD out;
  out.S.resize(batch * k);
  for (int64_t bi = 0; bi < batch; ++bi) {
    const double* A = input.data() + bi * m * n;
    detail::HostVector b(p * q);  // B by columns: B's entry (r, c) at b[c * p + r]
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        EMBER_CHECK(std::isfinite(A[i * n + j]), op, "{}the input contains non-finite values (NaN or inf); A is {} {}",
                    detail::batch_entry(a, bi), shape_str(a.shape()), a.dtype());
        (wide ? b[i * p + j] : b[j * p + i]) = A[i * n + j];  // B = A^T when wide, A when tall
      }
    const double scale = detail::power_of_two_scale(b);
    for (double& x : b) x /= scale;
    detail::HostVector v(want_vectors ? q * q : 0, 0.0);  // V by columns too
    for (int64_t i = 0; want_vectors && i < q; ++i) v[i * q + i] = 1;
    EMBER_CHECK(orthogonalise_columns(b, p, q, want_vectors ? &v : nullptr), op,
                "{}the Jacobi iteration did not converge in {} sweeps; A is {}", detail::batch_entry(a, bi),
                kMaxSweeps, shape_str(a.shape()));
    detail::HostVector norms(q, 0.0);
    for (int64_t j = 0; j < q; ++j)
      for (int64_t r = 0; r < p; ++r) norms[j] = std::hypot(norms[j], b[j * p + r]);
    std::vector<int64_t> order(q);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return norms[i] > norms[j]; });
    for (int64_t j = 0; j < q; ++j) out.S[bi * k + j] = norms[order[j]] * scale;
    if (!want_vectors) continue;

    // left (p x left_cols) and right (q x q) vectors of B = left diag(S) right^T, sorted. A column
    // whose norm is at rounding level of the largest has no reliable direction: it is completed.
    const double cutoff = (q > 0 ? norms[order[0]] : 0) * static_cast<double>(p) * DBL_EPSILON;
    detail::HostVector left(p * left_cols, 0.0), right(q * q);
    std::vector<bool> have(left_cols, false);
    for (int64_t j = 0; j < q; ++j) {
      const int64_t src = order[j];
      for (int64_t r = 0; r < q; ++r) right[r * q + j] = v[src * q + r];
      if (norms[src] <= cutoff || norms[src] == 0) continue;
      for (int64_t r = 0; r < p; ++r) left[r * left_cols + j] = b[src * p + r] / norms[src];
      have[j] = true;
    }
    complete_orthonormal_columns(left, p, left_cols, have);

    // A = U diag(S) Vh: U = left, Vh = right^T when A is tall; U = right, Vh = left^T when wide.
    const int64_t u_cols = full_matrices ? m : k, vh_rows = full_matrices ? n : k;
    detail::HostVector U(m * u_cols), Vh(vh_rows * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < u_cols; ++j) U[i * u_cols + j] = wide ? right[i * q + j] : left[i * left_cols + j];
    for (int64_t i = 0; i < vh_rows; ++i)
      for (int64_t j = 0; j < n; ++j) Vh[i * n + j] = wide ? left[j * left_cols + i] : right[j * q + i];
    // The header's sign convention: the largest entry of each column of U positive; for the first k
    // pairs, the matching row of Vh flips with it. Extra rows of a full Vh follow the same rule.
    for (int64_t j = 0; j < u_cols; ++j) {
      const double sign = detail::sign_of_largest(U.data() + j, m, u_cols);
      for (int64_t i = 0; i < m; ++i) U[i * u_cols + j] *= sign;
      if (j < k)
        for (int64_t c = 0; c < n; ++c) Vh[j * n + c] *= sign;
    }
    for (int64_t i = k; i < vh_rows; ++i) {
      const double sign = detail::sign_of_largest(Vh.data() + i * n, n, 1);
      for (int64_t c = 0; c < n; ++c) Vh[i * n + c] *= sign;
    }
    out.U.insert(out.U.end(), U.begin(), U.end());
    out.Vh.insert(out.Vh.end(), Vh.begin(), Vh.end());
  }
  return out;
}

Shape with_last(const Tensor& a, std::initializer_list<int64_t> last) {
  Shape s(a.shape().begin(), a.shape().end() - 2);
  for (int64_t d : last) s.push_back(d);
  return s;
}

Tensor diagonal_matrix(const Tensor& g) {
  return unsqueeze(g, -1) * eye(g.size(-1), std::nullopt, {.dtype = g.dtype(), .device = g.device()});
}

// values_only (svdvals): U and Vh are computed only when a graph is recorded, as backward needs them.
struct SVD {
  static constexpr const char* name = "linalg.svd";
  const char* display_name;
  bool full_matrices;
  bool values_only;
  Shape input_shape;
  std::array<Tensor, 3> forward(Ctx& ctx, const Tensor& a) {
    const bool want_vectors = !values_only || ctx.recording();
    const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n);
    const HostSVD host = svd_on_host(display_name, a, full_matrices, want_vectors);
    Tensor S = detail::from_host(host.S, with_last(a, {k}), a.dtype(), a.device());
    Tensor U, Vh;
    if (want_vectors) {
      U = detail::from_host(host.U, with_last(a, {m, full_matrices ? m : k}), a.dtype(), a.device());
      Vh = detail::from_host(host.Vh, with_last(a, {full_matrices ? n : k, n}), a.dtype(), a.device());
    }
    ctx.save_output(U, 0);
    ctx.save_output(S, 1);
    ctx.save_output(Vh, 2);
    return {U, S, Vh};
  }

  // PyTorch's svd_backward. With full_matrices, the extra columns of U (rows of Vh) are not functions
  // of A: they and their gradients are dropped, as PyTorch does. With k = min(m, n),
  //   only gS:  gA = U diag(gS) Vh  (defined everywhere: svdvals' gradient)
  //   else:     inner = (skew(U^T gU) S + S skew(Vh gV)) / E + diag(gS),  skew(X) = X - X^T,
  //             E_ij = S_j^2 - S_i^2 (i != j), so repeated singular values give inf or NaN;
  //             gA = U inner Vh, plus, when m > n, (I - U U^T) gU S^-1 Vh, and when m < n,
  //             U S^-1 gVh (I - V Vh): the parts of gU, gVh outside the span of U, V.
  Grads backward(Ctx& ctx, const std::array<Tensor, 3>& grads) {
    const Tensor S = ctx.saved(1);
    const int64_t k = S.size(-1);
    const Tensor U = narrow(ctx.saved(0), -1, 0, k), Vh = narrow(ctx.saved(2), -2, 0, k);
    const Tensor gU = grads[0].defined() ? narrow(grads[0], -1, 0, k) : Tensor();
    const Tensor gVh = grads[2].defined() ? narrow(grads[2], -2, 0, k) : Tensor();
    const Tensor& gS = grads[1];
    const int64_t m = U.size(-2), n = Vh.size(-1);
    if (k == 0) return {zeros(input_shape, {.dtype = S.dtype(), .device = S.device()})};
    if (!gU.defined() && !gVh.defined()) return {matmul(U * unsqueeze(gS, -2), Vh)};

    const Tensor S_row = unsqueeze(S, -2), S_col = unsqueeze(S, -1);  // scale columns j, rows i by S
    const Tensor S2 = S * S;
    const Tensor identity = eye(k, std::nullopt, {.dtype = S.dtype(), .device = S.device()});
    const Tensor gaps = unsqueeze(S2, -2) - unsqueeze(S2, -1) + identity;  // 1 on the diagonal
    const auto skew = [](const Tensor& x) { return x - x.mT(); };
    Tensor inner;
    if (gU.defined() && gVh.defined())
      inner = (skew(matmul(U.mT(), gU)) * S_row + S_col * skew(matmul(Vh, gVh.mT()))) / gaps;
    else if (gU.defined())
      inner = skew(matmul(U.mT(), gU)) / gaps * S_row;
    else
      inner = S_col * (skew(matmul(Vh, gVh.mT())) / gaps);
    if (gS.defined()) inner = inner + diagonal_matrix(gS);

    if (m > n && gU.defined()) {
      const Tensor gU_over_S = gU / S_row;
      const Tensor outside = gU_over_S - matmul(U, matmul(U.mT(), gU_over_S));
      return {matmul(matmul(U, inner) + outside, Vh)};
    }
    if (m < n && gVh.defined()) {
      const Tensor gVh_over_S = gVh / S_col;
      const Tensor outside = gVh_over_S - matmul(matmul(gVh_over_S, Vh.mT()), Vh);
      return {matmul(U, matmul(inner, Vh) + outside)};
    }
    return {matmul(U, matmul(inner, Vh))};
  }
};

}  // namespace

SVDResult svd(const Tensor& a_in, bool full_matrices) {
  const Tensor a = detail::matrix_operand("linalg.svd", "A", a_in, /*square=*/false);
  auto [U, S, Vh] = apply(SVD{"linalg.svd", full_matrices, false, a.shape()}, a);
  return {U, S, Vh};
}

Tensor svdvals(const Tensor& a_in) {
  const Tensor a = detail::matrix_operand("linalg.svdvals", "A", a_in, /*square=*/false);
  return apply(SVD{"linalg.svdvals", false, true, a.shape()}, a)[1];
}

}  // namespace ember::linalg
