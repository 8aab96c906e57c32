// linalg.lu_factor, lu_factor_ex, lu, lu_unpack and lu_solve (ops/lu.h), over the elimination all the
// LU-based ops share (detail::factor_lu). One primitive, LuFactor, factors and carries the gradient
// (PyTorch's linalg_lu_backward); lu, lu_unpack and lu_solve are written over its packed result with
// tril/triu, matmul and triangular solves, so their gradients come from those ops.
#include <ember/ops/lu.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ember/ops/decompositions.h>
#include <ember/ops/index.h>
#include <ember/ops/linalg_host.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember::linalg {

void detail::raise_first_zero_pivot(const char* op, const Tensor& a, const Tensor& info, const char* remedy) {
  const Tensor flat = info.reshape({-1}).to(DType::Int64).cpu();
  const int64_t* values = flat.data<int64_t>();
  for (int64_t b = 0; b < flat.numel(); ++b) {
    const int64_t column = values[b] - 1;
    EMBER_CHECK(values[b] == 0, op,
                "{}the matrix is singular: LU with partial pivoting met an exact zero pivot in column {} (U[{}, {}] "
                "= 0); A is {} {}{}",
                info.dim() > 0 ? fmt::format("(batch entry {}) ", b) : std::string(), column, column, column,
                shape_str(a.shape()), a.dtype(), remedy);
  }
}

namespace {

using detail::LuFactorization;

// The row order of the permutations P [..., m, m] of LAPACK pivots [..., k] (1-based, checked to lie
// in [1, m]), one batch entry after another: row i of P^T A is row order[b * m + i] of A, so
// P[order[i], i] = 1. With `inverse`, the inverse permutation: row j of P A is row order[j] of A.
std::vector<int64_t> row_order_from_pivots(const char* op, const Tensor& pivots, int64_t m, bool inverse) {
  const int64_t k = pivots.size(-1);
  // The batch counted, not inferred: reshape({-1, 0}) is ambiguous when there are no pivots (0 columns).
  int64_t batch = 1;
  for (int64_t i = 0; i + 1 < pivots.dim(); ++i) batch *= pivots.size(i);
  const Tensor flat = pivots.reshape({batch, k}).to(DType::Int64).cpu();
  const int64_t* swaps = flat.data<int64_t>();
  std::vector<int64_t> order(static_cast<size_t>(batch * m));
  std::vector<int64_t> row_of(static_cast<size_t>(m));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < m; ++i) row_of[i] = i;
    for (int64_t i = 0; i < k; ++i) {
      const int64_t target = swaps[b * k + i];
      EMBER_CHECK(target >= 1 && target <= m, op,
                  "pivots must lie in [1, {}] (LAPACK's 1-based row numbers), got {} at index {}{}; pivots are {} {}",
                  m, target, i, batch > 1 ? fmt::format(" of batch entry {}", b) : std::string(),
                  shape_str(pivots.shape()), pivots.dtype());
      std::swap(row_of[i], row_of[target - 1]);
    }
    for (int64_t i = 0; i < m; ++i) {
      if (inverse)
        order[b * m + row_of[i]] = i;
      else
        order[b * m + i] = row_of[i];
    }
  }
  return order;
}

// The batch shape of pivots [..., k] followed by `last`.
Shape pivots_batch_with(const Tensor& pivots, std::initializer_list<int64_t> last) {
  const std::span<const int64_t> pivots_shape = pivots.shape();
  Shape shape(pivots_shape.first(pivots_shape.size() - 1));
  for (const int64_t size : last) shape.push_back(size);
  return shape;
}

// The permutation matrices P [..., m, m] (in `like`'s dtype and device) of pivots [..., k]; P's batch
// shape is the pivots'.
Tensor permutation_from_pivots(const char* op, const Tensor& pivots, int64_t m, const Tensor& like) {
  const std::vector<int64_t> order = row_order_from_pivots(op, pivots, m, /*inverse=*/false);
  const int64_t batch = static_cast<int64_t>(order.size()) / std::max<int64_t>(m, 1);
  detail::HostVector p(static_cast<size_t>(batch * m * m), 0.0);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < m; ++i) p[b * m * m + order[b * m + i] * m + i] = 1.0;
  return detail::from_host(p, pivots_batch_with(pivots, {m, m}), like.dtype(), like.device());
}

