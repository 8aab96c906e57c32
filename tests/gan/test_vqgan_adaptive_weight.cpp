// VQGAN's adaptive weight (examples/vqgan/adaptive_weight.h) on a tiny linear "decoder" y = x W^T,
// whose last-layer gradients are computed by hand:
//   W = [0.5, -1], x = [[1, 2], [3, -1]]        -> y = [-1.5, 2.5]
//   L_rec = mean((y - t)^2), t = [0, 0.5]       -> dL_rec/dW = mean_n 2 (y_n - t_n) x_n
//                                                 = (-1.5 [1, 2] + 2 [3, -1]) = [4.5, -5]
//   L_GAN = -mean(y)                            -> dL_GAN/dW = -(x_1 + x_2) / 2 = [-2, -0.5]
//   lambda = 0.8 sqrt(45.25) / (sqrt(4.25) + 1e-4)
#include <catch2/catch.hpp>

#include <cmath>

#include "examples/vqgan/adaptive_weight.h"
#include <ember/ops/ops.h>

using namespace ember;
using ember::examples::vqgan::adaptive_gan_weight;

namespace {

Tensor f64(const std::vector<double>& v, std::vector<int64_t> shape) {
  return from_vector(v, std::span<const int64_t>(shape), {.dtype = DType::Float64});
}

struct TinyDecoder {
  Tensor weight = f64({0.5, -1.0}, {1, 2}).requires_grad_();
  Tensor x = f64({1, 2, 3, -1}, {2, 2});
  Tensor output() const { return matmul(x, weight.t()).reshape({-1}); }  // [2]
};

}  // namespace

TEST_CASE("adaptive weight: the ratio of the last layer's gradient norms", "[gan][vqgan]") {
  TinyDecoder d;
  const Tensor y = d.output();
  const Tensor rec = mse_loss(y, f64({0, 0.5}, {2}));
  const Tensor gan = -mean(y);
  const Tensor lambda = adaptive_gan_weight(rec, gan, d.weight, 0.8);
  const double expected = 0.8 * std::sqrt(45.25) / (std::sqrt(4.25) + 1e-4);
  CHECK(lambda.dim() == 0);
  CHECK(lambda.item_double() == Approx(expected).epsilon(1e-12));
  CHECK_FALSE(lambda.requires_grad());  // detached: the weight is a constant of the generator's loss
  // The graphs were kept: the combined loss still backpropagates, and W's gradient is
  // dL_rec/dW + lambda dL_GAN/dW (lambda contributes no gradient of its own).
  (rec + lambda * gan).backward();
  const std::vector<double> g = d.weight.grad().to_vector<double>();
  REQUIRE(g.size() == 2);
  CHECK(g[0] == Approx(4.5 + expected * -2.0).epsilon(1e-12));
  CHECK(g[1] == Approx(-5.0 + expected * -0.5).epsilon(1e-12));
}

TEST_CASE("adaptive weight: clamped to [0, 1e4] before the discriminator weight", "[gan][vqgan]") {
  TinyDecoder d;
  const Tensor y = d.output();
  const Tensor rec = mse_loss(y, f64({0, 0.5}, {2}));
  // An adversarial loss with a zero gradient at W: the ratio sqrt(45.25) / 1e-4 ~ 67,000 is clamped.
  CHECK(adaptive_gan_weight(rec, 0 * mean(y), d.weight, 1.0).item_double() == 1e4);
  CHECK(adaptive_gan_weight(rec, 0 * mean(y), d.weight, 0.5).item_double() == 5e3);
  // A reconstruction already perfect (zero gradient): the weight is 0, not negative or NaN.
  const Tensor perfect = mse_loss(y, y.detach());
  CHECK(adaptive_gan_weight(perfect, -mean(y), d.weight, 0.8).item_double() == 0.0);
}

TEST_CASE("adaptive weight under loss scaling: an overflowed gradient makes it NaN", "[gan][vqgan]") {
  TinyDecoder d;
  const Tensor y = d.output();
  const Tensor rec = mse_loss(y, f64({0, 0.5}, {2}));
  const Tensor gan = -mean(y);
  // A gradient function standing in for GradScaler::grad: finite, the weight is the plain one's.
  auto plain = [](const Tensor& loss, const Tensor& w) { return grad({loss}, {w}, {}, {.retain_graph = true})[0]; };
  CHECK(adaptive_gan_weight(rec, gan, d.weight, 0.8, plain).item_double() ==
        adaptive_gan_weight(rec, gan, d.weight, 0.8).item_double());
  // One gradient overflowed (inf in the adversarial one, then in the reconstruction one): NaN, so the
  // scaled step that multiplies it is skipped, instead of a weight of 0 (or of 1e4) taken silently.
  for (int which = 0; which < 2; ++which) {
    int call = 0;
    auto overflowing = [&](const Tensor& loss, const Tensor& w) {
      Tensor g = plain(loss, w);
      return call++ == 1 - which ? g * std::numeric_limits<double>::infinity() : g;
    };
    CHECK(std::isnan(adaptive_gan_weight(rec, gan, d.weight, 0.8, overflowing).item_double()));
  }
}
