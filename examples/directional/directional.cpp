#include "examples/directional/directional.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numbers>

#include <ember/core/functional.h>
#include <ember/io/plot.h>

namespace ember::examples::directional {
namespace {

constexpr TensorOptions kF64{.dtype = DType::Float64};

Tensor vector_of(const std::vector<double>& values) {
  return from_vector(values, {int64_t(values.size())});
}

Tensor rosenbrock(const Tensor& x) {
  const int64_t n = x.numel();
  Tensor head = x.narrow(0, 0, n - 1), tail = x.narrow(0, 1, n - 1);
  return sum(square(tail - square(head)) * 100.0 + square(1.0 - head));
}

Tensor sines_and_exponentials(const Tensor& x) {
  return sum(sin(x * 3.0) * exp(square(x) * -0.5)) + exp(sum(x) * 0.1);
}

// Squared error of a 3 -> 6 -> 1 tanh network on 8 fixed examples, as a function of its weights
// packed in one vector: W1 [3, 6], b1 [6], W2 [6, 1], b2 [1].
constexpr int64_t kInputs = 3, kHidden = 6, kWeights = kInputs * kHidden + kHidden + kHidden + 1;

ScalarFn network_loss(const Tensor& inputs, const Tensor& targets) {
  return [inputs, targets](const Tensor& w) {
    int64_t at = 0;
    auto take = [&](int64_t rows, int64_t cols) {
      Tensor part = w.narrow(0, at, rows * cols).reshape({rows, cols});
      at += rows * cols;
      return part;
    };
    Tensor w1 = take(kInputs, kHidden), b1 = take(1, kHidden), w2 = take(kHidden, 1),
           b2 = take(1, 1);
    Tensor prediction = matmul(tanh(matmul(inputs, w1) + b1), w2) + b2;
    return mean(square(prediction - targets));
  };
}

}  // namespace

std::vector<Problem> problems(uint64_t seed) {
  Generator gen(seed);
  auto draw = [&](int64_t n, double scale) { return randn({n}, kF64, &gen) * scale; };
  std::vector<Problem> list;
  list.push_back({"rosenbrock", rosenbrock, draw(4, 0.5) + 0.5, draw(4, 1.0)});
  list.push_back({"sines", sines_and_exponentials, draw(5, 1.0), draw(5, 1.0)});
  Tensor inputs = randn({8, kInputs}, kF64, &gen), targets = randn({8, 1}, kF64, &gen);
  list.push_back(
      {"network", network_loss(inputs, targets), draw(kWeights, 0.5), draw(kWeights, 1.0)});
  return list;
}

double value(const ScalarFn& f, const Tensor& x) {
  NoGradGuard no_grad;
  return f(x).item_double();
}

double directional_by_backward(const ScalarFn& f, const Tensor& x, const Tensor& v) {
  Tensor leaf = x.detach().requires_grad_();
  Tensor gradient = grad({f(leaf)}, {leaf})[0];
  return sum(gradient * v).item_double();
}

double directional_by_jvp(const ScalarFn& f, const Tensor& x, const Tensor& v) {
  return autograd::functional::jvp(f, x, v).jvp.item_double();
}

double directional_by_difference(const ScalarFn& f, const Tensor& x, const Tensor& v, double h,
                                 bool central) {
  EMBER_CHECK(h > 0, "directional", "step h must be positive, got {}", h);
  if (central) return (value(f, x + v * h) - value(f, x - v * h)) / (2 * h);
  return (value(f, x + v * h) - value(f, x)) / h;
}

std::vector<double> log_spaced(double lo, double hi, int count) {
  EMBER_CHECK(lo > 0 && hi > lo && count >= 2, "directional",
              "log_spaced needs 0 < lo < hi and count >= 2, got lo={} hi={} count={}", lo, hi,
              count);
  std::vector<double> steps(static_cast<size_t>(count));
  const double a = std::log10(lo), b = std::log10(hi);
  for (int i = 0; i < count; ++i) steps[size_t(i)] = std::pow(10.0, a + (b - a) * i / (count - 1));
  return steps;
}

std::vector<double> difference_errors(const ScalarFn& f, const Tensor& x, const Tensor& v,
                                      double exact, const std::vector<double>& steps,
                                      bool central) {
  std::vector<double> errors;
  errors.reserve(steps.size());
  for (double h : steps)
    errors.push_back(std::abs(directional_by_difference(f, x, v, h, central) - exact));
  return errors;
}

double log_log_slope(const std::vector<double>& steps, const std::vector<double>& errors, double lo,
                     double hi) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i] < lo || steps[i] > hi || errors[i] <= 0) continue;
    const double lx = std::log10(steps[i]), ly = std::log10(errors[i]);
    n += 1, sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
  }
  EMBER_CHECK(n >= 2, "directional", "fewer than two usable steps in [{}, {}]", lo, hi);
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

