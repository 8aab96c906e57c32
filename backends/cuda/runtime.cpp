// The CUDA runtime side of the backend: device discovery, one stream and one cuBLAS handle per
// device, the caching allocator, pinned staging memory. Compiled by the host compiler.
#include <ember/backends/cuda/runtime.h>

#include <array>
#include <bit>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <ember/backends/cuda/cuda.h>
#include <ember/core/error.h>

namespace ember::cuda {
namespace {

constexpr int kMaxDevices = 16;

std::string bytes_str(size_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.2f} {}", v, units[u]);
}

// Rounds a request up to its bin: multiples of 512 bytes up to 1 MiB, then steps of 1/8 of the next
// power of two (at most 12.5% waste), so a freed block is likely to fit the next request of a
// similar size. Each bin has its own free list.
// No GPU holds 2^50 bytes (1 PiB); refusing larger requests first keeps the rounding from overflowing.
constexpr size_t kMaxAllocation = size_t{1} << 50;

size_t round_size(size_t n) {
  n = std::max<size_t>(n, 1);
  if (n <= (size_t{1} << 20)) return (n + 511) / 512 * 512;
  const size_t step = std::bit_ceil(n) / 8;
  return (n + step - 1) / step * step;
}

struct DeviceState {
  std::once_flag init;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  std::mutex mutex;  // guards the free lists and stats
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  MemoryStats stats;
};

std::array<DeviceState, kMaxDevices>& devices() {
  static auto* d = new std::array<DeviceState, kMaxDevices>;  // never destroyed: tensors may outlive statics
  return *d;
}

int count_devices() {
  int n = 0;
  // Any error here (no driver: cudaErrorInsufficientDriver or cudaErrorNoDevice on build machines)
  // means "no GPU". Clear it so it does not surface at a later, unrelated call.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return std::min(n, kMaxDevices);
}

DeviceState& state(int device) {
  EMBER_CHECK(device >= 0 && device < device_count(), "cuda", "no device cuda:{} ({} CUDA device(s) available{})",
              device, device_count(), device_count() == 0 ? ": no GPU or driver was found" : "");
  DeviceState& s = devices()[device];
  std::call_once(s.init, [&] {
    set_device(device);
    check(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cuda", "cudaStreamCreate", device);
    check_cublas(cublasCreate(&s.blas), "matmul", device);
    check_cublas(cublasSetStream(s.blas, s.stream), "matmul", device);
  });
  return s;
}

thread_local int current_device = -1;

// Every block ember got from cudaMalloc, by address, so that device_of() can answer for the memory it
// handed out without asking the driver (cudaPointerGetAttributes costs about as much as the rest
// of a small op's host work).
struct Segments {
  std::mutex mutex;
  std::map<uintptr_t, std::pair<size_t, int>> blocks;  // base -> (size, device)
};
Segments& segments() {
  static auto* s = new Segments;
  return *s;
}
void add_segment(void* p, size_t size, int device) {
  std::lock_guard lock(segments().mutex);
  segments().blocks[reinterpret_cast<uintptr_t>(p)] = {size, device};
}
void remove_segment(void* p) {
  std::lock_guard lock(segments().mutex);
  segments().blocks.erase(reinterpret_cast<uintptr_t>(p));
}

void free_cached(int device, DeviceState& s) {
  // cudaFree synchronises the device, so no queued kernel still uses a block when it goes back.
  set_device(device);
  for (auto& [size, blocks] : s.free_blocks)
    for (void* p : blocks) {
      remove_segment(p);
      cudaFree(p);
    }
  s.free_blocks.clear();
  s.stats.cached_bytes = 0;
  s.stats.reserved_bytes = s.stats.allocated_bytes;
}

}  // namespace

void check(cudaError_t status, const char* op, const char* what, int device) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  EMBER_FAIL(op, "{} failed on cuda:{}: {} ({})", what, device, cudaGetErrorString(status), cudaGetErrorName(status));
}

void check_cublas(cublasStatus_t status, const char* op, int device) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  EMBER_FAIL(op, "cuBLAS failed on cuda:{}: {} ({})", device, cublasGetStatusString(status), cublasGetStatusName(status));
}

void check_launch(const char* op, int device) { check(cudaGetLastError(), op, "kernel launch", device); }

bool is_available() { return device_count() > 0; }

int device_count() {
  static const int n = count_devices();
  return n;
}

std::string device_name(int device) {
  state(device);
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cuda", "cudaGetDeviceProperties", device);
  return prop.name;
}

void set_device(int device) {
  if (current_device == device) return;
  check(cudaSetDevice(device), "cuda", "cudaSetDevice", device);
  current_device = device;
}

