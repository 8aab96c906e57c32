#pragma once
// The directional derivative ∇f(x)·v of a scalar function, three ways: from the gradient that
// backward computes, from a forward-mode product (functional::jvp), and from finite differences of
// f alone. The last needs no autograd at all, which is why gradient checking trusts it, and why its
// error against the step size (truncation falling with h, rounding growing like eps/h) matters.
// Also: the gradient field of a function of two variables, and its level sets traced from values
// of f alone, to show that the gradient is orthogonal to them.
#include <ember/ember.h>

#include <functional>
#include <string>
#include <vector>

namespace ember::examples::directional {

using ScalarFn = std::function<Tensor(const Tensor&)>;  // x [n] -> a 0-d tensor

// A function with the point and direction at which to differentiate it (all float64).
struct Problem {
  std::string name;
  ScalarFn f;
  Tensor x;
  Tensor v;
};

// Rosenbrock in 4 variables, a sum of sines and exponentials, and a two-layer tanh network's
// squared error as a function of its 31 weights; x and v drawn from `seed`.
std::vector<Problem> problems(uint64_t seed);

double value(const ScalarFn& f, const Tensor& x);
double directional_by_backward(const ScalarFn& f, const Tensor& x, const Tensor& v);  // ∇f(x)·v
double directional_by_jvp(const ScalarFn& f, const Tensor& x, const Tensor& v);
// (f(x + hv) - f(x - hv)) / 2h, or (f(x + hv) - f(x)) / h when central is false.
double directional_by_difference(const ScalarFn& f, const Tensor& x, const Tensor& v, double h,
                                 bool central = true);

// `count` steps spaced evenly in log10 from lo to hi.
std::vector<double> log_spaced(double lo, double hi, int count);

// |difference quotient - exact| for each step h.
std::vector<double> difference_errors(const ScalarFn& f, const Tensor& x, const Tensor& v,
                                      double exact, const std::vector<double>& steps, bool central);

// The least-squares slope of log10(error) against log10(h) over the steps in [lo, hi].
double log_log_slope(const std::vector<double>& steps, const std::vector<double>& errors, double lo,
                     double hi);

// ---- two variables ----
// The surface of the gradient-field picture: a tilted bowl with a ripple, so that its level sets
// are neither circles nor ellipses. Takes p [2].
Tensor surface(const Tensor& p);
double surface_at(double x, double y);
std::pair<double, double> gradient_at(const ScalarFn& f, double x, double y);

// The two points where the level set {f = f(x, y)} crosses the circle of radius r around (x, y),
// found by bisection on values of f only; the chord between them is a tangent of the level set to
// O(r). Throws when the circle does not cross the level set exactly twice.
std::pair<double, double> level_set_tangent(double x, double y, double r);

// Of `count` unit directions evenly spaced in angle, the angle of the one along which f grows the
// most over a step of length r from (x, y).
double steepest_ascent_angle(double x, double y, double r, int count);

// Writes directional_errors.svg (error against h) and gradient_field.svg into `out`; prints the
// table of estimates. Returns the paths written.
std::vector<std::string> run(const std::string& out, uint64_t seed, int steps_per_decade);

}  // namespace ember::examples::directional
