#pragma once
// ember::Error: the one exception type of the public API. Messages start with the op in brackets:
//   [matmul] inner sizes differ: [3, 4] @ [5, 6] (4 != 5)
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace ember {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// EMBER_CHECK(cond, "op", "fmt {}", args...) throws ember::Error("[op] message") when cond is false.
#define EMBER_CHECK(cond, op, ...)                                                         \
  do {                                                                                    \
    if (!(cond)) [[unlikely]]                                                             \
      throw ::ember::Error(fmt::format("[{}] {}", op, fmt::format(__VA_ARGS__)));          \
  } while (0)

#define EMBER_FAIL(op, ...) throw ::ember::Error(fmt::format("[{}] {}", op, fmt::format(__VA_ARGS__)))

// Internal invariants: a failure here is a bug in ember, not in the caller's input.
#define EMBER_ASSERT(cond)                                                                    \
  do {                                                                                        \
    if (!(cond)) [[unlikely]]                                                                 \
      throw ::ember::Error(fmt::format("[internal] assertion failed: {} at {}:{}", #cond,     \
                                       __FILE__, __LINE__));                                  \
  } while (0)

}  // namespace ember
