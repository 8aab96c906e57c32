// linalg.cholesky (and cholesky_ex, cholesky_solve, cholesky_inverse): L lower triangular with a positive diagonal and A = L L^T, by Cholesky-Crout
// on the host in float64 (detail::factor_cholesky: blocked over dgemm for large matrices). With upper, U = L^T with
// A = U^T U, read from A's upper triangle, as PyTorch 1.13 (LAPACK's potrf with uplo = 'U') does.
// PyTorch 1.13's semantics, checked against it by tests/linalg/test_solve_and_factor.cpp.
#include <ember/ops/decompositions.h>

#include <array>
#include <cmath>
#include <span>
#include <vector>

#include <ember/ops/linalg_host.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

constexpr const char* kOp = "linalg.cholesky";

// The lower factor of a [..., n, n], and info [...] (int32): 0, or the order of the first leading
// minor that is not positive definite. refuse_failure: that is an error (cholesky) instead
// (cholesky_ex).
struct Cholesky {
  static constexpr const char* name = "linalg.cholesky";
  const char* display_name;
  bool refuse_failure;

  std::array<Tensor, 2> forward(Ctx& ctx, const Tensor& a) {
    const int64_t n = a.size(-1);
    const Tensor a_host = detail::host_matrices_to_read(a);
    const double* a_values = a_host.data<double>();
    detail::HostVector l_host(a_host.numel(), 0.0);
    const int64_t batch = detail::batch_count(a.shape());
    detail::HostVector info(static_cast<size_t>(batch));
    for (int64_t m = 0; m < batch; ++m) {
      const int64_t failed_order = detail::factor_cholesky(a_values + m * n * n, l_host.data() + m * n * n, n);
      EMBER_CHECK(!refuse_failure || failed_order == 0, display_name,
                  "{}the factorization could not be completed because the input is not positive-definite (the "
                  "leading minor of order {} is not positive-definite); A is {} {}",
                  detail::batch_entry(a, m), failed_order, shape_str(a.shape()), a.dtype());
      info[m] = static_cast<double>(failed_order);
    }
    Tensor l = detail::from_host(l_host, a.shape(), a.dtype(), a.device());
    ctx.save_output(l);
    const std::span<const int64_t> shape = a.shape();
    return {l, detail::from_host(info, shape.first(shape.size() - 2), DType::Int32, a.device())};
  }

  // PyTorch's cholesky_backward (after Iain Murray, "Differentiation of the Cholesky decomposition",
  // 2016): with P = tril(L^T gL), gA = L^-T Phi L^-1 where Phi = (P + tril(P, -1)^T) / 2 is the
  // symmetric matrix whose lower triangle is P with its off-diagonal halved. The gradient is
  // symmetric (PyTorch's convention: A is taken to be symmetric, so a perturbation of A is too),
  // not the one that puts everything on the lower triangle that is read.
  Grads backward(Ctx& ctx, const std::array<Tensor, 2>& grads) {
    const Tensor& grad = grads[0];
    if (!grad.defined()) return {Tensor()};
    const Tensor l = ctx.saved(0);
    const Tensor p = tril(matmul(l.mT(), grad));
    const Tensor phi = (p + tril(p, -1).mT()) * 0.5;
    // L^-T Phi, then (that) L^-1: two triangular solves, differentiable again.
    const Tensor left_solved = solve_triangular(l.mT(), phi, /*upper=*/true, /*left=*/true);
    return {solve_triangular(l, left_solved, /*upper=*/false, /*left=*/false)};
  }
};

Tensor cholesky_solve_same_batch(const Tensor& b, const Tensor& l, bool upper);

// X = A^-1 B for A = L L^T (upper: U^T U), with B [..., n, k] and the factor [..., n, n] of the same
// batch dims: two triangular substitutions reading only the factor's triangle.
struct CholeskySolve {
  static constexpr const char* name = "linalg.cholesky_solve";
  bool upper;

