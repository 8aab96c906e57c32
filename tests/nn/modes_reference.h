#pragma once
// PyTorch 1.13's values for the padding modes, conv padding_mode, pooling ceil_mode, Upsample and
// AdaptiveAvgPool2d: modes_reference.json beside this header, written by make_modes_reference.py
// (which says how to regenerate it). Read by tests/ops/test_pad_modes.cpp and
// tests/nn/test_pool_and_conv_modes.cpp.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include <ember/ops/ops.h>

namespace modes_ref {

using json = nlohmann::json;

// EMBER_MODES_REFERENCE overrides the path.
inline const json& reference() {
  static const json doc = [] {
    const char* env = std::getenv("EMBER_MODES_REFERENCE");
    const auto path = env ? std::filesystem::path(env)
                          : std::filesystem::path(__FILE__).parent_path() / "modes_reference.json";
    std::ifstream f(path);
    if (!f) throw std::runtime_error("cannot open " + path.string() + " (set EMBER_MODES_REFERENCE to its path)");
    return json::parse(f);
  }();
  return doc;
}

// JSON has no infinities: the script writes them as strings.
inline double number(const json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
    throw std::runtime_error("unexpected number " + s);
  }
  return v.get<double>();
}

inline std::vector<int64_t> ints(const json& v) { return v.get<std::vector<int64_t>>(); }

inline std::vector<double> values(const json& t) {
  std::vector<double> out;
  for (const json& e : t.at("data")) out.push_back(number(e));
  return out;
}

// A float64 tensor of the stored values, optionally a leaf that requires grad.
inline ember::Tensor tensor(const json& t, bool requires_grad = false) {
  ember::Tensor x = ember::from_vector(values(t), ints(t.at("shape")), {.dtype = ember::DType::Float64});
  if (requires_grad) x.requires_grad_();
  return x;
}

// Empty when got has the stored shape and values (within 1e-12 relative, equal infinities).
inline std::string compare(const ember::Tensor& got, const json& want, double tol = 1e-12) {
  if (!got.defined()) return "undefined tensor";
  const std::vector<int64_t> shape = ints(want.at("shape"));
  if (got.shape() != ember::Shape(shape.begin(), shape.end()))
    return fmt::format("shape {}, expected {}", ember::shape_str(got.shape()), ember::shape_str(shape));
  const std::vector<double> g = ember::contiguous(ember::cast(got, ember::DType::Float64)).to_vector<double>();
  const std::vector<double> w = values(want);
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i] != w[i] && !(std::abs(g[i] - w[i]) <= tol * (1 + std::abs(w[i]))))
      return fmt::format("element {}: got {}, expected {}", i, g[i], w[i]);
  return "";
}

// The gradients of (out * w).sum() with respect to inputs, w as stored in the case.
inline std::vector<ember::Tensor> weighted_grads(const ember::Tensor& out, const std::vector<ember::Tensor>& inputs,
                                                 const json& c) {
  return ember::grad({ember::sum(out * tensor(c.at("w")))}, inputs);
}

}  // namespace modes_ref
