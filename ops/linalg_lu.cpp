// The LU-based ops: linalg.solve, linalg.inv (and their _ex forms), linalg.det, linalg.slogdet and logdet. Each factors P A = L U
// by Gaussian elimination with partial pivoting (detail::factor_lu: LAPACK's getf2, blocked over dgemm
// as getrf for large matrices) on the host in float64, one matrix at a time. PyTorch 1.13's semantics, checked against it by
// tests/linalg/test_solve_and_factor.cpp.
#include <ember/ops/decompositions.h>

#include <array>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <ember/core/autocast.h>
#include <ember/ops/linalg_host.h>
#include <ember/ops/lu.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

using detail::LuFactorization;

// X = A^-1 B from A's factors, for one n x k B (row-major), into x (n x k): permute B's rows into x,
// then L y = P B (forward, unit diagonal) and U x = y (back), in place. A zero pivot divides by zero
// (inf or NaN).
void lu_solve(const double* lu, const LuFactorization& f, const double* b, int64_t n, int64_t k, double* x) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < k; ++c) x[i * k + c] = b[f.row_of[i] * k + c];
  detail::solve_triangular_in_place(lu, x, n, k, /*upper=*/false, /*unitriangular=*/true);
  detail::solve_triangular_in_place(lu, x, n, k, /*upper=*/true, /*unitriangular=*/false);
}

std::array<Tensor, 2> solve_same_batch_ex(const char* op, const Tensor& a, const Tensor& b, bool refuse_singular);
Tensor solve_same_batch(const char* op, const Tensor& a, const Tensor& b, bool refuse_singular) {
  return solve_same_batch_ex(op, a, b, refuse_singular)[0];
}

// A X = B with A [..., n, n] and B [..., n, k] of the same batch dims (broadcast before, by expand,
// whose backward sums the gradients back), and info [...] (int32): 0, or 1 + the column of the
// first exact zero pivot. display_name: "linalg.solve", or "linalg.inv", ... for theirs.
// refuse_singular: a zero pivot is an error (solve, inv; raised by solve_same_batch_ex once X is made)
// rather than inf or NaN in X (the _ex forms, and slogdet's gradient, which PyTorch lets divide by
// zero); the backward's solve inherits it.
struct LuSolve {
  static constexpr const char* name = "linalg.solve";
  const char* display_name;
  bool refuse_singular;

  std::array<Tensor, 2> forward(Ctx& ctx, const Tensor& a, const Tensor& b) {
    const int64_t n = a.size(-1), k = b.size(-1);
    detail::HostVector lu = detail::host_matrices(a);
    const Tensor b_host = detail::host_matrices_to_read(b);
    const double* b_values = b_host.data<double>();
    detail::HostVector x_host(b_host.numel());
    const int64_t batch = detail::batch_count(b.shape());
    detail::HostVector info(static_cast<size_t>(batch), 0.0);
    for (int64_t m = 0; m < batch; ++m) {
      double* lu_m = lu.data() + m * n * n;
      const LuFactorization f = detail::factor_lu(lu_m, n, n);
      info[m] = static_cast<double>(f.zero_pivot_column + 1);
      lu_solve(lu_m, f, b_values + m * n * k, n, k, x_host.data() + m * n * k);
    }
    Tensor x = detail::from_host(x_host, b.shape(), b.dtype(), b.device());
    ctx.save(a);
    ctx.save_output(x);
    const std::span<const int64_t> shape = b.shape();
    return {x, detail::from_host(info, shape.first(shape.size() - 2), DType::Int32, b.device())};
  }

  // X = A^-1 B: dB = A^-T dX, dA = -dB X^T.
  Grads backward(Ctx& ctx, const std::array<Tensor, 2>& grads) {
    const Tensor& grad = grads[0];
    if (!grad.defined()) return {Tensor(), Tensor()};
    const Tensor a = ctx.saved(0), x = ctx.saved(1);
    const Tensor grad_b = solve_same_batch(display_name, a.mT(), grad, refuse_singular);
    Tensor grad_a;
    if (ctx.needs_input_grad(0)) grad_a = -matmul(grad_b, x.mT());
    return {grad_a, ctx.needs_input_grad(1) ? grad_b : Tensor()};
  }
};

