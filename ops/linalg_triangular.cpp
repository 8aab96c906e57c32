// linalg.solve_triangular: X with A X = B (or X A = B) for a triangular A, by forward or back
// substitution on the host in float64 (detail::solve_triangular_in_place, blocked over dgemm for large
// matrices). Only A's triangle is read (the other may hold anything), and
// unitriangular reads no diagonal. A zero on the diagonal divides by zero (inf or NaN), as PyTorch's
// BLAS does; nothing here is refused for its values. PyTorch 1.13's semantics, checked against it by
// tests/linalg/test_solve_and_factor.cpp.
#include <ember/ops/decompositions.h>

#include <utility>
#include <vector>

#include <ember/ops/linalg_host.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

// The gradient of a function that reads only A's triangle lives on that triangle (and not on the
// diagonal when unitriangular): the rest of A does not change the result.
Tensor keep_read_triangle(const Tensor& g, bool upper, bool unitriangular) {
  const int64_t skip_diagonal = unitriangular ? 1 : 0;
  return upper ? triu(g, skip_diagonal) : tril(g, -skip_diagonal);
}

// A X = B with A [..., n, n] and B [..., n, k] of the same batch dims (broadcasting is done before,
// by expand, whose backward sums the gradient back to each operand's shape).
struct SolveTriangular {
  static constexpr const char* name = "linalg.solve_triangular";
  bool upper;
  bool unitriangular;

  Tensor forward(Ctx& ctx, const Tensor& a, const Tensor& b) {
    const int64_t n = a.size(-1), k = b.size(-1);
    const Tensor a_host = detail::host_matrices_to_read(a);
    const double* a_values = a_host.data<double>();
    detail::HostVector x_host = detail::host_matrices(b);
    const int64_t batch = detail::batch_count(b.shape());
    for (int64_t m = 0; m < batch; ++m)
      detail::solve_triangular_in_place(a_values + m * n * n, x_host.data() + m * n * k, n, k, upper,
                                        unitriangular);
    Tensor x = detail::from_host(x_host, b.shape(), b.dtype(), b.device());
    if (ctx.needs_input_grad(0) || ctx.needs_input_grad(1)) {
      ctx.save(a);
      ctx.save_output(x);
    }
    return x;
  }

  // X = A^-1 B: dB = A^-T dX (a triangular solve with the transposed, opposite triangle) and
  // dA = -dB X^T, restricted to the triangle that was read.
  Grads backward(Ctx& ctx, const Tensor& grad) {
    const Tensor a = ctx.saved(0), x = ctx.saved(1);
    const Tensor grad_b = solve_triangular(a.mT(), grad, !upper, /*left=*/true, unitriangular);
    Tensor grad_a;
    if (ctx.needs_input_grad(0)) grad_a = keep_read_triangle(-matmul(grad_b, x.mT()), upper, unitriangular);
    return {grad_a, ctx.needs_input_grad(1) ? grad_b : Tensor()};
  }
};

// a and b expanded to their common batch dims: [batch..., n, n] and [batch..., rows, cols].
std::pair<Tensor, Tensor> expand_batch_dims(const char* op, const Tensor& a, const Tensor& b) {
  const std::span<const int64_t> a_shape = a.shape(), b_shape = b.shape();
  Shape batch = broadcast_shapes(op, a_shape.first(a_shape.size() - 2), b_shape.first(b_shape.size() - 2));
  Shape a_full = batch, b_full = batch;
  for (size_t d = a_shape.size() - 2; d < a_shape.size(); ++d) a_full.push_back(a_shape[d]);
  for (size_t d = b_shape.size() - 2; d < b_shape.size(); ++d) b_full.push_back(b_shape[d]);
  return {a.expand(a_full), b.expand(b_full)};
}

}  // namespace

Tensor solve_triangular(const Tensor& a_in, const Tensor& b_in, bool upper, bool left, bool unitriangular) {
  const char* op = "linalg.solve_triangular";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/true);
  // PyTorch has no vector rule here: B is always [..., rows, cols].
  const Tensor b = detail::matrix_operand(op, "B", b_in, /*square=*/false);
  check_same_device(op, a, b);
  EMBER_CHECK(a.dtype() == b.dtype(), op, "A and B must have the same dtype, got A {} {} and B {} {}",
              shape_str(a.shape()), a.dtype(), shape_str(b.shape()), b.dtype());
  const int64_t n = a.size(-1);
  const int64_t b_side = left ? b.size(-2) : b.size(-1);
  EMBER_CHECK(b_side == n, op, "incompatible shapes for the equation {}: A {} and B {} ({} must be {})",
              left ? "AX = B" : "XA = B", shape_str(a.shape()), shape_str(b.shape()),
              left ? "B's rows" : "B's columns", n);
  // Broadcast first, so that the checks above name the operands as given.
  const auto [a_full, b_full] = expand_batch_dims(op, a, b);
  if (left) return apply(SolveTriangular{upper, unitriangular}, a_full, b_full);
  // X A = B is A^T X^T = B^T: the transposed A's triangle is the opposite one.
  return apply(SolveTriangular{!upper, unitriangular}, a_full.mT(), b_full.mT()).mT();
}

}  // namespace ember::linalg
