#pragma once
// GAN objectives and the tools that keep a Wasserstein critic 1-Lipschitz (docs/gan.md).
// Each loss takes the raw critic/discriminator outputs ("logits" for the BCE loss, scores for the
// others) and returns a 0-dim mean over the batch, so that they compose: d_loss + 10 * gp.
#include <functional>
#include <vector>

#include <ember/core/generator.h>
#include <ember/core/tensor.h>

namespace ember::nn::functional {

// Non-saturating GAN (Goodfellow et al. 2014), in logits:
//   D: -log s(D(x)) - log(1 - s(D(G(z)))) = softplus(-real) + softplus(fake)
//   G: -log s(D(G(z)))                    = softplus(-fake)   (not log(1 - s), which saturates)
Tensor bce_discriminator_loss(const Tensor& real_logits, const Tensor& fake_logits);
Tensor bce_generator_loss(const Tensor& fake_logits);

// Hinge loss (Lim & Ye 2017; SN-GAN, BigGAN): D: relu(1 - real) + relu(1 + fake); G: -fake.
Tensor hinge_discriminator_loss(const Tensor& real_scores, const Tensor& fake_scores);
Tensor hinge_generator_loss(const Tensor& fake_scores);

// Wasserstein critic (Arjovsky et al. 2017): the critic maximises mean f(real) - mean f(fake), so it
// minimises mean f(fake) - mean f(real); the generator minimises -mean f(fake).
Tensor wasserstein_critic_loss(const Tensor& real_scores, const Tensor& fake_scores);
Tensor wasserstein_generator_loss(const Tensor& fake_scores);

// WGAN-GP's penalty (Gulrajani et al. 2017): mean over the batch of (||grad_x critic(x_hat)||_2 - 1)^2
// at x_hat = eps real + (1 - eps) fake, eps ~ U(0, 1) per example (drawn from `generator`, or the
// default generator). The gradient is taken with create_graph, so the penalty is differentiable with
// respect to the critic's parameters (that is the double backward). real and fake: same shape
// [N, ...]; fake is detached (the penalty trains the critic only).
Tensor gradient_penalty(const std::function<Tensor(const Tensor&)>& critic, const Tensor& real, const Tensor& fake,
                        Generator* generator = nullptr);
// The same penalty at given interpolation weights eps [N] (what gradient_penalty draws). `gradient`,
// if given, takes d(outputs)/d(inputs) with create_graph in place of ember::grad: under float16 loss
// scaling it is the scaler's grad(), whose unscaled gradients do not underflow
// (`[&](auto& o, auto& i) { return scaler.grad(o, i, {.create_graph = true}); }`).
using GradientFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs)>;
Tensor gradient_penalty_at(const std::function<Tensor(const Tensor&)>& critic, const Tensor& real, const Tensor& fake,
                           const Tensor& eps, const GradientFn& gradient = {});

// The original WGAN's Lipschitz constraint: clamps every parameter into [-c, c] in place, without
// recording a graph. Call after each critic step.
void clip_weights_(const std::vector<Tensor>& parameters, double c);

}  // namespace ember::nn::functional
