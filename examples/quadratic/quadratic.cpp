#include "examples/quadratic/quadratic.h"

#include <cmath>
#include <limits>

#include <ember/core/autograd.h>
#include <ember/core/error.h>
#include <ember/core/functional.h>
#include <ember/core/generator.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

namespace ember::examples::quadratic {
namespace fn = ember::autograd::functional;

namespace {

const TensorOptions kF64{.dtype = DType::Float64};

// H x = x - 2 u (u^T x) / (u^T u): the reflection through the hyperplane orthogonal to u, applied
// to a vector or to every column of a matrix.
Tensor reflect(const Tensor& x, const Tensor& u) {
  const double scale = 2.0 / dot(u, u).item<double>();
  return x.dim() == 1 ? x - u * (dot(u, x) * scale) : x - outer(u, matmul(u, x)) * scale;
}

double dot_value(const Tensor& a, const Tensor& b) { return dot(a, b).item<double>(); }

Tensor gradient(const Objective& f, const Tensor& x) { return fn::vjp(f, x, Tensor()).vjp; }

// Records the relative error of each iterate and decides when a method stops.
class Tracker {
 public:
  Tracker(const Problem& p, const Tensor& x0, const RunOptions& o, std::string method)
      : p_(p), o_(o), e0_(a_norm_error(p, x0)) {
    t_.method = std::move(method);
    push(x0);
  }
  // Adds x_k; true when the method should stop (tolerance reached or out of iterations).
  bool push(const Tensor& x) {
    NoGradGuard no_grad;
    const double e = e0_ > 0 ? a_norm_error(p_, x) / e0_ : 0.0;
    const int64_t k = static_cast<int64_t>(t_.errors.size());
    t_.errors.push_back(e);
    if (o_.record_points) t_.points.push_back(x.detach().clone());
    t_.x = x.detach();
    if (e <= o_.tolerance && t_.iterations < 0) t_.iterations = k;
    return done();
  }
  bool done() const {
    return t_.iterations >= 0 || static_cast<int64_t>(t_.errors.size()) > o_.max_iterations;
  }
  Trajectory take() { return std::move(t_); }

 private:
  const Problem& p_;
  const RunOptions& o_;
  double e0_;
  Trajectory t_;
};

// Solves H d = g for a symmetric positive definite H (row-major n x n) by Cholesky, H = L L^T.
std::vector<double> cholesky_solve(std::vector<double> h, std::vector<double> g, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = h[j * n + j];
    for (int64_t k = 0; k < j; ++k) d -= h[j * n + k] * h[j * n + k];
    EMBER_CHECK(d > 0, "newton", "the Hessian is not positive definite (pivot {} is {})", j, d);
    const double ljj = std::sqrt(d);
    h[j * n + j] = ljj;
    for (int64_t i = j + 1; i < n; ++i) {
      double s = h[i * n + j];
      for (int64_t k = 0; k < j; ++k) s -= h[i * n + k] * h[j * n + k];
      h[i * n + j] = s / ljj;
    }
  }
  for (int64_t i = 0; i < n; ++i) {  // L y = g
    for (int64_t k = 0; k < i; ++k) g[i] -= h[i * n + k] * g[k];
    g[i] /= h[i * n + i];
  }
  for (int64_t i = n - 1; i >= 0; --i) {  // L^T d = y
    for (int64_t k = i + 1; k < n; ++k) g[i] -= h[k * n + i] * g[k];
    g[i] /= h[i * n + i];
  }
  return g;
}

// The t with factor rate^t <= tolerance, for rate = 1 - gap. From the gap, through log1p: at a
// condition number of 1e16, (k - 1)/(k + 1) rounds to 1 and log(rate) to 0, which predicted 0
// iterations (and cast -inf to int64). A count beyond int64 is reported as INT64_MAX.
int64_t iterations_for_gap(double gap, double factor, double tolerance) {
  if (gap >= 1) return 1;
  const double t = std::ceil(std::log(tolerance / factor) / std::log1p(-gap));
  if (!(t < 0x1p62)) return std::numeric_limits<int64_t>::max();
  return std::max<int64_t>(0, static_cast<int64_t>(t));
}

double accelerated_rate(double kappa) { return (std::sqrt(kappa) - 1) / (std::sqrt(kappa) + 1); }
double accelerated_gap(double kappa) { return 2 / (std::sqrt(kappa) + 1); }  // 1 - accelerated_rate

}  // namespace

