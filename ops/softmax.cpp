// softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m), with m = max(x) for stability.
//
// The composite is the definition: the shift m is detached (softmax does not depend on it), so its
// gradient is exact and twice differentiable without a hand-written rule. The Softmax primitive
// runs the same maths in one kernel each way, the backward y (g - sum(g y)) on the saved output;
// under create_graph that backward is written with public ops, so higher orders still come from
// autograd.
#include <ember/ops/softmax.h>

#include <algorithm>
#include <limits>

#include <ember/backends/backend.h>
#include <ember/core/autocast.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember {

namespace {
// softmax(scale x) over the band of keys spec allows, written in out_dtype (x's, or float32 for a
// 16-bit x under autocast). Its gradient comes back in x's dtype.
struct Softmax {
  static constexpr const char* name = "softmax";
  SoftmaxSpec spec;
  DType in_dtype, out_dtype;
  Tensor forward(Ctx& ctx, const Tensor& x) {
    const Tensor rows = contiguous(x);
    Tensor out = Tensor::empty(x.shape(), out_dtype, x.device());
    backend(x.device()).softmax_forward(kview(rows), kview(out), spec);
    ctx.save_output(out);
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    const Tensor y = ctx.saved(0);
    const Backend& kernels = backend(y.device());
    if (GradMode::is_enabled() || !kernels.softmax_backward || g.dtype() != y.dtype()) {
      Tensor grad = y * (g - sum(g * y, {-1}, true));  // zero outside the band, where y is
      if (spec.scale != 1.0) grad = grad * spec.scale;
      return {cast(grad, in_dtype)};
    }
    const Tensor grad_out = contiguous(g);
    Tensor grad_in = Tensor::empty(y.shape(), in_dtype, y.device());
    kernels.softmax_backward(kview(y), kview(grad_out), kview(grad_in), spec.scale);
    return {grad_in};
  }
};
}  // namespace

Tensor detail::softmax_composite(const Tensor& x, int64_t dim, bool empty_rows_zero) {
  const int64_t d = normalize_dim("softmax", dim, x.dim());
  // A 0-d tensor is a row of one: 1 with gradient 0 where x is finite, NaN (and a NaN gradient)
  // where it is not, as in PyTorch.
  if (x.dim() == 0) return squeeze(softmax_composite(unsqueeze(x, 0), 0, empty_rows_zero), 0);
  if (x.numel() == 0) return clone(x);  // nothing to normalise (amax has no identity)
  Tensor m = amax(x, {d}, true).detach();
  m = where(isinf(m), zeros_like(m), m);
  Tensor e = exp(x - m);
  Tensor denominator = sum(e, {d}, true);
  // A row with nothing allowed has e = 0 everywhere: 0 / 1 keeps it 0 (and its gradient 0).
  if (empty_rows_zero) denominator = where(eq(denominator, 0), 1.0, denominator);
  return e / denominator;
}

Tensor detail::banded_softmax(const Tensor& x, const SoftmaxSpec& spec_in, DType out_dtype) {
  check_floating("softmax", x);
  const bool sixteen_bit = is_16bit_float(x.dtype());
  EMBER_CHECK(out_dtype == x.dtype() || (sixteen_bit && out_dtype == DType::Float32), "softmax",
              "writes its input's dtype (or float32 for 16-bit input), asked for {} from {}", out_dtype, x.dtype());
  const bool banded = spec_in.left >= 0 || spec_in.right >= 0;
  EMBER_CHECK(x.dim() >= (banded ? 2 : 1), "softmax", "a band of keys needs [.., n_q, n_k] scores, got {}",
              shape_str(x.shape()));
  // A bound past every key is no tighter than n_q + n_k; clamped, i +- bound cannot overflow.
  SoftmaxSpec spec = spec_in;
  if (banded) {
    const int64_t reach = x.size(-2) + x.size(-1);
    spec.left = std::min(spec.left, reach);
    spec.right = std::min(spec.right, reach);
  }
  if (x.numel() > 0 && backend(x.device()).softmax_forward && backend(x.device()).softmax_backward)
    return apply(Softmax{spec, x.dtype(), out_dtype}, x);
  // The reference: the same maths as separate ops, in float32 (float64 for float64) as the kernels.
  const Tensor wide = sixteen_bit ? cast(x, DType::Float32) : x;
  Tensor s = spec.scale != 1.0 ? wide * spec.scale : wide;
  if (banded) {
    const Device device = x.device();
    const Tensor i = unsqueeze(arange(0, static_cast<double>(x.size(-2)), 1, {.dtype = DType::Int64, .device = device}), 1);
    const Tensor j = unsqueeze(arange(0, static_cast<double>(x.size(-1)), 1, {.dtype = DType::Int64, .device = device}), 0);
    Tensor allowed;
    if (spec.right >= 0) allowed = le(j, i + spec.right);
    if (spec.left >= 0) allowed = allowed.defined() ? logical_and(allowed, ge(j, i - spec.left)) : ge(j, i - spec.left);
    s = where(allowed, s, -std::numeric_limits<double>::infinity());
  }
  return cast(softmax_composite(s, -1, spec.empty_rows_zero), out_dtype);
}

Tensor softmax(const Tensor& x, int64_t dim) {
  check_floating("softmax", x);
  const int64_t d = normalize_dim("softmax", dim, x.dim());
  // Under autocast a 16-bit x gives float32 (the policy), read by the kernel without a cast.
  const DType out_dtype = detail::autocast_dtype("softmax", x);
  if (x.dim() == 0 || d != x.dim() - 1) return detail::softmax_composite(cast(x, out_dtype), d);
  return detail::banded_softmax(x, {}, out_dtype);
}

Tensor log_softmax(const Tensor& x_in, int64_t dim) {
  const Tensor x = detail::autocast_operand("log_softmax", x_in);
  check_floating("log_softmax", x);
  const int64_t d = normalize_dim("log_softmax", dim, x.dim());
  if (x.dim() == 0) return squeeze(log_softmax(unsqueeze(x, 0), 0), 0);  // a row of one, as softmax
  return x - logsumexp(x, {d}, true);
}

}  // namespace ember
