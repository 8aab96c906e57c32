// ember::autograd::functional against closed forms (quadratics, polynomials, softmax cross-entropy)
// and central finite differences, all in float64.
#include <catch2/catch.hpp>
#include <cmath>

#include <ember/core/functional.h>
#include "tests/autograd/helpers.h"

using namespace ember;
namespace fn = ember::autograd::functional;
using Catch::Matchers::Contains;
using ember::test::check_values;

namespace {

const TensorOptions f64{.dtype = DType::Float64};

Tensor tensor(const std::vector<double>& values, std::vector<int64_t> shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  return from_vector(values, std::span<const int64_t>(shape), f64);
}

// A symmetric 3x3 matrix and vectors for the quadratic f(x) = 1/2 x^T A x - b^T x.
const std::vector<double> kA = {4, 1, -2, 1, 3, 0.5, -2, 0.5, 5};
const std::vector<double> kB = {1, -2, 0.5};
const std::vector<double> kX = {0.3, -1.2, 2.0};
const std::vector<double> kV = {1.5, 0.25, -0.75};

std::vector<double> mat_vec(const std::vector<double>& a, const std::vector<double>& x) {
  const size_t n = x.size();
  std::vector<double> y(n, 0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) y[i] += a[i * n + j] * x[j];
  return y;
}

Tensor quadratic(const Tensor& x) {
  Tensor a = tensor(kA, {3, 3});
  return 0.5 * dot(x, matmul(a, x)) - dot(tensor(kB), x);
}

// Central differences of f along v, element by element of the output.
std::vector<double> central_difference(const fn::Fn& f, const std::vector<Tensor>& xs,
                                       const std::vector<Tensor>& v, double h = 1e-6) {
  std::vector<Tensor> plus, minus;
  for (size_t i = 0; i < xs.size(); ++i) {
    plus.push_back(xs[i] + h * v[i]);
    minus.push_back(xs[i] - h * v[i]);
  }
  const std::vector<double> fp = f(plus).to_vector<double>(), fm = f(minus).to_vector<double>();
  std::vector<double> d(fp.size());
  for (size_t k = 0; k < fp.size(); ++k) d[k] = (fp[k] - fm[k]) / (2 * h);
  return d;
}

}  // namespace

TEST_CASE(
    "functional: a quadratic's gradient, Hessian-vector product and Hessian are Ax - b and A") {
  Tensor x = tensor(kX), v = tensor(kV);
  std::vector<double> grad_expected = mat_vec(kA, kX);
  for (size_t i = 0; i < 3; ++i) grad_expected[i] -= kB[i];
  double f_expected = 0;
  for (size_t i = 0; i < 3; ++i) f_expected += 0.5 * kX[i] * mat_vec(kA, kX)[i] - kB[i] * kX[i];

  fn::VjpResult1 g = fn::vjp(quadratic, x, scalar_tensor(1.0, f64));
  check_values(g.output, {f_expected});
  check_values(g.vjp, grad_expected);

  fn::HvpResult1 h = fn::hvp(quadratic, x, v);
  check_values(h.hvp, mat_vec(kA, kV));
  check_values(fn::hessian(quadratic, x), kA);

  // The gradient map x -> Ax - b is linear: its Jacobian is A and its jvp is Av, at any point.
  auto gradient_map = [](const Tensor& x) { return matmul(tensor(kA, {3, 3}), x) - tensor(kB); };
  check_values(fn::jacobian(gradient_map, x), kA);
  check_values(fn::jvp(gradient_map, x, v).jvp, mat_vec(kA, kV));
  // jvp of the scalar quadratic is the directional derivative (Ax - b) . v.
  double directional = 0;
  for (size_t i = 0; i < 3; ++i) directional += grad_expected[i] * kV[i];
  check_values(fn::jvp(quadratic, x, v).jvp, {directional});
  CHECK(fn::jvp(quadratic, x, v).jvp.dim() == 0);
}

