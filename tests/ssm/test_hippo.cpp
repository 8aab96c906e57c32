// hippo_legs: the matrices against a hand-computed 4x4, and what they are for: integrating the LegS
// ODE dc/dt = (1/t) A c + (1/t) B f(t) keeps c(t) equal to the projection of f's history onto the
// scaled Legendre polynomials, which reconstructs any polynomial of degree < N exactly.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include <ember/ember.h>

using namespace ember;
using Catch::Contains;

namespace {

// Legendre polynomials P_0..P_(N-1) at x by Bonnet's recurrence (n+1) P_(n+1) = (2n+1) x P_n - n P_(n-1).
std::vector<double> legendre(int64_t N, double x) {
  std::vector<double> p(N);
  p[0] = 1;
  if (N > 1) p[1] = x;
  for (int64_t n = 1; n + 1 < N; ++n)
    p[n + 1] = ((2.0 * static_cast<double>(n) + 1) * x * p[n] - static_cast<double>(n) * p[n - 1]) / static_cast<double>(n + 1);
  return p;
}

// The projection c_n(t) = (1/t) int_0^t f(s) sqrt(2n+1) P_n(2s/t - 1) ds by composite Simpson's rule
// (20000 panels: the integrands here are polynomials of degree <= 2N - 1, integrated to ~1e-13).
std::vector<double> projection(const std::function<double(double)>& f, int64_t N, double t) {
  const int64_t panels = 20000;
  const double h = t / panels;
  std::vector<double> c(N, 0.0);
  for (int64_t i = 0; i <= panels; ++i) {
    const double s = h * static_cast<double>(i);
    const double w = (i == 0 || i == panels) ? 1 : (i % 2 ? 4 : 2);
    const auto p = legendre(N, 2 * s / t - 1);
    for (int64_t n = 0; n < N; ++n) c[n] += w * f(s) * std::sqrt(2.0 * static_cast<double>(n) + 1) * p[n];
  }
  for (double& v : c) v *= h / 3 / t;
  return c;
}

// f(s) read back from the coefficients at time t.
double reconstruct(const std::vector<double>& c, double s, double t) {
  const int64_t N = static_cast<int64_t>(c.size());
  const auto p = legendre(N, 2 * s / t - 1);
  double out = 0;
  for (int64_t n = 0; n < N; ++n) out += c[n] * std::sqrt(2.0 * static_cast<double>(n) + 1) * p[n];
  return out;
}

// Integrates dc/dt = (1/t)(A c + B f(t)) from t0 (c = the exact projection there) to t1 with
// classical Runge-Kutta.
std::vector<double> integrate(const std::vector<double>& A, const std::vector<double>& B,
                              const std::function<double(double)>& f, int64_t N, double t0, double t1, int64_t steps) {
  std::vector<double> c = projection(f, N, t0);
  auto rhs = [&](double t, const std::vector<double>& x) {
    std::vector<double> d(N);
    for (int64_t n = 0; n < N; ++n) {
      double acc = B[n] * f(t);
      for (int64_t k = 0; k < N; ++k) acc += A[n * N + k] * x[k];
      d[n] = acc / t;
    }
    return d;
  };
  const double h = (t1 - t0) / static_cast<double>(steps);
  auto axpy = [&](const std::vector<double>& x, const std::vector<double>& d, double a) {
    std::vector<double> y(N);
    for (int64_t n = 0; n < N; ++n) y[n] = x[n] + a * d[n];
    return y;
  };
  for (int64_t i = 0; i < steps; ++i) {
    const double t = t0 + h * static_cast<double>(i);
    const auto k1 = rhs(t, c);
    const auto k2 = rhs(t + h / 2, axpy(c, k1, h / 2));
    const auto k3 = rhs(t + h / 2, axpy(c, k2, h / 2));
    const auto k4 = rhs(t + h, axpy(c, k3, h));
    for (int64_t n = 0; n < N; ++n) c[n] += h / 6 * (k1[n] + 2 * k2[n] + 2 * k3[n] + k4[n]);
  }
  return c;
}

}  // namespace

