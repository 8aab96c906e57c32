// linalg.pinv and linalg.lstsq.
//
// pinv is computed from the SVD (or, for a symmetric A, the eigendecomposition), but its gradient is
// not taken through them: the SVD's gradient divides by differences of singular values and is
// undefined at the identity, where pinv is perfectly smooth. pinv has its own backward instead, the
// closed form of Golub and Pereyra (PyTorch's pinv_backward), written with matmul on A and A^+ so
// that it is itself differentiable. lstsq's solution is A^+ B, which gives it PyTorch's gradient.
// (lstsq also takes the singular values from pinv's SVD when they need no gradient.)
#include <cfloat>
#include <cmath>

#include <ember/core/error_context.h>
#include <ember/core/error.h>
#include <ember/ops/linalg_host.h>
#include <ember/ops/matrix_functions.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

// 1/s where s counts (above the threshold), 0 elsewhere.
Tensor reciprocal_above(const Tensor& s, const Tensor& threshold) {
  const Tensor counts = gt(s, threshold);
  return where(counts, Scalar(1.0) / where(counts, s, ones_like(s)), Scalar(0.0));
}

struct PseudoInverse {
  static constexpr const char* name = "linalg.pinv";
  RankTolerance tolerance;
  // Where forward also leaves the singular values it computed (without history; SVD path only), so
  // that lstsq, which returns them, does not run a second SVD. Null: not wanted.
  Tensor* singular_values = nullptr;

  Tensor forward(Ctx& ctx, const Tensor& a) {
    const int64_t m = a.size(-2), n = a.size(-1);
    Tensor result;
    if (m == 0 || n == 0) {
      Shape shape = a.shape();
      std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
      result = zeros(shape, {.dtype = a.dtype(), .device = a.device()});
    } else if (tolerance.hermitian) {
      const EighResult e = eigh(a);
      const Tensor inverted = reciprocal_above(abs(e.eigenvalues), detail::rank_threshold(abs(e.eigenvalues), a, tolerance));
      // V diag(1/w) V^T, with 1/w carrying w's sign.
      const Tensor signed_inverted = where(lt(e.eigenvalues, Scalar(0)), -inverted, inverted);
      result = matmul(e.eigenvectors * signed_inverted.unsqueeze(-2), e.eigenvectors.mT());
    } else {
      const SVDResult d = svd(a, /*full_matrices=*/false);
      if (singular_values) *singular_values = d.S;
      const Tensor inverted = reciprocal_above(d.S, detail::rank_threshold(d.S, a, tolerance));
      result = matmul(d.Vh.mT() * inverted.unsqueeze(-2), d.U.mT());  // V diag(1/s) U^T
    }
    ctx.save(a);
    ctx.save_output(result);
    return result;
  }

  // With P = A^+ and G = dP: the three terms of the derivative of the pseudo-inverse (Golub and
  // Pereyra 1973), arranged, as PyTorch does, so the products are of the smaller size.
  Grads backward(Ctx& ctx, const Tensor& grad) {
    const Tensor a = ctx.saved(0), p = ctx.saved(1);
    const Tensor pt = p.mT(), grad_t = grad.mT();
    if (a.size(-2) <= a.size(-1)) {
      const Tensor k = matmul(grad_t, p);
      const Tensor k_pt = matmul(k, pt);
      return {-matmul(p, k).mT() + k_pt - matmul(matmul(a, p), k_pt) + matmul(matmul(pt, p), grad_t - matmul(k, a))};
    }
    const Tensor k = matmul(p, grad_t);
    const Tensor pt_k = matmul(pt, k);
    return {-matmul(k, p).mT() + matmul(matmul(grad_t - matmul(a, k), p), pt) + pt_k - matmul(matmul(pt_k, p), a)};
  }
};

}  // namespace

Tensor pinv(const Tensor& a_in, RankTolerance tolerance) {
  const char* op = "linalg.pinv";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/tolerance.hermitian);
  detail::check_rank_tolerance(op, tolerance);
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  return ember::detail::reported_as(op, [&] { return apply(PseudoInverse{tolerance}, a); });
}

LstsqResult lstsq(const Tensor& a_in, const Tensor& b_in, std::optional<double> rcond) {
  const char* op = "linalg.lstsq";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/false);
  EMBER_CHECK(b_in.defined(), op, "got an undefined B");
  const Tensor b = ember::detail::autocast_operand(op, b_in);
  EMBER_CHECK(b.dtype() == a.dtype(), op, "A and B must have the same dtype, got A {} {} and B {} {}",
              shape_str(a.shape()), a.dtype(), shape_str(b.shape()), b.dtype());
  EMBER_CHECK(b.device() == a.device(), op, "A and B must be on the same device, got A on {} and B on {}", a.device(),
              b.device());
  EMBER_CHECK(!rcond || *rcond >= 0, op, "rcond must be >= 0, got {}", rcond.value_or(0));
  const int64_t m = a.size(-2), n = a.size(-1);
  // B is a vector (or a batch of them) when 1-D, or shaped as A without its last dim (solve's rule).
  Shape a_without_last(a.shape().begin(), a.shape().end() - 1);
  const bool vector_case = b.dim() == 1 || (b.dim() == a.dim() - 1 && b.shape() == a_without_last);
  const Tensor b_matrix = vector_case ? b.unsqueeze(-1) : b;
  EMBER_CHECK(b_matrix.dim() >= 2 && b_matrix.size(-2) == m, op,
              "B must have A's {} rows: [..., {}, k] or [..., {}], got A {} and B {} {}", m, m, m, shape_str(a.shape()),
              shape_str(b.shape()), b.dtype());
  broadcast_shapes(op, Shape(a.shape().begin(), a.shape().end() - 2), Shape(b_matrix.shape().begin(), b_matrix.shape().end() - 2));
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)

  const RankTolerance tolerance{.atol = 0.0, .rtol = rcond};
  LstsqResult result;
  // One SVD for both the solution and the singular values, unless the singular values need a
  // gradient (the pseudo-inverse's primitive gives them without history): then svdvals'.
  Tensor pinv_singular_values;
  const Tensor x = ember::detail::reported_as(
      op, [&] { return matmul(apply(PseudoInverse{tolerance, &pinv_singular_values}, a), b_matrix); });
  result.solution = vector_case ? x.squeeze(-1) : x;
  const bool singular_values_need_grad = GradMode::is_enabled() && a.requires_grad();
  result.singular_values =
      singular_values_need_grad || !pinv_singular_values.defined() ? svdvals(a) : pinv_singular_values;
  {
    NoGradGuard no_grad;
    const Shape batch(a.shape().begin(), a.shape().end() - 2);
    result.rank = m == 0 || n == 0 ? zeros(batch, {.dtype = DType::Int64, .device = a.device()})
                                   : detail::count_above_threshold(result.singular_values.detach(), a, tolerance);
  }
  // gelsd's residuals: only where they are the minimum of an overdetermined, full-rank problem. An A
  // with no columns is one (rank 0 = n): X is empty and the residuals are |B|^2, as in PyTorch.
  const bool full_rank = m > n && all(eq(result.rank, Scalar(n)));
  result.residuals = full_rank ? sum(square(matmul(a, x) - b_matrix), {-2})
                               : zeros({0}, {.dtype = a.dtype(), .device = a.device()});
  return result;
}

}  // namespace ember::linalg