TEST_CASE("functional: a polynomial of two inputs, every derivative in closed form") {
  const std::vector<double> xv = {0.5, -1.5, 2.0}, yv = {1.25, 0.75, -0.5};
  const std::vector<double> dxv = {0.3, -0.2, 1.0}, dyv = {-1.0, 0.4, 0.6};
  Tensor x = tensor(xv), y = tensor(yv), dx = tensor(dxv), dy = tensor(dyv);
  // f(x, y) = sum(x^2 y + y^3)
  fn::Fn f = [](const std::vector<Tensor>& in) {
    return (in[0] * in[0] * in[1] + pow(in[1], 3)).sum();
  };
  // F(x, y) = x^2 y, elementwise
  fn::Fn F = [](const std::vector<Tensor>& in) { return in[0] * in[0] * in[1]; };

  std::vector<double> fx, fy, hv_x, hv_y, jv;
  std::vector<double> hxx(9, 0), hxy(9, 0), hyy(9, 0), jx(9, 0), jy(9, 0);
  for (size_t i = 0; i < 3; ++i) {
    const double a = xv[i], b = yv[i];
    fx.push_back(2 * a * b);                            // df/dx = 2xy
    fy.push_back(a * a + 3 * b * b);                    // df/dy = x^2 + 3y^2
    hv_x.push_back(2 * b * dxv[i] + 2 * a * dyv[i]);    // H_xx = 2y, H_xy = 2x
    hv_y.push_back(2 * a * dxv[i] + 6 * b * dyv[i]);    // H_yx = 2x, H_yy = 6y
    jv.push_back(2 * a * b * dxv[i] + a * a * dyv[i]);  // dF = 2xy dx + x^2 dy
    hxx[i * 4] = 2 * b;
    hxy[i * 4] = 2 * a;
    hyy[i * 4] = 6 * b;
    jx[i * 4] = 2 * a * b;
    jy[i * 4] = a * a;
  }
  fn::VjpResult g = fn::vjp(f, {x, y}, Tensor());
  check_values(g.vjp[0], fx);
  check_values(g.vjp[1], fy);
  fn::HvpResult h = fn::hvp(f, {x, y}, {dx, dy});
  check_values(h.hvp[0], hv_x);
  check_values(h.hvp[1], hv_y);
  std::vector<std::vector<Tensor>> hess = fn::hessian(f, {x, y});
  check_values(hess[0][0], hxx);
  check_values(hess[0][1], hxy);
  check_values(hess[1][0], hxy);
  check_values(hess[1][1], hyy);
  CHECK(hess[0][1].shape() == Shape{3, 3});
  fn::JvpResult j = fn::jvp(F, {x, y}, {dx, dy});
  check_values(j.jvp, jv);
  std::vector<Tensor> jac = fn::jacobian(F, {x, y});
  check_values(jac[0], jx);
  check_values(jac[1], jy);
  // vjp of F with weights w is w * 2xy and w * x^2.
  Tensor w = tensor({1, -2, 3});
  fn::VjpResult gv = fn::vjp(F, {x, y}, w);
  check_values(gv.vjp[0], {1 * 2 * xv[0] * yv[0], -2 * 2 * xv[1] * yv[1], 3 * 2 * xv[2] * yv[2]});
  check_values(gv.vjp[1], {1 * xv[0] * xv[0], -2 * xv[1] * xv[1], 3 * xv[2] * xv[2]});
}

TEST_CASE("functional: softmax cross-entropy has gradient p - onehot and Hessian diag(p) - p p^T") {
  const std::vector<double> zv = {0.2, -1.0, 1.5, 0.3};
  const int64_t target = 2;
  auto loss = [target](const Tensor& z) {
    return cross_entropy(z.reshape({1, 4}), from_vector<int64_t>({target}, {1}));
  };
  double norm = 0;
  for (double z : zv) norm += std::exp(z);
  std::vector<double> p, g, h(16);
  for (double z : zv) p.push_back(std::exp(z) / norm);
  for (int64_t i = 0; i < 4; ++i) g.push_back(p[i] - (i == target ? 1.0 : 0.0));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j) h[i * 4 + j] = (i == j ? p[i] : 0.0) - p[i] * p[j];
  Tensor z = tensor(zv);
  fn::VjpResult1 r = fn::vjp(loss, z, Tensor());
  check_values(r.output, {std::log(norm) - zv[target]});
  check_values(r.vjp, g);
  check_values(fn::hessian(loss, z), h);
  const std::vector<double> vv = {1, 2, -1, 0.5};
  fn::HvpResult1 hv = fn::hvp(loss, z, tensor(vv));
  check_values(hv.hvp, mat_vec(h, vv));
  // The Hessian annihilates the all-ones direction (softmax is shift-invariant).
  check_values(fn::hvp(loss, z, tensor({1, 1, 1, 1})).hvp, {0, 0, 0, 0});
}

