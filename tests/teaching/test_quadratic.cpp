// examples/quadratic: the problem is the quadratic it claims to be, conjugate gradients through hvp
// solves an n-dimensional SPD system in at most n steps, and each method meets its textbook rate.
#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <ember/core/functional.h>
#include <ember/core/generator.h>
#include "examples/quadratic/figures.h"
#include "examples/quadratic/quadratic.h"
#include <ember/ops/ops.h>

using namespace ember;
namespace q = ember::examples::quadratic;
namespace fn = ember::autograd::functional;
using Catch::Matchers::Contains;

namespace {

const TensorOptions f64{.dtype = DType::Float64};

double max_abs(const Tensor& t) { return max(t.abs()).item<double>(); }

}  // namespace

TEST_CASE("quadratic: the problem's A is SPD with the chosen spectrum and x* solves Ax = b") {
  const q::Problem p = q::make_problem(20, 50, 3);
  REQUIRE(p.a.shape() == Shape{20, 20});
  CHECK(max_abs(p.a - p.a.t()) == 0);
  CHECK(max_abs(matmul(p.a, p.x_star) - p.b) < 1e-12 * 50 * max_abs(p.x_star));
  CHECK(p.mu == 1);
  CHECK(p.l == 50);
  // The extreme eigenvectors: A q = lambda q for lambda = 1 and 50.
  for (auto [index, lambda] : {std::pair{0, 1.0}, std::pair{19, 50.0}}) {
    Tensor e = zeros({20}, f64);
    e.narrow(0, index, 1).fill_(1);
    Tensor v = q::from_eigenbasis(p, e);
    CHECK(norm(v).item<double>() == Approx(1).epsilon(1e-14));
    CHECK(max_abs(matmul(p.a, v) - lambda * v) < 1e-12);
  }
  // The objective, evaluated through the reflections, has A as its Hessian and Ax - b as gradient.
  const q::Objective f = q::objective_fn(p);
  Generator gen(5);
  Tensor x = randn({20}, f64, &gen), v = randn({20}, f64, &gen);
  CHECK(max_abs(fn::hvp(f, x, v).hvp - matmul(p.a, v)) < 1e-12);
  CHECK(max_abs(fn::vjp(f, x, Tensor()).vjp - (matmul(p.a, x) - p.b)) < 1e-12);
  CHECK(max_abs(fn::hessian(f, x) - p.a) < 1e-12);
  CHECK(q::a_norm_error(p, p.x_star) == 0);
}

TEST_CASE("quadratic: CG through hvp solves an n-dimensional SPD system in at most n steps") {
  // A dense SPD matrix with condition number 1000, which CG never sees: only f, a function of x.
  // Its rate bound 2((sqrt k - 1)/(sqrt k + 1))^n is 0.3 at n = 30: only termination explains an
  // exact answer.
  const int64_t n = 30;
  Generator gen(9);
  const Tensor m = q::make_problem(n, 1000, 9).a;
  Tensor c = randn({n}, f64, &gen);
  int64_t calls = 0;
  q::Objective f = [&](const Tensor& x) {
    ++calls;
    return 0.5 * dot(x, matmul(m, x)) - dot(c, x);
  };
  std::vector<Tensor> iterates = q::conjugate_gradient_steps(f, zeros({n}, f64), n, 0.0);
  REQUIRE(static_cast<int64_t>(iterates.size()) <= n + 1);
  Tensor residual = matmul(m, iterates.back()) - c;
  INFO("residual " << max_abs(residual) << " after " << iterates.size() - 1 << " steps");
  CHECK(max_abs(residual) < 1e-8 * max_abs(c));
  // One gradient and one hvp (each a call of f) per step: f is the only way in.
  CHECK(calls == static_cast<int64_t>(iterates.size()));
  // Halfway, the same method is far from the answer: it is termination, not a fast rate.
  std::vector<Tensor> half = q::conjugate_gradient_steps(f, zeros({n}, f64), n / 2, 0.0);
  CHECK(max_abs(matmul(m, half.back()) - c) > 1e-4 * max_abs(c));
}

TEST_CASE("quadratic: CG ends in as many steps as A has distinct eigenvalues") {
  q::Problem p = q::make_problem(40, 100, 4);
  std::vector<double> lambda(40);
  for (size_t i = 0; i < 40; ++i) lambda[i] = i < 10 ? 1.0 : i < 30 ? 7.0 : 100.0;
  p.eigenvalues = from_vector(lambda);
  p.x_star = q::from_eigenbasis(p, q::to_eigenbasis(p, p.b) / p.eigenvalues);
  const q::Trajectory t = q::conjugate_gradient(p, zeros({40}, f64), {.tolerance = 1e-10});
  CHECK(t.iterations == 3);
  CHECK(t.errors[2] > 1e-3);
}

TEST_CASE(
    "quadratic: gradient descent contracts by (k-1)/(k+1) per step, the Kantorovich worst case") {
  const q::Problem p = q::make_problem(10, 20, 1);
  const double rate = 19.0 / 21.0;
  const Tensor start = q::zigzag_start(p, 1.0);
  const q::RunOptions o{.tolerance = 1e-8, .max_iterations = 400};
  const q::Trajectory fixed = q::gradient_descent(p, start, o);
  const q::Trajectory exact = q::gradient_descent_line_search(p, start, o);
  // From this start both steps are 2/(L + mu) and every step contracts by exactly the rate.
  for (int k : {1, 10, 50}) {
    CHECK(fixed.errors[k] == Approx(std::pow(rate, k)).epsilon(1e-8));
    CHECK(exact.errors[k] == Approx(std::pow(rate, k)).epsilon(1e-8));
  }
  CHECK(fixed.iterations == q::predict_gradient_descent(20, 1e-8).iterations);
  CHECK(exact.iterations == q::predict_line_search(20, 1e-8).iterations);
}

