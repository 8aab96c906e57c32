#pragma once
#include <ember/backends/backend.h>
#include <ember/core/tensor.h>

namespace ember {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

namespace detail {
// Softmax along `dim`; with empty_rows_zero a row with no finite element (all -inf: attention's rows
// with no allowed key) gives zeros instead of NaN. Fused (one kernel each way) where the backend has
// the kernels and dim is the last, else softmax_composite. No autocast: callers cast.
Tensor softmax_rows(const Tensor& x, int64_t dim, bool empty_rows_zero = false);
// softmax(spec.scale x) over the last dim, restricted to the band of keys spec allows (row i of each
// [n_q, n_k] matrix sees keys i - left <= j <= i + right; others give 0), written in out_dtype (x's,
// or float32): attention's scores to probabilities in one kernel each way, with no mask tensor and no
// cast. The gradient comes back in x's dtype. Without the backend's kernels: the composite.
Tensor banded_softmax(const Tensor& x, const SoftmaxSpec& spec, DType out_dtype);
// The same written with public ops: the reference the fused kernels are tested against, and the
// path for backends without them.
Tensor softmax_composite(const Tensor& x, int64_t dim, bool empty_rows_zero = false);
}  // namespace detail

}  // namespace ember
