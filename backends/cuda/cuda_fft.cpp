// The backend's fft entry on CUDA: cuFFT's batched complex-to-complex transforms (C2C for float32,
// Z2Z for float64) on the device's stream. cuFFT's forward transform has the sign -1 and its inverse
// +1, both unscaled: exactly backend.h's contract. Input and output are contiguous [..., n, 2], i.e.
// interleaved complex numbers, batch = numel / (2n) transforms of n points each.
//
// Plans are expensive to make (they choose and size kernels), so the last few are kept per
// (device, n, batch, dtype). They are made without a work area of their own: each call takes one from
// the caching allocator, which hands blocks out in stream order, so the buffer may go back to the
// cache as soon as the transform is queued.
#include <cufft.h>

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <tuple>

#include <ember/backends/backend.h>
#include <ember/backends/cuda/runtime.h>
#include <ember/core/error.h>
#include <ember/core/shape.h>

namespace ember::cuda {
namespace {

const char* cufft_message(cufftResult r) {
  switch (r) {
    case CUFFT_INVALID_PLAN: return "invalid plan";
    case CUFFT_ALLOC_FAILED: return "allocation failed";
    case CUFFT_INVALID_VALUE: return "invalid value";
    case CUFFT_INTERNAL_ERROR: return "internal error";
    case CUFFT_EXEC_FAILED: return "execution failed";
    case CUFFT_SETUP_FAILED: return "setup failed";
    case CUFFT_INVALID_SIZE: return "invalid size";
    case CUFFT_NOT_SUPPORTED: return "not supported";
    default: return "error";
  }
}

void check_cufft(cufftResult r, const char* what, int device) {
  if (r != CUFFT_SUCCESS) EMBER_FAIL("fft", "{} failed on cuda:{}: cuFFT {} ({})", what, device, cufft_message(r), static_cast<int>(r));
}

struct Plan {
  cufftHandle handle;
  size_t work_bytes;
};

class PlanCache {
 public:
  static constexpr size_t kCapacity = 16;

  // Runs one transform with a cached (or new) plan; the lock is held while the work is queued, so
  // no two threads use one plan's stream binding and work area at once.
  void run(int device, int64_t n, int64_t batch, bool is_double, void* in, void* out, bool inverse) {
    std::lock_guard<std::mutex> lock(mutex_);
    const Key key{device, n, batch, is_double};
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      if (plans_.size() >= kCapacity) evict_oldest();
      it = plans_.emplace(key, make_plan(device, n, batch, is_double)).first;
      order_.push_back(key);
    }
    const Plan& plan = it->second;
    check_cufft(cufftSetStream(plan.handle, stream(device)), "cufftSetStream", device);
    DeviceBuffer work(plan.work_bytes, device);
    check_cufft(cufftSetWorkArea(plan.handle, work.get()), "cufftSetWorkArea", device);
    const int direction = inverse ? CUFFT_INVERSE : CUFFT_FORWARD;
    if (is_double)
      check_cufft(cufftExecZ2Z(plan.handle, static_cast<cufftDoubleComplex*>(in), static_cast<cufftDoubleComplex*>(out),
                               direction),
                  "cufftExecZ2Z", device);
    else
      check_cufft(cufftExecC2C(plan.handle, static_cast<cufftComplex*>(in), static_cast<cufftComplex*>(out), direction),
                  "cufftExecC2C", device);
  }

 private:
  using Key = std::tuple<int, int64_t, int64_t, bool>;

  static Plan make_plan(int device, int64_t n, int64_t batch, bool is_double) {
    Plan plan{};
    check_cufft(cufftCreate(&plan.handle), "cufftCreate", device);
    long long dims[1] = {static_cast<long long>(n)};
    const cufftResult made = [&] {
      cufftResult r = cufftSetAutoAllocation(plan.handle, 0);
      if (r != CUFFT_SUCCESS) return r;
      return cufftMakePlanMany64(plan.handle, 1, dims, nullptr, 1, n, nullptr, 1, n, is_double ? CUFFT_Z2Z : CUFFT_C2C,
                                 static_cast<long long>(batch), &plan.work_bytes);
    }();
    if (made != CUFFT_SUCCESS) {
      cufftDestroy(plan.handle);
      check_cufft(made, "making a plan", device);
    }
    return plan;
  }

  // Work queued with the plan may still be running: wait for the device's stream before freeing it.
  void evict_oldest() {
    const Key key = order_.front();
    order_.pop_front();
    auto it = plans_.find(key);
    const int device = std::get<0>(key);
    check(cudaStreamSynchronize(stream(device)), "fft", "cudaStreamSynchronize", device);
    cufftDestroy(it->second.handle);
    plans_.erase(it);
  }

  std::mutex mutex_;
  std::map<Key, Plan> plans_;
  std::deque<Key> order_;
};

PlanCache& plan_cache() {
  static PlanCache* cache = new PlanCache;  // never destroyed: plans may outlive static destruction order
  return *cache;
}

}  // namespace

void fft(const View& in, const View& out, bool inverse) {
  EMBER_CHECK(in.ndim() >= 2 && in.shape[in.ndim() - 1] == 2, "fft", "expected complex data [..., n, 2], got {}",
              shape_str(in.shape));
  EMBER_CHECK(in.dtype == DType::Float32 || in.dtype == DType::Float64, "fft",
              "the CUDA kernel takes float32 or float64, got {}", in.dtype);
  const int64_t n = in.shape[in.ndim() - 2];
  if (n == 0 || in.numel() == 0) return;
  const int64_t batch = in.numel() / (2 * n);
  const int device = device_for(in.data);
  EMBER_CHECK(device_of(in.data) == device && device_of(out.data) == device, "fft",
              "expected the input and output on cuda:{}", device);
  plan_cache().run(device, n, batch, in.dtype == DType::Float64, in.data, out.data, inverse);
}

}  // namespace ember::cuda
