#pragma once
// A device is a value: Device::cpu() or Device::cuda(n). Whether CUDA is usable is the backend's question.
#include <fmt/format.h>

#include <cstdint>
#include <string>

#include <ember/core/error.h>

namespace ember {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int8_t index = 0;

  static constexpr Device cpu() { return {DeviceType::CPU, 0}; }
  static constexpr int kMaxCudaIndex = 127;  // the index is stored in an int8_t
  // Throws ember::Error for an index outside [0, kMaxCudaIndex] (rather than wrap 200 to -56).
  static constexpr Device cuda(int index = 0) {
    EMBER_CHECK(index >= 0 && index <= kMaxCudaIndex, "device", "CUDA device index {} is out of range [0, {}]",
                index, kMaxCudaIndex);
    return {DeviceType::CUDA, static_cast<int8_t>(index)};
  }
  // Parses "cpu", "cuda", "cuda:1"; throws ember::Error otherwise.
  static Device parse(const std::string& text);

  constexpr bool is_cpu() const { return type == DeviceType::CPU; }
  constexpr bool is_cuda() const { return type == DeviceType::CUDA; }
  constexpr bool operator==(const Device&) const = default;
  std::string str() const {
    if (is_cpu()) return "cpu";
    return is_cuda() ? fmt::format("cuda:{}", index) : fmt::format("unknown device type {}", static_cast<int>(type));
  }
};

}  // namespace ember

template <>
struct fmt::formatter<ember::Device> : fmt::formatter<std::string> {
  template <typename Ctx>
  auto format(const ember::Device& d, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(d.str(), ctx);
  }
};
