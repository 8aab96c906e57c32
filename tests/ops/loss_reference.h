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

using json_ref::compare_scaled;
inline std::string compare(const ember::Tensor& got, const json& want, double rtol, double atol_scale,
                           double min_scale = 0) {
  return compare_scaled(got, want, rtol, atol_scale, min_scale);
}

}  // namespace loss_ref
