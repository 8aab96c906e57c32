#pragma once
// Which instruction set the CPU kernels run with. The hot kernels (backends/cpu/elementwise.cpp,
// reduce.cpp, conv.cpp, index.cpp, matmul.cpp) are compiled three times, once per level below, into
// the namespaces ember::cpu::baseline, ::avx2 and ::avx512; cpu_backend() picks one table of them
// once, at first use, from cpuid. The rest of ember is compiled for baseline x86-64, so the library
// runs on any x86-64 CPU and under valgrind.
#include <string>

namespace ember::cpu {

enum class CpuIsa {
  Baseline,  // x86-64: SSE2
  Avx2,      // x86-64-v3: AVX2, FMA, F16C, BMI1/2 (Haswell, Zen 1 and later)
  Avx512,    // x86-64-v4: AVX-512 F, BW, CD, DQ, VL (Skylake-SP, Zen 4 and later)
};

const char* cpu_isa_name(CpuIsa isa);
// The best level this CPU and its operating system support (libgcc's cpuid, which also checks that
// the OS saves the AVX and AVX-512 registers).
CpuIsa detected_cpu_isa();
// The level in use: detected_cpu_isa(), or the one EMBER_CPU_ISA (baseline, avx2 or avx512) asks
// for. A level above what the CPU supports, or an unknown name, is an ember::Error naming both: a
// typo must not silently test the wrong kernels.
CpuIsa cpu_isa();
// "avx512 (detected)", "baseline (from EMBER_CPU_ISA; this CPU supports avx512)".
std::string cpu_isa_description();

}  // namespace ember::cpu
