#pragma once
#include <ember/core/generator.h>
#include <ember/core/tensor.h>

namespace ember {

// Zeroes each element with probability p and scales the rest by 1/(1-p) (identity when !training).
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* gen = nullptr);

// Draws num_samples category indices (int64) from each row of probs ([n] or [rows, n]: non-negative,
// finite weights, not necessarily normalised, each row with a positive sum). Without replacement a
// category is drawn at most once per row, so num_samples may not exceed its non-zero categories.
// Deterministic for a given generator state; computed on the host for CUDA tensors.
Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement = false, Generator* gen = nullptr);

}  // namespace ember
