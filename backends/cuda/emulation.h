#pragma once
// Runs ember's CUDA kernels on the host, so that their logic is tested on machines without a GPU.
//
// A .cu file compiled by the host compiler with EMBER_CUDA_EMULATION defined (tests/cuda_emulated/)
// includes this header instead of CUDA's: the CUDA keywords become plain C++, threadIdx and friends
// become the running thread's variables, and launch_kernel (common.cuh) runs the grid's blocks one
// after the other. A block's threads are fibers (ucontext) on the calling thread, run in turns: each
// runs until it reaches __syncthreads() or returns, and once every thread still running has reached
// the barrier they all go on. __shared__ variables are function-local statics, shared by the running
// block's threads and, since blocks never overlap, by nothing else. Fibers rather than OS threads:
// a barrier costs a few context switches in user space instead of a round of the OS scheduler (on a
// busy 2-core machine, milliseconds), and every run interleaves the threads the same way.
//
// What it checks: indexing, tiling, masking, the arithmetic, and the barriers around shared tiles
// (the threads run a phase one after another, so without the barrier after a cooperative load the
// first thread reads a tile the others have not written, and without the one before it a thread
// overwrites a tile the others have not read). What it cannot: the memory model beyond barriers
// (fences, races between blocks, which never overlap here), performance, and warp intrinsics beyond
// __shfl_down_sync in blocks of one warp (others are not provided, so a kernel using them does not
// compile here). The bits may differ from the device's in the last place (host libm against CUDA's
// math library).
#include <ucontext.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__CUDACC__)
#error "emulation.h is for the host compiler; nvcc compiles the kernels for a real device"
#endif

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct CUstream_st;
using cudaStream_t = CUstream_st*;

namespace ember::cuda::emulation {

// One emulated thread: its built-in variables and its fiber.
struct Thread {
  dim3 thread_index, block_index, block_dim, grid_dim;
  ucontext_t context;
  std::unique_ptr<char[]> stack;
  bool done = false;
  void* sanitizer_fake_stack = nullptr;
};

// The scheduler's state: the running block's threads and the context that resumes them.
struct Block {
  std::vector<Thread> threads;
  Thread* running = nullptr;
  ucontext_t scheduler;
  std::byte* exchange = nullptr;  // shuffle slots, 8 bytes per thread
  const void* scheduler_stack_bottom = nullptr;
  size_t scheduler_stack_size = 0;
};
inline thread_local Block* current_block = nullptr;
inline Thread& current() { return *current_block->running; }

// AddressSanitizer must be told when a stack switch happens (its fake stacks and shadow memory).
inline void before_switch(void** fake_stack, const void* bottom, size_t size) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(fake_stack, bottom, size);
#else
  (void)fake_stack, (void)bottom, (void)size;
#endif
}
inline void after_switch(void* fake_stack, const void** old_bottom = nullptr, size_t* old_size = nullptr) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(fake_stack, old_bottom, old_size);
#else
  (void)fake_stack, (void)old_bottom, (void)old_size;
#endif
}

// __syncthreads(): back to the scheduler, which resumes this thread once every thread still running
// has arrived.
inline void barrier() {
  Block& block = *current_block;
  Thread& self = *block.running;
  before_switch(&self.sanitizer_fake_stack, block.scheduler_stack_bottom, block.scheduler_stack_size);
  swapcontext(&self.context, &block.scheduler);
  after_switch(self.sanitizer_fake_stack);
}

inline constexpr size_t kStackBytes = size_t{1} << 18;  // per thread; kernels keep small arrays there

template <class Body>
void fiber_entry(unsigned lo, unsigned hi) {  // makecontext passes ints: the body's address in halves
  Body* body = reinterpret_cast<Body*>((static_cast<uintptr_t>(hi) << 32) | lo);
  Block& block = *current_block;
  after_switch(nullptr, &block.scheduler_stack_bottom, &block.scheduler_stack_size);
  (*body)();
  block.running->done = true;
  before_switch(nullptr, block.scheduler_stack_bottom, block.scheduler_stack_size);  // this fiber ends
  // returning resumes uc_link, the scheduler
}