int device_of(const void* ptr) {
  {
    const uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
    std::lock_guard lock(segments().mutex);
    auto it = segments().blocks.upper_bound(p);
    if (it != segments().blocks.begin()) {
      --it;
      if (p < it->first + it->second.first) return it->second.second;
    }
  }
  // Not ember's: host memory, or device memory from elsewhere (from_blob). Ask the driver.
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged ? attr.device : -1;
}

int device_for(const void* ptr) {
  const int device = device_count() == 1 ? 0 : std::max(device_of(ptr), 0);
  set_device(device);
  return device;
}

cudaStream_t stream(int device) { return state(device).stream; }
cublasHandle_t cublas(int device) { return state(device).blas; }

void synchronize(int device) {
  if (device >= 0) {
    check(cudaStreamSynchronize(stream(device)), "cuda", "cudaStreamSynchronize", device);
    return;
  }
  for (int d = 0; d < device_count(); ++d) synchronize(d);
}

void* device_allocate(size_t nbytes, int device) {
  EMBER_CHECK(nbytes <= kMaxAllocation, "cuda",
              "out of memory on cuda:{}: tried to allocate {} bytes, more than any GPU holds", device, nbytes);
  const size_t size = round_size(nbytes);
  DeviceState& s = state(device);
  std::lock_guard lock(s.mutex);
  ++s.stats.allocations;
  auto it = s.free_blocks.find(size);
  void* p = nullptr;
  if (it != s.free_blocks.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    ++s.stats.cache_hits;
    s.stats.cached_bytes -= size;
  } else {
    set_device(device);
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // out of memory is not sticky: clear it, give the cache back, try again
      free_cached(device, s);
      status = cudaMalloc(&p, size);
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      ++s.stats.out_of_memory;
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      cudaGetLastError();
      EMBER_FAIL("cuda", "out of memory on cuda:{}: tried to allocate {} ({} bytes); ember holds {} for tensors "
                 "and {} cached; the device has {} free of {} ({})",
                 device, bytes_str(nbytes), nbytes, bytes_str(s.stats.allocated_bytes), bytes_str(s.stats.cached_bytes),
                 bytes_str(free_b), bytes_str(total_b), cudaGetErrorString(status));
    }
    add_segment(p, size, device);
    ++s.stats.device_mallocs;
    s.stats.reserved_bytes += size;
  }
  s.stats.allocated_bytes += size;
  s.stats.peak_allocated_bytes = std::max(s.stats.peak_allocated_bytes, s.stats.allocated_bytes);
  return p;
}

void device_deallocate(void* ptr, size_t nbytes, int device) {
  const size_t size = round_size(nbytes);
  DeviceState& s = state(device);
  std::lock_guard lock(s.mutex);
  s.stats.allocated_bytes -= size;
  s.stats.cached_bytes += size;
  s.free_blocks[size].push_back(ptr);
}

MemoryStats memory_stats(int device) {
  DeviceState& s = state(device);
  std::lock_guard lock(s.mutex);
  return s.stats;
}

void reset_peak_memory_stats(int device) {
  DeviceState& s = state(device);
  std::lock_guard lock(s.mutex);
  s.stats.peak_allocated_bytes = s.stats.allocated_bytes;
}

DeviceMemory device_memory(int device) {
  state(device);
  set_device(device);
  DeviceMemory m;
  check(cudaMemGetInfo(&m.free_bytes, &m.total_bytes), "cuda", "cudaMemGetInfo", device);
  return m;
}

void empty_cache() {
  for (int d = 0; d < device_count(); ++d) {
    DeviceState& s = state(d);
    std::lock_guard lock(s.mutex);
    free_cached(d, s);
  }
}

PinnedStaging pinned_staging(size_t nbytes) {
  // Up to 256 MiB is staged; bigger transfers go from pageable memory (the driver stages those itself)
  // rather than pinning that much host memory for good.
  constexpr size_t kLimit = size_t{256} << 20;
  static std::mutex mutex;
  static void* buffer = nullptr;
  static size_t capacity = 0;
  std::unique_lock lock(mutex);
  if (nbytes > kLimit) return {std::move(lock), nullptr};
  if (nbytes > capacity) {
    if (buffer) cudaFreeHost(buffer);
    const size_t want = std::max<size_t>(round_size(nbytes), size_t{1} << 20);
    if (cudaHostAlloc(&buffer, want, cudaHostAllocPortable) != cudaSuccess) {
      cudaGetLastError();
      buffer = nullptr;
      capacity = 0;
      return {std::move(lock), nullptr};
    }
    capacity = want;
  }
  return {std::move(lock), buffer};
}

}  // namespace ember::cuda
