#pragma once
#include <ember/backends/backend.h>
#include <ember/core/tensor.h>

namespace ember {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

namespace detail {
// softmax(spec.scale x) over the last dim, restricted to the band of keys spec allows (row i of each
// [n_q, n_k] matrix sees keys i - left <= j <= i + right; others give 0), written in out_dtype (x's,
// or float32): attention's scores to probabilities in one kernel each way, with no mask tensor and no
// cast. With spec.empty_rows_zero a row with no allowed key (or only -inf) gives zeros, not 0 / 0. The
// gradient comes back in x's dtype. Without the backend's kernels: the composite. No autocast:
// callers choose out_dtype.
Tensor banded_softmax(const Tensor& x, const SoftmaxSpec& spec, DType out_dtype);
// Softmax along dim written with public ops: the reference the fused kernels are tested against, and the
// path for backends without them.
Tensor softmax_composite(const Tensor& x, int64_t dim, bool empty_rows_zero = false);
}  // namespace detail

}  // namespace ember
