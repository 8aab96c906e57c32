// linalg.eigh and linalg.eigvalsh: the eigendecomposition of a symmetric matrix on the host in
// float64, one matrix at a time, by cyclic Jacobi rotations for small matrices and by Householder
// tridiagonalisation and implicit QL from kTridiagonalFromSize (ops/linalg_symmetric_eigen.h). The
// gradient is PyTorch's (linalg_eig_backward, Hermitian case), written with matmul and division so
// that it is itself differentiable.

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include <ember/ops/decompositions.h>
#include <ember/ops/linalg_host.h>
#include <ember/ops/linalg_symmetric_eigen.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

struct HostEigen {
  detail::HostVector values, vectors;  // [batch, n] and [batch, n, n]; vectors empty when not wanted
};

// The eigenvalues (ascending) and, when want_vectors, the eigenvectors of each matrix of `a`, read from
// its lower (or upper) triangle. A matrix with a NaN or inf in that triangle gets NaN eigenvalues and
// eigenvectors without iterating (PyTorch 1.13 returns NaN eigenvalues there too; its eigenvectors
// vary from NaN to the identity, so ember makes them all NaN).
HostEigen eigen_on_host(const char* op, const Tensor& a, bool upper, bool want_vectors) {
  const int64_t n = a.size(-1), batch = detail::batch_count(a.shape());
  const Tensor host = detail::host_matrices_to_read(a);
  const double* input = host.data<double>();
  HostEigen out;
  out.values.resize(batch * n);
  if (want_vectors) out.vectors.resize(batch * n * n);
  for (int64_t b = 0; b < batch; ++b) {
    detail::HostVector m(n * n);
    bool finite = true;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j <= i; ++j) {  // (i, j) in the lower triangle; (j, i) in the upper
        const double x = upper ? input[b * n * n + j * n + i] : input[b * n * n + i * n + j];
        m[i * n + j] = m[j * n + i] = x;
        finite = finite && std::isfinite(x);
      }
    double* values = out.values.data() + b * n;
    double* vectors = want_vectors ? out.vectors.data() + b * n * n : nullptr;
    if (!finite) {
      std::fill(values, values + n, std::numeric_limits<double>::quiet_NaN());
      if (vectors) std::fill(vectors, vectors + n * n, std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    const double scale = detail::power_of_two_scale(m);
    for (double& x : m) x /= scale;
    detail::HostVector lambda, v;  // v by columns: eigenvector j at v[j * n]
    const bool tridiagonal = n >= detail::kTridiagonalFromSize;
    const bool converged = tridiagonal
                               ? detail::symmetric_eigen_tridiagonal(std::move(m), n, lambda, want_vectors ? &v : nullptr)
                               : detail::symmetric_eigen_jacobi(std::move(m), n, lambda, want_vectors ? &v : nullptr);
    EMBER_CHECK(converged, op, "{}the {} iteration did not converge; A is {}", detail::batch_entry(a, b),
                tridiagonal ? "implicit QL" : "Jacobi", shape_str(a.shape()));
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return lambda[i] < lambda[j]; });
    for (int64_t k = 0; k < n; ++k) values[k] = lambda[order[k]] * scale;
    if (!vectors) continue;
    for (int64_t k = 0; k < n; ++k) {
      // The header's sign convention: the first entry of largest magnitude of each eigenvector is positive.
      const double* vector = v.data() + order[k] * n;
      const double sign = detail::sign_of_largest(vector, n, 1);
      for (int64_t r = 0; r < n; ++r) vectors[r * n + k] = sign * vector[r];
    }
  }
  return out;
}

// [..., n] g as the diagonal of an [..., n, n] matrix, differentiably.
Tensor diagonal_matrix(const Tensor& g) {
  const int64_t n = g.size(-1);
  return unsqueeze(g, -1) * eye(n, std::nullopt, {.dtype = g.dtype(), .device = g.device()});
}

// values_only (eigvalsh): the eigenvectors are computed only when a graph is recorded, as backward
// needs them.
struct Eigh {
  static constexpr const char* name = "linalg.eigh";
  const char* display_name;
  bool upper;
  bool values_only;
  std::array<Tensor, 2> forward(Ctx& ctx, const Tensor& a) {
    const bool want_vectors = !values_only || ctx.recording();
    const HostEigen host = eigen_on_host(display_name, a, upper, want_vectors);
    Shape values_shape(a.shape().begin(), a.shape().end() - 1);
    Tensor values = detail::from_host(host.values, values_shape, a.dtype(), a.device());
    Tensor vectors = want_vectors ? detail::from_host(host.vectors, a.shape(), a.dtype(), a.device()) : Tensor();
    ctx.save_output(values, 0);
    ctx.save_output(vectors, 1);
    return {values, vectors};
  }
  // A = V diag(L) V^T. With only the eigenvalues used, gA = V diag(gL) V^T. With the eigenvectors,
  //   gA = V (skew(V^T gV) / E + diag(gL)) V^T,  skew(X) = (X - X^T) / 2,  E_ij = L_j - L_i (i != j),
  // which is infinite or NaN where eigenvalues repeat, as in PyTorch. The result is symmetric: the
  // gradient with respect to a symmetric A, not to the triangle read (PyTorch's choice too).
  Grads backward(Ctx& ctx, const std::array<Tensor, 2>& grads) {
    const Tensor L = ctx.saved(0), V = ctx.saved(1);
    const Tensor& gL = grads[0];
    const Tensor& gV = grads[1];
    if (!gV.defined()) return {matmul(V * unsqueeze(gL, -2), V.mT())};
    const int64_t n = L.size(-1);
    const Tensor identity = eye(n, std::nullopt, {.dtype = L.dtype(), .device = L.device()});
    const Tensor VtgV = matmul(V.mT(), gV);
    const Tensor skew = (VtgV - VtgV.mT()) * 0.5;
    const Tensor gaps = unsqueeze(L, -2) - unsqueeze(L, -1) + identity;  // 1 on the diagonal, where skew is 0
    Tensor inner = skew / gaps;
    if (gL.defined()) inner = inner + diagonal_matrix(gL);
    return {matmul(V, matmul(inner, V.mT()))};
  }
};

}  // namespace

EighResult eigh(const Tensor& a_in, bool upper) {
  const Tensor a = detail::matrix_operand("linalg.eigh", "A", a_in, /*square=*/true);
  auto [values, vectors] = apply(Eigh{"linalg.eigh", upper, false}, a);
  return {values, vectors};
}

Tensor eigvalsh(const Tensor& a_in, bool upper) {
  const Tensor a = detail::matrix_operand("linalg.eigvalsh", "A", a_in, /*square=*/true);
  return apply(Eigh{"linalg.eigvalsh", upper, true}, a)[0];
}

}  // namespace ember::linalg
