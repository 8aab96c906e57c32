#include <ember/ops/activation.h>

#include <cmath>
#include <cstring>
#include <numbers>

#include <ember/core/autocast.h>
#include <ember/core/error_context.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember {
Tensor relu(const Tensor& x) {
  EMBER_CHECK(x.defined(), "relu", "got an undefined tensor");
  EMBER_CHECK(x.dtype() != DType::Bool, "relu", "not defined for bool tensors");
  return detail::relu_primitive(x);
}

Tensor sigmoid(const Tensor& x) {
  return detail::sigmoid_primitive(x.is_floating_point() ? x : cast(x, DType::Float32));
}

namespace {
// leaky_relu(x) = x * scale, scale = 1 where x > 0 and negative_slope elsewhere. The scale is a
// constant of the op (leaky_relu'' = 0 almost everywhere), so backward is one multiplication, itself
// differentiable in the incoming gradient: WGAN-GP's double backward through a critic costs one more
// multiplication per activation instead of the zeros/where/where/mul/add that the composite
// where(x > 0, x, slope x) records. The values are bit-identical to the composite's (x * 1 = x).
struct LeakyRelu {
  static constexpr const char* name = "leaky_relu";
  double negative_slope;
  Tensor forward(Ctx& ctx, const Tensor& x) {
    Tensor scale = where(gt(x, Scalar(0)), Scalar(1.0), full_like(x, negative_slope));
    ctx.save(scale);
    return x * scale;
  }
  Grads backward(Ctx& ctx, const Tensor& g) { return {g * ctx.saved(0)}; }  // d leaky_relu = scale
};
}  // namespace

// x for x > 0, slope * x otherwise
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  check_floating("leaky_relu", x);
  return apply(LeakyRelu{negative_slope}, x);
}

Tensor gelu(const Tensor& x, const char* approximate) {
  check_floating("gelu", x);
  if (std::strcmp(approximate, "tanh") == 0) {
    // x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const double k = std::sqrt(2.0 / std::numbers::pi);
    return 0.5 * x * (1 + tanh(k * (x + 0.044715 * x * x * x)));
  }
  EMBER_CHECK(std::strcmp(approximate, "none") == 0, "gelu", "approximate must be \"none\" or \"tanh\", got \"{}\"",
              approximate);
  return detail::gelu_primitive(x);  // x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
}

Tensor silu(const Tensor& x) { return x * sigmoid(x); }

Tensor softplus(const Tensor& x, double beta, double threshold) {
  check_floating("softplus", x);
  Tensor bx = x * beta;
  // log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large z. Both kinks are written with
  // one mask (z >= 0 picks z and -z) so that at z = 0 the gradient is 1 - 1/2 = sigmoid(0); relu
  // and abs would each give 0 there.
  Tensor pos = ge(bx, Scalar(0));
  Tensor soft = (where(pos, bx, Scalar(0)) + log1p(exp(where(pos, neg(bx), bx)))) / beta;
  return where(gt(bx, Scalar(threshold)), x, soft);
}

Tensor log_sigmoid(const Tensor& x) {
  return detail::reported_as("log_sigmoid", [&] { return neg(softplus(neg(x))); });
}