Tensor surface(const Tensor& p) {
  Tensor x = p.narrow(0, 0, 1), y = p.narrow(0, 1, 1);
  return sum(square(x) * 0.25 + square(y) * 0.5 + x * y * 0.2 + sin(x * 1.5) * cos(y));
}

double surface_at(double x, double y) {
  return 0.25 * x * x + 0.5 * y * y + 0.2 * x * y + std::sin(1.5 * x) * std::cos(y);
}

std::pair<double, double> gradient_at(const ScalarFn& f, double x, double y) {
  Tensor p = vector_of({x, y}).requires_grad_();
  const std::vector<double> g = grad({f(p)}, {p})[0].to_vector<double>();
  return {g[0], g[1]};
}

std::pair<double, double> level_set_tangent(double x, double y, double r) {
  const double level = surface_at(x, y);
  auto offset = [&](double angle) {
    return surface_at(x + r * std::cos(angle), y + r * std::sin(angle)) - level;
  };
  constexpr int kSamples = 64;
  std::vector<std::pair<double, double>> crossings;
  for (int i = 0; i < kSamples; ++i) {
    double a = 2 * std::numbers::pi * i / kSamples, b = 2 * std::numbers::pi * (i + 1) / kSamples;
    if ((offset(a) > 0) == (offset(b) > 0)) continue;
    for (int iteration = 0; iteration < 60; ++iteration) {
      const double mid = (a + b) / 2;
      ((offset(mid) > 0) == (offset(a) > 0) ? a : b) = mid;
    }
    crossings.push_back({x + r * std::cos(a), y + r * std::sin(a)});
  }
  EMBER_CHECK(crossings.size() == 2, "directional",
              "the circle of radius {} around ({}, {}) crosses the level set {} times, not twice",
              r, x, y, crossings.size());
  return {crossings[1].first - crossings[0].first, crossings[1].second - crossings[0].second};
}

double steepest_ascent_angle(double x, double y, double r, int count) {
  double best_angle = 0, best_rise = -INFINITY;
  for (int i = 0; i < count; ++i) {
    const double angle = 2 * std::numbers::pi * i / count;
    const double rise = surface_at(x + r * std::cos(angle), y + r * std::sin(angle));
    if (rise > best_rise) best_rise = rise, best_angle = angle;
  }
  return best_angle;
}