// P^T X (or, with `inverse`, P X) for the permutations of pivots [..., k] and X [..., m, cols], their
// batch dims broadcast: a gather of X's rows, where a product with P would cost m^2 cols.
Tensor permute_rows(const char* op, const Tensor& pivots, const Tensor& x, bool inverse) {
  const int64_t m = x.size(-2), cols = x.size(-1);
  const std::vector<int64_t> order = row_order_from_pivots(op, pivots, m, inverse);
  const Tensor rows = from_vector(order, pivots_batch_with(pivots, {m, 1}), {.dtype = DType::Int64}).to(x.device());
  const std::span<const int64_t> pivots_shape = pivots.shape(), x_shape = x.shape();
  Shape shape = broadcast_shapes(op, pivots_shape.first(pivots_shape.size() - 1), x_shape.first(x_shape.size() - 2));
  shape.push_back(m);
  shape.push_back(cols);
  return gather(x.expand(shape), -2, rows.expand(shape));
}

// L [..., m, k] (unit lower triangular) and U [..., k, n] from a packed LU [..., m, n]. Written with
// differentiable ops, so the gradients of L and U reach LU's strict lower and upper triangles.
std::pair<Tensor, Tensor> unpack_factors(const Tensor& lu_packed) {
  const int64_t m = lu_packed.size(-2), n = lu_packed.size(-1), k = std::min(m, n);
  const Tensor unit = eye(m, k, {.dtype = lu_packed.dtype(), .device = lu_packed.device()});
  const Tensor l = tril(lu_packed.narrow(-1, 0, k), -1) + unit;
  const Tensor u = triu(lu_packed.narrow(-2, 0, k));
  return {l, u};
}

// PyTorch's linalg_lu_backward, from the gradient g of the packed LU [..., m, n]: that of L [m, k] on
// its strict lower part, gL = tril(g[:, :k], -1), and that of U [k, n] on the rest, gU = triu(g[:k]).
// Square and wide A (m <= n, U = [U1 U2] with U1 k x k):
//   dA = P L^-T [ (tril(L^T gL - gU U^T, -1) U1^-T + gU1) | gU2 ]
// tall A (m > n, L = [L1; L2] with L1 k x k):
//   dA = P [ L1^-T triu(gU U^T - L^T gL) + gL1 ; gL2 ] U^-T
// (for a square A both are L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T). P's product is a gather of
// rows. Every step is a differentiable op, so the gradient has gradients of its own.
Tensor lu_backward(const char* op, const Tensor& pivots, const Tensor& l, const Tensor& u, const Tensor& grad_packed) {
  const int64_t m = l.size(-2), n = u.size(-1), k = u.size(-2);
  const Tensor grad_l = tril(grad_packed.narrow(-1, 0, k), -1), grad_u = triu(grad_packed.narrow(-2, 0, k));
  Tensor grad;
  if (m <= n) {
    const Tensor u1 = u.narrow(-1, 0, k);
    const Tensor inner = matmul(l.mT(), grad_l) - matmul(grad_u, u.mT());
    grad = solve_triangular(u1.mT(), tril(inner, -1), /*upper=*/false, /*left=*/false) + grad_u.narrow(-1, 0, k);
    if (n > k) grad = cat({grad, grad_u.narrow(-1, k, n - k)}, -1);
    grad = solve_triangular(l.mT(), grad, /*upper=*/true, /*left=*/true, /*unitriangular=*/true);
  } else {
    const Tensor l1 = l.narrow(-2, 0, k);
    const Tensor inner = matmul(grad_u, u.mT()) - matmul(l.mT(), grad_l);
    grad = solve_triangular(l1.mT(), triu(inner), /*upper=*/true, /*left=*/true, /*unitriangular=*/true);
    grad = cat({grad + grad_l.narrow(-2, 0, k), grad_l.narrow(-2, k, m - k)}, -2);
    grad = solve_triangular(u.mT(), grad, /*upper=*/false, /*left=*/false);
  }
  return permute_rows(op, pivots, grad, /*inverse=*/true);
}

