#include <ember/backends/cpu/cpu_backend.h>

#include <omp.h>

#include <ember/backends/cpu/blas.h>
#include <ember/backends/cpu/host_kernels.h>
#include <ember/backends/cpu/loops.h>
#include <ember/backends/cpu/onednn.h>
#include <ember/backends/cuda/cuda.h>
#include <ember/core/info.h>

namespace ember {
namespace cpu {
namespace baseline { const Backend& kernel_table(); const HostKernels& host_kernel_table(); }
namespace avx2 { const Backend& kernel_table(); const HostKernels& host_kernel_table(); }
namespace avx512 { const Backend& kernel_table(); const HostKernels& host_kernel_table(); }

namespace {
// Each instruction set's two tables, listed once: the op kernels and the host (linalg) kernels.
struct IsaTables {
  const Backend& (*kernels)();
  const HostKernels& (*host_kernels)();
};

IsaTables tables_for(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Avx512: return {avx512::kernel_table, avx512::host_kernel_table};
    case CpuIsa::Avx2: return {avx2::kernel_table, avx2::host_kernel_table};
    case CpuIsa::Baseline: break;
  }
  return {baseline::kernel_table, baseline::host_kernel_table};
}
}  // namespace

const Backend& cpu_backend_for(CpuIsa isa) { return tables_for(isa).kernels(); }

const HostKernels& host_kernels_for(CpuIsa isa) { return tables_for(isa).host_kernels(); }

const HostKernels& host_kernels() {
  static const HostKernels& table = host_kernels_for(cpu_isa());
  return table;
}
}  // namespace cpu

const Backend& cpu_backend() {
  // A bad EMBER_PARALLEL_GRAIN is an error at the first op, like a bad EMBER_CPU_ISA.
  static const Backend& table = (cpu::check_parallel_grain(), cpu::cpu_backend_for(cpu::cpu_isa()));
  return table;
}

namespace {
thread_local const Backend* cpu_override = nullptr;  // detail::CpuBackendOverride
}  // namespace

const Backend& backend(Device device) {
  if (!device.is_cpu()) [[unlikely]] {
    // A DeviceType cast from an integer out of range is no CUDA device.
    EMBER_CHECK(device.is_cuda(), "device", "unknown device type {} (cpu or cuda)", static_cast<int>(device.type));
    return cuda_backend();
  }
  return cpu_override ? *cpu_override : cpu_backend();
}

detail::CpuBackendOverride::CpuBackendOverride(const Backend& table) : previous_(cpu_override) {
  cpu_override = &table;
}
detail::CpuBackendOverride::~CpuBackendOverride() { cpu_override = previous_; }

std::string info() {
  return fmt::format(
      "ember 0.1.0\n"
      "  threads: {} (OpenMP, shared with OpenBLAS)\n"
      "  parallel grain: {}\n"
      "  cpu kernels: {}\n"
      "  gemm: {}\n"
      "  16-bit gemm, convolution: {}\n"
      "  cuda: {}\n",
      omp_get_max_threads(), cpu::parallel_grain_description(), cpu::cpu_isa_description(),
      cpu::blas::kernel_description(), cpu::onednn::description(), cuda::backend_description());
}

}  // namespace ember
