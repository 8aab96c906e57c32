// linalg.multi_dot, cross, vecdot and vander: products written with matmul, mul, sum and cumprod.
#include <cstdint>
#include <limits>
#include <vector>

#include <ember/core/error.h>
#include <ember/ops/matrix_functions.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

// The product of matrices[first..last] in the order `split` chose: split[i][j] is the k at which the
// chain i..j is cut into (i..k)(k+1..j).
Tensor chain_product(std::span<const Tensor> matrices, const std::vector<std::vector<size_t>>& split, size_t first,
                     size_t last) {
  if (first == last) return matrices[first];
  const size_t k = split[first][last];
  return matmul(chain_product(matrices, split, first, k), chain_product(matrices, split, k + 1, last));
}

// The matrix-chain order of least multiply-adds: matrix i is dims[i] x dims[i + 1], and cost[i][j] is
// the cheapest product of matrices i..j (the textbook O(count^3) dynamic programme).
std::vector<std::vector<size_t>> cheapest_split(const std::vector<int64_t>& dims) {
  const size_t count = dims.size() - 1;
  std::vector<std::vector<double>> cost(count, std::vector<double>(count, 0));
  std::vector<std::vector<size_t>> split(count, std::vector<size_t>(count, 0));
  for (size_t length = 2; length <= count; ++length)
    for (size_t i = 0; i + length <= count; ++i) {
      const size_t j = i + length - 1;
      cost[i][j] = std::numeric_limits<double>::infinity();
      for (size_t k = i; k < j; ++k) {
        // double: products of three sizes overflow int64 long before they stop fitting in memory
        const double c = cost[i][k] + cost[k + 1][j] +
                         static_cast<double>(dims[i]) * static_cast<double>(dims[k + 1]) * static_cast<double>(dims[j + 1]);
        if (c < cost[i][j]) {
          cost[i][j] = c;
          split[i][j] = k;
        }
      }
    }
  return split;
}

std::string shapes_of(std::span<const Tensor> tensors) {
  std::string s;
  for (const Tensor& t : tensors) s += (s.empty() ? "" : ", ") + (t.defined() ? shape_str(t.shape()) : std::string("undefined"));
  return s;
}

}  // namespace

Tensor multi_dot(std::span<const Tensor> matrices) {
  const char* op = "linalg.multi_dot";
  const size_t count = matrices.size();
  EMBER_CHECK(count >= 2, op, "needs at least 2 tensors, got {}", count);
  for (size_t i = 0; i < count; ++i) {
    const Tensor& t = matrices[i];
    EMBER_CHECK(t.defined(), op, "tensor {} is undefined (shapes: {})", i, shapes_of(matrices));
    const bool may_be_vector = i == 0 || i + 1 == count;
    EMBER_CHECK(t.dim() == 2 || (may_be_vector && t.dim() == 1), op,
                "tensor {} must be 2-D{}, got {} (shapes: {})", i, may_be_vector ? " or 1-D" : "",
                shape_str(t.shape()), shapes_of(matrices));
    EMBER_CHECK(t.dtype() == matrices[0].dtype() && t.device() == matrices[0].device(), op,
                "every tensor must have the first one's dtype and device ({} on {}), but tensor {} is {} on {}",
                matrices[0].dtype(), matrices[0].device(), i, t.dtype(), t.device());
  }
  const bool row_first = matrices[0].dim() == 1, column_last = matrices[count - 1].dim() == 1;
  std::vector<Tensor> chain(matrices.begin(), matrices.end());
  if (row_first) chain.front() = chain.front().unsqueeze(0);
  if (column_last) chain.back() = chain.back().unsqueeze(-1);
  std::vector<int64_t> dims{chain[0].size(0)};
  for (size_t i = 0; i < count; ++i) {
    EMBER_CHECK(chain[i].size(0) == dims.back(), op,
                "tensor {} has {} rows where the product so far has {} columns (shapes: {})", i, chain[i].size(0),
                dims.back(), shapes_of(matrices));
    dims.push_back(chain[i].size(1));
  }
  Tensor product = chain_product(chain, cheapest_split(dims), 0, count - 1);
  if (column_last) product = product.squeeze(-1);
  if (row_first) product = product.squeeze(0);
  return product;
}

Tensor cross(const Tensor& a, const Tensor& b, int64_t dim) {
  const char* op = "linalg.cross";
  EMBER_CHECK(a.defined() && b.defined(), op, "got an undefined tensor");
  const Shape shape = broadcast_shapes(op, a.shape(), b.shape());
  const int64_t ndim = static_cast<int64_t>(shape.size());
  EMBER_CHECK(ndim >= 1, op, "needs vectors of 3 entries, got 0-D tensors");
  const int64_t d = normalize_dim(op, dim, ndim);
  for (const Tensor* t : {&a, &b}) {
    const int64_t own = d - (ndim - t->dim());  // dim d of the broadcast shape, counted in t
    EMBER_CHECK(own >= 0 && t->size(own) == 3, op, "dim {} must have 3 entries in both inputs, got a {} and b {}", dim,
                shape_str(a.shape()), shape_str(b.shape()));
  }
  const Tensor x = a.expand(shape), y = b.expand(shape);
  const auto entry = [d](const Tensor& t, int64_t i) { return t.narrow(d, i, 1); };
  return cat({entry(x, 1) * entry(y, 2) - entry(x, 2) * entry(y, 1),  //
              entry(x, 2) * entry(y, 0) - entry(x, 0) * entry(y, 2),  //
              entry(x, 0) * entry(y, 1) - entry(x, 1) * entry(y, 0)},
             d);
}

Tensor vecdot(const Tensor& x, const Tensor& y, int64_t dim) {
  const char* op = "linalg.vecdot";
  EMBER_CHECK(x.defined() && y.defined(), op, "got an undefined tensor");
  const Shape shape = broadcast_shapes(op, x.shape(), y.shape());
  const int64_t ndim = static_cast<int64_t>(shape.size());
  EMBER_CHECK(ndim >= 1, op, "needs vectors, got 0-D tensors");
  const int64_t d = normalize_dim(op, dim, ndim);
  return sum(x * y, {d});
}

Tensor vander(const Tensor& x, std::optional<int64_t> n) {
  const char* op = "linalg.vander";
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  EMBER_CHECK(x.dim() >= 1, op, "x must have at least one dim [..., k], got {} {}", shape_str(x.shape()), x.dtype());
  EMBER_CHECK(x.dtype() != DType::Bool, op, "x must be numeric, got {} {}", shape_str(x.shape()), x.dtype());
  const int64_t columns = n.value_or(x.size(-1));
  // PyTorch 1.13 refuses n = 1 too; the single column of ones is well defined (NumPy's vander gives it).
  EMBER_CHECK(columns >= 1, op, "n must be at least 1, got {} (x {} {})", columns, shape_str(x.shape()), x.dtype());
  const Tensor column = x.unsqueeze(-1);  // [..., k, 1]
  Shape repeated = column.shape();
  repeated.back() = columns - 1;
  // x^1 .. x^(n-1) as running products: their gradient j x^(j-1) is exact at x = 0, where pow's
  // x^j * j / x would not be.
  const Tensor powers = cumprod(column.expand(repeated), -1);
  Shape first = column.shape();
  return cat({ember::detail::constant_in_graph(ones(first, {.dtype = powers.dtype(), .device = x.device()}), x), powers},
             -1);
}

}  // namespace ember::linalg
