#pragma once
// PyTorch 1.13's values for the padding modes, conv padding_mode, pooling ceil_mode, Upsample and
// AdaptiveAvgPool2d: modes_reference.json beside this header, written by make_modes_reference.py
// (which says how to regenerate it). Read by tests/ops/test_pad_modes.cpp and
// tests/nn/test_pool_and_conv_modes.cpp.
#include "tests/support/json_reference.h"

namespace modes_ref {

using json_ref::ints;
using json_ref::json;

// EMBER_MODES_REFERENCE overrides the path.
inline const json& reference() {
  static const json doc =
      json_ref::load(std::filesystem::path(__FILE__).parent_path(), "modes_reference.json", "EMBER_MODES_REFERENCE");
  return doc;
}

using json_ref::check_case;
using json_ref::compare;
using json_ref::tensor;
using json_ref::values;
using json_ref::weighted_grads;

}  // namespace modes_ref
