// Gradients of gradients. Backward formulas are written with public ops, so running them with
// create_graph records a graph of their own that can be differentiated again.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "tests/autograd/helpers.h"

using namespace ember;
using ember::test::check_values;
using ember::test::leaf;

TEST_CASE("second derivative of tanh against its closed form") {
  const std::vector<double> xs = {-2.5, -1, -0.3, 0, 0.4, 1.2, 3};
  Tensor x = leaf(xs);
  Tensor y = tanh(x).sum();
  Tensor g1 = grad({y}, {x}, {}, {.create_graph = true})[0];
  Tensor g2 = grad({g1.sum()}, {x})[0];
  std::vector<double> d1, d2;
  for (double v : xs) {
    const double t = std::tanh(v);
    d1.push_back(1 - t * t);             // tanh' = 1 - tanh^2
    d2.push_back(-2 * t * (1 - t * t));  // tanh'' = -2 tanh (1 - tanh^2)
  }
  check_values(g1, d1);
  check_values(g2, d2);
}

TEST_CASE("third derivative of x^4 is 24x") {
  const std::vector<double> xs = {-1.5, -0.5, 0.25, 2};
  Tensor x = leaf(xs);
  Tensor y = pow(x, 4).sum();
  Tensor g1 = grad({y}, {x}, {}, {.create_graph = true})[0];
  Tensor g2 = grad({g1.sum()}, {x}, {}, {.create_graph = true})[0];
  Tensor g3 = grad({g2.sum()}, {x})[0];
  std::vector<double> d1, d2, d3;
  for (double v : xs) {
    d1.push_back(4 * v * v * v);
    d2.push_back(12 * v * v);
    d3.push_back(24 * v);
  }
  check_values(g1, d1, 1e-10);
  check_values(g2, d2, 1e-10);
  check_values(g3, d3, 1e-10);
}

namespace {

struct Mlp {
  Tensor w1, b1, w2, b2;
  std::vector<Tensor> params() const { return {w1, b1, w2, b2}; }
};

// Mean squared error of a 2-layer tanh MLP on fixed data.
Tensor mlp_loss(const Mlp& m, const Tensor& x, const Tensor& target) {
  Tensor h = tanh(matmul(x, m.w1) + m.b1);
  Tensor out = matmul(h, m.w2) + m.b2;
  Tensor d = out - target;
  return (d * d).mean();
}

void add_scaled(const std::vector<Tensor>& ps, const std::vector<Tensor>& vs, double scale) {
  NoGradGuard no_grad;
  for (size_t i = 0; i < ps.size(); ++i) {
    Tensor p = ps[i];  // a handle to the same tensor
    p.add_(vs[i] * scale);
  }
}

}  // namespace

TEST_CASE("Hessian-vector product of a small MLP against finite differences of the gradient") {
  Generator gen(7);
  const TensorOptions f64{.dtype = DType::Float64};
  Tensor x = randn({5, 3}, f64, &gen);
  Tensor target = randn({5, 2}, f64, &gen);
  Mlp m{randn({3, 4}, f64, &gen).requires_grad_(), randn({4}, f64, &gen).requires_grad_(),
        randn({4, 2}, f64, &gen).requires_grad_(), randn({2}, f64, &gen).requires_grad_()};
  const std::vector<Tensor> ps = m.params();
  std::vector<Tensor> vs;
  for (const Tensor& p : ps) vs.push_back(randn(p.shape(), f64, &gen));

  // H v = d/dw (dL/dw . v)
  Tensor loss = mlp_loss(m, x, target);
  std::vector<Tensor> g = grad({loss}, ps, {}, {.create_graph = true});
  Tensor gv = (g[0] * vs[0]).sum();
  for (size_t i = 1; i < ps.size(); ++i) gv = gv + (g[i] * vs[i]).sum();
  std::vector<Tensor> hv = grad({gv}, ps);

  // (grad L(w + eps v) - grad L(w - eps v)) / 2 eps
  const double eps = 1e-5;
  add_scaled(ps, vs, eps);
  std::vector<Tensor> g_plus = grad({mlp_loss(m, x, target)}, ps);
  add_scaled(ps, vs, -2 * eps);
  std::vector<Tensor> g_minus = grad({mlp_loss(m, x, target)}, ps);
  add_scaled(ps, vs, eps);

  for (size_t i = 0; i < ps.size(); ++i) {
    INFO("parameter " << i);
    const std::vector<double> a = hv[i].to_vector<double>();
    const std::vector<double> plus = g_plus[i].to_vector<double>(), minus = g_minus[i].to_vector<double>();
    REQUIRE(a.size() == plus.size());
    double max_abs = 0;
    for (size_t j = 0; j < a.size(); ++j) {
      const double numeric = (plus[j] - minus[j]) / (2 * eps);
      max_abs = std::max(max_abs, std::abs(numeric));
      INFO("element " << j);
      CHECK(a[j] == Approx(numeric).epsilon(1e-5).margin(1e-7));
    }
    CHECK(max_abs > 1e-3);  // the check is not vacuous: the curvature along v is not ~0
  }
}

TEST_CASE("gradient penalty through matmul and leaky_relu against finite differences") {
  Generator gen(11);
  const TensorOptions f64{.dtype = DType::Float64};
  Tensor x = randn({6, 3}, f64, &gen).requires_grad_();
  Tensor w1 = randn({3, 5}, f64, &gen).requires_grad_();
  Tensor b1 = randn({5}, f64, &gen).requires_grad_();
  Tensor w2 = randn({5, 1}, f64, &gen).requires_grad_();
  const std::vector<Tensor> ws = {w1, w2};

  // D(x) = leaky_relu(x W1 + b1) W2; gp = mean over the batch of (||dD/dx_i|| - 1)^2
  auto penalty = [&]() {
    Tensor d = matmul(leaky_relu(matmul(x, w1) + b1, 0.2), w2);
    Tensor g = grad({d.sum()}, {x}, {}, {.create_graph = true})[0];
    Tensor n = norm(g, 2, {1});
    Tensor e = n - 1;
    return (e * e).mean();
  };

  Tensor gp = penalty();
  REQUIRE(gp.requires_grad());
  gp.backward();
  for (const Tensor& w : ws) REQUIRE(w.grad().defined());

  const double eps = 1e-6;
  for (size_t k = 0; k < ws.size(); ++k) {
    const Tensor& w = ws[k];
    const std::vector<double> analytic = w.grad().to_vector<double>();
    double* data = w.data<double>();
    double max_abs = 0;
    for (int64_t j = 0; j < w.numel(); ++j) {
      const double orig = data[j];
      data[j] = orig + eps;
      const double plus = penalty().item_double();
      data[j] = orig - eps;
      const double minus = penalty().item_double();
      data[j] = orig;
      const double numeric = (plus - minus) / (2 * eps);
      max_abs = std::max(max_abs, std::abs(numeric));
      INFO("weight " << k << " element " << j << ": backward " << analytic[j] << ", finite differences " << numeric);
      CHECK(analytic[j] == Approx(numeric).epsilon(1e-5).margin(1e-7));
    }
    CHECK(max_abs > 1e-3);  // the check is not vacuous
  }
  // D is piecewise linear in x, so dD/dx does not depend on b1 (it only picks the leaky_relu slopes):
  // b1 gets no gradient, or a zero one.
  if (b1.grad().defined()) check_values(b1.grad(), std::vector<double>(5, 0.0));
}
