#include <ember/core/error_context.h>

#include <algorithm>
#include <cctype>

namespace ember::detail {
namespace {

constexpr std::string_view kRaisedBy = " (raised by ";

// Op names are made of letters, digits, '_' and '.' ("linalg.svd", "one_hot"): a bracketed start
// such as "[0, 1] is empty" is part of a message, not an op.
bool is_op_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '.'; });
}

}  // namespace

std::string attributed_to(std::string_view op, std::string_view message) {
  const size_t close = message.find("] ");
  const std::string_view inner = message.empty() || message.front() != '[' || close == std::string_view::npos
                                     ? std::string_view()
                                     : message.substr(1, close - 1);
  if (!is_op_name(inner)) return fmt::format("[{}] {}", op, message);  // no op named: op's own
  if (inner == op || inner == "internal") return std::string(message);
  const std::string_view rest = message.substr(close + 2);
  // An error a deeper composite already attributed keeps its innermost op.
  const size_t raised = rest.rfind(kRaisedBy);
  const bool attributed = raised != std::string_view::npos && rest.back() == ')' &&
                          is_op_name(rest.substr(raised + kRaisedBy.size(), rest.size() - raised - kRaisedBy.size() - 1));
  return attributed ? fmt::format("[{}] {}", op, rest) : fmt::format("[{}] {}{}{})", op, rest, kRaisedBy, inner);
}

}  // namespace ember::detail