  Tensor forward(Ctx& ctx, const Tensor& b, const Tensor& l) {
    // L L^T X = B: L Y = B, then L^T X = Y (upper: U^T Y = B, then U X = Y).
    const Tensor y = solve_triangular(upper ? l.mT() : l, b, /*upper=*/false);
    Tensor x = solve_triangular(upper ? l : l.mT(), y, /*upper=*/true);
    ctx.save(l);
    ctx.save_output(x);
    return x;
  }

  // PyTorch's cholesky_solve_backward: gB = A^-1 gX (a cholesky_solve again), and with
  // C = gB X^T + X gB^T, gL = -C L (upper: gU = -U C). The factor is taken as a full matrix, as in
  // PyTorch; every step is a differentiable op, so the gradient has gradients of its own.
  Grads backward(Ctx& ctx, const Tensor& grad) {
    const Tensor l = ctx.saved(0), x = ctx.saved(1);
    const Tensor grad_b = cholesky_solve_same_batch(grad, l, upper);
    Tensor grad_l;
    if (ctx.needs_input_grad(1)) {
      const Tensor half = matmul(grad_b, x.mT());
      const Tensor c = half + half.mT();
      grad_l = upper ? -matmul(l, c) : -matmul(c, l);
    }
    return {ctx.needs_input_grad(0) ? grad_b : Tensor(), grad_l};
  }
};

Tensor cholesky_solve_same_batch(const Tensor& b, const Tensor& l, bool upper) {
  return apply(CholeskySolve{upper}, b, l);
}

// A's upper triangle is A^T's lower one, and U = L(A^T)^T; the transposes are views, so the gradient
// flows back through them.
CholeskyExResult cholesky_with_info(const char* op, const Tensor& a_in, bool upper, bool refuse_failure) {
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/true);
  auto [l, info] = apply(Cholesky{op, refuse_failure}, upper ? a.mT() : a);
  return {upper ? l.mT() : l, info};
}

}  // namespace

Tensor cholesky(const Tensor& a, bool upper) {
  return cholesky_with_info(kOp, a, upper, /*refuse_failure=*/true).L;
}

CholeskyExResult cholesky_ex(const Tensor& a, bool upper, bool check_errors) {
  return cholesky_with_info("linalg.cholesky_ex", a, upper, check_errors);
}

Tensor cholesky_solve(const Tensor& b_in, const Tensor& l_in, bool upper) {
  const char* op = "linalg.cholesky_solve";
  const Tensor l = detail::matrix_operand(op, "L", l_in, /*square=*/true);
  const Tensor b = detail::matrix_operand(op, "B", b_in, /*square=*/false);
  EMBER_CHECK(l.dtype() == b.dtype(), op, "B and L must have the same dtype, got B {} {} and L {} {}",
              shape_str(b.shape()), b.dtype(), shape_str(l.shape()), l.dtype());
  check_same_device(op, b, l);
  EMBER_CHECK(b.size(-2) == l.size(-1), op, "B [..., n, k] must have as many rows as L [..., n, n], got B {} and L {}",
              shape_str(b.shape()), shape_str(l.shape()));
  const std::span<const int64_t> l_shape = l.shape(), b_shape = b.shape();
  Shape l_full = broadcast_shapes(op, l_shape.first(l_shape.size() - 2), b_shape.first(b_shape.size() - 2));
  Shape b_full = l_full;
  l_full.push_back(l.size(-2));
  l_full.push_back(l.size(-1));
  b_full.push_back(b.size(-2));
  b_full.push_back(b.size(-1));
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  return cholesky_solve_same_batch(b.expand(b_full), l.expand(l_full), upper);
}

Tensor cholesky_inverse(const Tensor& l_in, bool upper) {
  const char* op = "linalg.cholesky_inverse";
  const Tensor l = detail::matrix_operand(op, "L", l_in, /*square=*/true);
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  // The identity needs no gradient: the backward computes only the factor's.
  const std::span<const int64_t> shape = l.shape();
  return cholesky_solve_same_batch(detail::identity_batch(shape.first(shape.size() - 2), l.size(-1), l), l, upper);
}

}  // namespace ember::linalg
