#pragma once
// The CPU backend's kernel tables, one per instruction set (backends/cpu/cpu_isa.h).
#include <ember/backends/backend.h>
#include <ember/backends/cpu/cpu_isa.h>

namespace ember::cpu {

// The table compiled for isa, whatever this CPU supports: for tests that compare the levels (only
// call the kernels of a level the CPU has). cpu_backend() is cpu_backend_for(cpu_isa()).
const Backend& cpu_backend_for(CpuIsa isa);

}  // namespace ember::cpu