// A [..., m, n] -> LU [..., m, n], pivots [..., k] and info [...] (both int32).
struct LuFactor {
  static constexpr const char* name = "linalg.lu_factor";
  const char* display_name;
  bool pivot;

  std::array<Tensor, 3> forward(Ctx& ctx, const Tensor& a) {
    const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n);
    detail::HostVector lu = detail::host_matrices(a);
    const int64_t batch = detail::batch_count(a.shape());
    detail::HostVector pivots(static_cast<size_t>(batch * k)), info(static_cast<size_t>(batch));
    for (int64_t b = 0; b < batch; ++b) {
      const LuFactorization f = detail::factor_lu(lu.data() + b * m * n, m, n, pivot);
      EMBER_CHECK(f.unfactorable_column < 0, display_name,
                  "{}A has no LU factorization without pivoting: column {} has a zero pivot above non-zero "
                  "entries; A is {} {} (use pivot = true)",
                  detail::batch_entry(a, b), f.unfactorable_column, shape_str(a.shape()), a.dtype());
      for (int64_t i = 0; i < k; ++i) pivots[b * k + i] = static_cast<double>(f.swapped_with[i] + 1);
      info[b] = static_cast<double>(f.zero_pivot_column + 1);
    }
    const std::span<const int64_t> shape = a.shape();
    Shape pivots_shape(shape.first(shape.size() - 1));
    pivots_shape.back() = k;
    Tensor lu_packed = detail::from_host(lu, shape, a.dtype(), a.device());
    Tensor pivots_tensor = detail::from_host(pivots, pivots_shape, DType::Int32, a.device());
    ctx.save_output(lu_packed, 0);
    ctx.save(pivots_tensor);
    return {lu_packed, pivots_tensor,
            detail::from_host(info, shape.first(shape.size() - 2), DType::Int32, a.device())};
  }

  // The gradient of LU is that of L on its strict lower part and of U on the rest.
  Grads backward(Ctx& ctx, const std::array<Tensor, 3>& grads) {
    const Tensor& grad = grads[0];
    if (!grad.defined()) return {Tensor()};
    const Tensor lu_packed = ctx.saved(0), pivots = ctx.saved(1);
    const auto [l, u] = unpack_factors(lu_packed);
    return {lu_backward(display_name, pivots, l, u, grad)};
  }
};

void check_pivots(const char* op, const Tensor& lu_packed, const Tensor& pivots) {
  EMBER_CHECK(pivots.defined(), op, "got undefined pivots");
  EMBER_CHECK(pivots.dtype() == DType::Int32, op, "pivots must be int32 (as lu_factor returns them), got {} {}",
              shape_str(pivots.shape()), pivots.dtype());
  check_same_device(op, lu_packed, pivots);
  const std::span<const int64_t> shape = lu_packed.shape();
  Shape expected(shape.first(shape.size() - 1));
  expected.back() = std::min(lu_packed.size(-2), lu_packed.size(-1));
  EMBER_CHECK(pivots.shape() == expected, op,
              "pivots must be {} for LU {}, got {}", shape_str(expected), shape_str(shape),
              shape_str(pivots.shape()));
}

}  // namespace

LuFactorExResult lu_factor_ex(const Tensor& a_in, bool pivot, bool check_errors) {
  const char* op = "linalg.lu_factor_ex";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/false);
  auto [lu_packed, pivots, info] = apply(LuFactor{op, pivot}, a);
  if (check_errors) detail::raise_first_zero_pivot(op, a, info);
  return {lu_packed, pivots, info};
}

LuFactorResult lu_factor(const Tensor& a_in, bool pivot) {
  const char* op = "linalg.lu_factor";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/false);
  auto [lu_packed, pivots, info] = apply(LuFactor{op, pivot}, a);
  detail::raise_first_zero_pivot(op, a, info, " (linalg.lu and linalg.lu_factor_ex factor it without this check)");
  return {lu_packed, pivots};
}