Problem make_problem(int64_t n, double condition, uint64_t seed) {
  EMBER_CHECK(n >= 1, "quadratic", "the dimension must be at least 1, got {}", n);
  EMBER_CHECK(std::isfinite(condition) && condition >= 1, "quadratic",
              "the condition number must be finite and at least 1, got {}", condition);
  EMBER_CHECK(n > 1 || condition == 1, "quadratic",
              "a 1-dimensional problem has condition number 1, got {}", condition);
  NoGradGuard no_grad;
  Generator gen(seed);
  Problem p;
  p.mu = 1;
  p.l = condition;
  Tensor lambda = n == 1 ? ones({1}, kF64) : linspace(1, condition, n, kF64);
  for (int r = 0; r < 3; ++r) p.reflectors.push_back(randn({n}, kF64, &gen));
  p.eigenvalues = lambda;
  // Q diag(lambda) Q^T = H1 H2 H3 diag(lambda) H3 H2 H1, one reflection of rows and columns at a
  // time.
  Tensor a = eye(n, std::nullopt, kF64) * lambda;
  for (int r = 2; r >= 0; --r) a = reflect(reflect(a, p.reflectors[r]).t(), p.reflectors[r]);
  p.a = (0.5 * (a + a.t())).contiguous();  // symmetric to the last bit
  p.b = randn({n}, kF64, &gen);
  p.x_star = from_eigenbasis(p, to_eigenbasis(p, p.b) / lambda);
  return p;
}

Tensor to_eigenbasis(const Problem& p, const Tensor& x) {  // Q^T x = H3 H2 H1 x
  Tensor y = x;
  for (int r = 0; r < 3; ++r) y = reflect(y, p.reflectors[r]);
  return y;
}

Tensor from_eigenbasis(const Problem& p, const Tensor& y) {  // Q y = H1 H2 H3 y
  Tensor x = y;
  for (int r = 2; r >= 0; --r) x = reflect(x, p.reflectors[r]);
  return x;
}

Tensor objective(const Problem& p, const Tensor& x) {
  Tensor y = to_eigenbasis(p, x);
  return 0.5 * (p.eigenvalues * y * y).sum() - dot(p.b, x);
}

Objective objective_fn(const Problem& p) {
  return [&p](const Tensor& x) { return objective(p, x); };
}

double a_norm_error(const Problem& p, const Tensor& x) {
  NoGradGuard no_grad;
  Tensor y = to_eigenbasis(p, x.detach() - p.x_star);
  return std::sqrt((p.eigenvalues * y * y).sum().item<double>());
}

Tensor zigzag_start(const Problem& p, double radius) {
  NoGradGuard no_grad;
  const int64_t n = p.n();
  std::vector<double> c(n, 0.0);
  c[0] = 1 / p.mu;
  c[n - 1] += 1 / p.l;
  Tensor e = from_eigenbasis(p, from_vector(c));
  return p.x_star + e * (radius / norm(e).item<double>());
}

Trajectory gradient_descent(const Problem& p, const Tensor& x0, const RunOptions& o) {
  Tracker track(p, x0, o, "gradient descent, step 2/(L+mu)");
  const Objective f = objective_fn(p);
  const double step = 2 / (p.l + p.mu);
  Tensor x = x0;
  while (!track.done()) {
    x = x - step * gradient(f, x);
    track.push(x);
  }
  return track.take();
}

Trajectory gradient_descent_line_search(const Problem& p, const Tensor& x0, const RunOptions& o) {
  Tracker track(p, x0, o, "gradient descent, exact line search");
  const Objective f = objective_fn(p);
  Tensor x = x0;
  while (!track.done()) {
    Tensor g = gradient(f, x);
    const double gg = dot_value(g, g);
    if (gg == 0) break;  // at the minimum already
    // f(x - a g) is a parabola in a with its minimum at g^T g / g^T A g.
    const double curvature = dot_value(g, fn::hvp(f, x, g).hvp);
    x = x - (gg / curvature) * g;
    track.push(x);
  }
  return track.take();
}

Trajectory heavy_ball(const Problem& p, const Tensor& x0, const RunOptions& o) {
  Tracker track(p, x0, o, "heavy ball (Polyak)");
  const Objective f = objective_fn(p);
  const double root_l = std::sqrt(p.l), root_mu = std::sqrt(p.mu);
  const double alpha = 4 / ((root_l + root_mu) * (root_l + root_mu));
  const double beta = accelerated_rate(p.condition()) * accelerated_rate(p.condition());
  Tensor x = x0, previous = x0;
  while (!track.done()) {
    Tensor next = x - alpha * gradient(f, x) + beta * (x - previous);
    previous = x;
    x = next;
    track.push(x);
  }
  return track.take();
}

