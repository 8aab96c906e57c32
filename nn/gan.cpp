#include <ember/nn/gan.h>

#include <ember/core/autograd.h>
#include <ember/ops/ops.h>

namespace ember::nn::functional {
namespace {

void check_scores(const char* op, const Tensor& t, const char* which) {
  EMBER_CHECK(t.defined(), op, "{} is undefined", which);
  EMBER_CHECK(t.is_floating_point(), op, "{} must be floating point, got {}", which, t.dtype());
  EMBER_CHECK(t.numel() > 0, op, "{} is empty (shape {})", which, shape_str(t.shape()));
}

}  // namespace

Tensor bce_discriminator_loss(const Tensor& real_logits, const Tensor& fake_logits) {
  check_scores("bce_discriminator_loss", real_logits, "real_logits");
  check_scores("bce_discriminator_loss", fake_logits, "fake_logits");
  // -log s(r) = softplus(-r);  -log(1 - s(f)) = softplus(f). Written with softplus rather than
  // log(sigmoid) so that confident logits do not produce log(0).
  return softplus(neg(real_logits)).mean() + softplus(fake_logits).mean();
}

Tensor bce_generator_loss(const Tensor& fake_logits) {
  check_scores("bce_generator_loss", fake_logits, "fake_logits");
  return softplus(neg(fake_logits)).mean();  // -log s(f)
}

Tensor hinge_discriminator_loss(const Tensor& real_scores, const Tensor& fake_scores) {
  check_scores("hinge_discriminator_loss", real_scores, "real_scores");
  check_scores("hinge_discriminator_loss", fake_scores, "fake_scores");
  return relu(1 - real_scores).mean() + relu(1 + fake_scores).mean();
}

Tensor hinge_generator_loss(const Tensor& fake_scores) {
  check_scores("hinge_generator_loss", fake_scores, "fake_scores");
  return neg(fake_scores.mean());
}

Tensor wasserstein_critic_loss(const Tensor& real_scores, const Tensor& fake_scores) {
  check_scores("wasserstein_critic_loss", real_scores, "real_scores");
  check_scores("wasserstein_critic_loss", fake_scores, "fake_scores");
  return fake_scores.mean() - real_scores.mean();
}

Tensor wasserstein_generator_loss(const Tensor& fake_scores) {
  check_scores("wasserstein_generator_loss", fake_scores, "fake_scores");
  return neg(fake_scores.mean());
}

Tensor gradient_penalty_at(const std::function<Tensor(const Tensor&)>& critic, const Tensor& real, const Tensor& fake,
                           const Tensor& eps, const GradientFn& gradient) {
  const char* op = "gradient_penalty";
  EMBER_CHECK(real.defined() && fake.defined(), op, "real and fake must be defined");
  EMBER_CHECK(real.shape() == fake.shape(), op, "real and fake must have the same shape, got {} and {}",
              shape_str(real.shape()), shape_str(fake.shape()));
  EMBER_CHECK(real.dtype() == fake.dtype() && real.is_floating_point(), op,
              "real and fake must have the same floating dtype, got {} and {}", real.dtype(), fake.dtype());
  EMBER_CHECK(real.dim() >= 1 && real.size(0) > 0, op, "expected a non-empty batch [N, ...], got shape {}",
              shape_str(real.shape()));
  EMBER_CHECK(eps.dim() == 1 && eps.size(0) == real.size(0), op,
              "eps must have one weight per example, shape [{}], got {}", real.size(0), shape_str(eps.shape()));
  // eps as [N, 1, 1, ...] so it broadcasts over each example.
  std::vector<int64_t> eps_shape(static_cast<size_t>(real.dim()), 1);
  eps_shape[0] = real.size(0);
  Tensor e = eps.to(real.dtype()).reshape(eps_shape);
  // x_hat is a new leaf: only the critic's parameters, not the data, are trained by the penalty.
  Tensor x_hat;
  {
    NoGradGuard no_grad;
    x_hat = fake.detach() + e * (real.detach() - fake.detach());  // eps real + (1 - eps) fake
  }
  x_hat.requires_grad_();
  EnableGradGuard grad_mode;  // the penalty is only meaningful with a graph, even if called under no_grad
  Tensor scores = critic(x_hat);
  EMBER_CHECK(scores.defined() && scores.numel() == real.size(0), op,
              "the critic must return one score per example ({}), got shape {}", real.size(0),
              shape_str(scores.defined() ? scores.shape() : Shape{}));
  // d sum_i f(x_hat_i) / d x_hat: example i's gradient is row i, since examples do not interact
  // (true for critics without batch norm, which is why WGAN-GP's critic has none).
  const std::vector<Tensor> grads = gradient ? gradient({scores.sum()}, {x_hat})
                                             : grad({scores.sum()}, {x_hat}, {}, {.create_graph = true});
  EMBER_CHECK(grads.size() == 1 && grads[0].defined() && grads[0].shape() == x_hat.shape(), op,
              "the gradient function must return one gradient of shape {}", shape_str(x_hat.shape()));
  Tensor g = grads[0];
  Tensor norms = norm(g.flatten(1), 2, {1});  // ||grad_i||_2, [N]
  Tensor gap = norms - 1;
  return (gap * gap).mean();
}

Tensor gradient_penalty(const std::function<Tensor(const Tensor&)>& critic, const Tensor& real, const Tensor& fake,
                        Generator* generator) {
  EMBER_CHECK(real.defined() && real.dim() >= 1, "gradient_penalty", "expected a batch [N, ...], got shape {}",
              real.defined() ? shape_str(real.shape()) : std::string("undefined"));
  Tensor eps = rand({real.size(0)}, {.dtype = real.dtype(), .device = real.device()}, generator);
  return gradient_penalty_at(critic, real, fake, eps);
}

void clip_weights_(const std::vector<Tensor>& parameters, double c) {
  EMBER_CHECK(c > 0, "clip_weights_", "the clipping bound must be positive, got {}", c);
  NoGradGuard no_grad;  // an optimizer-like in-place update of leaves
  for (Tensor p : parameters) {
    EMBER_CHECK(p.defined() && p.is_floating_point(), "clip_weights_", "parameters must be floating point tensors");
    p.clamp_(-c, c);
  }
}

}  // namespace ember::nn::functional