std::array<Tensor, 2> solve_same_batch_ex(const char* op, const Tensor& a, const Tensor& b, bool refuse_singular) {
  std::array<Tensor, 2> x_and_info = apply(LuSolve{op, refuse_singular}, a, b);
  if (refuse_singular) detail::raise_first_zero_pivot(op, a, x_and_info[1]);
  return x_and_info;
}

// g (shape [...]) times the identity: [..., n, n].
Tensor times_identity(const Tensor& g, int64_t n) {
  const Tensor identity = eye(n, std::nullopt, {.dtype = g.dtype(), .device = g.device()});
  return g.unsqueeze(-1).unsqueeze(-1) * identity;
}

// The product of all of s's entries along the last dim but the i-th, for every i, without dividing
// (exact where one is 0): the running product of those before i times that of those after i.
Tensor products_of_the_others(const Tensor& s) {
  const int64_t n = s.size(-1);
  const auto exclusive_cumprod = [n](const Tensor& v) {
    Shape one = v.shape();
    one.back() = 1;
    return cumprod(cat({ones(one, {.dtype = v.dtype(), .device = v.device()}), v.narrow(-1, 0, n - 1)}, -1), -1);
  };
  const Tensor before = exclusive_cumprod(s);
  const Tensor after = flip(exclusive_cumprod(flip(s, {-1})), {-1});
  return before * after;
}

// The cofactor matrix of A (the gradient of det, det(A) A^-T where A is invertible), from A = U S Vh:
// det(U) det(Vh) U diag(prod_{j != i} s_j) Vh. det(U) det(Vh) is +-1 and locally constant, so it is
// taken without a gradient.
Tensor cofactor_from_svd(const Tensor& a) {
  const SVDResult usv = svd(a, /*full_matrices=*/true);
  Tensor orientation;
  {
    NoGradGuard no_grad;
    orientation = (det(usv.U) * det(usv.Vh)).detach();
  }
  const Tensor scaled_u = usv.U * products_of_the_others(usv.S).unsqueeze(-2);  // column i times its product
  return orientation.unsqueeze(-1).unsqueeze(-1) * matmul(scaled_u, usv.Vh);
}

struct Det {
  static constexpr const char* name = "linalg.det";

  Tensor forward(Ctx& ctx, const Tensor& a) {
    const int64_t n = a.size(-1);
    detail::HostVector lu = detail::host_matrices(a);
    const int64_t batch = detail::batch_count(a.shape());
    detail::HostVector dets(static_cast<size_t>(batch));
    for (int64_t m = 0; m < batch; ++m) {
      double* lu_m = lu.data() + m * n * n;
      const LuFactorization f = detail::factor_lu(lu_m, n, n);
      double product = f.odd_permutation ? -1.0 : 1.0;  // a 0 x 0 matrix: the empty product, 1
      for (int64_t i = 0; i < n; ++i) product *= lu_m[i * n + i];
      dets[m] = product;
    }
    const std::span<const int64_t> shape = a.shape();
    Tensor d = detail::from_host(dets, shape.first(shape.size() - 2), a.dtype(), a.device());
    ctx.save(a);
    ctx.save_output(d);
    return d;
  }

  // d det / dA = det(A) A^-T, the solve of A^T X = det(A) I. Where some det is exactly 0 (a zero
  // pivot, or an underflow) that solve divides by zero, and the cofactor matrix comes from the SVD
  // instead, for the whole batch (it is the same matrix wherever both exist).
  Grads backward(Ctx& ctx, const Tensor& grad) {
    const Tensor a = ctx.saved(0), d = ctx.saved(1);
    const int64_t n = a.size(-1);
    if (a.numel() == 0) return {zeros_like(a)};
    if (any(eq(d.detach(), Scalar(0))))
      return {grad.unsqueeze(-1).unsqueeze(-1) * cofactor_from_svd(a)};
    return {solve_same_batch(name, a.mT(), times_identity(grad * d, n), /*refuse_singular=*/true)};
  }
};

// sign(det A) and log|det A| from the pivots: the sign of their product (with P's), and the sum of
// their log-magnitudes. sign(NaN) is 0, as torch.sign's.
struct Slogdet {
  static constexpr const char* name = "linalg.slogdet";

