// linalg.tensorinv and linalg.tensorsolve: inv and solve of a tensor seen as a matrix, its leading
// dims as rows and the rest as columns (reshapes around linalg.inv_ex and solve_ex, so their
// gradients are those ops').
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include <ember/core/error.h>
#include <ember/ops/linalg_host.h>
#include <ember/ops/lu.h>
#include <ember/ops/matrix_functions.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

int64_t product(std::span<const int64_t> sizes) {
  return std::accumulate(sizes.begin(), sizes.end(), int64_t{1}, std::multiplies<>());
}

// float32 or float64 (16-bit ones are cast under autocast, else refused), as the matrix ops need.
Tensor float_operand(const char* op, const char* what, const Tensor& x_in) {
  EMBER_CHECK(x_in.defined(), op, "got an undefined {}", what);
  const Tensor x = ember::detail::autocast_operand(op, x_in);
  EMBER_CHECK(x.dtype() == DType::Float32 || x.dtype() == DType::Float64, op,
              "{} must be float32 or float64, got {} {}{}", what, shape_str(x.shape()), x.dtype(),
              is_16bit_float(x.dtype()) ? " (16-bit tensors are solved in float32: cast, or use autocast)" : "");
  return x;
}

}  // namespace

Tensor tensorinv(const Tensor& a_in, int64_t ind) {
  const char* op = "linalg.tensorinv";
  const Tensor a = float_operand(op, "A", a_in);
  EMBER_CHECK(ind > 0, op, "ind must be positive, got {} (A is {})", ind, shape_str(a.shape()));
  EMBER_CHECK(ind <= a.dim(), op, "ind ({}) must be at most A's number of dims, got A {}", ind, shape_str(a.shape()));
  const std::span<const int64_t> shape = a.shape();
  const std::span<const int64_t> rows = shape.first(static_cast<size_t>(ind)), cols = shape.subspan(static_cast<size_t>(ind));
  const int64_t n = product(rows);
  EMBER_CHECK(n == product(cols), op,
              "A's first {} dims {} and its other dims {} must hold as many entries (a square matrix), got {} and {}",
              ind, shape_str(rows), shape_str(cols), n, product(cols));
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  const Tensor matrix = a.reshape({n, n});
  auto [inverse, info] = inv_ex(matrix);
  detail::raise_first_zero_pivot(op, a, info);
  Shape out(cols);
  for (int64_t s : rows) out.push_back(s);
  return inverse.reshape(out);
}

Tensor tensorsolve(const Tensor& a_in, const Tensor& b_in, std::span<const int64_t> dims) {
  const char* op = "linalg.tensorsolve";
  Tensor a = float_operand(op, "A", a_in);
  const Tensor b = float_operand(op, "B", b_in);
  EMBER_CHECK(a.dtype() == b.dtype(), op, "A and B must have the same dtype, got A {} {} and B {} {}",
              shape_str(a.shape()), a.dtype(), shape_str(b.shape()), b.dtype());
  check_same_device(op, a, b);
  if (!dims.empty()) {
    // dims move to the end, in the order given (torch.movedim).
    std::vector<bool> moved(static_cast<size_t>(a.dim()), false);
    std::vector<int64_t> order;
    for (int64_t d : dims) {
      EMBER_CHECK(d >= -a.dim() && d < a.dim(), op, "dim {} is out of range for A {}", d, shape_str(a.shape()));
      const int64_t dim = d < 0 ? d + a.dim() : d;
      EMBER_CHECK(!moved[dim], op, "dim {} is given twice in dims (A is {})", dim, shape_str(a.shape()));
      moved[dim] = true;
    }
    for (int64_t d = 0; d < a.dim(); ++d)
      if (!moved[d]) order.push_back(d);
    for (int64_t d : dims) order.push_back(d < 0 ? d + a.dim() : d);
    a = permute(a, order);
  }
  const std::span<const int64_t> a_shape = a.shape(), b_shape = b.shape();
  EMBER_CHECK(a.dim() >= b.dim() && std::equal(b_shape.begin(), b_shape.end(), a_shape.begin()), op,
              "A's shape must start with B's (A is B's shape followed by X's), got A {}{} and B {}",
              shape_str(a_shape), dims.empty() ? "" : " (after moving dims to the end)", shape_str(b_shape));
  const std::span<const int64_t> x_shape = a_shape.subspan(b_shape.size());
  const int64_t rows = product(b_shape), cols = product(x_shape);
  EMBER_CHECK(rows == cols, op,
              "B {} and the solution {} must hold as many entries (a square system), got {} and {}; A is {}",
              shape_str(b_shape), shape_str(x_shape), rows, cols, shape_str(a_shape));
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  const Tensor matrix = a.reshape({rows, cols});
  auto [x, info] = solve_ex(matrix, b.reshape({rows}));
  detail::raise_first_zero_pivot(op, a, info);
  return x.reshape(x_shape);
}

}  // namespace ember::linalg
