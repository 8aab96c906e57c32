#pragma once
// How PyTorch's module reprs print numbers, for the modules' extra_repr. Internal to nn/ (installed
// with the other headers, but not part of the API).
#include <fmt/format.h>

#include <cmath>
#include <string>

namespace ember::nn::detail {

// Python's repr of a float: the shortest round-trip digits, and ".0" on a whole number.
inline std::string python_float(double v) {
  std::string s = fmt::format("{}", v);
  if (std::isfinite(v) && s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace ember::nn::detail
