// linalg.cholesky (and cholesky_ex): L lower triangular with a positive diagonal and A = L L^T, by the textbook
// column-by-column algorithm on the host in float64 (Cholesky-Crout). With upper, U = L^T with
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

// L of one n x n matrix (row-major), reading only a's lower triangle; the upper triangle of l is
// left as it came (zeros). Returns 0, or the order k of the first leading minor found not positive
// definite. A NaN passes the test (NaN <= 0 is false) and spreads through the rest of L: PyTorch
// 1.13 gives NaN there too, not an error.
int64_t factor(const double* a, double* l, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double pivot = a[j * n + j];
    for (int64_t k = 0; k < j; ++k) pivot -= l[j * n + k] * l[j * n + k];
    if (pivot <= 0) return j + 1;
    const double l_jj = std::sqrt(pivot);
    l[j * n + j] = l_jj;
    for (int64_t i = j + 1; i < n; ++i) {
      double entry = a[i * n + j];
      for (int64_t k = 0; k < j; ++k) entry -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = entry / l_jj;
    }
  }
  return 0;
}

// The lower factor of a [..., n, n], and info [...] (int32): 0, or the order of the first leading
// minor that is not positive definite. refuse_failure: that is an error (cholesky) instead
// (cholesky_ex).
struct Cholesky {
  static constexpr const char* name = "linalg.cholesky";
  const char* display_name;
  bool refuse_failure;

  std::array<Tensor, 2> forward(Ctx& ctx, const Tensor& a) {
    const int64_t n = a.size(-1);
    const std::vector<double> a_host = detail::host_matrices(a);
    std::vector<double> l_host(a_host.size(), 0.0);
    const int64_t batch = detail::batch_count(a.shape());
    std::vector<double> info(static_cast<size_t>(batch));
    for (int64_t m = 0; m < batch; ++m) {
      const int64_t failed_order = factor(a_host.data() + m * n * n, l_host.data() + m * n * n, n);
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

}  // namespace ember::linalg
