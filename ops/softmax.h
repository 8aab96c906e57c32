#pragma once
#include <ember/core/tensor.h>

namespace ember {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

namespace detail {
// Softmax along `dim`; with empty_rows_zero a row with no finite element (all -inf: attention's rows
// with no allowed key) gives zeros instead of NaN. Fused (one kernel each way) where the backend has
// the kernels and x is float32 or float64, else softmax_composite. No autocast: callers cast.
Tensor softmax_rows(const Tensor& x, int64_t dim, bool empty_rows_zero = false);
// The same written with public ops: the reference the fused kernels are tested against, and the
// path for dtypes and backends without them.
Tensor softmax_composite(const Tensor& x, int64_t dim, bool empty_rows_zero = false);
}  // namespace detail

}  // namespace ember
