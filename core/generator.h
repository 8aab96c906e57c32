#pragma once
// The random number generator state: a Philox key (the seed) and a counter offset. Draws are pure
// functions of (seed, counter index) defined in core/philox.h, so a generator only hands out
// disjoint ranges of counter indices; the same seed gives the same numbers on CPU and CUDA.
#include <cstdint>
#include <mutex>
#include <utility>

namespace ember {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x853c49e6748fea9bULL) : seed_(seed) {}
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Starts the stream of `seed` from its beginning (offset 0), as torch.manual_seed does.
  void manual_seed(uint64_t seed);
  uint64_t seed() const;
  uint64_t offset() const;
  void set_offset(uint64_t offset);

  // Claims counter indices [offset, offset + n) for a draw of n elements and returns the first.
  // Thread-safe: concurrent draws get disjoint ranges.
  uint64_t reserve(uint64_t n);

  // {seed, offset}: everything needed to replay the stream from this point (checkpoints).
  std::pair<uint64_t, uint64_t> get_state() const;
  void set_state(std::pair<uint64_t, uint64_t> state);

 private:
  mutable std::mutex mutex_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide CPU generator used when an op is given none.
Generator& default_generator();

// Seeds the process-wide default generator: ember::manual_seed(s) makes a run reproducible.
void manual_seed(uint64_t seed);

}  // namespace ember
