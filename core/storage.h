#pragma once
// A refcounted buffer of bytes on one device, and the version counter that views share.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <ember/core/device.h>

namespace ember {

// Returns blocks to per-size free lists instead of to the system. glibc gives blocks over 32 MiB back
// to the kernel on free, so without a cache every training step page-faults its activations again.
class CpuAllocator {
 public:
  static void* allocate(size_t nbytes);
  static void deallocate(void* ptr, size_t nbytes);
  static void empty_cache();
  struct Stats {
    size_t bytes_in_use = 0;
    size_t bytes_cached = 0;
    size_t peak_bytes_in_use = 0;
  };
  static Stats stats();
  // Starts peak_bytes_in_use again from the bytes in use now (to measure one computation's peak).
  static void reset_peak_stats();
};

class Storage {
 public:
  // Allocates nbytes on device (uninitialised).
  Storage(size_t nbytes, Device device);
  // Wraps memory owned elsewhere; deleter (may be empty) runs when the storage dies.
  Storage(void* data, size_t nbytes, Device device, void (*deleter)(void*, void*), void* deleter_ctx);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  // False for memory wrapped from elsewhere (from_blob): its owner may still read or free it.
  bool owned() const { return owned_; }

  // Bumped by every in-place write; autograd compares it with the version a saved tensor had.
  uint32_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }
  // Bumped when an in-place op under autograd gives a tensor on this storage a new history (x.mul_(w)
  // with w requiring grad): the views taken before it show the new values but hold the old graph, so
  // using one in a recorded op is refused (Tensor's view_history, checked in apply()).
  uint32_t history_version() const { return history_version_.load(std::memory_order_relaxed); }
  void bump_history_version() { history_version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  void (*deleter_)(void*, void*) = nullptr;
  void* deleter_ctx_ = nullptr;
  bool owned_ = true;
  std::atomic<uint32_t> version_{0};
  std::atomic<uint32_t> history_version_{0};
};

}  // namespace ember