LuResult lu(const Tensor& a_in, bool pivot) {
  const char* op = "linalg.lu";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/false);
  auto [lu_packed, pivots, info] = apply(LuFactor{op, pivot}, a);
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  const auto [l, u] = unpack_factors(lu_packed);
  return {permutation_from_pivots(op, pivots, a.size(-2), lu_packed), l, u};
}

LuResult lu_unpack(const Tensor& lu_in, const Tensor& pivots) {
  const char* op = "linalg.lu_unpack";
  const Tensor lu_packed = detail::matrix_operand(op, "LU", lu_in, /*square=*/false);
  check_pivots(op, lu_packed, pivots);
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  const auto [l, u] = unpack_factors(lu_packed);
  return {permutation_from_pivots(op, pivots, lu_packed.size(-2), lu_packed), l, u};
}

// A = P L U, so A X = B is X = U^-1 L^-1 P^T B and A^T X = B is X = P L^-T U^-T B; on the right,
// X = B U^-1 L^-1 P^T and X = B P L^-T U^-T. The triangular solves read only the triangle of LU they
// need (L's unit diagonal is not read), so no tril/triu is taken and the gradient reaches LU directly.
Tensor lu_solve(const Tensor& lu_in, const Tensor& pivots, const Tensor& b_in, bool left, bool adjoint) {
  const char* op = "linalg.lu_solve";
  const Tensor lu_packed = detail::matrix_operand(op, "LU", lu_in, /*square=*/true);
  const Tensor b = detail::matrix_operand(op, "B", b_in, /*square=*/false);
  EMBER_CHECK(lu_packed.dtype() == b.dtype(), op, "LU and B must have the same dtype, got LU {} {} and B {} {}",
              shape_str(lu_packed.shape()), lu_packed.dtype(), shape_str(b.shape()), b.dtype());
  check_same_device(op, lu_packed, b);
  check_pivots(op, lu_packed, pivots);
  const int64_t n = lu_packed.size(-1);
  EMBER_CHECK((left ? b.size(-2) : b.size(-1)) == n, op,
              "incompatible shapes for {}: LU {} and B {} (B's {} must number {})",
              left ? (adjoint ? "A^T X = B" : "A X = B") : (adjoint ? "X A^T = B" : "X A = B"),
              shape_str(lu_packed.shape()), shape_str(b.shape()), left ? "rows" : "columns", n);
  const std::span<const int64_t> lu_shape = lu_packed.shape(), b_shape = b.shape();
  broadcast_shapes(op, lu_shape.first(lu_shape.size() - 2), b_shape.first(b_shape.size() - 2));
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  const Tensor lu_t = lu_packed.mT();
  // P^T B is B's rows in the pivots' order, B P its columns; P Y and Y P^T the inverse order.
  if (left && !adjoint) {
    const Tensor y = solve_triangular(lu_packed, permute_rows(op, pivots, b, /*inverse=*/false), /*upper=*/false, true,
                                      /*unitriangular=*/true);
    return solve_triangular(lu_packed, y, /*upper=*/true);
  }
  if (left) {
    const Tensor y = solve_triangular(lu_t, b, /*upper=*/false);
    const Tensor x = solve_triangular(lu_t, y, /*upper=*/true, true, /*unitriangular=*/true);
    return permute_rows(op, pivots, x, /*inverse=*/true);
  }
  if (!adjoint) {
    const Tensor y = solve_triangular(lu_packed, b, /*upper=*/true, /*left=*/false);
    const Tensor x = solve_triangular(lu_packed, y, /*upper=*/false, /*left=*/false, /*unitriangular=*/true);
    return permute_rows(op, pivots, x.mT(), /*inverse=*/true).mT();
  }
  const Tensor b_p = permute_rows(op, pivots, b.mT(), /*inverse=*/false).mT();
  const Tensor y = solve_triangular(lu_t, b_p, /*upper=*/true, /*left=*/false, /*unitriangular=*/true);
  return solve_triangular(lu_t, y, /*upper=*/false, /*left=*/false);
}

}  // namespace ember::linalg
