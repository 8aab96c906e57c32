#include "backends/cpu/cpu_backend.h"

#include "backends/cpu/blas.h"
#include "core/storage.h"

namespace ember {

const Backend& cpu_backend() {
  static const Backend table{
      .name = [] { return std::string("cpu"); },
      .allocate = [](size_t nbytes, Device) { return CpuAllocator::allocate(nbytes); },
      .deallocate = [](void* p, size_t nbytes, Device) { CpuAllocator::deallocate(p, nbytes); },
      .fill = cpu::fill,
      .copy = cpu::copy,
      .unary = cpu::unary,
      .binary = cpu::binary,
      .where = cpu::where,
      .reduce = cpu::reduce,
      .matmul = cpu::matmul,
      .cumsum = cpu::cumsum,
      .gather = cpu::gather,
      .scatter_add = cpu::scatter_add,
      .index_select = cpu::index_select,
      .index_add = cpu::index_add,
      .random = cpu::random,
      .index_range = cpu::index_range,
      .has_nonfinite = cpu::has_nonfinite,
      .im2col = cpu::im2col,
      .col2im = cpu::col2im,
      .max_pool2d = cpu::max_pool2d,
  };
  return table;
}

const Backend& backend(Device device) {
  return device.is_cpu() ? cpu_backend() : cuda_backend();
}

}  // namespace ember

#include <omp.h>

#include "core/info.h"

namespace ember {

std::string info() {
  return fmt::format(
      "ember 0.1.0\n"
      "  threads: {} (OpenMP, shared with OpenBLAS)\n"
      "  gemm: {}\n"
      "  cuda: {}\n",
      omp_get_max_threads(), cpu::blas::kernel_description(), cuda_backend().name());
}

}  // namespace ember
