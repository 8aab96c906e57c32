#pragma once
// PyTorch 1.13's values for relu6, hardtanh, hardsigmoid, hardswish, mish, selu, celu, softsign, glu
// and prelu and their modules: activation_reference.json beside this header, written by
// make_activation_reference.py (which says how to regenerate it, and where PyTorch itself is
// inexact). Read by tests/ops/test_more_activations.cpp and tests/nn/test_activation_modules.cpp.
#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

#include <ember/ops/ops.h>

#include "tests/support/json_reference.h"

namespace act_ref {

using json_ref::ints;
using json_ref::json;

// EMBER_ACTIVATION_REFERENCE overrides the path.
inline const json& reference() {
  static const json doc = json_ref::load(std::filesystem::path(__FILE__).parent_path(), "activation_reference.json",
                                         "EMBER_ACTIVATION_REFERENCE");
  return doc;
}

using json_ref::values;
using json_ref::shape;
// The stored tensor in `dtype` (its stored dtype when not given), optionally a leaf that requires grad.
inline ember::Tensor tensor(const json& t, std::optional<ember::DType> dtype = std::nullopt, bool requires_grad = false) {
  return json_ref::typed_tensor(t, dtype, requires_grad);
}

// Empty when got has the stored shape and values: NaN where NaN is stored, equal infinities, and
// |got - want| <= atol + rtol |want| elsewhere. The dtype is not compared (the callers check it).
inline std::string compare(const ember::Tensor& got, const json& want, double rtol = 1e-12, double atol = 1e-300) {
  if (!got.defined()) return "undefined tensor";
  if (got.shape() != shape(want))
    return fmt::format("shape {}, expected {}", ember::shape_str(got.shape()), ember::shape_str(shape(want)));
  const std::vector<double> g = ember::contiguous(ember::cast(got, ember::DType::Float64)).to_vector<double>();
  const std::vector<double> w = values(want);
  for (size_t i = 0; i < g.size(); ++i) {
    const bool ok = std::isnan(w[i]) ? std::isnan(g[i])
                    : std::isinf(w[i]) ? g[i] == w[i]
                                       : std::abs(g[i] - w[i]) <= atol + rtol * std::abs(w[i]);
    if (!ok) return fmt::format("element {}: got {}, expected {}", i, g[i], w[i]);
  }
  return "";
}

}  // namespace act_ref
