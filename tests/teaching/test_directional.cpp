// examples/directional: the three estimates of ∇f·v agree, finite differences show truncation
// falling like h² and rounding growing like eps/h, the gradient is orthogonal to level sets traced
// from values of f alone and points where f rises fastest, and the figures are well-formed SVG.
#include <catch2/catch.hpp>
#include <string>
#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <sstream>

#include "examples/directional/directional.h"

using namespace ember;
namespace D = ember::examples::directional;

namespace {

constexpr TensorOptions kF64{.dtype = DType::Float64};

// Rosenbrock's gradient written out by hand, independent of autograd.
std::vector<double> rosenbrock_gradient(const std::vector<double>& x) {
  std::vector<double> g(x.size(), 0.0);
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    const double r = x[i + 1] - x[i] * x[i];
    g[i] += -400 * x[i] * r - 2 * (1 - x[i]);
    g[i + 1] += 200 * r;
  }
  return g;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every opened element is closed, in order, and nothing follows the root: what a browser needs.
bool well_formed(const std::string& svg) {
  std::vector<std::string> open;
  bool closed_root = false;
  for (size_t at = svg.find('<'); at != std::string::npos; at = svg.find('<', at + 1)) {
    const size_t end = svg.find('>', at);
    if (end == std::string::npos) return false;
    const std::string tag = svg.substr(at + 1, end - at - 1);
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;  // declaration, comment
    if (closed_root) return false;
    const bool closing = tag[0] == '/';
    const std::string name = tag.substr(closing, tag.find_first_of(" \t\n/", closing) - closing);
    if (name.empty()) return false;
    if (closing) {
      if (open.empty() || open.back() != name) return false;
      open.pop_back();
      closed_root = open.empty();
    } else if (tag.back() != '/') {
      open.push_back(name);
    }
  }
  return closed_root;
}

}  // namespace

TEST_CASE("directional: backward and jvp agree to 1e-12, and match a hand-written gradient",
          "[teaching][directional]") {
  const std::vector<D::Problem> problems = D::problems(7);
  REQUIRE(problems.size() == 3);
  for (const D::Problem& p : problems) {
    INFO(p.name);
    REQUIRE(p.x.dtype() == DType::Float64);
    const double by_backward = D::directional_by_backward(p.f, p.x, p.v);
    const double by_jvp = D::directional_by_jvp(p.f, p.x, p.v);
    CHECK(std::abs(by_backward) > 1e-3);  // a zero derivative would make the agreement vacuous
    CHECK(std::abs(by_backward - by_jvp) <= 1e-12 * std::max(1.0, std::abs(by_backward)));
  }
  const D::Problem& rosenbrock = problems[0];
  REQUIRE(rosenbrock.name == "rosenbrock");
  const double exact =
      dot(rosenbrock_gradient(rosenbrock.x.to_vector<double>()), rosenbrock.v.to_vector<double>());
  CHECK(std::abs(D::directional_by_backward(rosenbrock.f, rosenbrock.x, rosenbrock.v) - exact) <=
        1e-12 * std::abs(exact));
}

TEST_CASE("directional: central differences fall like h^2, then rounding rises like eps/h",
          "[teaching][directional]") {
  const std::vector<double> steps = D::log_spaced(1e-13, 1e-1, 97);
  for (const D::Problem& p : D::problems(3)) {
    INFO(p.name);
    const double exact = D::directional_by_backward(p.f, p.x, p.v);
    const std::vector<double> errors = D::difference_errors(p.f, p.x, p.v, exact, steps, true);
    const size_t best = size_t(std::min_element(errors.begin(), errors.end()) - errors.begin());
    // Truncation ~ h² |f'''| / 6 against rounding ~ eps |f| / h balance near h ~ eps^(1/3) ~ 6e-6,
    // give or take the ratio |f| / |f'''| of each function.
    CHECK(steps[best] >= 1e-8);
    CHECK(steps[best] <= 1e-3);
    CHECK(errors[best] <= 1e-7 * std::max(1.0, std::abs(exact)));
    const double truncation_slope = D::log_log_slope(steps, errors, 1e-3, 3e-2);
    CHECK(truncation_slope == Approx(2.0).margin(0.3));
    const double rounding_slope = D::log_log_slope(steps, errors, 1e-13, 1e-9);
    CHECK(rounding_slope == Approx(-1.0).margin(0.4));
  }
}