TEST_CASE(
    "functional: jvp, vjp, hvp and jacobian of a nonlinear map agree with finite differences") {
  Generator gen(11);
  Tensor w = randn({4, 3}, f64, &gen);
  Tensor x = randn({3}, f64, &gen), c = randn({2, 2}, f64, &gen);
  Tensor vx = randn({3}, f64, &gen), vc = randn({2, 2}, f64, &gen);
  // F(x, c) = tanh(W x) * exp(c).flatten(): [4]
  fn::Fn F = [w](const std::vector<Tensor>& in) {
    return tanh(matmul(w, in[0])) * exp(in[1]).flatten();
  };
  check_values(fn::jvp(F, {x, c}, {vx, vc}).jvp, central_difference(F, {x, c}, {vx, vc}), 1e-8);

  // Each column of the Jacobian is a finite difference along a basis vector.
  std::vector<Tensor> jac = fn::jacobian(F, {x, c});
  REQUIRE(jac[0].shape() == Shape{4, 3});
  REQUIRE(jac[1].shape() == Shape{4, 2, 2});
  for (int64_t k = 0; k < 3; ++k) {
    Tensor e = zeros({3}, f64);
    e.narrow(0, k, 1).fill_(1);
    check_values(jac[0].select(1, k).contiguous(),
                 central_difference(F, {x, c}, {e, zeros({2, 2}, f64)}), 1e-8);
  }
  // vjp is the transpose: u . (J v) == (J^T u) . v for any u, v.
  Tensor u = randn({4}, f64, &gen);
  fn::VjpResult r = fn::vjp(F, {x, c}, u);
  const double lhs = dot(u, fn::jvp(F, {x, c}, {vx, vc}).jvp).item<double>();
  const double rhs = (dot(r.vjp[0], vx) + (r.vjp[1] * vc).sum()).item<double>();
  CHECK(lhs == Approx(rhs).epsilon(1e-12));

  // hvp is the finite difference of the gradient.
  fn::Fn s = [F](const std::vector<Tensor>& in) { return (F(in) * F(in)).sum(); };
  fn::Fn grad_x = [s](const std::vector<Tensor>& in) { return fn::vjp(s, in, Tensor()).vjp[0]; };
  check_values(fn::hvp(s, {x, c}, {vx, vc}).hvp[0], central_difference(grad_x, {x, c}, {vx, vc}),
               1e-7);
}

TEST_CASE("functional: inputs f does not use get zero derivatives, constant outputs too") {
  Tensor x = tensor({1, 2}), y = tensor({3, 4, 5});
  fn::Fn uses_x = [](const std::vector<Tensor>& in) { return (in[0] * in[0]).sum(); };
  fn::VjpResult g = fn::vjp(uses_x, {x, y}, Tensor());
  check_values(g.vjp[0], {2, 4});
  check_values(g.vjp[1], {0, 0, 0});
  check_values(fn::hvp(uses_x, {x, y}, {tensor({1, 1}), tensor({1, 1, 1})}).hvp[1], {0, 0, 0});
  check_values(fn::jvp(uses_x, {x, y}, {tensor({0, 0}), tensor({1, 1, 1})}).jvp, {0});
  check_values(fn::hessian(uses_x, {x, y})[1][0], std::vector<double>(6, 0));
  fn::Fn constant = [](const std::vector<Tensor>&) { return ones({2}, f64); };
  check_values(fn::jacobian(constant, {x})[0], {0, 0, 0, 0});
  check_values(fn::jvp(constant, {x}, {tensor({1, 1})}).jvp, {0, 0});
  // A linear map: jvp through the double-backward trick is exact, with no second-order term.
  Tensor m = tensor({1, 2, 3, 4, 5, 6}, {3, 2});
  check_values(fn::jvp([m](const Tensor& x) { return matmul(m, x); }, x, tensor({1, -1})).jvp,
               {-1, -1, -1});
  check_values(fn::jvp([](const Tensor& x) { return x; }, x, tensor({7, 8})).jvp, {7, 8});
  // A linear scalar has a zero Hessian: its constant gradient stays in the graph, so hvp is zeros
  // rather than an error.
  check_values(fn::hvp([](const Tensor& x) { return 3 * x.sum(); }, x, tensor({1, 2})).hvp, {0, 0});
  check_values(fn::hessian([](const Tensor& x) { return 3 * x.sum(); }, x), {0, 0, 0, 0});
}

