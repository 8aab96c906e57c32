// GAN losses, the gradient penalty and weight clipping (nn/gan.h): values against hand-computed ones,
// and gradcheck/gradgradcheck of every op the critics use, of whole small critics, and of the
// penalty itself (whose gradient with respect to the critic's weights is a double backward).
#include <catch2/catch.hpp>

#include <cmath>

#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include "tests/nn_ops/helpers.h"

using namespace ember;
using namespace nn_test;
namespace F = ember::nn::functional;

namespace {

Tensor vec(const std::vector<double>& v, std::vector<int64_t> shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
  return from_vector(v, std::span<const int64_t>(shape), {.dtype = DType::Float64});
}

double softplus_ref(double x) { return std::log1p(std::exp(x)); }

// A module and its parameters in float64, for gradient checks.
template <class M>
std::shared_ptr<M> f64_module(std::shared_ptr<M> m) {
  m->to(DType::Float64);
  return m;
}

}  // namespace

TEST_CASE("GAN losses against hand-computed values", "[gan][loss]") {
  const std::vector<double> r = {1.5, -0.5, 0.25}, f = {-2.0, 0.75, 0.0};
  Tensor real = vec(r), fake = vec(f);
  double bce_d = 0, bce_g = 0, hinge_d = 0, w_d = 0;
  for (int i = 0; i < 3; ++i) {
    bce_d += softplus_ref(-r[i]) / 3 + softplus_ref(f[i]) / 3;  // -log s(r) - log(1 - s(f))
    bce_g += softplus_ref(-f[i]) / 3;                           // -log s(f)
    hinge_d += std::max(0.0, 1 - r[i]) / 3 + std::max(0.0, 1 + f[i]) / 3;
    w_d += f[i] / 3 - r[i] / 3;
  }
  CHECK(F::bce_discriminator_loss(real, fake).item_double() == Approx(bce_d).epsilon(1e-12));
  CHECK(F::bce_generator_loss(fake).item_double() == Approx(bce_g).epsilon(1e-12));
  CHECK(F::hinge_discriminator_loss(real, fake).item_double() == Approx(hinge_d).epsilon(1e-12));
  CHECK(F::hinge_generator_loss(fake).item_double() == Approx(-(f[0] + f[1] + f[2]) / 3).epsilon(1e-12));
  CHECK(F::wasserstein_critic_loss(real, fake).item_double() == Approx(w_d).epsilon(1e-12));
  CHECK(F::wasserstein_generator_loss(fake).item_double() == Approx(-(f[0] + f[1] + f[2]) / 3).epsilon(1e-12));
  // The BCE loss equals binary_cross_entropy_with_logits with targets 1 (real) and 0 (fake).
  CHECK(F::bce_discriminator_loss(real, fake).item_double() ==
        Approx(binary_cross_entropy_with_logits(real, ones_like(real)).item_double() +
               binary_cross_entropy_with_logits(fake, zeros_like(fake)).item_double())
            .epsilon(1e-12));
  // Confident logits stay finite (softplus, not log(sigmoid)).
  CHECK(std::isfinite(F::bce_discriminator_loss(vec({-200.0}), vec({200.0})).item_double()));
  CHECK(F::bce_discriminator_loss(vec({-200.0}), vec({200.0})).item_double() == Approx(400).epsilon(1e-12));
}

TEST_CASE("GAN losses: gradcheck and gradgradcheck", "[gan][loss][grad]") {
  Tensor real = rnd({5, 1}, 1, true), fake = rnd({5, 1}, 2, true);
  NN_GRADCHECKS([](const std::vector<Tensor>& in) { return F::bce_discriminator_loss(in[0], in[1]); }, (std::vector<Tensor>{real, fake}));
  NN_GRADCHECKS([](const std::vector<Tensor>& in) { return F::bce_generator_loss(in[0]); }, (std::vector<Tensor>{fake}));
  NN_GRADCHECKS([](const std::vector<Tensor>& in) { return F::hinge_discriminator_loss(in[0], in[1]); }, (std::vector<Tensor>{real, fake}));
  NN_GRADCHECKS([](const std::vector<Tensor>& in) { return F::wasserstein_critic_loss(in[0], in[1]); }, (std::vector<Tensor>{real, fake}));
}

