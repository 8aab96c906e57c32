// linalg.vector_norm, matrix_norm, cond and matrix_rank: each a few ops on top of norm, svdvals and
// inv, so their gradients are those ops' gradients.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include <ember/core/error_context.h>
#include <ember/core/error.h>
#include <ember/ops/linalg_host.h>
#include <ember/ops/matrix_functions.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

// [...] -> [..., 1, 1] when keepdim: the shape a reduction over the last two dims keeps.
Tensor keep_matrix_dims(const Tensor& r, bool keepdim) { return keepdim ? r.unsqueeze(-1).unsqueeze(-1) : r; }

// The orders whose value is an extreme over the rows, columns or singular values: they are not
// defined on a matrix with no entries (PyTorch fails inside amax there).
void check_not_empty(const char* op, const Tensor& a, double ord) {
  EMBER_CHECK(a.size(-1) > 0 && a.size(-2) > 0, op,
              "the norm of order {} is not defined for a matrix with no entries; A is {} {}", ord, shape_str(a.shape()),
              a.dtype());
}

Tensor matrix_norm_unchecked(const Tensor& a, MatrixNormKind kind) {
  if (kind == MatrixNormKind::Frobenius) return ember::norm(a, 2, {-2, -1});
  return sum(svdvals(a), {-1});
}

Tensor matrix_norm_unchecked(const Tensor& a, double ord) {
  const bool largest = ord > 0;
  const auto extreme = [largest](const Tensor& x) { return largest ? amax(x, {-1}) : amin(x, {-1}); };
  if (std::abs(ord) == 2) return extreme(svdvals(a));
  if (std::abs(ord) == 1) return extreme(sum(abs(a), {-2}));  // column sums
  return extreme(sum(abs(a), {-1}));                          // row sums (ord +-inf)
}

bool is_matrix_norm_order(double ord) { return std::abs(ord) == 1 || std::abs(ord) == 2 || std::isinf(ord); }

// |A| |A^-1| for a square A in a norm other than 2 and -2; inf where A is singular (PyTorch's
// convention), found by LU's exact zero pivot (slogdet's sign 0) before inverting.
template <typename Norm>
Tensor cond_through_inverse(const char* op, const Tensor& a_in, Norm norm_of) {
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/true);
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  return ember::detail::reported_as(op, [&] {
    const int64_t n = a.size(-1);
    Tensor singular;
    {
      NoGradGuard no_grad;
      singular = eq(slogdet(a).sign, Scalar(0));
    }
    const Shape batch(a.shape().begin(), a.shape().end() - 2);
    const Tensor invertible = where(singular.unsqueeze(-1).unsqueeze(-1), detail::identity_batch(batch, n, a), a);
    const Tensor product = norm_of(a) * norm_of(inv(invertible));
    return where(singular, full_like(product, std::numeric_limits<double>::infinity()), product);
  });
}

}  // namespace

Tensor vector_norm(const Tensor& x, double ord, std::span<const int64_t> dims, bool keepdim) {
  return ember::detail::norm_named("linalg.vector_norm", x, ord, dims, keepdim);
}

Tensor matrix_norm(const Tensor& a_in, MatrixNormKind kind, bool keepdim) {
  const char* op = "linalg.matrix_norm";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/false);
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  return ember::detail::reported_as(op, [&] { return keep_matrix_dims(matrix_norm_unchecked(a, kind), keepdim); });
}

Tensor matrix_norm(const Tensor& a_in, double ord, bool keepdim) {
  const char* op = "linalg.matrix_norm";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/false);
  EMBER_CHECK(is_matrix_norm_order(ord), op,
              "the order must be 1, -1, 2, -2, inf or -inf (or MatrixNormKind::Frobenius or Nuclear), got {}; A is {} {}",
              ord, shape_str(a.shape()), a.dtype());
  check_not_empty(op, a, ord);
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  return ember::detail::reported_as(op, [&] { return keep_matrix_dims(matrix_norm_unchecked(a, ord), keepdim); });
}

Tensor cond(const Tensor& a_in, double ord) {
  const char* op = "linalg.cond";
  if (std::abs(ord) == 2) {
    const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/false);
    check_not_empty(op, a, ord);
    AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
    const Tensor s = ember::detail::reported_as(op, [&] { return svdvals(a); });  // descending
    const Tensor largest = s.narrow(-1, 0, 1).squeeze(-1), smallest = s.narrow(-1, s.size(-1) - 1, 1).squeeze(-1);
    return ord > 0 ? largest / smallest : smallest / largest;
  }
  EMBER_CHECK(is_matrix_norm_order(ord), op,
              "the order must be 1, -1, 2, -2, inf or -inf (or MatrixNormKind::Frobenius or Nuclear), got {}; A is {} {}",
              ord, a_in.defined() ? shape_str(a_in.shape()) : "undefined", a_in.defined() ? a_in.dtype() : DType::Float32);
  if (a_in.defined() && a_in.dim() >= 2) check_not_empty(op, a_in, ord);
  return cond_through_inverse(op, a_in, [ord](const Tensor& m) { return matrix_norm_unchecked(m, ord); });
}

