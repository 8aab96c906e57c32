#pragma once
// Small helpers shared by the autograd tests.
#include <catch2/catch.hpp>

#include <vector>

#include <ember/ops/ops.h>

namespace ember::test {

// A float64 leaf that requires grad, from values (1-D, or reshaped to shape).
inline Tensor leaf(const std::vector<double>& values, std::vector<int64_t> shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  return from_vector(values, std::span<const int64_t>(shape), {.dtype = DType::Float64}).requires_grad_();
}

// Checks every element of t against expected, within a relative and absolute tolerance.
inline void check_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
  REQUIRE(t.defined());
  const std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", expected " << expected[i]);
    CHECK(got[i] == Approx(expected[i]).epsilon(tol).margin(tol));
  }
}

}  // namespace ember::test