Trajectory newton(const Problem& p, const Tensor& x0, const RunOptions& o) {
  Tracker track(p, x0, o, "Newton, one step");
  const Objective f = objective_fn(p);
  if (track.done()) return track.take();
  const int64_t n = p.n();
  const std::vector<double> step = cholesky_solve(fn::hessian(f, x0).to_vector<double>(),
                                                  gradient(f, x0).to_vector<double>(), n);
  track.push(x0 - from_vector(step));
  return track.take();
}

std::vector<Tensor> conjugate_gradient_steps(const Objective& f, const Tensor& x0,
                                             int64_t max_steps, double residual_tolerance,
                                             const std::function<bool(const Tensor&)>& stop) {
  std::vector<Tensor> iterates = {x0};
  Tensor x = x0;
  Tensor r = -gradient(f, x);  // b - A x
  Tensor d = r;                // the search direction
  double rr = dot_value(r, r);
  const double r0 = std::sqrt(rr);
  for (int64_t k = 0; k < max_steps && rr > 0 && std::sqrt(rr) > residual_tolerance * r0; ++k) {
    Tensor ad = fn::hvp(f, x, d).hvp;  // A d, the only way CG touches A
    const double alpha = rr / dot_value(d, ad);
    x = x + alpha * d;
    r = r - alpha * ad;
    const double rr_next = dot_value(r, r);
    d = r + (rr_next / rr) * d;  // A-conjugate to every earlier direction
    rr = rr_next;
    iterates.push_back(x);
    if (stop && stop(x)) break;
  }
  return iterates;
}

Trajectory conjugate_gradient(const Problem& p, const Tensor& x0, const RunOptions& o) {
  Tracker track(p, x0, o, "conjugate gradients (hvp only)");
  if (track.done()) return track.take();
  conjugate_gradient_steps(objective_fn(p), x0, o.max_iterations, 0.0,
                           [&](const Tensor& x) { return track.push(x); });
  return track.take();
}

namespace {
// Steps one of ember's own optimizers on f until the tracker has seen enough.
Trajectory run_optimizer(const Problem& p, optim::Optimizer& opt, const Tensor& x, Tracker& track) {
  while (!track.done()) {
    opt.zero_grad();
    objective(p, x).backward();
    opt.step();
    track.push(x);
  }
  return track.take();
}
}  // namespace

Trajectory ember_sgd(const Problem& p, const Tensor& x0, const RunOptions& o, double lr,
                     double momentum) {
  Tracker track(p, x0, o, momentum > 0 ? "ember optim::SGD, momentum" : "ember optim::SGD");
  Tensor x = x0.detach().clone().requires_grad_();
  optim::SGD opt({x}, {.lr = lr, .momentum = momentum});
  return run_optimizer(p, opt, x, track);
}

Trajectory ember_adam(const Problem& p, const Tensor& x0, const RunOptions& o, double lr) {
  Tracker track(p, x0, o, "ember optim::Adam");
  Tensor x = x0.detach().clone().requires_grad_();
  optim::Adam opt({x}, {.lr = lr});
  return run_optimizer(p, opt, x, track);
}

Prediction predict_gradient_descent(double kappa, double tolerance) {
  return {iterations_for_gap(2 / (kappa + 1), 1, tolerance), "((k-1)/(k+1))^t"};
}
Prediction predict_line_search(double kappa, double tolerance) {
  return {iterations_for_gap(2 / (kappa + 1), 1, tolerance), "((k-1)/(k+1))^t, Kantorovich"};
}
Prediction predict_heavy_ball(double kappa, double tolerance) {
  return {iterations_for_gap(accelerated_gap(kappa), 1, tolerance),
          "((sqrt k-1)/(sqrt k+1))^t, asymptotic"};
}
Prediction predict_conjugate_gradient(double kappa, int64_t n, double tolerance) {
  return {std::min(n, iterations_for_gap(accelerated_gap(kappa), 2, tolerance)),
          "min(n, 2((sqrt k-1)/(sqrt k+1))^t)"};
}
Prediction predict_sgd(double kappa, double tolerance) {
  return {iterations_for_gap(1 / kappa, 1, tolerance), "(1-1/k)^t"};
}

}  // namespace ember::examples::quadratic