TEST_CASE("quadratic: the predicted iteration counts") {
  CHECK(q::predict_gradient_descent(100, 1e-8).iterations == 922);         // ln 1e-8 / ln(99/101)
  CHECK(q::predict_heavy_ball(100, 1e-8).iterations == 92);                // ln 1e-8 / ln(9/11)
  CHECK(q::predict_conjugate_gradient(100, 1000, 1e-8).iterations == 96);  // ln 5e-9 / ln(9/11)
  CHECK(q::predict_conjugate_gradient(100, 50, 1e-8).iterations == 50);
  CHECK(q::predict_sgd(100, 1e-8).iterations == 1833);  // ln 1e-8 / ln 0.99
  // Found by a red-team review: at condition 1e16 (k-1)/(k+1) rounds to 1 and 0 iterations were
  // predicted. ln 1e-8 / ln(1 - 2/(k+1)) is 18.42 (k+1)/2 = 9.21e16; CG needs at most n.
  CHECK(q::predict_gradient_descent(1e16, 1e-8).iterations == Approx(9.2103e16).epsilon(1e-4));
  CHECK(q::predict_heavy_ball(1e16, 1e-8).iterations == Approx(9.2103e8).epsilon(1e-4));
  CHECK(q::predict_conjugate_gradient(1e300, 10, 1e-8).iterations == 10);
  CHECK(q::predict_sgd(1e300, 1e-8).iterations == std::numeric_limits<int64_t>::max());  // beyond int64
}

TEST_CASE("quadratic: on n = 1000, each method against its bound") {
  const q::Problem p = q::make_problem(1000, 100, 0);
  const Tensor x0 = zeros({1000}, f64);
  const q::RunOptions o{.tolerance = 1e-8, .max_iterations = 2000};
  const q::Trajectory gd = q::gradient_descent(p, x0, o);
  const q::Trajectory cg = q::conjugate_gradient(p, x0, o);
  const q::Trajectory hb = q::heavy_ball(p, x0, o);
  const q::Trajectory nt = q::newton(p, x0, o);
  REQUIRE(gd.iterations > 0);
  CHECK(gd.iterations <= 922);
  CHECK(gd.iterations > 500);  // the bound is nearly attained, not loose by orders of magnitude
  REQUIRE(cg.iterations > 0);
  CHECK(cg.iterations <= 96);
  CHECK(std::abs(hb.iterations - 92) <= 10);
  CHECK(nt.iterations == 1);
  CHECK(nt.errors[1] < 1e-12);
  // ember's SGD with momentum is Polyak's heavy ball with lr = alpha and momentum = beta.
  const double alpha = 4 / std::pow(1 + 10, 2), beta = std::pow(9.0 / 11.0, 2);
  const q::Trajectory sgd = q::ember_sgd(p, x0, o, alpha, beta);
  REQUIRE(sgd.iterations == hb.iterations);
  for (size_t k = 0; k < hb.errors.size(); ++k)
    CHECK(sgd.errors[k] == Approx(hb.errors[k]).epsilon(1e-6));
}

TEST_CASE("quadratic: bad problems and the figures") {
  CHECK_THROWS_WITH(q::make_problem(0, 10, 0), Contains("[quadratic]") && Contains("dimension"));
  CHECK_THROWS_WITH(q::make_problem(5, 0.5, 0), Contains("[quadratic]") && Contains("0.5"));
  const q::Problem p3 = q::make_problem(3, 4, 0);
  CHECK_THROWS_WITH(q::draw_contours(p3, {}, "unused.svg"),
                    Contains("[quadratic]") && Contains("n = 3"));

  const q::Problem p = q::make_problem(2, 5, 0);
  const q::Trajectory cg =
      q::conjugate_gradient(p, q::zigzag_start(p, 1.0), {.tolerance = 1e-6, .record_points = true});
  REQUIRE(cg.points.size() == 3);  // two steps in two dimensions
  const std::string file =
      (std::filesystem::temp_directory_path() / ("ember_quadratic_contours_" + std::to_string(::getpid()) + ".svg")).string();
  q::draw_contours(p, {cg}, file);
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  CHECK_THAT(text.str(),
             Contains("<svg") && Contains("conjugate gradients") && Contains("minimum"));
  std::filesystem::remove(file);

  // A run that ends exactly at the minimum (condition number 1) and a rate of 0 still plot on a
  // log axis.
  q::Trajectory exact;
  exact.method = "one step";
  exact.errors = {1.0, 0.0};
  exact.iterations = 1;
  const std::string convergence =
      (std::filesystem::temp_directory_path() / ("ember_quadratic_rates_" + std::to_string(::getpid()) + ".svg")).string();
  CHECK_NOTHROW(q::draw_convergence({exact}, {{"rate 0", 0.0, 1}}, "kappa = 1", convergence));
  CHECK(std::filesystem::exists(convergence));
  std::filesystem::remove(convergence);
}