// Runs kernel(args...) over grid x block: blocks in order (x fastest), each block's threads in turns
// between barriers. A thread may return early, as on the device.
template <class... Params, class... Args>
void run(void (*kernel)(Params...), dim3 grid, dim3 block_dim, Args&&... args) {
  const unsigned threads = block_dim.x * block_dim.y * block_dim.z;
  auto body = [&] { kernel(static_cast<Params>(args)...); };
  using Body = decltype(body);
  const auto address = reinterpret_cast<uintptr_t>(&body);
  Block block;  // reused by every block of the grid, stacks included
  std::vector<double> exchange(threads);
  block.exchange = reinterpret_cast<std::byte*>(exchange.data());
  block.threads.resize(threads);
  for (Thread& th : block.threads) th.stack.reset(new char[kStackBytes]);
  Block* outer = current_block;
  current_block = &block;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        for (unsigned t = 0; t < threads; ++t) {
          Thread& th = block.threads[t];
          th.thread_index = dim3(t % block_dim.x, t / block_dim.x % block_dim.y, t / (block_dim.x * block_dim.y));
          th.block_index = dim3(bx, by, bz);
          th.block_dim = block_dim;
          th.grid_dim = grid;
          th.done = false;
          getcontext(&th.context);
          th.context.uc_stack.ss_sp = th.stack.get();
          th.context.uc_stack.ss_size = kStackBytes;
          th.context.uc_link = &block.scheduler;
          makecontext(&th.context, reinterpret_cast<void (*)()>(&fiber_entry<Body>), 2,
                      static_cast<unsigned>(address & 0xffffffffu), static_cast<unsigned>(address >> 32));
        }
        // Rounds: each resumes every unfinished thread once, up to its next barrier or its end.
        for (bool any = true; any;) {
          any = false;
          for (Thread& th : block.threads) {
            if (th.done) continue;
            any = true;
            block.running = &th;
            void* fake_stack = nullptr;
            before_switch(&fake_stack, th.stack.get(), kStackBytes);
            swapcontext(&block.scheduler, &th.context);
            after_switch(fake_stack);
          }
        }
      }
  current_block = outer;
}

// __shfl_down_sync for a block that is one warp, every thread taking part (as the device requires
// of a full mask): thread t gets thread t + offset's value, or its own past the end.
template <class T>
T shuffle_down(T value, unsigned offset) {
  static_assert(sizeof(T) <= sizeof(double));
  const unsigned lane = current().thread_index.x;
  std::byte* slots = current_block->exchange;
  std::memcpy(slots + lane * sizeof(double), &value, sizeof(T));
  barrier();
  T result = value;
  if (lane + offset < current().block_dim.x) std::memcpy(&result, slots + (lane + offset) * sizeof(double), sizeof(T));
  barrier();  // every slot read before the next shuffle writes
  return result;
}

}  // namespace ember::cuda::emulation

// Device code calls the math functions unqualified, with float overloads (expf is exp of a float),
// and min/max on integers.
using std::exp;
using std::isinf;
using std::isnan;
using std::log;
using std::log1p;
using std::max;
using std::min;
using std::sqrt;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define threadIdx (::ember::cuda::emulation::current().thread_index)
#define blockIdx (::ember::cuda::emulation::current().block_index)
#define blockDim (::ember::cuda::emulation::current().block_dim)
#define gridDim (::ember::cuda::emulation::current().grid_dim)
#define __syncthreads() (::ember::cuda::emulation::barrier())
// Products the device never fuses into a multiply-add; the host kernels build without contraction.
#define __fmul_rn(a, b) (static_cast<float>(a) * static_cast<float>(b))
#define __dmul_rn(a, b) (static_cast<double>(a) * static_cast<double>(b))
#define __shfl_down_sync(mask, value, offset) (::ember::cuda::emulation::shuffle_down((value), (offset)))
