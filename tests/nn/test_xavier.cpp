// xavier_normal_: N(0, gain^2 * 2 / (fan_in + fan_out)), with the receptive field counted in both
// fans for convolution weights. Checked on large fixed-seed samples within 4 standard errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include <ember/core/generator.h>
#include <ember/nn/nn.h>
#include <ember/ops/ops.h>

using namespace ember;

namespace {
void check_normal_sample(const Tensor& t, double expected_std) {
  const std::vector<double> v = t.to_vector<double>();
  const double n = static_cast<double>(v.size());
  double sum = 0, sum_sq = 0;
  for (double x : v) sum += x, sum_sq += x * x;
  const double mean = sum / n, std = std::sqrt((sum_sq - n * mean * mean) / (n - 1));
  // Standard errors of a normal sample: mean sigma / sqrt(n), standard deviation sigma / sqrt(2n).
  CHECK(std::abs(mean) < 4 * expected_std / std::sqrt(n));
  CHECK(std::abs(std - expected_std) < 4 * expected_std / std::sqrt(2 * n));
}
}  // namespace

TEST_CASE("xavier_normal_ draws with std gain * sqrt(2 / (fan_in + fan_out))", "[nn][init]") {
  Generator gen(2718);
  SECTION("linear weight [200, 300], gain 2") {
    Tensor w = zeros({200, 300});
    nn::init::xavier_normal_(w, 2.0, &gen);
    check_normal_sample(w, 2.0 * std::sqrt(2.0 / 500.0));
  }
  SECTION("conv weight [64, 32, 5, 5]: fan_in 32 * 25, fan_out 64 * 25") {
    Tensor w = zeros({64, 32, 5, 5});
    nn::init::xavier_normal_(w, 1.0, &gen);
    check_normal_sample(w, std::sqrt(2.0 / (800.0 + 1600.0)));
  }
}
