#include <ember/ops/activation.h>

#include <cmath>
#include <cstring>
#include <numbers>

#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember {
Tensor relu(const Tensor& x) {
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

Tensor elu(const Tensor& x, double alpha) {
  check_floating("elu", x);
  // expm1 of min(x, 0) keeps the unused branch finite for large x (no inf * 0 in the gradient);
  // written with the same mask (not minimum, which splits a tie) so that elu'(0) = alpha as in PyTorch.
  Tensor pos = gt(x, Scalar(0));
  return where(pos, x, alpha * expm1(where(pos, Scalar(0), x)));
}

Tensor log_sigmoid(const Tensor& x) { return neg(softplus(neg(x))); }


}  // namespace ember
