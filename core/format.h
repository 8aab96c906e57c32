#pragma once
// Printing tensors like PyTorch: fmt::format("{}", t), t.str(), or std::cout << t as in libtorch.
#include <fmt/format.h>

#include <ostream>

#include <ember/core/tensor.h>

template <>
struct fmt::formatter<ember::Tensor> : fmt::formatter<std::string> {
  template <typename Ctx>
  auto format(const ember::Tensor& t, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(t.defined() ? t.str() : std::string("Tensor(undefined)"), ctx);
  }
};

namespace ember {
inline std::ostream& operator<<(std::ostream& out, const Tensor& t) { return out << t.str(); }
}  // namespace ember
