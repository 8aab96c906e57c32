#include "examples/quadratic/figures.h"

#include <algorithm>
#include <cmath>

#include <ember/core/error.h>
#include <ember/io/plot.h>

namespace ember::examples::quadratic {
namespace {

// Errors below this are rounding; the log axis stops there instead of at zero.
constexpr double kFloor = 1e-17;

}  // namespace

void draw_contours(const Problem& p, const std::vector<Trajectory>& paths,
                   const std::string& file) {
  EMBER_CHECK(p.n() == 2, "quadratic", "contour plots need a 2-dimensional problem, got n = {}",
              p.n());
  const std::vector<double> a = p.a.to_vector<double>(), x_star = p.x_star.to_vector<double>();
  // The bounding box of every iterate, with a margin.
  double x_lo = x_star[0], x_hi = x_star[0], y_lo = x_star[1], y_hi = x_star[1];
  for (const Trajectory& t : paths) {
    for (const Tensor& x : t.points) {
      const std::vector<double> v = x.to_vector<double>();
      x_lo = std::min(x_lo, v[0]), x_hi = std::max(x_hi, v[0]);
      y_lo = std::min(y_lo, v[1]), y_hi = std::max(y_hi, v[1]);
    }
  }
  const double margin = 0.15 * std::max(x_hi - x_lo, y_hi - y_lo);
  x_lo -= margin, x_hi += margin, y_lo -= margin, y_hi += margin;
  // f - f* = 1/2 (x - x*)^T A (x - x*) on a grid.
  const int grid = 161;
  std::vector<double> xs(grid), ys(grid), z(grid * grid);
  for (int i = 0; i < grid; ++i) {
    xs[i] = x_lo + (x_hi - x_lo) * i / (grid - 1);
    ys[i] = y_lo + (y_hi - y_lo) * i / (grid - 1);
  }
  double z_max = 0;
  for (int j = 0; j < grid; ++j) {
    for (int i = 0; i < grid; ++i) {
      const double d0 = xs[i] - x_star[0], d1 = ys[j] - x_star[1];
      z[j * grid + i] = 0.5 * (a[0] * d0 * d0 + 2 * a[1] * d0 * d1 + a[3] * d1 * d1);
      z_max = std::max(z_max, z[j * grid + i]);
    }
  }
  std::vector<double> levels;
  for (double level = z_max / 2; level > z_max * 1e-4; level /= 2.5) levels.push_back(level);
  io::Plot plot({.title = "f(x) = 1/2 x'Ax - b'x, condition number " +
                          std::to_string(std::lround(p.condition())),
                 .xlabel = "x1",
                 .ylabel = "x2",
                 .width = 720,
                 .height = 600,
                 .equal_aspect = true,
                 .xlim = std::pair{x_lo, x_hi},
                 .ylim = std::pair{y_lo, y_hi}});
  plot.contour(xs, ys, z, levels, {.color = "#bbbbbb", .width = 1});
  for (const Trajectory& t : paths) {
    std::vector<double> px, py;
    for (const Tensor& x : t.points) {
      const std::vector<double> v = x.to_vector<double>();
      px.push_back(v[0]);
      py.push_back(v[1]);
    }
    plot.line(px, py, {.label = t.method, .markers = true});
  }
  plot.scatter({x_star[0]}, {x_star[1]}, {.label = "minimum", .color = "black"});
  plot.save(file);
}

void draw_convergence(const std::vector<Trajectory>& runs, const std::vector<RateLine>& rates,
                      const std::string& title, const std::string& file) {
  // The axes cover the runs that reached the tolerance (a run that never does, Adam at a fixed lr,
  // is cut at the right edge) down to the smallest error any run reached.
  size_t x_max = 1;
  double y_min = 1;
  for (const Trajectory& t : runs) {
    if (t.iterations >= 0) x_max = std::max(x_max, static_cast<size_t>(t.iterations));
    for (double e : t.errors) y_min = std::min(y_min, std::max(e, kFloor));
  }
  x_max = static_cast<size_t>(1.2 * static_cast<double>(x_max)) + 1;
  y_min /= 2;
  io::Plot plot({.title = title,
                 .xlabel = "iteration",
                 .ylabel = "relative error ||x - x*||_A / ||x0 - x*||_A",
                 .width = 800,
                 .height = 560,
                 .log_y = true,
                 .xlim = std::pair{0.0, static_cast<double>(x_max)},
                 .ylim = std::pair{y_min, 2.0}});
  for (const Trajectory& t : runs) {
    std::vector<double> it, err;
    for (size_t k = 0; k < t.errors.size() && k <= x_max; ++k) {
      it.push_back(static_cast<double>(k));
      err.push_back(std::max(t.errors[k], kFloor));
    }
    plot.line(it, err, {.label = t.method});
  }
  for (const RateLine& r : rates) {
    std::vector<double> it, err;
    for (size_t k = 0; k <= x_max; ++k) {
      const double e = std::max(r.factor * std::pow(r.rate, static_cast<double>(k)), y_min / 10);
      it.push_back(static_cast<double>(k));
      err.push_back(e);
      if (e < y_min) break;
    }
    if (it.size() >= 2)
      plot.line(it, err, {.label = r.label, .color = r.color, .width = 1, .dashed = true});
  }
  plot.save(file);
}

}  // namespace ember::examples::quadratic
