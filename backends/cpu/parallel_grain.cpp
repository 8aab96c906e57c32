#include <strings.h>

#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <ember/backends/cpu/loops.h>
#include <ember/core/error.h>

namespace ember::cpu {

namespace {

struct GrainChoice {
  int64_t grain;
  std::string reason;
  std::string error;  // a bad EMBER_PARALLEL_GRAIN: the grain is then the spinning one
};

// Measured on 2-core AMD Zen 5 and Intel Xeon machines: with spinning threads a parallel region costs
// about 1-4 us, and an elementwise op on 32768 float32 elements about 4 us on one thread, so that
// is where two threads start to pay. With OMP_WAIT_POLICY=passive each region wakes the sleeping
// threads through the kernel, 20-90 us (it differs from session to session): a float32 add on
// 65536 elements took 63 us on two threads and 8 us on one, on 2^18 elements 80-95 against 40 us,
// on 2^19 130-210 against 70 us; at 2^20 the two broke even. The grain stops at 2^18, short of that break-even, because the kernels'
// costs are estimates in elements of such an add, and a kernel that does more work per element
// than it declares would lose its second thread where it still needs it.
constexpr int64_t kSpinningGrain = 32768;
constexpr int64_t kSleepingGrain = int64_t{1} << 18;

GrainChoice choose() {
  if (const char* forced = std::getenv("EMBER_PARALLEL_GRAIN"); forced && *forced) {
    const std::string_view text = forced;
    int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc() && end == text.data() + text.size() && value >= 1) return {value, "from EMBER_PARALLEL_GRAIN", ""};
    return {kSpinningGrain, "EMBER_PARALLEL_GRAIN is not valid",
            fmt::format("EMBER_PARALLEL_GRAIN={} is not a positive whole number of elements", text)};
  }
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  if (policy && strcasecmp(policy, "passive") == 0)
    return {kSleepingGrain, "OMP_WAIT_POLICY=passive: each parallel region wakes sleeping threads", ""};
  return {kSpinningGrain, "OpenMP's threads spin between regions", ""};
}

// Decided once. A bad EMBER_PARALLEL_GRAIN is raised by check_parallel_grain() (at the first op,
// through cpu_backend(), like a bad EMBER_CPU_ISA), never by parallel_grain(), which kernels may
// call inside a parallel region, where an exception would end the program.
const GrainChoice& choice() {
  static const GrainChoice c = choose();
  return c;
}

}  // namespace

int64_t parallel_grain() { return choice().grain; }

void check_parallel_grain() { EMBER_CHECK(choice().error.empty(), "cpu", "{}", choice().error); }

bool gemm_worth_threads(double multiply_adds) { return multiply_adds >= 8.0 * double(parallel_grain()); }

std::string parallel_grain_description() {
  check_parallel_grain();
  return fmt::format("{} elements ({})", choice().grain, choice().reason);
}

}  // namespace ember::cpu
