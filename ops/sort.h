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
// torch.searchsorted: for each of values, the index in the sorted last dim of sorted_sequence where it
// would be inserted to keep the order: before equal entries, or after them when right. A 1-D
// sequence serves every value; otherwise its leading dims match values'. int64 indices (int32 with
// out_int32); not differentiable. bucketize(input, boundaries) is searchsorted(boundaries, input)
// with a 1-D boundaries.
Tensor searchsorted(const Tensor& sorted_sequence, const Tensor& values, bool right = false, bool out_int32 = false);
Tensor bucketize(const Tensor& input, const Tensor& boundaries, bool right = false, bool out_int32 = false);
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false);
// The k largest (or smallest) elements along dim, in order (largest first when largest); ties keep
// the lower index first.
SortResult topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true);

}  // namespace ember
