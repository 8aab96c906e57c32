#include <ember/core/storage.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include <ember/backends/backend.h>
#include <ember/core/error.h>

namespace ember {
namespace {

constexpr size_t kAlignment = 64;  // a cache line; also what AVX-512 loads like

// No machine maps more than 2^57 bytes (5-level paging gives user space 2^56), so a larger request
// is refused outright; it also keeps round_size below from overflowing.
constexpr size_t kMaxAllocation = size_t{1} << 57;

// Rounds small requests up to a multiple of 64 bytes and large ones to 1/8 of their power of two,
// so a freed block is likely to fit the next request of a similar size. n <= kMaxAllocation.
size_t round_size(size_t n) {
  if (n <= 4096) return (n + kAlignment - 1) / kAlignment * kAlignment;
  const size_t step = std::max<size_t>(std::bit_ceil(n) / 8, 4096);
  return (n + step - 1) / step * step;
}

// Free blocks by rounded size: small sizes (multiples of 64 up to 4096) index an array directly,
// larger ones go through a map. A vector per size keeps allocate/free free of node allocations.
struct CpuCache {
  std::mutex mutex;
  std::vector<void*> small[4096 / kAlignment + 1];
  std::map<size_t, std::vector<void*>> large;
  CpuAllocator::Stats stats;
  std::vector<void*>& blocks_of(size_t rounded) {
    return rounded <= 4096 ? small[rounded / kAlignment] : large[rounded];
  }
};

CpuCache& cache() {
  static CpuCache* c = new CpuCache;  // never destroyed: storages may die during static destruction
  return *c;
}

}  // namespace

void* CpuAllocator::allocate(size_t nbytes) {
  EMBER_CHECK(nbytes <= kMaxAllocation, "allocator",
              "out of CPU memory allocating {} bytes (more than any machine can address, 2^57)", nbytes);
  const size_t size = round_size(std::max<size_t>(nbytes, 1));
  CpuCache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    std::vector<void*>& blocks = c.blocks_of(size);
    c.stats.bytes_in_use += size;
    c.stats.peak_bytes_in_use = std::max(c.stats.peak_bytes_in_use, c.stats.bytes_in_use);
    if (!blocks.empty()) {
      void* p = blocks.back();
      blocks.pop_back();
      c.stats.bytes_cached -= size;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlignment, size);
  if (!p) {
    empty_cache();
    p = std::aligned_alloc(kAlignment, size);
  }
  if (!p) {
    std::lock_guard lock(c.mutex);
    c.stats.bytes_in_use -= size;
    EMBER_FAIL("allocator", "out of CPU memory allocating {} bytes", nbytes);
  }
  return p;
}

void CpuAllocator::deallocate(void* ptr, size_t nbytes) {
  const size_t size = round_size(std::max<size_t>(nbytes, 1));
  CpuCache& c = cache();
  std::lock_guard lock(c.mutex);
  c.stats.bytes_in_use -= size;
  c.stats.bytes_cached += size;
  c.blocks_of(size).push_back(ptr);
}

void CpuAllocator::empty_cache() {
  CpuCache& c = cache();
  std::lock_guard lock(c.mutex);
  for (auto& blocks : c.small) {
    for (void* p : blocks) std::free(p);
    blocks.clear();
  }
  for (auto& [size, blocks] : c.large)
    for (void* p : blocks) std::free(p);
  c.large.clear();
  c.stats.bytes_cached = 0;
}

CpuAllocator::Stats CpuAllocator::stats() {
  std::lock_guard lock(cache().mutex);
  return cache().stats;
}

void CpuAllocator::reset_peak_stats() {
  std::lock_guard lock(cache().mutex);
  cache().stats.peak_bytes_in_use = cache().stats.bytes_in_use;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = device.is_cpu() ? CpuAllocator::allocate(nbytes) : backend(device).allocate(nbytes, device);
}

Storage::Storage(void* data, size_t nbytes, Device device, void (*deleter)(void*, void*),
                 void* deleter_ctx)
    : data_(data), nbytes_(nbytes), device_(device), deleter_(deleter), deleter_ctx_(deleter_ctx),
      owned_(false) {}

Storage::~Storage() {
  if (!owned_) {
    if (deleter_) deleter_(deleter_ctx_, data_);
    return;
  }
  if (device_.is_cpu()) {
    CpuAllocator::deallocate(data_, nbytes_);
  } else {
    backend(device_).deallocate(data_, nbytes_, device_);  // GCOVR_EXCL_LINE: CUDA storages only
  }
}

}  // namespace ember
