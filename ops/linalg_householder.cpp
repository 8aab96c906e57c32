// linalg.householder_product and linalg.ormqr: Q = H_1 ... H_k from the Householder vectors a QR
// factorization stores below R's diagonal (LAPACK's orgqr), formed or applied to a matrix without
// forming it (ormqr). Written with matmul and elementwise ops, so that both are differentiable to any
// order in A, tau (and C). PyTorch's orthogonal parametrization is built on householder_product.
#include <algorithm>
#include <cstdint>

#include <ember/core/error.h>
#include <ember/ops/matrix_functions.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

// The checks both ops share: A [..., r, s] and tau [..., k] floating, of one dtype and device, with
// A's batch dims and k <= min(r, s) (one scale per reflector, each a column of A).
void check_reflectors(const char* op, const Tensor& a, const Tensor& tau) {
  EMBER_CHECK(a.defined() && tau.defined(), op, "got an undefined {}", a.defined() ? "tau" : "A");
  check_floating(op, a);
  EMBER_CHECK(a.dtype() == tau.dtype(), op, "A and tau must have the same dtype, got A {} {} and tau {} {}",
              shape_str(a.shape()), a.dtype(), shape_str(tau.shape()), tau.dtype());
  check_same_device(op, a, tau);
  EMBER_CHECK(a.dim() >= 2, op, "A must be a matrix or a batch of matrices [..., m, n], got {} {}",
              shape_str(a.shape()), a.dtype());
  const std::span<const int64_t> a_shape = a.shape(), tau_shape = tau.shape();
  EMBER_CHECK(tau.dim() == a.dim() - 1 && std::equal(a_shape.begin(), a_shape.end() - 2, tau_shape.begin()), op,
              "tau must be [..., k] with A's batch dims, got A {} and tau {}", shape_str(a_shape),
              shape_str(tau_shape));
  EMBER_CHECK(tau.size(-1) <= std::min(a.size(-2), a.size(-1)), op,
              "tau [..., k] needs k <= min(m, n) of A [..., m, n] (one scale per reflector), got A {} and tau {}",
              shape_str(a_shape), shape_str(tau_shape));
}

// C times the reflectors H_i = I - tau_i v_i v_i^T in the order asked, where v_i is column i of A
// below the diagonal with 1 on it and 0 above (A's upper triangle is not read: its gradient is 0).
// From the left, H C = C - tau v (v^T C); from the right, C H = C - (C v) tau v^T.
Tensor apply_reflectors(const Tensor& a, const Tensor& tau, Tensor c, bool left, bool last_first) {
  const int64_t r = a.size(-2), s = a.size(-1), k = tau.size(-1);
  const Tensor reflectors = tril(a, -1) + eye(r, s, {.dtype = a.dtype(), .device = a.device()});
  for (int64_t step = 0; step < k; ++step) {
    const int64_t i = last_first ? k - 1 - step : step;
    const Tensor v = reflectors.narrow(-1, i, 1);             // [..., r, 1]
    const Tensor scale = tau.narrow(-1, i, 1).unsqueeze(-1);  // [..., 1, 1]
    c = left ? c - matmul(v * scale, matmul(v.mT(), c)) : c - matmul(matmul(c, v), (v * scale).mT());
  }
  return c;
}

}  // namespace

Tensor householder_product(const Tensor& a, const Tensor& tau) {
  const char* op = "linalg.householder_product";
  check_reflectors(op, a, tau);
  const int64_t m = a.size(-2), n = a.size(-1);
  EMBER_CHECK(m >= n, op, "A [..., m, n] needs m >= n (the reflectors are its columns), got A {}",
              shape_str(a.shape()));
  // The first n columns of H_1 (H_2 (... (H_k I))).
  const Tensor identity = eye(m, n, {.dtype = a.dtype(), .device = a.device()}).expand(a.shape());
  return apply_reflectors(a, tau, identity, /*left=*/true, /*last_first=*/true);
}

Tensor ormqr(const Tensor& a, const Tensor& tau, const Tensor& c, bool left, bool transpose) {
  const char* op = "linalg.ormqr";
  check_reflectors(op, a, tau);
  EMBER_CHECK(c.defined(), op, "got an undefined C");
  EMBER_CHECK(c.dtype() == a.dtype(), op, "A and C must have the same dtype, got A {} {} and C {} {}",
              shape_str(a.shape()), a.dtype(), shape_str(c.shape()), c.dtype());
  check_same_device(op, a, c);
  EMBER_CHECK(c.dim() >= 2, op, "C must be a matrix or a batch of matrices, got {}", shape_str(c.shape()));
  const int64_t multiplied = left ? c.size(-2) : c.size(-1);
  EMBER_CHECK(multiplied == a.size(-2), op,
              "Q is {0} x {0} (A {1} has {0} rows), so C {2} needs {0} {3}", a.size(-2), shape_str(a.shape()),
              shape_str(c.shape()), left ? "rows" : "columns");
  const std::span<const int64_t> a_shape = a.shape(), c_shape = c.shape();
  broadcast_shapes(op, a_shape.first(a_shape.size() - 2), c_shape.first(c_shape.size() - 2));
  // Q C = H_1 (... (H_k C)) and C Q^T = (C H_k) ... H_1 take the last reflector first; Q^T C and C Q
  // the first.
  return apply_reflectors(a, tau, c, left, /*last_first=*/left != transpose);
}

}  // namespace ember::linalg
