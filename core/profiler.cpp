#include <ember/core/profiler.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>

#include <ember/core/tensor.h>

namespace ember::profiler {

namespace detail {
std::atomic<int> active_profiles{0};
}  // namespace detail

namespace {
using Clock = std::chrono::steady_clock;

struct Frame {
  std::string base_key;  // name + suffix + "(dtype)"
  std::string shape;     // "[16, 256]" or empty
  Clock::time_point start;
  double child_ms = 0;
};

thread_local std::vector<Frame> stack;
}  // namespace

struct Profile::Data {
  ProfileOptions options;
  std::unordered_map<std::string, OpStats> stats;
};

namespace {
// The live profiles; ranges add to each of them.
std::mutex registry_mutex;
std::vector<Profile::Data*> registry;
}  // namespace

void detail::begin_range(const char* name, const char* suffix, const Tensor* first_input) {
  Frame frame;
  frame.base_key = std::string(name) + suffix;
  if (first_input && first_input->defined()) {
    frame.base_key += fmt::format("({})", dtype_name(first_input->dtype()));
    frame.shape = shape_str(first_input->shape());
  }
  frame.start = Clock::now();
  stack.push_back(std::move(frame));
}

void detail::end_range() {
  if (stack.empty()) return;  // a Profile started inside the range
  const double elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - stack.back().start).count();
  Frame frame = std::move(stack.back());
  stack.pop_back();
  if (!stack.empty()) stack.back().child_ms += elapsed_ms;
  // A recursive op's time is counted once in its total: by the outermost of its ranges.
  const bool outermost =
      std::none_of(stack.begin(), stack.end(), [&](const Frame& f) { return f.base_key == frame.base_key; });
  std::lock_guard lock(registry_mutex);
  for (Profile::Data* profile : registry) {
    const std::string key = profile->options.by_shape ? frame.base_key + frame.shape : frame.base_key;
    OpStats& s = profile->stats[key];
    if (s.key.empty()) s.key = key;
    s.calls += 1;
    s.self_ms += elapsed_ms - frame.child_ms;
    if (outermost) s.total_ms += elapsed_ms;
  }
}

Profile::Profile(ProfileOptions options) : data_(std::make_unique<Data>(Data{options, {}})) {
  {
    std::lock_guard lock(registry_mutex);
    registry.push_back(data_.get());
  }
  detail::active_profiles.fetch_add(1, std::memory_order_relaxed);
}

Profile::~Profile() {
  detail::active_profiles.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard lock(registry_mutex);
  registry.erase(std::find(registry.begin(), registry.end(), data_.get()));
}

std::vector<OpStats> Profile::table() const {
  std::vector<OpStats> rows;
  {
    std::lock_guard lock(registry_mutex);
    for (const auto& [key, s] : data_->stats) rows.push_back(s);
  }
  std::sort(rows.begin(), rows.end(), [](const OpStats& a, const OpStats& b) {
    return a.self_ms != b.self_ms ? a.self_ms > b.self_ms : a.key < b.key;
  });
  return rows;
}

std::string Profile::summary(size_t rows) const {
  const std::vector<OpStats> all = table();
  double self_sum = 0;
  size_t width = 2;
  for (size_t i = 0; i < all.size(); ++i) {
    self_sum += all[i].self_ms;
    if (i < rows) width = std::max(width, all[i].key.size());
  }
  std::string out = fmt::format("{:<{}}  {:>8}  {:>11}  {:>6}  {:>11}\n", "op", width, "calls", "self ms", "self%",
                                "total ms");
  for (size_t i = 0; i < all.size() && i < rows; ++i) {
    const OpStats& s = all[i];
    out += fmt::format("{:<{}}  {:>8}  {:>11.3f}  {:>5.1f}%  {:>11.3f}\n", s.key, width, s.calls, s.self_ms,
                       self_sum > 0 ? 100 * s.self_ms / self_sum : 0.0, s.total_ms);
  }
  out += fmt::format("{} ops recorded, {:.3f} ms of self time in all\n", all.size(), self_sum);
  return out;
}

void Profile::reset() {
  std::lock_guard lock(registry_mutex);
  data_->stats.clear();
}

}  // namespace ember::profiler