TEST_CASE(
    "functional: the caller's tensors are left alone, and create_graph results differentiate") {
  Tensor x = tensor({0.5, -1.0, 2.0});
  auto cube = [](const Tensor& t) { return pow(t, 3).sum(); };
  fn::VjpResult1 r = fn::vjp(cube, x, Tensor());
  CHECK_FALSE(x.requires_grad());
  CHECK_FALSE(r.vjp.requires_grad());
  CHECK_FALSE(r.output.requires_grad());

  Tensor leaf = tensor({0.5, -1.0, 2.0}).requires_grad_();
  fn::HvpResult1 h = fn::hvp(cube, leaf, tensor({1, 1, 1}));
  CHECK_FALSE(leaf.grad().defined());
  CHECK_FALSE(h.hvp.requires_grad());
  // With create_graph the gradient 3x^2 stays a function of the caller's leaf: its derivative is
  // 6x.
  fn::VjpResult1 g = fn::vjp(cube, leaf, Tensor(), /*create_graph=*/true);
  REQUIRE(g.vjp.requires_grad());
  check_values(grad({g.vjp.sum()}, {leaf})[0], {3, -6, 12});
  // and the jvp 3x^2 . v of a cube too: d/dx = 6x v.
  fn::JvpResult j = fn::jvp(cube, leaf, tensor({1, 2, 3}), /*create_graph=*/true);
  check_values(grad({j.jvp}, {leaf})[0], {3, -12, 36});
  CHECK_FALSE(leaf.grad().defined());
  // A non-contiguous input that requires grad (a transposed view) works the same way.
  Tensor m = tensor({1, 2, 3, 4}, {2, 2}).requires_grad_();
  fn::VjpResult1 gm = fn::vjp(cube, m.t(), Tensor(), /*create_graph=*/true);
  check_values(gm.vjp, {3, 27, 12, 48});  // 3 m^T squared
  check_values(grad({gm.vjp.sum()}, {m})[0], {6, 12, 18, 24});
}

TEST_CASE("functional: bad input is an ember::Error naming the function and the shapes") {
  Tensor x = tensor({1, 2, 3});
  auto sq = [](const Tensor& t) { return t * t; };
  auto total = [](const Tensor& t) { return (t * t).sum(); };
  CHECK_THROWS_WITH(fn::vjp(sq, x, tensor({1, 2})),
                    Contains("[vjp]") && Contains("[2]") && Contains("[3]"));
  CHECK_THROWS_WITH(fn::vjp(sq, x, Tensor()),
                    Contains("[vjp]") && Contains("one element") && Contains("[3]"));
  CHECK_THROWS_WITH(fn::jvp(sq, x, tensor({1, 2, 3, 4})),
                    Contains("[jvp]") && Contains("[4]") && Contains("[3]"));
  CHECK_THROWS_WITH(fn::hvp(sq, x, tensor({1, 2, 3})),
                    Contains("[hvp]") && Contains("one element") && Contains("[3]"));
  CHECK_THROWS_WITH(fn::hessian(sq, x), Contains("[hessian]") && Contains("[3]"));
  CHECK_THROWS_WITH(fn::hvp(total, x, Tensor()), Contains("[hvp]") && Contains("undefined"));
  CHECK_THROWS_WITH(fn::jacobian(sq, Tensor()), Contains("[jacobian]") && Contains("undefined"));
  CHECK_THROWS_WITH(fn::jacobian(sq, from_vector<int64_t>({1, 2})),
                    Contains("[jacobian]") && Contains("int64"));
  CHECK_THROWS_WITH(fn::hvp(total, x, ones({3})),
                    Contains("[hvp]") && Contains("float32") && Contains("float64"));
  fn::Fn two = [](const std::vector<Tensor>& in) { return (in[0] * in[1]).sum(); };
  CHECK_THROWS_WITH(fn::jvp(two, {x, x}, {x}),
                    Contains("[jvp]") && Contains("2 inputs") && Contains("1 vectors"));
  CHECK_THROWS_WITH(fn::vjp([](const Tensor&) { return Tensor(); }, x, Tensor()),
                    Contains("[vjp]") && Contains("undefined"));
}