// ---------------------------------------------------------------- the rest of PyTorch's activations
// Each is a composite of differentiable ops (double backward needs no extra code), written so that
// its value, and its gradient at every kink and at NaN, are PyTorch 1.13's (tests/ops/
// test_more_activations.cpp checks them against make_activation_reference.py's output). A branch
// that where() does not select still receives a zero gradient, and 0 * inf is NaN: where a branch's
// derivative can be infinite for the other branch's inputs, it is computed on an input masked to 0 there.
namespace {
// hardtanh and relu6, named `op` in errors. PyTorch's hardtanh_backward passes the gradient only
// strictly inside (min_val, max_val): 0 at both bounds, and 1 at NaN (no comparison with NaN holds),
// whose value stays NaN. (That is its scalar and CUDA kernels'; its vectorized CPU path gives 0 at NaN,
// see tests/ops/make_activation_reference.py.) Integer tensors are clamped as PyTorch clamps them: by the bounds converted
// to the dtype (truncated), so hardtanh(int [-3, 0, 3], -1.5, 1.5) is int [-1, 0, 1].
Tensor hardtanh_like(const char* op, const Tensor& x, double min_val, double max_val) {
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  EMBER_CHECK(x.dtype() != DType::Bool, op, "not defined for bool tensors (shape {})", shape_str(x.shape()));
  EMBER_CHECK(!std::isnan(min_val) && !std::isnan(max_val), op, "min_val and max_val must not be NaN, got {} and {}",
              min_val, max_val);
  // (PyTorch's functional hardtanh gives max_val everywhere then, and its nn.Hardtanh refuses it)
  EMBER_CHECK(min_val <= max_val, op, "min_val ({}) must not be greater than max_val ({}) (input {} {})", min_val,
              max_val, x.dtype(), shape_str(x.shape()));
  if (!x.is_floating_point()) {
    EMBER_CHECK(x.dtype() != DType::UInt8 || min_val >= 0, op,
                "cannot clamp an unsigned tensor ({} {}) to a negative min_val ({})", x.dtype(), shape_str(x.shape()),
                min_val);
    return clamp(x, std::trunc(min_val), std::trunc(max_val));
  }
  return where(le(x, Scalar(min_val)), Scalar(min_val), where(ge(x, Scalar(max_val)), Scalar(max_val), x));
}

// e^z - 1, accurate in value and in gradient. expm1's own backward, (e^z - 1) + 1, cancels for
// z << 0 (at z = -30 it is 1.7e-4 off e^z, and 0 at z = -60); below z = -1 this is e^z - 1 instead,
// whose value has no cancellation there (e^z - 1 < -0.63) and whose gradient is e^z itself.
Tensor expm1_exact_grad(const Tensor& z) {
  const Tensor near_zero = gt(z, Scalar(-1));
  return where(near_zero, expm1(where(near_zero, z, Scalar(0))), exp(where(near_zero, Scalar(-1), z)) - 1);
}

// PyTorch's elu kernel with its scale and input scale: scale x where x > 0, alpha scale
// (e^(input_scale x) - 1) elsewhere. The gradient at 0 is the negative side's (alpha scale
// input_scale), and at NaN the positive side's (scale), as in PyTorch's elu_backward (x <= 0 picks
// the negative side; that is its scalar and CUDA kernels', its vectorized CPU path gives NaN at NaN:
// tests/ops/make_activation_reference.py). (PyTorch computes exp(z) - 1, which loses digits for z
// near 0; this is expm1 there.)
Tensor scaled_elu(const Tensor& x, double alpha, double scale, double input_scale) {
  const Tensor negative = le(x, Scalar(0));
  const Tensor z = where(negative, x, Scalar(0));  // finite for large x: no 0 * inf in the gradient
  return where(negative, expm1_exact_grad(input_scale == 1 ? z : z * input_scale) * (alpha * scale),
               scale == 1 ? x : x * scale);
}
}  // namespace

// elu'(0) = alpha and elu'(NaN) = 1, as PyTorch's scalar kernel; the gradient e^x stays exact below
// x = -20, where expm1's backward would give (e^x - 1) + 1 = 0 or a few ulps of 1.
Tensor elu(const Tensor& x, double alpha) {
  check_floating("elu", x);
  return scaled_elu(x, alpha, 1, 1);
}

Tensor relu6(const Tensor& x) { return hardtanh_like("relu6", x, 0, 6); }

Tensor hardtanh(const Tensor& x, double min_val, double max_val) {
  return hardtanh_like("hardtanh", x, min_val, max_val);
}

Tensor hardsigmoid(const Tensor& x) {
  check_floating("hardsigmoid", x);
  // (x + 3) / 6 strictly inside (-3, 3), where the gradient is 1/6; 0 below and 1 above, with gradient
  // 0 there, at +-3 and at NaN (PyTorch's hardsigmoid_backward), whose value stays NaN. (PyTorch's
  // backward multiplies by 1/6 rounded to float32 even in float64: 0.16666667163; this is 1/6.)
  const Tensor inside = logical_and(gt(x, Scalar(-3)), lt(x, Scalar(3)));
  const Tensor flat = clamp(x.detach() + 3, 0.0, 6.0) / 6;  // a constant: 0, 1 or NaN where it is used
  return where(inside, (x + 3) / 6, flat);
}

Tensor hardswish(const Tensor& x) {
  check_floating("hardswish", x);
  // PyTorch (its scalar and CUDA kernels; its vectorized CPU path gives 1 at 3 and NaN at NaN):
  // x (x + 3) / 6 on the closed [-3, 3] (gradient x/3 + 1/2: -1/2 at -3, 3/2 at 3); x * 0
  // below -3 (gradient 0; the value is -0, and NaN at -inf, as PyTorch's x * relu6(x + 3) / 6 gives);
  // x above 3 and at NaN (gradient 1). The middle branch sees x masked to 0 outside it, so that an
  // infinite x does not send 0 * inf into the gradient.
  const Tensor below = lt(x, Scalar(-3)), middle = logical_and(logical_not(below), le(x, Scalar(3)));
  const Tensor m = where(middle, x, Scalar(0));
  return where(below, x * 0.0, where(middle, m * (m + 3) / 6, x));
}

