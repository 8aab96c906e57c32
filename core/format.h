#pragma once
// Printing tensors like PyTorch: fmt::format("{}", t) or t.str().
#include <fmt/format.h>

#include <ember/core/tensor.h>

template <>
struct fmt::formatter<ember::Tensor> : fmt::formatter<std::string> {
  template <typename Ctx>
  auto format(const ember::Tensor& t, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(t.defined() ? t.str() : std::string("Tensor(undefined)"), ctx);
  }
};