TEST_CASE("hippo_legs(4) is the hand-computed LegS pair", "[hippo]") {
  const auto [A, B] = hippo_legs(4);
  REQUIRE(A.shape() == Shape{4, 4});
  REQUIRE(B.shape() == Shape{4});
  CHECK(A.dtype() == DType::Float64);
  const double s3 = std::sqrt(3.0), s5 = std::sqrt(5.0), s7 = std::sqrt(7.0);
  const std::vector<double> expected_A{-1,      0,       0,       0,   //
                                       -s3,     -2,      0,       0,   //
                                       -s5,     -s3 * s5, -3,     0,   //
                                       -s7,     -s3 * s7, -s5 * s7, -4};
  const auto a = A.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(expected_A[i]).epsilon(1e-15).margin(0));
  const auto b = B.to_vector<double>();
  const std::vector<double> expected_B{1, s3, s5, s7};
  for (size_t i = 0; i < b.size(); ++i) CHECK(b[i] == Approx(expected_B[i]).epsilon(1e-15));

  const auto [A32, B32] = hippo_legs(4, {.dtype = DType::Float32});
  CHECK(A32.dtype() == DType::Float32);
  CHECK(A32.to_vector<float>()[9] == static_cast<float>(-s3 * s5));
  CHECK(B32.to_vector<float>()[3] == static_cast<float>(s7));
}

TEST_CASE("the LegS ODE keeps the exact projection of a polynomial of degree < N", "[hippo]") {
  // What is checked: starting from the exact projection at t0 = 0.25, integrating the ODE with
  // hippo_legs(N)'s A and B to t = 1 gives the projection of f's history at t = 1 (computed directly
  // by quadrature), and that projection reconstructs f on all of [0, 1]. Tolerance 1e-9: RK4 with
  // h = 1e-4 on a system whose fastest rate is N / t0 = 24 has a global error of order (24 h)^4 ~ 1e-11
  // relative, Simpson's rule ~1e-15; a wrong entry of A or B moves c by order 1.
  const int64_t N = 6;
  const auto [At, Bt] = hippo_legs(N);
  const auto A = At.to_vector<double>(), B = Bt.to_vector<double>();
  const std::vector<double> coef{0.3, -1.2, 2.0, 0.7, -2.5, 1.1};  // degree 5 = N - 1
  auto f = [&](double s) {
    double v = 0;
    for (size_t p = coef.size(); p-- > 0;) v = v * s + coef[p];
    return v;
  };
  const auto c = integrate(A, B, f, N, 0.25, 1.0, 7500);
  const auto exact = projection(f, N, 1.0);
  for (int64_t n = 0; n < N; ++n) CHECK(std::abs(c[n] - exact[n]) <= 1e-9);
  for (double s : {0.0, 0.1, 0.37, 0.5, 0.81, 1.0}) CHECK(std::abs(reconstruct(c, s, 1.0) - f(s)) <= 1e-9);

  // Degree N is beyond the N coefficients: the same integration still tracks the projection, but
  // the projection no longer reproduces f (the check above could fail).
  auto g = [](double s) { return std::pow(s, 6); };
  const auto cg = integrate(A, B, g, N, 0.25, 1.0, 7500);
  const auto exact_g = projection(g, N, 1.0);
  for (int64_t n = 0; n < N; ++n) CHECK(std::abs(cg[n] - exact_g[n]) <= 1e-9);
  double worst = 0;
  for (double s : {0.0, 0.1, 0.37, 0.5, 0.81, 1.0}) worst = std::max(worst, std::abs(reconstruct(cg, s, 1.0) - g(s)));
  CHECK(worst > 1e-4);
}

TEST_CASE("hippo_legs rejects a bad size or dtype", "[hippo]") {
  CHECK_THROWS_WITH(hippo_legs(0), Contains("[hippo_legs]") && Contains("got 0"));
  CHECK_THROWS_WITH(hippo_legs(3, {.dtype = DType::Int64}), Contains("[hippo_legs]") && Contains("int64"));
  // N * N wraps to 0 in int64: an error from the allocation, not a write past a zero-sized buffer.
  CHECK_THROWS_AS(hippo_legs(int64_t{1} << 32), ember::Error);
}
