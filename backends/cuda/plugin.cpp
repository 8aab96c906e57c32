// The entry point of libember_cuda.so: the table libember's loader (backends/cuda/loader.cpp) calls
// through. The plugin is built with hidden visibility, so its definitions of the ember::cuda
// functions (runtime.cpp) are its own and never interpose on the loader's, which have the same names.
#include <ember/backends/cuda/plugin.h>

namespace ember::cuda {
const Backend& backend_table();  // cuda_backend.cpp
}  // namespace ember::cuda

extern "C" __attribute__((visibility("default"))) const ember::cuda::CudaPlugin* ember_cuda_plugin() {
  using namespace ember::cuda;
  static const CudaPlugin plugin{
      .abi = kCudaPluginAbi,
      .backend = &backend_table(),
      .is_available = is_available,
      .device_count = device_count,
      .device_name = device_name,
      .synchronize = synchronize,
      .memory_stats = memory_stats,
      .reset_peak_memory_stats = reset_peak_memory_stats,
      .device_memory = device_memory,
      .empty_cache = empty_cache,
  };
  return &plugin;
}
