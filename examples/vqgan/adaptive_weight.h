#pragma once
// VQGAN's adaptive weight of the adversarial term (Esser et al. 2021, eq. 7):
//   lambda = ||grad_{G_L} L_rec|| / (||grad_{G_L} L_GAN|| + delta),   delta = 1e-4,
// with G_L the decoder's last layer weight, clamped to [0, 1e4] and detached, then times the
// discriminator weight (taming-transformers' disc_weight, 0.8 by default). The ratio scales the
// adversarial gradient to the size of the reconstruction gradient at the layer where both enter the
// decoder, so neither drowns the other whatever their raw magnitudes.
// Header-only so that tests/gan can check it against a hand computation (test_gan links ember only).
#include <cmath>
#include <functional>
#include <limits>

#include <ember/core/autograd.h>
#include <ember/ops/ops.h>

namespace ember::examples::vqgan {

inline constexpr double kAdaptiveWeightDelta = 1e-4;
inline constexpr double kAdaptiveWeightMax = 1e4;

// reconstruction_loss and gan_loss: 0-dim losses whose graphs both reach last_layer_weight. Their
// graphs are kept (retain_graph): the caller backpropagates the combined loss afterwards. Returns a
// 0-dim tensor without a graph: disc_weight * clamp(ratio, 0, 1e4). `gradient(loss, weight)`, if
// given, takes d loss / d weight (keeping the graph) in place of ember::grad: under float16 loss
// scaling, the scaler's unscaled grad(), so that neither gradient underflows. Then a non-finite
// gradient means the scaled backward overflowed, and the weight is NaN: the loss it multiplies turns
// NaN, so the scaler skips the step and backs off, instead of a silently zeroed (or maximal) weight.
using LossGradient = std::function<Tensor(const Tensor& loss, const Tensor& weight)>;
inline Tensor adaptive_gan_weight(const Tensor& reconstruction_loss, const Tensor& gan_loss,
                                  const Tensor& last_layer_weight, double disc_weight,
                                  const LossGradient& gradient = {}) {
  auto d_dweight = [&](const Tensor& loss) {
    return gradient ? gradient(loss, last_layer_weight)
                    : grad({loss}, {last_layer_weight}, {}, GradOptions{.retain_graph = true})[0];
  };
  const Tensor rec_grad = d_dweight(reconstruction_loss);
  const Tensor gan_grad = d_dweight(gan_loss);
  NoGradGuard no_grad;
  if (gradient && !(std::isfinite(norm(rec_grad).item_double()) && std::isfinite(norm(gan_grad).item_double())))
    return scalar_tensor(std::numeric_limits<double>::quiet_NaN(), {.dtype = rec_grad.dtype(), .device = rec_grad.device()});
  const Tensor ratio = norm(rec_grad) / (norm(gan_grad) + kAdaptiveWeightDelta);
  return clamp(ratio, 0.0, kAdaptiveWeightMax).detach() * disc_weight;
}

}  // namespace ember::examples::vqgan
