// linalg.householder_product: Q from the Householder vectors a QR factorization stores below R's
// diagonal (LAPACK's orgqr), written with matmul and elementwise ops so that it is differentiable to
// any order in A and tau. PyTorch's orthogonal parametrization is built on it.
#include <cstdint>

#include <ember/core/error.h>
#include <ember/ops/matrix_functions.h>
#include <ember/ops/ops.h>

namespace ember::linalg {

Tensor householder_product(const Tensor& a, const Tensor& tau) {
  const char* op = "linalg.householder_product";
  EMBER_CHECK(a.defined() && tau.defined(), op, "got an undefined {}", a.defined() ? "tau" : "A");
  check_floating(op, a);
  EMBER_CHECK(a.dtype() == tau.dtype(), op, "A and tau must have the same dtype, got A {} {} and tau {} {}",
              shape_str(a.shape()), a.dtype(), shape_str(tau.shape()), tau.dtype());
  check_same_device(op, a, tau);
  EMBER_CHECK(a.dim() >= 2, op, "A must be a matrix or a batch of matrices [..., m, n], got {} {}",
              shape_str(a.shape()), a.dtype());
  const int64_t m = a.size(-2), n = a.size(-1);
  EMBER_CHECK(m >= n, op, "A [..., m, n] needs m >= n (the reflectors are its columns), got A {}",
              shape_str(a.shape()));
  const std::span<const int64_t> a_shape = a.shape(), tau_shape = tau.shape();
  EMBER_CHECK(tau.dim() == a.dim() - 1 && std::equal(a_shape.begin(), a_shape.end() - 2, tau_shape.begin()), op,
              "tau must be [..., k] with A's batch dims, got A {} and tau {}", shape_str(a_shape),
              shape_str(tau_shape));
  const int64_t k = tau.size(-1);
  EMBER_CHECK(k <= n, op, "tau [..., k] needs k <= n (one scale per reflector), got A {} and tau {}",
              shape_str(a_shape), shape_str(tau_shape));
  // Column i of `reflectors` is v_i: A's column i below the diagonal, 1 on it, 0 above (A's upper
  // triangle is not read, so its gradient is 0).
  const TensorOptions like{.dtype = a.dtype(), .device = a.device()};
  const Tensor identity = eye(m, n, like);
  const Tensor reflectors = tril(a, -1) + identity;
  // Q = H_1 (H_2 (... (H_k I))): each H_i Q = Q - tau_i v_i (v_i^T Q).
  Tensor q = identity.expand(a_shape);
  for (int64_t i = k - 1; i >= 0; --i) {
    const Tensor v = reflectors.narrow(-1, i, 1);                         // [..., m, 1]
    const Tensor scale = tau.narrow(-1, i, 1).unsqueeze(-1);              // [..., 1, 1]
    q = q - matmul(v * scale, matmul(v.mT(), q));
  }
  return q;
}

}  // namespace ember::linalg