Tensor mish(const Tensor& x) {
  check_floating("mish", x);
  return x * tanh(softplus(x));
}

Tensor selu(const Tensor& x) {
  check_floating("selu", x);
  // PyTorch's constants (torch/csrc/api: SELU_ALPHA, SELU_SCALE)
  constexpr double alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946;
  return scaled_elu(x, alpha, scale, 1);
}

Tensor celu(const Tensor& x, double alpha) {
  check_floating("celu", x);
  // PyTorch refuses 0 (a division by zero); a NaN or infinite alpha gives NaN for every x <= 0 there,
  // so it is refused here too.
  EMBER_CHECK(alpha != 0 && std::isfinite(alpha), "celu", "alpha must be finite and nonzero, got {} (input {} {})",
              alpha, x.dtype(), shape_str(x.shape()));
  return scaled_elu(x, alpha, 1, 1 / alpha);  // as PyTorch: elu with input_scale 1 / alpha
}

Tensor softsign(const Tensor& x) {
  EMBER_CHECK(x.defined(), "softsign", "got an undefined tensor");
  // PyTorch's own composite, x / (|x| + 1): an integer x gives float32 (true division), a bool one is
  // refused (abs is not defined for bool).
  EMBER_CHECK(x.dtype() != DType::Bool, "softsign", "not defined for bool tensors (shape {})", shape_str(x.shape()));
  return x / (abs(x) + 1);
}

Tensor glu(const Tensor& x, int64_t dim) {
  const char* op = "glu";
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  check_floating(op, x);
  EMBER_CHECK(x.dim() > 0, op, "a 0-d input has no dim to halve");
  EMBER_CHECK(dim >= -x.dim() && dim < x.dim(), op, "dim {} is out of range for the {}-d input {}", dim, x.dim(),
              shape_str(x.shape()));
  const int64_t d = dim < 0 ? dim + x.dim() : dim;
  const int64_t n = x.shape()[d];
  EMBER_CHECK(n % 2 == 0, op, "dim {} must have an even size to be halved, got {} (input {})", dim, n,
              shape_str(x.shape()));
  return narrow(x, d, 0, n / 2) * sigmoid(narrow(x, d, n / 2, n / 2));
}

Tensor prelu(const Tensor& x_in, const Tensor& weight_in) {
  const char* op = "prelu";
  EMBER_CHECK(x_in.defined() && weight_in.defined(), op, "got an undefined tensor");
  // Under autocast both go to the 16-bit dtype, as in PyTorch's CPU and CUDA lists: a PReLU after a
  // 16-bit convolution then takes its float32 weight.
  const Tensor x = detail::autocast_operand(op, x_in), weight = detail::autocast_operand(op, weight_in);
  check_floating(op, x);
  EMBER_CHECK(weight.dtype() == x.dtype(), op, "weight's dtype {} differs from the input's {} (input {}, weight {})",
              weight.dtype(), x.dtype(), shape_str(x.shape()), shape_str(weight.shape()));
  check_same_device(op, x, weight);
  EMBER_CHECK(weight.dim() <= 1, op, "weight must be 0-d or 1-d, got shape {}", shape_str(weight.shape()));
  // PyTorch 1.13: the channels are dim 1; an input of fewer than 2 dims has one channel.
  const int64_t channels = x.dim() >= 2 ? x.shape()[1] : 1;
  EMBER_CHECK(weight.numel() == 1 || weight.numel() == channels, op,
              "weight has {} elements, neither 1 nor the input's {} channels (input {}, weight {})", weight.numel(),
              channels, shape_str(x.shape()), shape_str(weight.shape()));
  Tensor w;
  if (weight.numel() == 1) {
    w = reshape(weight, Shape{});
  } else {
    Shape s(x.dim(), 1);
    s[1] = channels;
    w = reshape(weight, s);
  }
  // x where x > 0; weight x elsewhere, NaN included (gradient weight there, as PyTorch's). weight
  // multiplies x masked to 0 where x > 0, so x = inf gives weight a zero gradient, not 0 * inf.
  const Tensor positive = gt(x, Scalar(0));
  return where(positive, x, w * where(positive, Scalar(0), x));
}

}  // namespace ember
