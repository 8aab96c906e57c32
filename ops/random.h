#pragma once
#include <ember/core/generator.h>
#include <ember/core/tensor.h>

namespace ember {

// Zeroes each element with probability p and scales the rest by 1/(1-p) (identity when !training).
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* gen = nullptr);

}  // namespace ember