Tensor cond(const Tensor& a_in, MatrixNormKind kind) {
  return cond_through_inverse("linalg.cond", a_in, [kind](const Tensor& m) { return matrix_norm_unchecked(m, kind); });
}

Tensor matrix_rank(const Tensor& a_in, RankTolerance tolerance) {
  const char* op = "linalg.matrix_rank";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/tolerance.hermitian);
  detail::check_rank_tolerance(op, tolerance);
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  NoGradGuard no_grad;
  const Shape batch(a.shape().begin(), a.shape().end() - 2);
  if (a.size(-1) == 0 || a.size(-2) == 0) return zeros(batch, {.dtype = DType::Int64, .device = a.device()});
  const Tensor s = ember::detail::reported_as(op, [&] { return tolerance.hermitian ? abs(eigvalsh(a)) : svdvals(a); });
  return detail::count_above_threshold(s, a, tolerance);
}

namespace {

// matrix_norm over the two dims named (dims[0] as the rows, dims[1] as the columns), moved to the end
// for it; with keepdim, both stay as size 1 where they were.
template <typename Order>
Tensor matrix_norm_over(const char* op, const Tensor& x, Order ord, std::span<const int64_t> dims, bool keepdim) {
  EMBER_CHECK(x.dim() >= 2, op, "a matrix norm needs at least 2 dims, got {} {}", shape_str(x.shape()), x.dtype());
  const int64_t rows = normalize_dim(op, dims[0], x.dim()), cols = normalize_dim(op, dims[1], x.dim());
  EMBER_CHECK(rows != cols, op, "the two dims of a matrix norm must differ, got {} (x is {})", shape_str(dims),
              shape_str(x.shape()));
  std::vector<int64_t> order;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != rows && d != cols) order.push_back(d);
  order.push_back(rows);
  order.push_back(cols);
  Tensor result = ember::detail::reported_as(op, [&] { return matrix_norm(permute(x, order), ord, /*keepdim=*/false); });
  if (keepdim)
    for (int64_t d : {std::min(rows, cols), std::max(rows, cols)}) result = result.unsqueeze(d);
  return result;
}

}  // namespace

Tensor norm(const Tensor& x, std::optional<double> ord, std::span<const int64_t> dims, bool keepdim) {
  const char* op = "linalg.norm";
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  EMBER_CHECK(dims.size() <= 2, op, "dims must name one dim (a vector norm) or two (a matrix norm), got {}",
              shape_str(dims));
  const int64_t last_two[] = {-2, -1};
  if (!ord) {
    if (dims.size() == 2) return matrix_norm_over(op, x, MatrixNormKind::Frobenius, dims, keepdim);
    return vector_norm(x, 2, dims, keepdim);  // every entry when dims is empty
  }
  if (dims.size() == 2) return matrix_norm_over(op, x, *ord, dims, keepdim);
  if (dims.empty()) {
    EMBER_CHECK(x.dim() == 1 || x.dim() == 2, op,
                "with an order and no dims, x must be 1-D (a vector norm) or 2-D (a matrix norm), got {} {}; "
                "name the dims, or use vector_norm",
                shape_str(x.shape()), x.dtype());
    if (x.dim() == 2) return matrix_norm_over(op, x, *ord, last_two, keepdim);
  }
  return vector_norm(x, *ord, dims, keepdim);
}

Tensor norm(const Tensor& x, MatrixNormKind kind, std::span<const int64_t> dims, bool keepdim) {
  const char* op = "linalg.norm";
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  const int64_t last_two[] = {-2, -1};
  EMBER_CHECK(dims.size() == 2 || (dims.empty() && x.dim() == 2), op,
              "{} is a matrix norm: it needs two dims, or a 2-D x without dims; got dims {} and x {} {}",
              kind == MatrixNormKind::Nuclear ? "Nuclear" : "Frobenius", shape_str(dims), shape_str(x.shape()),
              x.dtype());
  return matrix_norm_over(op, x, kind, dims.empty() ? std::span<const int64_t>(last_two) : dims, keepdim);
}

}  // namespace ember::linalg