  std::array<Tensor, 2> forward(Ctx& ctx, const Tensor& a) {
    const int64_t n = a.size(-1);
    detail::HostVector lu = detail::host_matrices(a);
    const int64_t batch = detail::batch_count(a.shape());
    detail::HostVector signs(static_cast<size_t>(batch)), logs(static_cast<size_t>(batch));
    for (int64_t m = 0; m < batch; ++m) {
      double* lu_m = lu.data() + m * n * n;
      const LuFactorization f = detail::factor_lu(lu_m, n, n);
      double sign = f.odd_permutation ? -1.0 : 1.0, log_magnitude = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const double pivot = lu_m[i * n + i];
        sign *= static_cast<double>((pivot > 0) - (pivot < 0));
        log_magnitude += std::log(std::abs(pivot));
      }
      signs[m] = sign;
      logs[m] = log_magnitude;
    }
    const std::span<const int64_t> shape = a.shape();
    const std::span<const int64_t> batch_shape = shape.first(shape.size() - 2);
    ctx.save(a);
    return {detail::from_host(signs, batch_shape, a.dtype(), a.device()),
            detail::from_host(logs, batch_shape, a.dtype(), a.device())};
  }

  // d log|det A| / dA = A^-T. The sign is piecewise constant: no gradient. A singular A gives inf
  // and NaN here (the solve divides by the zero pivot), as in PyTorch 1.13, rather than an error.
  Grads backward(Ctx& ctx, const std::array<Tensor, 2>& grads) {
    const Tensor& grad_log = grads[1];
    if (!grad_log.defined()) return {Tensor()};
    const Tensor a = ctx.saved(0);
    return {solve_same_batch("linalg.slogdet", a.mT(), times_identity(grad_log, a.size(-1)),
                             /*refuse_singular=*/false)};
  }
};

// B's checks where B may be a vector (so matrix_operand's "at least two dims" does not apply).
void check_right_hand_side(const char* op, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(b.defined(), op, "got an undefined B");
  EMBER_CHECK(b.dtype() == DType::Float32 || b.dtype() == DType::Float64, op,
              "B must be float32 or float64, got {} {}{}", shape_str(b.shape()), b.dtype(),
              is_16bit_float(b.dtype()) ? " (16-bit matrices are factored in float32: cast, or use autocast)" : "");
  EMBER_CHECK(b.dim() >= 1, op, "B must be a vector or a matrix (or a batch of them), got a 0-d tensor");
  EMBER_CHECK(a.dtype() == b.dtype(), op, "A and B must have the same dtype, got A {} {} and B {} {}",
              shape_str(a.shape()), a.dtype(), shape_str(b.shape()), b.dtype());
  check_same_device(op, a, b);
}

// PyTorch's rule: B is a (batch of) vector(s) when it is 1-D, or when its shape is A's without the
// last dim. Anything else is a (batch of) matrices.
bool is_vector_right_hand_side(const Tensor& a, const Tensor& b) {
  if (b.dim() == 1) return true;
  if (b.dim() != a.dim() - 1) return false;
  for (int64_t d = 0; d < b.dim(); ++d)
    if (b.size(d) != a.size(d)) return false;
  return true;
}

// info [broadcast batch...] of an expanded A, cut back to A's own batch dims (PyTorch's shape): the
// copies expand made of one matrix all have its info.
Tensor info_of_unbroadcast(const Tensor& info, std::span<const int64_t> batch) {
  Tensor cut = info;
  while (cut.dim() > static_cast<int64_t>(batch.size())) cut = cut.select(0, 0);
  for (size_t d = 0; d < batch.size(); ++d)
    if (batch[d] == 1 && cut.size(static_cast<int64_t>(d)) != 1) cut = cut.narrow(static_cast<int64_t>(d), 0, 1);
  return contiguous(cut);
}

