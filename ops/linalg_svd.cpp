// linalg.svd and linalg.svdvals on the host in float64, one matrix at a time: one-sided Jacobi for
// small matrices, Golub-Kahan-Reinsch (bidiagonalisation, then implicit-shift QR) from
// kGolubKahanFromSize (ops/linalg_svd_methods.h).
//
// The gradient is PyTorch's (svd_backward), written with matmul and division so that it is itself
// differentiable.

#include <algorithm>
#include <cmath>
#include <vector>

#include <ember/ops/decompositions.h>
#include <ember/ops/linalg_host.h>
#include <ember/ops/linalg_svd_methods.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

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
  const Tensor host = detail::host_matrices_to_read(a);
  const double* input = host.data<double>();
  HostSVD out;
  out.S.resize(batch * k);
  for (int64_t bi = 0; bi < batch; ++bi) {
    const double* A = input + bi * m * n;
    detail::HostVector b(p * q);  // B, row-major
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        EMBER_CHECK(std::isfinite(A[i * n + j]), op, "{}the input contains non-finite values (NaN or inf); A is {} {}",
                    detail::batch_entry(a, bi), shape_str(a.shape()), a.dtype());
        (wide ? b[j * q + i] : b[i * q + j]) = A[i * n + j];  // B = A^T when wide, A when tall
      }
    const double scale = detail::power_of_two_scale(b);
    for (double& x : b) x /= scale;
    detail::TallSVD tall;
    const bool golub_kahan = q >= detail::kGolubKahanFromSize;
    const bool converged = golub_kahan ? detail::tall_svd_golub_kahan(std::move(b), p, q, left_cols, want_vectors, tall)
                                       : detail::tall_svd_jacobi(std::move(b), p, q, left_cols, want_vectors, tall);
    EMBER_CHECK(converged, op, "{}the {} did not converge; A is {}", detail::batch_entry(a, bi),
                golub_kahan ? "QR iteration" : "Jacobi iteration", shape_str(a.shape()));
    for (int64_t j = 0; j < q; ++j) out.S[bi * k + j] = tall.values[j] * scale;
    if (!want_vectors) continue;
    const detail::HostVector& left = tall.left;  // B = left diag(S) right^T
    const detail::HostVector& right = tall.right;

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
