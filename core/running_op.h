#pragma once
// The primitive op running on this thread, for errors raised below it that cannot know it: an
// allocation that fails is reported under the op that asked for the memory, not "[allocator]".
namespace ember::detail {

// The innermost primitive whose forward is running on this thread, or null.
const char* running_op();

// Names the running op for its lifetime; apply() opens one per primitive.
class RunningOpScope {
 public:
  explicit RunningOpScope(const char* op);
  ~RunningOpScope();
  RunningOpScope(const RunningOpScope&) = delete;
  RunningOpScope& operator=(const RunningOpScope&) = delete;

 private:
  const char* outer_;
};

}  // namespace ember::detail
