#pragma once
// Minimising f(x) = 1/2 x^T A x - b^T x, A symmetric positive definite with a chosen condition
// number: the classical methods and their textbook rates, all computed with ember tensors in
// float64 (docs/quadratic.md). Every method sees f only as a function; gradients come from autograd
// and matrix-vector products from autograd::functional::hvp, so none of them reads A.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ember/core/tensor.h>

namespace ember::examples::quadratic {

// A = Q diag(lambda) Q^T with lambda evenly spaced in [1, condition] and Q = H1 H2 H3 a product of
// three random Householder reflections H = I - 2 u u^T / u^T u (exactly orthogonal). f and the
// error are evaluated through that factorisation, in O(n) per call: the dense A is built once,
// for the contour plot and the tests. x_star = A^-1 b = Q diag(1/lambda) Q^T b.
struct Problem {
  Tensor a;                        // [n, n] float64
  Tensor b;                        // [n]
  Tensor x_star;                   // [n]
  Tensor eigenvalues;              // [n], ascending
  std::vector<Tensor> reflectors;  // u of H1, H2, H3
  double mu = 1;                   // smallest and largest eigenvalue
  double l = 1;
  int64_t n() const { return b.numel(); }
  double condition() const { return l / mu; }
};
Problem make_problem(int64_t n, double condition, uint64_t seed);

// f(x) = 1/2 x^T A x - b^T x = 1/2 sum_i lambda_i (Q^T x)_i^2 - b^T x, differentiable in x.
Tensor objective(const Problem& p, const Tensor& x);
// Q^T x and Q y, by the reflections (differentiable).
Tensor to_eigenbasis(const Problem& p, const Tensor& x);
Tensor from_eigenbasis(const Problem& p, const Tensor& y);
// The objective as the function the methods receive.
std::function<Tensor(const Tensor&)> objective_fn(const Problem& p);
// ||x - x_star||_A = sqrt((x - x*)^T A (x - x*)), the error every rate below bounds (for A-norm
// errors the constant in f - f* = 1/2 ||x - x*||_A^2 cancels).
double a_norm_error(const Problem& p, const Tensor& x);
// The worst start for steepest descent at distance `radius` from x_star: equal gradient weight on
// the extreme eigenvectors, where the Kantorovich bound is attained.
Tensor zigzag_start(const Problem& p, double radius);

struct RunOptions {
  double tolerance = 1e-8;  // on the relative error ||x_k - x*||_A / ||x_0 - x*||_A
  int64_t max_iterations = 5000;
  bool record_points = false;  // keep every iterate (the 2-D pictures)
};

struct Trajectory {
  std::string method;
  std::vector<double> errors;  // relative A-norm error of x_0, x_1, ... (errors[0] = 1)
  std::vector<Tensor> points;  // x_0, x_1, ... when record_points
  int64_t iterations = -1;     // first k with errors[k] <= tolerance; -1: not reached
  Tensor x;                    // the last iterate
};

using Objective = std::function<Tensor(const Tensor&)>;

// Each method gets the objective, the start and the problem (used only to measure the error).
// x_{k+1} = x_k - 2/(L + mu) grad f(x_k): contraction (kappa - 1)/(kappa + 1) per step.
Trajectory gradient_descent(const Problem& p, const Tensor& x0, const RunOptions& o);
// Steepest descent with the exact step alpha = g^T g / g^T A g (A g by hvp).
Trajectory gradient_descent_line_search(const Problem& p, const Tensor& x0, const RunOptions& o);
// Polyak's heavy ball, x_{k+1} = x_k - alpha grad + beta (x_k - x_{k-1}) with the optimal
// alpha = 4 / (sqrt L + sqrt mu)^2, beta = ((sqrt kappa - 1)/(sqrt kappa + 1))^2.
Trajectory heavy_ball(const Problem& p, const Tensor& x0, const RunOptions& o);
// One Newton step x_1 = x_0 - H^-1 grad f(x_0), H from autograd::functional::hessian, solved by
// Cholesky.
Trajectory newton(const Problem& p, const Tensor& x0, const RunOptions& o);
// Conjugate gradients with matrix-vector products from hvp only.
Trajectory conjugate_gradient(const Problem& p, const Tensor& x0, const RunOptions& o);
// ember's optimizers on x as a parameter: optim::SGD (with momentum when momentum > 0),
// optim::Adam.
Trajectory ember_sgd(const Problem& p, const Tensor& x0, const RunOptions& o, double lr,
                     double momentum);
Trajectory ember_adam(const Problem& p, const Tensor& x0, const RunOptions& o, double lr);

// Conjugate gradients for min f, f quadratic, knowing f only as a function: A v comes from
// hvp(f, x, v), and the residual -grad f(x_0) from vjp. Stops after max_steps steps or when the
// residual's norm falls to residual_tolerance times its first value, or when stop(x_k) says so.
// Returns the iterates x_0..x_k.
std::vector<Tensor> conjugate_gradient_steps(
    const Objective& f, const Tensor& x0, int64_t max_steps, double residual_tolerance,
    const std::function<bool(const Tensor&)>& stop = nullptr);

// Iterations the theory predicts to reach relative error `tolerance`, and how.
struct Prediction {
  int64_t iterations = -1;  // -1: no bound
  std::string rule;
};
Prediction predict_gradient_descent(double kappa, double tolerance);  // ((k-1)/(k+1))^t <= tol
Prediction predict_line_search(double kappa, double tolerance);       // Kantorovich, same rate
Prediction predict_heavy_ball(double kappa, double tolerance);        // asymptotic (sqk-1)/(sqk+1)
Prediction predict_conjugate_gradient(double kappa, int64_t n, double tolerance);  // 2 s^t, and n
Prediction predict_sgd(double kappa, double tolerance);  // lr 1/L: (1 - 1/k)^t

}  // namespace ember::examples::quadratic
