// softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m), with m = max(x) for stability.
//
// The composite is the definition: the shift m is detached (softmax does not depend on it), so its
// gradient is exact and twice differentiable without a hand-written rule. The Softmax primitive
// runs the same maths in one kernel each way, the backward y (g - sum(g y)) on the saved output;
// under create_graph that backward is written with public ops, so higher orders still come from
// autograd.
#include <ember/ops/softmax.h>

#include <ember/backends/backend.h>
#include <ember/core/autocast.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember {

namespace {
struct Softmax {
  static constexpr const char* name = "softmax";
  bool empty_rows_zero;
  Tensor forward(Ctx& ctx, const Tensor& x) {
    const Tensor rows = contiguous(x);
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    backend(x.device()).softmax_forward(kview(rows), kview(out), empty_rows_zero);
    ctx.save_output(out);
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    const Tensor y = ctx.saved(0);
    const Backend& kernels = backend(y.device());
    if (GradMode::is_enabled() || !kernels.softmax_backward || g.dtype() != y.dtype())
      return {y * (g - sum(g * y, {-1}, true))};
    const Tensor grad_out = contiguous(g);
    Tensor grad_in = Tensor::empty(y.shape(), y.dtype(), y.device());
    kernels.softmax_backward(kview(y), kview(grad_out), kview(grad_in));
    return {grad_in};
  }
};
}  // namespace

Tensor detail::softmax_composite(const Tensor& x, int64_t dim, bool empty_rows_zero) {
  const int64_t d = normalize_dim("softmax", dim, x.dim());
  if (x.dim() == 0) return exp(x - x.detach());
  if (x.numel() == 0) return clone(x);  // nothing to normalise (amax has no identity)
  Tensor m = amax(x, {d}, true).detach();
  m = where(isinf(m), zeros_like(m), m);
  Tensor e = exp(x - m);
  Tensor denominator = sum(e, {d}, true);
  // A row with nothing allowed has e = 0 everywhere: 0 / 1 keeps it 0 (and its gradient 0).
  if (empty_rows_zero) denominator = where(eq(denominator, 0), 1.0, denominator);
  return e / denominator;
}

Tensor detail::softmax_rows(const Tensor& x, int64_t dim, bool empty_rows_zero) {
  check_floating("softmax", x);
  const int64_t d = normalize_dim("softmax", dim, x.dim());
  const bool fusable = x.dim() > 0 && d == x.dim() - 1 && x.numel() > 0 &&
                       (x.dtype() == DType::Float32 || x.dtype() == DType::Float64) &&
                       backend(x.device()).softmax_forward && backend(x.device()).softmax_backward;
  if (!fusable) return softmax_composite(x, d, empty_rows_zero);
  return apply(Softmax{empty_rows_zero}, x);
}

Tensor softmax(const Tensor& x_in, int64_t dim) {
  const Tensor x = detail::autocast_operand("softmax", x_in);
  check_floating("softmax", x);
  return detail::softmax_rows(x, dim);
}

Tensor log_softmax(const Tensor& x_in, int64_t dim) {
  const Tensor x = detail::autocast_operand("log_softmax", x_in);
  check_floating("log_softmax", x);
  const int64_t d = normalize_dim("log_softmax", dim, x.dim());
  if (x.dim() == 0) return x - x;
  return x - logsumexp(x, {d}, true);
}

}  // namespace ember
