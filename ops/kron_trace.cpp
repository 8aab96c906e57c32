// trace and kron as composites of differentiable ops (diagonal and sum; reshape and a broadcast
// multiply), so that their gradients of every order come from those ops. PyTorch 1.13's semantics,
// checked against it by tests/ops/test_tensor_ops.cpp.
#include <ember/ops/linalg.h>

#include <algorithm>

#include <ember/ops/ops.h>

namespace ember {

Tensor trace(const Tensor& x) {
  const char* op = "trace";
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  EMBER_CHECK(x.dim() == 2, op, "expects a matrix (2-D), got shape {}", shape_str(x.shape()));
  // PyTorch has no bool trace; its integer ones sum into int64, as sum() does here.
  EMBER_CHECK(x.dtype() != DType::Bool, op, "expects numbers, got a bool matrix of shape {}", shape_str(x.shape()));
  // The main diagonal of a non-square matrix is min(rows, cols) long; an empty one sums to 0.
  return sum(diagonal(x));
}

Tensor kron(const Tensor& a, const Tensor& b) {
  const char* op = "kron";
  EMBER_CHECK(a.defined() && b.defined(), op, "got an undefined tensor as its {} operand",
              a.defined() ? "second" : "first");
  check_same_device(op, a, b);
  // The operand with fewer dims gets leading 1s; then [a0, a1] and [b0, b1] become [a0, 1, a1, 1] and
  // [1, b0, 1, b1], whose broadcast product [a0, b0, a1, b1] merges pairwise into [a0 b0, a1 b1].
  // Both are reshaped before the multiply, as in PyTorch, so that a 0-d operand promotes as a
  // dimensioned one (float32 [2] with a float64 0-d gives float64).
  const int64_t n = std::max(a.dim(), b.dim());
  Shape a_view, b_view, pairs;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t sa = i < n - a.dim() ? 1 : a.size(i - (n - a.dim()));
    const int64_t sb = i < n - b.dim() ? 1 : b.size(i - (n - b.dim()));
    a_view.push_back(sa);
    a_view.push_back(1);
    b_view.push_back(1);
    b_view.push_back(sb);
    pairs.push_back(sa);
    pairs.push_back(sb);
  }
  checked_numel(op, "the result", pairs);  // before the products below: each one then fits
  Shape out_shape;
  for (int64_t i = 0; i < n; ++i) out_shape.push_back(pairs[2 * i] * pairs[2 * i + 1]);
  return reshape(reshape(a, a_view) * reshape(b, b_view), out_shape);
}

}  // namespace ember
