#include <ember/core/error_context.h>

namespace ember::detail {

std::string attributed_to(std::string_view op, std::string_view message) {
  if (message.empty() || message.front() != '[') return std::string(message);
  const size_t close = message.find("] ");
  if (close == std::string_view::npos) return std::string(message);
  const std::string_view inner = message.substr(1, close - 1), rest = message.substr(close + 2);
  if (inner == op || inner == "internal") return std::string(message);
  const bool attributed = rest.size() > 5 && rest.back() == ')' && rest.rfind(" (in ") != std::string_view::npos &&
                          rest.substr(rest.rfind(" (in ")).find(' ', 5) == std::string_view::npos;
  return fmt::format("[{}] {}{}", op, rest, attributed ? "" : fmt::format(" (in {})", inner));
}

}  // namespace ember::detail