// linalg.solve and solve_ex: X and info, with B's vector rule and the batch dims broadcast.
SolveExResult solve_with_info(const char* op, const Tensor& a_in, const Tensor& b_in, bool left, bool refuse_singular) {
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/true);
  const Tensor b = ember::detail::autocast_operand(op, b_in);
  check_right_hand_side(op, a, b);
  const bool vector_case = is_vector_right_hand_side(a, b);
  // As in PyTorch 1.13: x A = b for a vector b is b / A with A 1 x 1, and refused otherwise too.
  EMBER_CHECK(left || !vector_case, op,
              "a vector B (here {} with A {}) needs left = true; for left = false give B as a [..., k, n] matrix",
              shape_str(b.shape()), shape_str(a.shape()));
  const Tensor b_matrix = vector_case ? b.unsqueeze(-1) : b;
  const int64_t n = a.size(-1);
  EMBER_CHECK((left ? b_matrix.size(-2) : b_matrix.size(-1)) == n, op,
              "incompatible shapes for the equation {}: A {} and B {} (B as a matrix: {}x{}; its {} must be {})",
              left ? "AX = B" : "XA = B", shape_str(a.shape()), shape_str(b.shape()), b_matrix.size(-2),
              b_matrix.size(-1), left ? "rows" : "columns", n);
  const std::span<const int64_t> a_shape = a.shape(), b_shape = b_matrix.shape();
  Shape a_full = broadcast_shapes(op, a_shape.first(a_shape.size() - 2), b_shape.first(b_shape.size() - 2));
  Shape b_full = a_full;
  for (size_t d = a_shape.size() - 2; d < a_shape.size(); ++d) a_full.push_back(a_shape[d]);
  for (size_t d = b_shape.size() - 2; d < b_shape.size(); ++d) b_full.push_back(b_shape[d]);
  const Tensor a_expanded = a.expand(a_full), b_expanded = b_matrix.expand(b_full);
  // X A = B is A^T X^T = B^T.
  auto [x, info] = left ? solve_same_batch_ex(op, a_expanded, b_expanded, refuse_singular)
                        : solve_same_batch_ex(op, a_expanded.mT(), b_expanded.mT(), refuse_singular);
  if (!left) x = x.mT();
  return {vector_case ? x.squeeze(-1) : x, info_of_unbroadcast(info, a_shape.first(a_shape.size() - 2))};
}

// linalg.inv and inv_ex: A X = I. The identity needs no gradient, so the backward computes only
// A's, -X^T dX X^T.
SolveExResult inverse_with_info(const char* op, const Tensor& a_in, bool refuse_singular) {
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/true);
  const Tensor identity = eye(a.size(-1), std::nullopt, {.dtype = a.dtype(), .device = a.device()});
  auto [x, info] = solve_same_batch_ex(op, a, identity.expand(a.shape()), refuse_singular);
  return {x, info};
}

}  // namespace

Tensor solve(const Tensor& a, const Tensor& b, bool left) {
  return solve_with_info("linalg.solve", a, b, left, /*refuse_singular=*/true).result;
}

SolveExResult solve_ex(const Tensor& a, const Tensor& b, bool left, bool check_errors) {
  SolveExResult r = solve_with_info("linalg.solve_ex", a, b, left, /*refuse_singular=*/false);
  if (check_errors) detail::raise_first_zero_pivot("linalg.solve_ex", a, r.info);
  return r;
}

SolveExResult inv_ex(const Tensor& a, bool check_errors) {
  SolveExResult r = inverse_with_info("linalg.inv_ex", a, /*refuse_singular=*/false);
  if (check_errors) detail::raise_first_zero_pivot("linalg.inv_ex", a, r.info);
  return r;
}



Tensor inv(const Tensor& a) {
  return inverse_with_info("linalg.inv", a, /*refuse_singular=*/true).result;
}

Tensor det(const Tensor& a_in) {
  const Tensor a = detail::matrix_operand("linalg.det", "A", a_in, /*square=*/true);
  return apply(Det{}, a);
}

Tensor logdet(const Tensor& a_in) {
  const Tensor a = detail::matrix_operand("linalg.logdet", "A", a_in, /*square=*/true);
  auto [sign, logabsdet] = apply(Slogdet{}, a);
  // log(sign) is 0 for a positive determinant and NaN for a negative one (a constant: the sign has no
  // gradient); a zero determinant already has logabsdet -inf.
  return logabsdet + log(sign);
}

SlogdetResult slogdet(const Tensor& a_in) {
  const Tensor a = detail::matrix_operand("linalg.slogdet", "A", a_in, /*square=*/true);
  auto [sign, logabsdet] = apply(Slogdet{}, a);
  return {sign, logabsdet};
}

}  // namespace ember::linalg