TEST_CASE("GAN losses reject bad input with the op's name", "[gan][loss][errors]") {
  CHECK_THAT(error_of([] { F::bce_discriminator_loss(Tensor(), vec({1.0})); }), Catch::Contains("[bce_discriminator_loss]"));
  CHECK_THAT(error_of([] { F::wasserstein_critic_loss(vec({1.0}), arange(3)); }),
             Catch::Contains("[wasserstein_critic_loss] fake_scores must be floating point, got int64"));
  CHECK_THAT(error_of([] { F::hinge_generator_loss(zeros({0})); }), Catch::Contains("[hinge_generator_loss] fake_scores is empty"));
}

TEST_CASE("gradient penalty of a linear critic equals (||w|| - 1)^2", "[gan][gp]") {
  // f(x) = <w, x> + b: grad_x f = w at every point, whatever the interpolation weights are, so the
  // penalty is (||w|| - 1)^2 and its gradient with respect to w is 2 (||w|| - 1) w / ||w||.
  const std::vector<double> wv = {1.0, -2.0, 0.5, 2.0, 0.0, -1.0};  // ||w||^2 = 10.25
  Tensor w = vec(wv).requires_grad_();
  Tensor b = vec({0.3}).requires_grad_();
  auto critic = [&](const Tensor& x) { return matmul(x.flatten(1), w) + b; };  // x [N, 2, 3] -> [N]
  Tensor real = rnd({4, 2, 3}, 5), fake = rnd({4, 2, 3}, 6);
  Generator gen(9);
  Tensor gp = F::gradient_penalty(critic, real, fake, &gen);
  const double n = std::sqrt(10.25);
  CHECK(gp.item_double() == Approx((n - 1) * (n - 1)).epsilon(1e-12));
  REQUIRE(gp.requires_grad());
  std::vector<Tensor> g = grad({gp}, {w, b}, {}, {.allow_unused = true});
  std::vector<double> expected;
  for (double x : wv) expected.push_back(2 * (n - 1) * x / n);
  CHECK(compare(vals(g[0]), expected, 1e-12, 1e-12) == "");
  CHECK((!g[1].defined() || vals(g[1])[0] == 0));  // the bias does not move the gradient
}

TEST_CASE("gradient penalty of a quadratic critic at given interpolates", "[gan][gp]") {
  // f(x) = ||x||^2 / 2: grad_x f = x, so the penalty is mean_i (||x_hat_i|| - 1)^2 with
  // x_hat_i = eps_i real_i + (1 - eps_i) fake_i, which checks the interpolation itself.
  auto critic = [](const Tensor& x) { return (x * x).sum({1}) / 2; };
  Tensor real = vec({3.0, 4.0, 0.0, 1.0}, {2, 2}), fake = vec({0.0, 0.0, 2.0, 1.0}, {2, 2});
  Tensor eps = vec({0.5, 0.25});
  // x_hat_0 = (1.5, 2) with norm 2.5; x_hat_1 = 0.25 (0, 1) + 0.75 (2, 1) = (1.5, 1) with norm sqrt(3.25)
  const double n1 = std::sqrt(3.25);
  const double want = ((2.5 - 1) * (2.5 - 1) + (n1 - 1) * (n1 - 1)) / 2;
  CHECK(F::gradient_penalty_at(critic, real, fake, eps).item_double() == Approx(want).epsilon(1e-12));
}

TEST_CASE("gradient penalty rejects mismatched batches", "[gan][gp][errors]") {
  auto critic = [](const Tensor& x) { return x.sum({1}); };
  CHECK_THAT(error_of([&] { F::gradient_penalty(critic, zeros({2, 3}), zeros({2, 4})); }),
             Catch::Contains("[gradient_penalty] real and fake must have the same shape, got [2, 3] and [2, 4]"));
  CHECK_THAT(error_of([&] { F::gradient_penalty_at(critic, zeros({2, 3}), zeros({2, 3}), zeros({3})); }),
             Catch::Contains("[gradient_penalty] eps must have one weight per example"));
  CHECK_THAT(error_of([&] { F::gradient_penalty([](const Tensor& x) { return x.sum(); }, zeros({2, 3}), zeros({2, 3})); }),
             Catch::Contains("[gradient_penalty] the critic must return one score per example (2), got shape []"));
}

TEST_CASE("clip_weights_ clamps every parameter into [-c, c]", "[gan][clip]") {
  Tensor a = vec({-0.5, 0.005, 0.02}).requires_grad_(), b = vec({0.011, -0.011}).requires_grad_();
  F::clip_weights_({a, b}, 0.01);
  CHECK(vals(a) == std::vector<double>{-0.01, 0.005, 0.01});
  CHECK(vals(b) == std::vector<double>{0.01, -0.01});
  CHECK(a.requires_grad());
  CHECK_THAT(error_of([&] { F::clip_weights_({a}, 0); }), Catch::Contains("[clip_weights_] the clipping bound must be positive"));
}

