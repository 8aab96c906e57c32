#pragma once
// Reductions over any set of dims (empty dims = all dims), with keepdim, and cumulative sums.
#include <optional>
#include <utility>

#include <ember/core/tensor.h>

namespace ember {

Tensor sum(const Tensor& x, std::span<const int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::span<const int64_t> dims = {}, bool keepdim = false);
Tensor prod(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
// correction = 1 gives the unbiased estimate (PyTorch's default).
Tensor var(const Tensor& x, std::span<const int64_t> dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, std::span<const int64_t> dims = {}, int64_t correction = 1, bool keepdim = false);
// Largest (smallest) value over dims; ties share the gradient equally.
Tensor amax(const Tensor& x, std::span<const int64_t> dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, std::span<const int64_t> dims = {}, bool keepdim = false);
// The extremes along one dim and where they are (int64, the first index wins ties). Unlike amax, the
// gradient goes to the one element each value came from, as in PyTorch. Binds as
// `auto [values, indices] = max(x, 1);`
struct ValuesIndices {
  Tensor values;
  Tensor indices;
};
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // of all elements
Tensor min(const Tensor& x);
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor logsumexp(const Tensor& x, std::span<const int64_t> dims, bool keepdim = false);
// p-norm over dims (p = 2 by default; p = inf is the max norm). Gradient 0 at 0, as in PyTorch.
Tensor norm(const Tensor& x, double p = 2, std::span<const int64_t> dims = {}, bool keepdim = false);
namespace detail {
// norm, its errors named op (linalg.vector_norm is norm under its own name).
Tensor norm_named(const char* op, const Tensor& x, double p, std::span<const int64_t> dims, bool keepdim);
}  // namespace detail
// Running sums and products along dim (integer and bool inputs give int64, as in PyTorch).
// cumprod's gradient is exact where x has zeros (through the first zero of each row), and it has
// gradients of any order.
Tensor cumsum(const Tensor& x, int64_t dim);
Tensor cumprod(const Tensor& x, int64_t dim);
// log(cumsum(exp(x))) without overflow, on floating dtypes.
Tensor logcumsumexp(const Tensor& x, int64_t dim);
// The running maximum (minimum) along dim, and the index each value was taken from: on ties the later
// index, and a NaN, once met, stays (with the index of the latest NaN), as in PyTorch. The gradient
// goes to the element each value was taken from.
ValuesIndices cummax(const Tensor& x, int64_t dim);
ValuesIndices cummin(const Tensor& x, int64_t dim);
bool all(const Tensor& x);
bool any(const Tensor& x);

inline Tensor sum(const Tensor& x, std::initializer_list<int64_t> d, bool keepdim = false) { return sum(x, std::span<const int64_t>(d.begin(), d.size()), keepdim); }
inline Tensor mean(const Tensor& x, std::initializer_list<int64_t> d, bool keepdim = false) { return mean(x, std::span<const int64_t>(d.begin(), d.size()), keepdim); }
inline Tensor var(const Tensor& x, std::initializer_list<int64_t> d, int64_t correction = 1, bool keepdim = false) { return var(x, std::span<const int64_t>(d.begin(), d.size()), correction, keepdim); }
inline Tensor std(const Tensor& x, std::initializer_list<int64_t> d, int64_t correction = 1, bool keepdim = false) { return std(x, std::span<const int64_t>(d.begin(), d.size()), correction, keepdim); }
inline Tensor amax(const Tensor& x, std::initializer_list<int64_t> d, bool keepdim = false) { return amax(x, std::span<const int64_t>(d.begin(), d.size()), keepdim); }
inline Tensor amin(const Tensor& x, std::initializer_list<int64_t> d, bool keepdim = false) { return amin(x, std::span<const int64_t>(d.begin(), d.size()), keepdim); }
inline Tensor logsumexp(const Tensor& x, std::initializer_list<int64_t> d, bool keepdim = false) { return logsumexp(x, std::span<const int64_t>(d.begin(), d.size()), keepdim); }
inline Tensor norm(const Tensor& x, double p, std::initializer_list<int64_t> d, bool keepdim = false) { return norm(x, p, std::span<const int64_t>(d.begin(), d.size()), keepdim); }

}  // namespace ember
