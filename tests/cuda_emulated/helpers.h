#pragma once
// Shared by the emulated-kernel tests: tensors as the kernels' KViews, and the attention tests'
// comparison helpers (worst, vals).
#include <ember/backends/cuda/kernels.h>
#include <ember/ember.h>

#include "tests/attention/helpers.h"

namespace emulated_test {

using namespace attention_test;

// A tensor as a KView (an undefined tensor as an absent operand); the tensor must outlive it.
inline ember::cuda::KView kv(const ember::Tensor& t) {
  if (!t.defined()) return {};
  return {t.data_ptr(), t.dtype(), static_cast<int>(t.dim()), t.shape().data(), t.strides().data()};
}

// A reproducible standard-normal tensor drawn in float64, then rounded to dtype (the same values
// before rounding in every dtype), times scale plus shift.
inline ember::Tensor normal(const V& shape, uint64_t seed, ember::DType dtype, double scale = 1.0, double shift = 0.0) {
  ember::Generator gen(seed);
  return ember::cast(ember::randn(shape, {.dtype = ember::DType::Float64}, &gen) * scale + shift, dtype);
}

}  // namespace emulated_test
