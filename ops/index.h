#pragma once
// Indexing with integer tensors. Every index is bounds-checked: an out-of-range index is an
// ember::Error naming the op, never a read outside memory.
#include <ember/core/tensor.h>

namespace ember {

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index: 1-D int64
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);  // src: x's dtype
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);  // src: x's dtype
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value);
Tensor one_hot(const Tensor& labels, int64_t num_classes = -1);  // int64 result; -1 infers num_classes
// weight [num, dim] rows picked by indices of any shape -> [..., dim]
Tensor embedding(const Tensor& weight, const Tensor& indices);

namespace detail {
// scatter_add(zeros(shape), dim, index, src) for indices already known to be in range (checked by the
// op that made or used them, as in the backward of gather and of max pooling): no copy of the zeros
// and no scan of the indices. index is int64 and has src's shape. Not for user-supplied indices.
Tensor scatter_add_into_zeros(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
// value, kept in input's graph with a zero derivative when it does not require grad (a gradient
// computed under create_graph that happens to be constant in input).
Tensor constant_in_graph(const Tensor& value, const Tensor& input);
}  // namespace detail

}  // namespace ember
