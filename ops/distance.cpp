// Distances and similarities as composites of differentiable ops, PyTorch 1.13's formulas (checked
// against it by tests/ops/test_more_losses.cpp).
#include <ember/ops/distance.h>
#include <ember/core/autocast.h>

#include <algorithm>
#include <cmath>

#include <ember/ops/ops.h>

namespace ember {
namespace {

void check_pair(const char* op, const Tensor& x1, const Tensor& x2) {
  EMBER_CHECK(x1.defined() && x2.defined(), op, "x{} is an undefined tensor", x1.defined() ? 2 : 1);
  check_same_device(op, x1, x2);
  EMBER_CHECK(x1.is_floating_point() && x2.is_floating_point(), op,
              "x1 ({} {}) and x2 ({} {}) must be floating point", x1.dtype(), shape_str(x1.shape()), x2.dtype(),
              shape_str(x2.shape()));
}

}  // namespace

Tensor cosine_similarity(const Tensor& x1_in, const Tensor& x2_in, int64_t dim, double eps) {
  const char* op = "cosine_similarity";
  const Tensor x1 = detail::autocast_operand(op, x1_in);
  const Tensor x2 = detail::autocast_operand(op, x2_in);
  check_pair(op, x1, x2);
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
  const Tensor x1 = detail::autocast_operand(op, x1_in);
  const Tensor x2 = detail::autocast_operand(op, x2_in);
  check_pair(op, x1, x2);
  EMBER_CHECK(!std::isnan(p) && !std::isnan(eps), op, "p ({}) and eps ({}) must be numbers (x1 {}, x2 {})", p, eps,
              shape_str(x1.shape()), shape_str(x2.shape()));
  broadcast_shapes(op, x1.shape(), x2.shape());
  // The norm over the last dim of the broadcast difference (its only dim for a 0-dim pair); every p
  // norm() takes: 0 counts non-zero entries, negative p and -inf as PyTorch's.
  return norm(x1 - x2 + eps, p, {-1}, keepdim);
}

}  // namespace ember
