#pragma once
// The CUDA runtime as ember users see it: devices, synchronisation and the caching allocator's
// statistics. Present in every build. The backend itself is libember_cuda.so, loaded the first time
// one of these functions or a CUDA tensor needs it (backends/cuda/loader.cpp). Where it cannot be
// loaded (ember built without CUDA, the library or CUDA's own libraries missing) there are no
// devices, is_available() is false and the rest throws ember::Error saying why.
#include <cstddef>
#include <string>

namespace ember::cuda {

// False when the CUDA backend cannot be loaded, when no driver or GPU is present
// (cudaGetDeviceCount fails, as on the build machines), or when there are zero devices.
bool is_available();
// One line on the backend: "cuda (1 device(s): NVIDIA H200)", "cuda (built; no device found)", or
// why it could not be loaded.
std::string backend_description();
int device_count();
std::string device_name(int device = 0);
// Waits until all work queued on device's stream (every device's for -1) has finished.
void synchronize(int device = -1);

struct MemoryStats {
  size_t allocated_bytes = 0;       // in blocks handed to tensors (sizes rounded up to their bin)
  size_t cached_bytes = 0;          // in free blocks kept for reuse
  size_t reserved_bytes = 0;        // allocated + cached: what ember holds from cudaMalloc
  size_t peak_allocated_bytes = 0;
  size_t allocations = 0;           // requests served
  size_t cache_hits = 0;            // requests served from a free list, no cudaMalloc
  size_t device_mallocs = 0;        // cudaMalloc calls that succeeded
  size_t out_of_memory = 0;         // requests that failed even after emptying the cache
};
MemoryStats memory_stats(int device = 0);
void reset_peak_memory_stats(int device = 0);
// Free and total memory of the device as CUDA reports it (cudaMemGetInfo).
struct DeviceMemory {
  size_t free_bytes = 0, total_bytes = 0;
};
DeviceMemory device_memory(int device = 0);
// Returns every cached free block of every device to CUDA (cudaFree).
void empty_cache();

}  // namespace ember::cuda
