#pragma once
// Internal to the CUDA backend (host compiler only): devices, the one stream per device, cuBLAS
// handles, the caching allocator and pinned staging memory. See docs/cuda.md.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <mutex>

namespace ember::cuda {

// Throws ember::Error "[op] <what> failed on cuda:<device>: <CUDA's message>" unless status is success.
void check(cudaError_t status, const char* op, const char* what, int device);
void check_cublas(cublasStatus_t status, const char* op, int device);
// After a kernel launch: a bad launch configuration shows up here, not at the <<<>>>.
void check_launch(const char* op, int device);

// Makes device current for this thread (cheap when it already is).
void set_device(int device);
// The device whose memory ptr points into, or -1 for host memory (pageable or pinned).
int device_of(const void* ptr);
// The device a kernel over these operands runs on: the only one when there is one GPU, else the
// device of ptr. Also makes it current.
int device_for(const void* ptr);

// The stream all of device's work is queued on (created on first use, non-blocking).
cudaStream_t stream(int device);
cublasHandle_t cublas(int device);

// The caching allocator (core/storage.cpp reaches it through the backend's allocate/deallocate).
void* device_allocate(size_t nbytes, int device);
void device_deallocate(void* ptr, size_t nbytes, int device);

// A temporary device buffer from the caching allocator, returned when it goes out of scope. The
// allocator hands blocks out in stream order (one stream per device), so returning a block that
// queued kernels still use is safe: the next user's work is queued after them.
class DeviceBuffer {
 public:
  DeviceBuffer(size_t nbytes, int device)
      : ptr_(nbytes ? device_allocate(nbytes, device) : nullptr), nbytes_(nbytes), device_(device) {}
  ~DeviceBuffer() {
    if (ptr_) device_deallocate(ptr_, nbytes_, device_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }

 private:
  void* ptr_;
  size_t nbytes_;
  int device_;
};

// A process-wide pinned (page-locked) host buffer for transfers: copies from pinned memory run at
// full PCIe/NVLink speed and cudaMemcpyAsync from it is truly asynchronous. Hold the lock from
// filling the buffer until the transfer that reads or writes it has been synchronised.
struct PinnedStaging {
  std::unique_lock<std::mutex> lock;
  void* ptr;  // nullptr when nbytes is over the staging limit: transfer from/to pageable memory
};
PinnedStaging pinned_staging(size_t nbytes);

}  // namespace ember::cuda