std::vector<std::string> run(const std::string& out, uint64_t seed, int steps_per_decade) {
  EMBER_CHECK(steps_per_decade >= 1, "directional", "steps per decade must be at least 1, got {}",
              steps_per_decade);
  const std::vector<double> steps = log_spaced(1e-13, 1e-1, 12 * steps_per_decade + 1);
  io::Plot errors_plot({.title = "finite differences: error against step h (float64)",
                        .xlabel = "step h",
                        .ylabel = "|difference quotient - autograd|",
                        .log_x = true,
                        .log_y = true});
  fmt::print("{:<10} {:>22} {:>22} {:>10} {:>10} {:>10}\n", "function", "backward", "jvp", "|diff|",
             "best h", "error");
  bool first = true;
  for (const Problem& problem : problems(seed)) {
    const double by_backward = directional_by_backward(problem.f, problem.x, problem.v);
    const double by_jvp = directional_by_jvp(problem.f, problem.x, problem.v);
    std::vector<double> central =
        difference_errors(problem.f, problem.x, problem.v, by_backward, steps, true);
    // A difference that rounds to exactly the true value has no place on a log axis.
    for (double& e : central) e = std::max(e, 1e-17);
    const size_t best = size_t(std::min_element(central.begin(), central.end()) - central.begin());
    fmt::print("{:<10} {:>22.15g} {:>22.15g} {:>10.2e} {:>10.1e} {:>10.1e}\n", problem.name,
               by_backward, by_jvp, std::abs(by_backward - by_jvp), steps[best], central[best]);
    errors_plot.line(steps, central, {.label = problem.name + ", central"});
    if (first) {
      std::vector<double> forward =
          difference_errors(problem.f, problem.x, problem.v, by_backward, steps, false);
      for (double& e : forward) e = std::max(e, 1e-17);
      errors_plot.line(steps, forward, {.label = problem.name + ", forward", .dashed = true});
      first = false;
    }
  }
  // Guides: truncation error of the central difference ~ h², rounding error ~ eps / h.
  const double eps = std::numeric_limits<double>::epsilon();
  std::vector<double> guide_h = log_spaced(1e-6, 1e-1, 2), square_guide, rounding_guide;
  for (double h : guide_h) square_guide.push_back(h * h);
  std::vector<double> rounding_h = log_spaced(1e-13, 1e-6, 2);
  for (double h : rounding_h) rounding_guide.push_back(eps / h);
  errors_plot.line(guide_h, square_guide,
                   {.label = "h²", .color = "gray", .width = 1, .dashed = true});
  errors_plot.line(rounding_h, rounding_guide,
                   {.label = "eps / h", .color = "black", .width = 1, .dashed = true});

  // The gradient field over the surface's level sets.
  const double lo = -3, hi = 3;
  constexpr int kGrid = 121, kArrows = 15;
  std::vector<double> xs(kGrid), z;
  for (int i = 0; i < kGrid; ++i) xs[size_t(i)] = lo + (hi - lo) * i / (kGrid - 1);
  z.reserve(size_t(kGrid * kGrid));
  for (double y : xs)
    for (double x : xs) z.push_back(surface_at(x, y));
  std::vector<double> levels;
  for (double level = -1.0; level <= 6.0; level += 0.5) levels.push_back(level);
  std::vector<double> ax, ay, adx, ady;
  const double spacing = (hi - lo) / (kArrows - 1);
  double longest = 0;
  for (int j = 0; j < kArrows; ++j)
    for (int i = 0; i < kArrows; ++i) {
      const double x = lo + spacing * i, y = lo + spacing * j;
      auto [gx, gy] = gradient_at(surface, x, y);
      ax.push_back(x), ay.push_back(y), adx.push_back(gx), ady.push_back(gy);
      longest = std::max(longest, std::hypot(gx, gy));
    }
  // Arrows in proportion to |∇f|, the longest 0.9 grid spacings: direction and size both show.
  for (size_t k = 0; k < adx.size(); ++k)
    adx[k] *= 0.9 * spacing / longest, ady[k] *= 0.9 * spacing / longest;
  io::Plot field(
      {.title = "∇f over the level sets of f(x, y) = x²/4 + y²/2 + xy/5 + sin(1.5x) cos(y)",
       .xlabel = "x",
       .ylabel = "y",
       .width = 640,
       .height = 640,
       .equal_aspect = true,
       .xlim = std::pair{lo, hi},
       .ylim = std::pair{lo, hi}});
  field.contour(xs, xs, z, levels, {.label = "level sets", .color = "steelblue", .width = 1});
  field.arrows(ax, ay, adx, ady, {.label = "∇f", .color = "firebrick", .width = 1.2});

  std::filesystem::create_directories(out);
  const std::vector<std::string> paths = {out + "/directional_errors.svg",
                                          out + "/gradient_field.svg"};
  errors_plot.save(paths[0]);
  field.save(paths[1]);
  for (const std::string& path : paths) fmt::print("wrote {}\n", path);
  return paths;
}

}  // namespace ember::examples::directional
