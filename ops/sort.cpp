#include <ember/ops/sort.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include <ember/ops/ops.h>

namespace ember {
namespace {

// The permutation that sorts each row of x along dim (int64, x's shape and device).
Tensor sort_indices(const Tensor& x, int64_t dim, bool descending, int64_t keep) {
  // Rows are the last dim of a contiguous float64 copy on the host: exact for every dtype but int64
  // beyond 2^53, which is compared as int64 below.
  const int64_t last = x.dim() - 1;
  const Tensor moved = contiguous(to_device(transpose(x, dim, last), Device::cpu()));
  const int64_t n = moved.dim() == 0 ? 1 : moved.size(last), rows = n == 0 ? 0 : moved.numel() / n;
  std::vector<int64_t> out(static_cast<size_t>(rows * keep));
  auto sort_rows = [&](const auto* data) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t r = 0; r < rows; ++r) {
      const auto* row = data + r * n;
      std::iota(order.begin(), order.end(), int64_t{0});
      // NaN is above everything: ascending puts it last, descending first.
      auto less = [&](int64_t a, int64_t b) {
        const double va = static_cast<double>(row[a]), vb = static_cast<double>(row[b]);
        if (std::isnan(va) || std::isnan(vb)) return !std::isnan(va) && std::isnan(vb);
        return row[a] < row[b];
      };
      if (descending)
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return less(b, a); });
      else
        std::stable_sort(order.begin(), order.end(), less);
      std::copy(order.begin(), order.begin() + keep, out.begin() + r * keep);
    }
  };
  if (moved.dtype() == DType::Int64) {
    sort_rows(static_cast<const int64_t*>(moved.data_ptr()));
  } else {
    const Tensor f = cast(moved, DType::Float64);
    sort_rows(static_cast<const double*>(f.data_ptr()));
  }
  Shape shape = moved.shape();
  if (moved.dim() > 0) shape[last] = keep;
  const Tensor idx = from_vector(out, shape, {.dtype = DType::Int64});
  return transpose(to_device(idx, x.device()), dim, last);
}

int64_t checked_dim(const char* op, const Tensor& x, int64_t dim) {
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  EMBER_CHECK(x.dtype() != DType::Bool, op, "cannot sort a bool tensor (shape {})", shape_str(x.shape()));
  return normalize_dim(op, dim, x.dim());  // (which takes -1 and 0 of a 0-d tensor, and says it has 0 dims)
}

}  // namespace

SortResult sort(const Tensor& x, int64_t dim, bool descending) {
  const int64_t d = checked_dim("sort", x, dim);
  if (x.dim() == 0) return {x * 1, zeros({}, {.dtype = DType::Int64, .device = x.device()})};
  const Tensor idx = sort_indices(x, d, descending, x.size(d));
  return {gather(x, d, idx), idx};
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending) {
  checked_dim("argsort", x, dim);  // its errors name argsort, not the sort it calls
  return sort(x, dim, descending).indices;
}

SortResult topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
  const int64_t d = checked_dim("topk", x, dim);
  const int64_t n = x.dim() == 0 ? 1 : x.size(d);
  EMBER_CHECK(k >= 0 && k <= n, "topk", "k must be in [0, {}] for dim {} of shape {}, got {}", n, d,
              shape_str(x.shape()), k);
  EMBER_CHECK(x.dim() > 0 || k == 1, "topk", "a 0-d tensor has one element: k must be 1, got {}", k);
  if (x.dim() == 0) return {x * 1, zeros({}, {.dtype = DType::Int64, .device = x.device()})};
  const Tensor idx = sort_indices(x, d, largest, k);
  return {gather(x, d, idx), idx};
}

}  // namespace ember
