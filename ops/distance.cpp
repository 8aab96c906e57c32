// Distances and similarities as composites of differentiable ops, PyTorch 1.13's formulas (checked
// against it by tests/ops/test_more_losses.cpp).
#include <ember/ops/distance.h>
#include <ember/core/autocast.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include <ember/ops/ops.h>

namespace ember {
namespace {

// x1 and x2 after autocast, checked defined, on one device and floating point.
std::pair<Tensor, Tensor> checked_pair(const char* op, const Tensor& x1_in, const Tensor& x2_in) {
  const Tensor x1 = detail::autocast_operand(op, x1_in);
  const Tensor x2 = detail::autocast_operand(op, x2_in);
  EMBER_CHECK(x1.defined() && x2.defined(), op, "x{} is an undefined tensor", x1.defined() ? 2 : 1);
  check_same_device(op, x1, x2);
  EMBER_CHECK(x1.is_floating_point() && x2.is_floating_point(), op,
              "x1 ({} {}) and x2 ({} {}) must be floating point", x1.dtype(), shape_str(x1.shape()), x2.dtype(),
              shape_str(x2.shape()));
  return {x1, x2};
}

}  // namespace

Tensor cosine_similarity(const Tensor& x1_in, const Tensor& x2_in, int64_t dim, double eps) {
  const char* op = "cosine_similarity";
  const auto [x1, x2] = checked_pair(op, x1_in, x2_in);
  EMBER_CHECK(!std::isnan(eps), op, "eps is NaN (x1 {}, x2 {})", shape_str(x1.shape()), shape_str(x2.shape()));
  const Shape shape = broadcast_shapes(op, x1.shape(), x2.shape());
  const int64_t d = normalize_dim(op, dim, static_cast<int64_t>(shape.size()));
  // As PyTorch 1.13: each input over its own norm, and the dot product of the two. The squared norm
  // is raised to eps^2 where it is smaller, in place and outside autograd, and then its square root
  // taken: the value is max(|x|, |eps|), but the gradient flows on through the square root of the
  // clamped value into |x|^2, as if unclamped: d norm / dx = x / max(|x|, |eps|). eps^2 + (s -
  // detach(s)) has just that value and gradient. At a zero vector it is 0, which leaves x1's gradient
  // x2 / (|x2| eps); eps = 0 leaves 0 / 0 = NaN there, as PyTorch's.
  const double eps2 = eps * eps;
  // Both in their common dtype first, as PyTorch: a bfloat16 x1 beside a float32 x2 is normalised in
  // float32 (in bfloat16 the cosine of a vector with itself comes out as 1.0007).
  const DType common = result_type(x1, x2);
  auto normalized = [&](const Tensor& x) {
    const Tensor xe = expand(cast(x, common), shape);
    const Tensor s = sum(xe * xe, {d}, true);
    return xe / sqrt(where(lt(s, Scalar(eps2)), (s - s.detach()) + eps2, s));
  };
  return sum(normalized(x1) * normalized(x2), {d});
}

Tensor pairwise_distance(const Tensor& x1_in, const Tensor& x2_in, double p, double eps, bool keepdim) {
  const char* op = "pairwise_distance";
  const auto [x1, x2] = checked_pair(op, x1_in, x2_in);
  EMBER_CHECK(!std::isnan(p) && !std::isnan(eps), op, "p ({}) and eps ({}) must be numbers (x1 {}, x2 {})", p, eps,
              shape_str(x1.shape()), shape_str(x2.shape()));
  broadcast_shapes(op, x1.shape(), x2.shape());
  // The norm over the last dim of the broadcast difference (its only dim for a 0-dim pair); every p
  // norm() takes: 0 counts non-zero entries, negative p and -inf as PyTorch's.
  return norm(x1 - x2 + eps, p, {-1}, keepdim);
}

namespace {

// PyTorch's _euclidean_dist: one matrix product of [-2 a, |a|^2, 1] with [b, 1, |b|^2] gives
// |a|^2 - 2 a.b + |b|^2, raised to 1e-30 before the square root (cancellation can leave it slightly
// negative, and the clamp keeps the gradient finite where two points coincide).
Tensor euclidean_by_matrix_product(const Tensor& x1, const Tensor& x2) {
  const Tensor x1_norm = sum(x1 * x1, {-1}, true), x2_norm = sum(x2 * x2, {-1}, true);
  const Tensor a = cat({x1 * Scalar(-2), x1_norm, ones_like(x1_norm)}, -1);
  const Tensor b = cat({x2, ones_like(x2_norm), x2_norm}, -1);
  return sqrt(clamp(matmul(a, transpose(b, -1, -2)), 1e-30, std::nullopt));
}

// The p-norm of every pairwise difference, [..., P, R, M] in memory at once.
Tensor distance_of_differences(const Tensor& x1, const Tensor& x2, double p) {
  const Tensor diff = unsqueeze(x1, -2) - unsqueeze(x2, -3);
  if (!std::isinf(p)) return norm(diff, p, {-1});
  // The max norm with PyTorch's gradient: every entry tied for the largest gets the full sign(diff),
  // where amax would share it among the ties. Value amax, gradient through the tied entries only.
  const Tensor magnitude = abs(diff);
  const Tensor largest = amax(magnitude, {-1}, true);
  const Tensor tied = eq(magnitude, largest);
  const Tensor through_ties = sum(where(tied, magnitude - magnitude.detach(), Scalar(0)), {-1});
  return squeeze(largest.detach(), -1) + through_ties;
}

}  // namespace

Tensor cdist(const Tensor& x1_in, const Tensor& x2_in, double p, CdistMode mode) {
  const char* op = "cdist";
  const auto [x1, x2] = checked_pair(op, x1_in, x2_in);
  EMBER_CHECK(x1.dim() >= 2 && x2.dim() >= 2, op, "needs x1 and x2 of at least 2 dims [..., rows, M]; got x1 {} and x2 {}",
              shape_str(x1.shape()), shape_str(x2.shape()));
  EMBER_CHECK(x1.size(-1) == x2.size(-1), op, "x1 {} and x2 {} must have the same number of columns",
              shape_str(x1.shape()), shape_str(x2.shape()));
  EMBER_CHECK(x1.dtype() == x2.dtype(), op, "x1 ({}) and x2 ({}) must have the same dtype", x1.dtype(), x2.dtype());
  EMBER_CHECK(p >= 0, op, "p must be a non-negative number; got {} (x1 {}, x2 {})", p, shape_str(x1.shape()),
              shape_str(x2.shape()));
  const Shape x1_batch(x1.shape().begin(), x1.shape().end() - 2), x2_batch(x2.shape().begin(), x2.shape().end() - 2);
  const Shape batch = broadcast_shapes(op, x1_batch, x2_batch);
  Shape x1_shape = batch, x2_shape = batch;
  x1_shape.push_back(x1.size(-2));
  x1_shape.push_back(x1.size(-1));
  x2_shape.push_back(x2.size(-2));
  x2_shape.push_back(x2.size(-1));
  const Tensor a = expand(x1, x1_shape), b = expand(x2, x2_shape);
  // No columns: every distance is 0, for every p (the max norm has no identity, and the matrix
  // product's clamp would make it 1e-15); the 2-norm of nothing gives it, with a graph.
  if (x1.size(-1) == 0) return distance_of_differences(a, b, 2);
  // The matrix product inside stays in cdist's float32, where autocast would take matmul to 16 bits.
  const AutocastDisabled autocast_off;
  const bool use_matrix_product =
      p == 2 && (mode == CdistMode::MatrixProduct ||
                 (mode == CdistMode::Auto && (x1.size(-2) > 25 || x2.size(-2) > 25)));
  return use_matrix_product ? euclidean_by_matrix_product(a, b) : distance_of_differences(a, b, p);
}

}  // namespace ember
