#include <ember/backends/cpu/cpu_isa.h>

#include <cpuid.h>

#include <cstdlib>
#include <string_view>

#include <ember/core/error.h>

namespace ember::cpu {

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Baseline: return "baseline";
    case CpuIsa::Avx2: return "avx2";
    case CpuIsa::Avx512: return "avx512";
  }
  return "?";
}

namespace {
// Clang's __builtin_cpu_supports does not know "f16c"; cpuid leaf 1 says it (ECX bit 29).
bool has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
}
}  // namespace

CpuIsa detected_cpu_isa() {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c() &&
                    __builtin_cpu_supports("bmi2");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
  return avx512 ? CpuIsa::Avx512 : avx2 ? CpuIsa::Avx2 : CpuIsa::Baseline;
}

namespace {

struct IsaChoice {
  CpuIsa isa;
  bool forced;
};

IsaChoice choose() {
  const CpuIsa detected = detected_cpu_isa();
  const char* forced = std::getenv("EMBER_CPU_ISA");
  if (!forced || !*forced) return {detected, false};
  const std::string_view name = forced;
  for (CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512}) {
    if (name != cpu_isa_name(isa)) continue;
    EMBER_CHECK(isa <= detected, "cpu", "EMBER_CPU_ISA={} asks for more than this CPU supports ({})", name,
                cpu_isa_name(detected));
    return {isa, true};
  }
  EMBER_FAIL("cpu", "EMBER_CPU_ISA={} is not one of baseline, avx2, avx512", name);
}

// Decided once; a bad EMBER_CPU_ISA raises at every call rather than once and then never again.
const IsaChoice& choice() {
  static const IsaChoice c = choose();
  return c;
}

}  // namespace

CpuIsa cpu_isa() { return choice().isa; }

std::string cpu_isa_description() {
  const IsaChoice& c = choice();
  if (!c.forced) return fmt::format("{} (detected)", cpu_isa_name(c.isa));
  return fmt::format("{} (from EMBER_CPU_ISA; this CPU supports {})", cpu_isa_name(c.isa),
                     cpu_isa_name(detected_cpu_isa()));
}

}  // namespace ember::cpu
