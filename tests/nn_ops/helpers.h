#pragma once
// Shared helpers of the nn_ops tests: float64 random inputs, row-major index helpers for the naive
// loop references, and a comparison that names the first mismatching element.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

namespace nn_test {

using namespace ember;
using V = std::vector<int64_t>;

inline TensorOptions f64(bool requires_grad = false) { return {.dtype = DType::Float64, .requires_grad = requires_grad}; }

// A reproducible float64 tensor (standard normal), optionally requiring grad.
inline Tensor rnd(std::span<const int64_t> shape, uint64_t seed, bool requires_grad = false) {
  Generator gen(seed);
  Tensor t = randn(shape, {.dtype = DType::Float64}, &gen);
  if (requires_grad) t.requires_grad_();
  return t;
}
inline Tensor rnd(std::initializer_list<int64_t> shape, uint64_t seed, bool requires_grad = false) {
  return rnd(std::span<const int64_t>(shape.begin(), shape.size()), seed, requires_grad);
}

inline std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

// Within atol + rtol * |want| elementwise; empty string when all match.
inline std::string compare(const std::vector<double>& got, const std::vector<double>& want, double rtol = 1e-10,
                           double atol = 1e-10) {
  if (got.size() != want.size()) return fmt::format("{} values, expected {}", got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i])) && got[i] != want[i])
      return fmt::format("element {}: got {}, expected {}", i, got[i], want[i]);
  return "";
}

// Row-major flat index of a 4-D position.
inline int64_t at4(const Shape& s, int64_t a, int64_t b, int64_t c, int64_t d) {
  return ((a * s[1] + b) * s[2] + c) * s[3] + d;
}

inline double dot_all(const Tensor& a, const Tensor& b) {
  std::vector<double> x = vals(a), y = vals(b);
  REQUIRE(x.size() == y.size());
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

// gradcheck and gradgradcheck with the default tolerances; the message of a failure is shown.
#define NN_GRADCHECKS(fn, inputs)                                          \
  do {                                                                     \
    CHECK(::ember::testing::gradcheck((fn), (inputs)) == std::string());     \
    CHECK(::ember::testing::gradgradcheck((fn), (inputs)) == std::string()); \
  } while (0)

// The message of the ember::Error f throws (empty when it throws nothing).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ember::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace nn_test