TEST_CASE("directional: forward differences are first order and best near sqrt(eps)",
          "[teaching][directional]") {
  const std::vector<double> steps = D::log_spaced(1e-13, 1e-1, 97);
  const D::Problem p = D::problems(3)[1];
  const double exact = D::directional_by_backward(p.f, p.x, p.v);
  const std::vector<double> errors = D::difference_errors(p.f, p.x, p.v, exact, steps, false);
  CHECK(D::log_log_slope(steps, errors, 1e-4, 3e-2) == Approx(1.0).margin(0.2));
  const size_t best = size_t(std::min_element(errors.begin(), errors.end()) - errors.begin());
  CHECK(steps[best] >= 1e-10);
  CHECK(steps[best] <= 1e-6);
}

TEST_CASE("directional: the gradient is orthogonal to level-set tangents traced from f's values",
          "[teaching][directional]") {
  int tested = 0;
  for (double x = -2.5; x <= 2.5; x += 0.5)
    for (double y = -2.5; y <= 2.5; y += 0.5) {
      auto [gx, gy] = D::gradient_at(D::surface, x, y);
      const double norm = std::hypot(gx, gy);
      if (norm < 0.2) continue;  // near a critical point the level set is not a curve
      auto [tx, ty] = D::level_set_tangent(x, y, 1e-4);
      const double cosine = (gx * tx + gy * ty) / (norm * std::hypot(tx, ty));
      INFO("at (" << x << ", " << y << "): cos(gradient, tangent) = " << cosine);
      CHECK(std::abs(cosine) < 1e-3);
      ++tested;
    }
  CHECK(tested > 80);
}

TEST_CASE("directional: the gradient points where f rises fastest", "[teaching][directional]") {
  constexpr int kDirections = 720;  // half a degree apart
  for (auto [x, y] : {std::pair{1.0, 0.5}, std::pair{-2.0, 1.5}, std::pair{0.5, -2.0}}) {
    auto [gx, gy] = D::gradient_at(D::surface, x, y);
    const double best = D::steepest_ascent_angle(x, y, 1e-4, kDirections);
    double gap = std::abs(std::remainder(best - std::atan2(gy, gx), 2 * std::numbers::pi));
    INFO("at (" << x << ", " << y << ")");
    CHECK(gap <= 2 * std::numbers::pi / kDirections);
  }
}

TEST_CASE("directional: the surface's tensor form and its closed form agree",
          "[teaching][directional]") {
  for (auto [x, y] : {std::pair{0.3, -1.2}, std::pair{2.0, 2.5}}) {
    Tensor p = from_vector(std::vector<double>{x, y}, {2});
    CHECK(D::value(D::surface, p) == Approx(D::surface_at(x, y)).epsilon(1e-14));
  }
}

TEST_CASE("directional: bad arguments are errors", "[teaching][directional]") {
  const D::Problem p = D::problems(0)[0];
  CHECK_THROWS_AS(D::directional_by_difference(p.f, p.x, p.v, 0.0), Error);
  CHECK_THROWS_AS(D::log_spaced(1e-3, 1e-5, 4), Error);
}

TEST_CASE("directional: the figures are well-formed SVG", "[teaching][directional]") {
  const std::string out =
      (std::filesystem::temp_directory_path() / ("ember_test_directional_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(out);
  const std::vector<std::string> paths = D::run(out, 0, 2);
  REQUIRE(paths.size() == 2);
  for (const std::string& path : paths) {
    INFO(path);
    const std::string svg = read_text(path);
    CHECK(svg.find("<svg") != std::string::npos);
    CHECK(well_formed(svg));
  }
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  // Three central-difference curves, one forward, and the two guides.
  CHECK(count(read_text(paths[0]), "<polyline") == 6);
  const std::string field = read_text(paths[1]);
  // One path per contour level the surface crosses: the example asks for 15 levels in [-1, 6].
  const size_t contour_paths = count(field, "class=\"series contour\"");
  CHECK(contour_paths >= 10);
  CHECK(contour_paths <= 15);
  CHECK(count(field, "data-level=") == contour_paths);
  CHECK(count(field, "class=\"series arrows\"") == 1);
  CHECK(count(field, "<polygon") == 15 * 15);  // one head per arrow
  std::filesystem::remove_all(out);
}
