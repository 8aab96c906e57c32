#pragma once
// Where the time of a program goes, op by op. While an `ember::profiler::Profile` is alive, every
// primitive op's forward and every backward node is timed, and the times are added up per op name
// and the dtype of its first input (optionally its shape as well):
//
//   ember::profiler::Profile profile({.by_shape = true});
//   for (int i = 0; i < 10; ++i) train_step();
//   std::puts(profile.summary().c_str());   // a table, largest self time first
//
// Ranges nest: a backward node's formula runs ops of its own, and a composite (gelu, layer_norm) is
// the primitives it is made of. `self` time is a range's time less the ranges inside it, so the
// self times add up to the time spent in ops; `total` includes the ranges inside. Programs add ranges
// of their own with `ember::profiler::Range range("data loading");`.
//
// Times are host wall-clock time. CUDA kernels run asynchronously: an op's time there is the time
// to launch it, unless the program synchronises inside the range. Recording is process-wide while a
// Profile is alive; ops on other threads than the one that created it are recorded too. With no
// Profile alive, a range costs one relaxed atomic load.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ember {
class Tensor;
}

namespace ember::profiler {

struct ProfileOptions {
  bool by_shape = false;  // key each op by the shape of its first input as well
};

struct OpStats {
  std::string key;  // "mul(bfloat16)", "mul_backward(float32)", or with by_shape "mul(bfloat16)[16, 256, 1024]"
  int64_t calls = 0;
  double self_ms = 0;   // time inside this op, less the ops it ran
  double total_ms = 0;  // time inside this op, including the ops it ran (once, when it recurses)
};

class Profile {
 public:
  explicit Profile(ProfileOptions options = {});
  ~Profile();
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;

  // The recorded ops, largest self time first.
  std::vector<OpStats> table() const;
  // The table as text: the `rows` largest by self time, and the time all recorded ops took.
  std::string summary(size_t rows = 30) const;
  void reset();

  struct Data;

 private:
  std::unique_ptr<Data> data_;
};

namespace detail {
extern std::atomic<int> active_profiles;
void begin_range(const char* name, const char* suffix, const Tensor* first_input);
void end_range();
}  // namespace detail

inline bool enabled() { return detail::active_profiles.load(std::memory_order_relaxed) > 0; }

// Times what runs during its lifetime under `name` (and `suffix`, and the first input's dtype when
// given), if a Profile is alive when it is created.
class Range {
 public:
  explicit Range(const char* name, const char* suffix = "", const Tensor* first_input = nullptr) : active_(enabled()) {
    if (active_) detail::begin_range(name, suffix, first_input);
  }
  ~Range() {
    if (active_) detail::end_range();
  }
  Range(const Range&) = delete;
  Range& operator=(const Range&) = delete;

 private:
  bool active_;
};

}  // namespace ember::profiler
