#pragma once
// PyTorch 1.13's values and gradients for smooth_l1_loss, huber_loss, kl_div, margin_ranking_loss,
// triplet_margin_loss, cosine_embedding_loss, cosine_similarity and pairwise_distance, and the calls
// it refuses: loss_reference.json beside this header, written by make_loss_reference.py (which says
// how to regenerate it and what each case is for). Read by tests/ops/test_more_losses.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <ember/ops/ops.h>

#include "tests/support/json_reference.h"

namespace loss_ref {

using json_ref::ints;
using json_ref::json;

// EMBER_LOSS_REFERENCE overrides the path.
inline const json& reference() {
  static const json doc =
      json_ref::load(std::filesystem::path(__FILE__).parent_path(), "loss_reference.json", "EMBER_LOSS_REFERENCE");
  return doc;
}

using json_ref::values;
using json_ref::shape;
// The stored tensor in `dtype` (its stored dtype when not given), optionally a leaf that requires grad.
inline ember::Tensor tensor(const json& t, std::optional<ember::DType> dtype = std::nullopt, bool requires_grad = false) {
  return json_ref::typed_tensor(t, dtype, requires_grad);
}

// Empty when got has the stored shape and values: NaN where NaN is stored, equal infinities, and
// |got - want| <= rtol |want| + atol_scale max(min_scale, max|want|) elsewhere (max over the finite
// stored values, so that an element computed from larger terms, 1 - cos for cos near 1, is held to
// the rounding of those terms). The dtype is not compared (the callers check it).
inline std::string compare(const ember::Tensor& got, const json& want, double rtol, double atol_scale,
                           double min_scale = 0) {
  if (!got.defined()) return "undefined tensor";
  if (got.shape() != shape(want))
    return fmt::format("shape {}, expected {}", ember::shape_str(got.shape()), ember::shape_str(shape(want)));
  const std::vector<double> g = ember::contiguous(ember::cast(got, ember::DType::Float64)).to_vector<double>();
  const std::vector<double> w = values(want);
  double scale = min_scale;
  for (double v : w)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < g.size(); ++i) {
    const bool ok = std::isnan(w[i])   ? std::isnan(g[i])
                    : std::isinf(w[i]) ? g[i] == w[i]
                                       : std::abs(g[i] - w[i]) <= rtol * std::abs(w[i]) + atol_scale * scale;
    if (!ok) return fmt::format("element {}: got {}, expected {}", i, g[i], w[i]);
  }
  return "";
}

}  // namespace loss_ref
