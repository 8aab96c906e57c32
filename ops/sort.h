#pragma once
// Sorting along a dim. Values are gathered from the input (so gradients flow back to the elements
// they came from); indices are int64 and carry no gradient. Sorting is stable: equal elements keep
// their order. NaN sorts above every number (last ascending, first descending), as in PyTorch.
// CUDA tensors are sorted on the host (copied there and back).
#include <cstdint>

#include <ember/core/tensor.h>

namespace ember {

struct SortResult {
  Tensor values, indices;
};

SortResult sort(const Tensor& x, int64_t dim = -1, bool descending = false);
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false);
// The k largest (or smallest) elements along dim, in order (largest first when largest); ties keep
// the lower index first.
SortResult topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true);

}  // namespace ember