// ---- every op the critics use, by itself, in float64 (the op table covers them too; these are the
// exact configurations of W4/W5's critic and the toy critic).
TEST_CASE("critic ops: gradcheck and gradgradcheck", "[gan][grad]") {
  SECTION("linear: x W^T + b") {
    NN_GRADCHECKS([](const std::vector<Tensor>& in) { return matmul(in[0], in[1].t()) + in[2]; },
                  (std::vector<Tensor>{rnd({3, 4}, 1, true), rnd({2, 4}, 2, true), rnd({2}, 3, true)}));
  }
  SECTION("leaky_relu(0.2) and relu") {
    NN_GRADCHECKS([](const std::vector<Tensor>& in) { return leaky_relu(in[0], 0.2); }, (std::vector<Tensor>{rnd({3, 5}, 4, true)}));
    NN_GRADCHECKS([](const std::vector<Tensor>& in) { return relu(in[0]) * in[0]; }, (std::vector<Tensor>{rnd({3, 5}, 5, true)}));
  }
  SECTION("conv2d k4 s2 p1 (the critic's downsampling) and flatten") {
    NN_GRADCHECKS([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], 2, 1).flatten(1); },
                  (std::vector<Tensor>{rnd({2, 2, 6, 6}, 6, true), rnd({3, 2, 4, 4}, 7, true), rnd({3}, 8, true)}));
  }
  SECTION("per-example gradient norm and the penalty's square") {
    NN_GRADCHECKS([](const std::vector<Tensor>& in) { Tensor e = norm(in[0].flatten(1), 2, {1}) - 1; return (e * e).mean(); },
                  (std::vector<Tensor>{rnd({3, 2, 2}, 9, true)}));
  }
  SECTION("batch_norm in training mode (the DCGAN discriminator)") {
    NN_GRADCHECKS([](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true); },
                  (std::vector<Tensor>{rnd({4, 2, 3, 3}, 10, true), rnd({2}, 11, true), rnd({2}, 12, true)}));
  }
}

TEST_CASE("whole critics: gradcheck and gradgradcheck with respect to inputs and weights", "[gan][grad]") {
  manual_seed(3);
  SECTION("the toy MLP critic") {
    auto d = f64_module(nn::Sequential({nn::Linear(2, 6), nn::ReLU(), nn::Linear(6, 6), nn::ReLU(), nn::Linear(6, 1)}));
    std::vector<Tensor> inputs = {rnd({3, 2}, 13, true)};
    for (const Tensor& p : d->parameters()) inputs.push_back(p);
    NN_GRADCHECKS([&](const std::vector<Tensor>& in) { return (*d)(in[0]); }, inputs);
  }
  SECTION("a small W5 critic: conv-leaky-conv-leaky-flatten-linear") {
    const nn::Conv2dOptions down{.stride = {2, 2}, .padding = {1, 1}};
    auto d = f64_module(nn::Sequential({nn::Conv2d(1, 2, 4, down), nn::LeakyReLU(0.2), nn::Conv2d(2, 3, 4, down),
                                        nn::LeakyReLU(0.2), nn::Flatten(), nn::Linear(12, 1)}));
    std::vector<Tensor> inputs = {rnd({2, 1, 8, 8}, 14, true)};
    for (const Tensor& p : d->parameters()) inputs.push_back(p);
    NN_GRADCHECKS([&](const std::vector<Tensor>& in) { return (*d)(in[0]); }, inputs);
  }
}

TEST_CASE("the gradient penalty's gradient with respect to the critic's weights (double backward)", "[gan][gp][grad]") {
  manual_seed(4);
  const nn::Conv2dOptions down{.stride = {2, 2}, .padding = {1, 1}};
  auto d = f64_module(nn::Sequential({nn::Conv2d(1, 2, 4, down), nn::LeakyReLU(0.2), nn::Flatten(), nn::Linear(8, 1)}));
  Tensor real = rnd({3, 1, 4, 4}, 15), fake = rnd({3, 1, 4, 4}, 16);
  Tensor eps = vec({0.2, 0.5, 0.9});
  auto critic = [&](const Tensor& x) { return (*d)(x); };
  std::vector<Tensor> params = d->parameters();
  // gp(weights): gradcheck compares its backward (which differentiates grad_x critic, i.e. runs the
  // backward of the critic's backward) with finite differences; gradgradcheck goes one order higher.
  NN_GRADCHECKS([&](const std::vector<Tensor>&) { return F::gradient_penalty_at(critic, real, fake, eps); }, params);
}
