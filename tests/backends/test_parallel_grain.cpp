// Where the CPU kernels start splitting work among threads (backends/cpu/loops.h: parallel_grain).
// CTest runs these cases under the suite's environment (EMBER_PARALLEL_GRAIN=32768, in `backends` and
// `backends_baseline`), under OMP_WAIT_POLICY=PASSIVE alone (parallel_grain_passive) and under
// OMP_WAIT_POLICY=active (parallel_grain_spinning); the last two say the grain they expect in
// EMBER_TEST_EXPECTED_GRAIN.
#include <strings.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include <ember/backends/cpu/loops.h>
#include <ember/core/info.h>
#include <ember/ops/ops.h>

using namespace ember;
using Catch::Matchers::Contains;

namespace {
// The rule docs/benchmarks.md and loops.h state, written out again from the environment.
int64_t documented_grain() {
  if (const char* forced = std::getenv("EMBER_PARALLEL_GRAIN"); forced && *forced) return std::stoll(forced);
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return policy && strcasecmp(policy, "passive") == 0 ? int64_t{1} << 18 : 32768;
}
}  // namespace

TEST_CASE("the parallel grain follows EMBER_PARALLEL_GRAIN, then OpenMP's wait policy", "[parallel-grain]") {
  const char* stated = std::getenv("EMBER_TEST_EXPECTED_GRAIN");
  const int64_t expected = stated && *stated ? std::stoll(stated) : documented_grain();
  CHECK(cpu::parallel_grain() == expected);
  CHECK_THAT(info(), Contains("parallel grain: " + std::to_string(expected) + " elements"));
  // A product is split when it has at least eight grains' worth of multiply-adds.
  CHECK(cpu::gemm_worth_threads(8.0 * double(expected)));
  CHECK_FALSE(cpu::gemm_worth_threads(8.0 * double(expected) - 1));
}

TEST_CASE("the grain changes where work is split, not the results", "[parallel-grain]") {
  // Every op below crosses the grain in one of the environments the suite runs this file in; its
  // values are fixed by arithmetic, whichever side of the grain it falls.
  for (int64_t n : {int64_t{1000}, int64_t{40000}, int64_t{1} << 18, (int64_t{1} << 18) + 7}) {
    // Whole numbers below 2^20 and their sum below 2^40: every value and the sum are exact in float64.
    const Tensor x = arange(0, static_cast<double>(n), 1, {.dtype = DType::Float64});
    const Tensor y = relu(x - double(n / 2)) * 2.0;
    CHECK(y[0].item<double>() == 0.0);
    CHECK(y[n - 1].item<double>() == double(2 * (n - 1 - n / 2)));
    CHECK(sum(y).item<double>() == double(n - 1 - n / 2) * double(n - n / 2));
  }
}

// Run by CTest with EMBER_PARALLEL_GRAIN set to a bad value (the parallel_grain_bad_value test).
TEST_CASE("a bad EMBER_PARALLEL_GRAIN is an error naming it, at the first op", "[.parallel-grain-bad-value]") {
  const char* forced = std::getenv("EMBER_PARALLEL_GRAIN");
  REQUIRE(forced != nullptr);
  CHECK_THROWS_WITH(cpu::check_parallel_grain(), Contains("[cpu]") && Contains(std::string("EMBER_PARALLEL_GRAIN=") + forced));
  CHECK(cpu::parallel_grain() == 32768);  // never throws (it may be called inside a parallel region)
  CHECK_THROWS_WITH(ones({3}) + ones({3}), Contains(std::string("EMBER_PARALLEL_GRAIN=") + forced));
}
