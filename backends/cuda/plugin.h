#pragma once
// The boundary between libember and its CUDA backend, libember_cuda.so. The backend is a plugin:
// libember opens it with dlopen the first time a CUDA device is used (backends/cuda/loader.cpp), so a
// program that never touches a GPU needs no CUDA library at run time, and an installed ember
// configures without the CUDA toolkit. The plugin exports one C function, kCudaPluginEntry, which
// returns this table; everything else in it is hidden.
#include <cstdint>
#include <string>

#include <ember/backends/backend.h>
#include <ember/backends/cuda/cuda.h>

namespace ember::cuda {

// Bumped whenever CudaPlugin or Backend changes, so that a libember_cuda.so from another build of
// ember is refused with a clear error instead of being called through the wrong table.
inline constexpr uint32_t kCudaPluginAbi = 10;
inline constexpr const char* kCudaPluginEntry = "ember_cuda_plugin";

struct CudaPlugin {
  uint32_t abi = kCudaPluginAbi;
  const Backend* backend = nullptr;
  bool (*is_available)() = nullptr;
  int (*device_count)() = nullptr;
  std::string (*device_name)(int device) = nullptr;
  void (*synchronize)(int device) = nullptr;
  MemoryStats (*memory_stats)(int device) = nullptr;
  void (*reset_peak_memory_stats)(int device) = nullptr;
  DeviceMemory (*device_memory)(int device) = nullptr;
  void (*empty_cache)() = nullptr;
};

}  // namespace ember::cuda

extern "C" {
// The plugin's entry point, named by kCudaPluginEntry.
using EmberCudaPluginEntry = const ember::cuda::CudaPlugin* (*)();
}
