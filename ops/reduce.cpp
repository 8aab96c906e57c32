// Reductions. Sum, prod and amax/amin are primitives; mean, var, std, logsumexp and norm are
// composites of them, so their gradients (and gradients of gradients) come for free.
#include <ember/ops/reduce.h>
#include <ember/core/autocast.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <ember/ops/ops.h>

namespace ember {
namespace {

// Normalised, sorted, de-duplicated dims; empty input means every dim.
Dims reduce_dims(const char* op, const Tensor& x, std::span<const int64_t> dims) {
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  Dims out;
  if (dims.empty()) {
    for (int64_t d = 0; d < x.dim(); ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) {
    const int64_t n = normalize_dim(op, d, x.dim());
    EMBER_CHECK(std::find(out.begin(), out.end(), n) == out.end(), op, "dimension {} appears twice in {}", n,
                shape_str(dims));
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  if (x.dim() == 0) out.clear();
  return out;
}

Shape keepdim_shape(const Tensor& x, const Dims& dims) {
  Shape s = x.shape();
  for (int64_t d : dims) s[d] = 1;
  return s;
}

Shape reduced_shape(const Tensor& x, const Dims& dims, bool keepdim) {
  if (keepdim) return keepdim_shape(x, dims);
  Shape s;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) s.push_back(x.shape()[d]);
  return s;
}

int64_t count_of(const Tensor& x, const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= x.shape()[d];
  return n;
}

// Runs a reduce kernel into a keepdim-shaped output, then drops the reduced dims if asked.
Tensor run_reduce(ReduceOp op, const Tensor& x, const Dims& dims, bool keepdim, DType out_dtype) {
  Shape ks = keepdim_shape(x, dims);
  Tensor out = Tensor::empty(ks, out_dtype, x.device());
  if (x.numel() == 0) {
    backend(x.device()).fill(kview(out), op == ReduceOp::Prod ? FillValue{1.0, 1} : FillValue{0.0, 0});
  } else if (out.numel() > 0) {
    backend(x.device()).reduce(op, kview(x), kview(out), dims);
  }
  return keepdim ? out : make_view(out, reduced_shape(x, dims, false), contiguous_strides(reduced_shape(x, dims, false)), out.offset());
}

struct Sum {
  static constexpr const char* name = "sum";
  Dims dims;
  bool keepdim;
  Shape in_shape;
  Tensor forward(Ctx&, const Tensor& x) { return run_reduce(ReduceOp::Sum, x, dims, keepdim, x.dtype()); }
  Grads backward(Ctx&, const Tensor& g) {  // each input element contributed once: broadcast g back
    Shape ks = in_shape;
    for (int64_t d : dims) ks[d] = 1;
    return {expand(reshape(g, ks), in_shape)};
  }
};

struct Prod {
  static constexpr const char* name = "prod";
  int64_t dim;  // x was moved so that this is the last dim
  bool keepdim;
  Tensor forward(Ctx& ctx, const Tensor& x) {
    ctx.save(x);
    return run_reduce(ReduceOp::Prod, x, Dims{dim}, keepdim, x.dtype());
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    // d prod / d x_i = product of the others. Computed without dividing by x_i (which fails at 0):
    // row i of a [n, n] matrix holds x with x_i replaced by 1.
    Tensor x = ctx.saved(0);
    const int64_t n = x.size(dim);
    Tensor moved = transpose(x, dim, -1);  // [..., n]
    Shape square = moved.shape();
    square.insert(square.end() - 1, n);     // [..., n, n]
    Tensor rows = expand(unsqueeze(moved, -2), square);
    Tensor diagonal = eye(n, std::nullopt, {.dtype = DType::Bool, .device = x.device()});
    Tensor others = prod(where(diagonal, Scalar(1), rows), -1);  // [..., n]
    Tensor gk = keepdim ? g : unsqueeze(g, dim);
    return {transpose(transpose(gk, dim, -1) * others, dim, -1)};
  }
};

// amax/amin: the gradient goes to the elements equal to the result, split evenly among ties.
struct Extreme {
  static constexpr const char* name = "amax";
  const char* display_name;
  ReduceOp op;
  Dims dims;
  bool keepdim;
  Tensor forward(Ctx& ctx, const Tensor& x) {
    Tensor out = run_reduce(op, x, dims, true, x.dtype());
    ctx.save(x);
    // Detached: with keepdim, out itself is returned and gets this node as its grad_fn; saving it as
    // is would make a node -> out -> node cycle that leaks whenever backward never reaches the node
    // (softmax's detached max).
    ctx.save(out.detach());
    return keepdim ? out : reshape(out, reduced_shape(x, dims, false));
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    auto [x, out] = ctx.saved<2>();
    Tensor mask = cast(eq(x, out), g.dtype());
    Tensor count = sum(mask, dims, true);
    Tensor gk = keepdim ? g : reshape(g, keepdim_shape(x, dims));
    return {gk * mask / count};
  }
};

// max/min along one dim: a two-output primitive, values (differentiable) and indices (not). The
// gradient of each value goes to the element it was taken from: scatter into zeros at the indices,
// whose own gradient is gather, so every order of derivative stays inside public ops.
struct ExtremeAlongDim {
  static constexpr const char* name = "max";
  const char* display_name;
  ReduceOp arg_op;  // ArgMax or ArgMin
  int64_t dim;
  bool keepdim;
  int64_t input_size;  // x's size along dim
  std::array<Tensor, 2> forward(Ctx& ctx, const Tensor& x) {
    Tensor indices = run_reduce(arg_op, x, Dims{dim}, true, DType::Int64);
    Tensor values = gather(x, dim, indices);
    ctx.save(indices);
    if (!keepdim) return {squeeze(values, dim), squeeze(indices, dim)};
    return {values, indices};
  }
  // d values / d x = one-hot at indices along dim
  Grads backward(Ctx& ctx, const std::array<Tensor, 2>& grads) {
    Tensor indices = ctx.saved(0);
    const Tensor& g = grads[0];
    Shape in_shape = indices.shape();
    in_shape[dim] = input_size;
    return {detail::scatter_add_into_zeros(in_shape, dim, indices, keepdim ? g : unsqueeze(g, dim))};
  }
};

Tensor reverse_cumulative(Tensor (*scan)(const Tensor&, int64_t), const Tensor& x, int64_t dim) {
  const std::vector<int64_t> along{dim};
  return flip(scan(flip(x, along), dim), along);
}

// cumprod's gradient, dx_k = sum_{i>=k} g_i prod_{j<=i, j!=k} x_j, exact at zeros.
//
// For a first derivative, O(n): before the first zero of a row it is (sum_{i>=k} g_i y_i) / x_k, as
// x_k != 0 there; at the first zero it is sum_{i>=k} g_i y'_i, with y' the cumprod of x with that
// zero replaced by 1; after it, 0 (every product holds the first zero).
//
// That 0 is right in value but not in slope (moving the first zero away from 0 makes the later
// gradients nonzero), so under create_graph the formula itself is built, in O(n^2): row k of an
// [n, n] matrix holds x with x_k replaced by 1, its cumprod along the row gives prod_{j<=i, j!=k} x_j,
// and the entries i >= k are summed against g. Its derivatives are those of cumprod at any point.
Tensor cumprod_backward(const Tensor& x, const Tensor& y, const Tensor& g, int64_t dim) {
  if (GradMode::is_enabled()) {
    const int64_t n = x.size(dim);
    const Tensor moved = transpose(x, dim, -1);  // [..., n]
    Shape square = moved.shape();
    square.insert(square.end() - 1, n);  // [..., n (k), n (j)]
    const TensorOptions bools{.dtype = DType::Bool, .device = x.device()};
    const Tensor others = where(eye(n, std::nullopt, bools), Scalar(1), expand(unsqueeze(moved, -2), square));
    const Tensor products = cumprod(others, -1);  // [..., k, i] = prod_{j<=i, j!=k} x_j
    const Tensor from_k = triu(ones({n, n}, bools));  // i >= k
    const Tensor weighted = where(from_k, products * unsqueeze(transpose(g, dim, -1), -2), Scalar(0));
    return transpose(sum(weighted, {-1}), dim, -1);
  }
  const Tensor is_zero = eq(x, Scalar(0));
  const Tensor zeros_so_far = cumsum(is_zero, dim);
  const Tensor before_first_zero = eq(zeros_so_far, Scalar(0));
  const Tensor first_zero = logical_and(is_zero, eq(zeros_so_far, Scalar(1)));
  const Tensor before = reverse_cumulative(cumsum, g * y, dim) / where(before_first_zero, x, Scalar(1));
  const Tensor at = reverse_cumulative(cumsum, g * cumprod(where(first_zero, Scalar(1), x), dim), dim);
  return where(before_first_zero, before, where(first_zero, at, Scalar(0)));
}

// The most negative finite value of a floating dtype, standing for log(0) below: unlike -inf it
// leaves lowest - lowest = 0, not NaN, when the double backward runs this formula on its own output.
double lowest_finite(DType t) {
  switch (t) {
    case DType::Float16: return -65504.0;
    case DType::BFloat16: return -3.3895313892515355e38;
    case DType::Float32: return std::numeric_limits<float>::lowest();
    default: return std::numeric_limits<double>::lowest();
  }
}

// logcumsumexp's gradient dx_i = sum_{j>=i} g_j e^(x_i - y_j), summed in log space so that nothing
// overflows: the positive and negative parts of g separately, each as e^(x_i + log sum e^(log|g_j| - y_j)).
Tensor logcumsumexp_backward(const Tensor& x, const Tensor& y, const Tensor& g, int64_t dim) {
  const Scalar log_zero(lowest_finite(g.dtype()));
  const auto part = [&](const Tensor& is_part, const Tensor& magnitude) {
    // log's input kept positive, so that its gradient is never 0/0 (a NaN where would not mask)
    const Tensor log_magnitude = where(is_part, log(where(is_part, magnitude, Scalar(1))), log_zero);
    return exp(reverse_cumulative(logcumsumexp, log_magnitude - y, dim) + x);
  };
  return part(gt(g, Scalar(0)), g) - part(lt(g, Scalar(0)), neg(g));
}

struct Cumulative {
  static constexpr const char* name = "cumsum";
  const char* display_name;
  CumulativeOp op;
  int64_t dim;
  Tensor forward(Ctx& ctx, const Tensor& x) {
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (x.numel() > 0) backend(x.device()).cumulative(op, kview(x), kview(out), dim);
    if (op != CumulativeOp::Sum) {
      ctx.save(x);
      ctx.save_output(out);
    }
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    switch (op) {
      case CumulativeOp::Sum:  // y_j = sum_{i<=j} x_i  =>  dx_i = sum_{j>=i} g_j
        return {reverse_cumulative(cumsum, g, dim)};
      case CumulativeOp::Prod: return {cumprod_backward(ctx.saved(0), ctx.saved(1), g, dim)};
      default: return {logcumsumexp_backward(ctx.saved(0), ctx.saved(1), g, dim)};
    }
  }
};

DType sum_dtype(DType t) { return is_floating(t) ? t : DType::Int64; }

}  // namespace

Tensor sum(const Tensor& x_in, std::span<const int64_t> dims, bool keepdim) {
  const Tensor x = detail::autocast_operand("sum", x_in);
  Dims d = reduce_dims("sum", x, dims);
  Tensor in = x.dtype() == sum_dtype(x.dtype()) ? x : cast(x, sum_dtype(x.dtype()));
  return apply(Sum{d, keepdim, x.shape()}, in);
}

Tensor mean(const Tensor& x_in, std::span<const int64_t> dims, bool keepdim) {
  EMBER_CHECK(x_in.defined(), "mean", "got an undefined tensor");
  const Tensor x = detail::autocast_operand("mean", x_in);
  EMBER_CHECK(x.is_floating_point(), "mean", "expected a floating-point tensor, got {} of shape {}", x.dtype(),
              shape_str(x.shape()));
  Dims d = reduce_dims("mean", x, dims);
  const int64_t n = count_of(x, d);
  return sum(x, d, keepdim) / static_cast<double>(n);  // 0/0 = NaN for an empty mean, as in PyTorch
}

Tensor prod(const Tensor& x_in, std::optional<int64_t> dim, bool keepdim) {
  EMBER_CHECK(x_in.defined(), "prod", "got an undefined tensor");
  const Tensor x = detail::autocast_operand("prod", x_in);
  if (!dim) return prod(flatten(x), 0, false).reshape(keepdim ? Shape(x.dim(), 1) : Shape{});
  const int64_t d = normalize_dim("prod", *dim, x.dim());
  Tensor in = x.dtype() == sum_dtype(x.dtype()) ? x : cast(x, sum_dtype(x.dtype()));
  if (x.dim() == 0) return in;
  return apply(Prod{d, keepdim}, in);
}

namespace {
// x^e, and 0 with gradient 0 where x is 0. For e < 1 the slope of x^e is infinite at 0, and the
// zeros' gradient would be inf * 0 = NaN (sqrt of a zero variance or norm, |x|^p with p < 1): they
// go through a safe value instead, which PyTorch's formulas give 0 for too.
Tensor power_zero_at_zero(const Tensor& x, double e) {
  const Tensor is_zero = eq(x, Scalar(0));
  return where(is_zero, zeros_like(x), pow(where(is_zero, ones_like(x), x), e));
}

// var's math, its errors naming `op` (std calls it too).
Tensor variance(const char* op, const Tensor& x, std::span<const int64_t> dims, int64_t correction, bool keepdim) {
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  check_floating(op, x);
  Dims d = reduce_dims(op, x, dims);
  // As PyTorch: a 16-bit mean rounded before centring is off by up to its last bit times n, which
  // at 1000 in float16 is 0.5 (var [1000, 1001, 1002] came out 1.375, not 1).
  if (is_16bit_float(x.dtype()))
    return cast(variance(op, cast(x, DType::Float32), d, correction, keepdim), x.dtype());
  const int64_t n = count_of(x, d);
  Tensor centered = x - mean(x, d, true);
  // in double: n - correction overflows int64 for a correction near INT64_MIN
  const double divisor = std::max(static_cast<double>(n) - static_cast<double>(correction), 0.0);
  return sum(centered * centered, d, keepdim) / divisor;
}
}  // namespace

Tensor var(const Tensor& x_in, std::span<const int64_t> dims, int64_t correction, bool keepdim) {
  return variance("var", detail::autocast_operand("var", x_in), dims, correction, keepdim);
}

Tensor std(const Tensor& x_in, std::span<const int64_t> dims, int64_t correction, bool keepdim) {
  const Tensor x = detail::autocast_operand("std", x_in);
  // 16-bit input: the square root in float32 too, rounded once, as PyTorch does.
  if (x.defined() && is_16bit_float(x.dtype()))
    return cast(ember::std(cast(x, DType::Float32), dims, correction, keepdim), x.dtype());
  // (a constant row's gradient is 0, as in PyTorch, not inf * 0 = NaN)
  return power_zero_at_zero(variance("std", x, dims, correction, keepdim), 0.5);
}

namespace {
Tensor extreme(const char* name, ReduceOp op, const Tensor& x, std::span<const int64_t> dims, bool keepdim) {
  Dims d = reduce_dims(name, x, dims);
  for (int64_t k : d)
    EMBER_CHECK(x.shape()[k] > 0, name, "cannot reduce over dimension {} of size 0 (shape {})", k, shape_str(x.shape()));
  EMBER_CHECK(x.numel() > 0 || !d.empty(), name, "cannot reduce an empty tensor of shape {}", shape_str(x.shape()));
  return apply(Extreme{name, op, d, keepdim}, x);
}

Tensor arg_extreme(const char* name, ReduceOp op, const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  if (!dim) {
    EMBER_CHECK(x.numel() > 0, name, "cannot reduce an empty tensor of shape {}", shape_str(x.shape()));
    Tensor flat = reshape(x, std::vector<int64_t>{-1});
    Tensor r = arg_extreme(name, op, flat, 0, false);
    return keepdim ? reshape(r, Shape(x.dim(), 1)) : r;
  }
  const int64_t d = normalize_dim(name, *dim, x.dim());
  if (x.dim() == 0) return zeros({}, {.dtype = DType::Int64, .device = x.device()});
  EMBER_CHECK(x.shape()[d] > 0, name, "cannot reduce over dimension {} of size 0 (shape {})", d, shape_str(x.shape()));
  return run_reduce(op, x, Dims{d}, keepdim, DType::Int64);
}
}  // namespace

Tensor amax(const Tensor& x, std::span<const int64_t> dims, bool keepdim) { return extreme("amax", ReduceOp::Max, x, dims, keepdim); }
Tensor amin(const Tensor& x, std::span<const int64_t> dims, bool keepdim) { return extreme("amin", ReduceOp::Min, x, dims, keepdim); }
Tensor max(const Tensor& x) { return extreme("max", ReduceOp::Max, x, {}, false); }
Tensor min(const Tensor& x) { return extreme("min", ReduceOp::Min, x, {}, false); }
namespace {
ValuesIndices extreme_along(const char* name, ReduceOp arg_op, const Tensor& x, int64_t dim, bool keepdim) {
  EMBER_CHECK(x.defined(), name, "got an undefined tensor");
  const int64_t d = normalize_dim(name, dim, x.dim());
  if (x.dim() == 0) {  // a 0-dim tensor is its own extreme, at index 0
    auto [values, indices] = extreme_along(name, arg_op, reshape(x, std::vector<int64_t>{1}), 0, keepdim);
    return {reshape(values, std::vector<int64_t>{}), reshape(indices, std::vector<int64_t>{})};  // keepdim too
  }
  EMBER_CHECK(x.shape()[d] > 0, name, "cannot reduce over dimension {} of size 0 (shape {})", d, shape_str(x.shape()));
  auto [values, indices] = apply(ExtremeAlongDim{name, arg_op, d, keepdim, x.shape()[d]}, x);
  return {values, indices};
}
}  // namespace

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_along("max", ReduceOp::ArgMax, x, dim, keepdim);
}
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_along("min", ReduceOp::ArgMin, x, dim, keepdim);
}
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return arg_extreme("argmax", ReduceOp::ArgMax, x, dim, keepdim); }
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return arg_extreme("argmin", ReduceOp::ArgMin, x, dim, keepdim); }

Tensor logsumexp(const Tensor& x_in, std::span<const int64_t> dims, bool keepdim) {
  const Tensor x = detail::autocast_operand("logsumexp", x_in);
  check_floating("logsumexp", x);
  Dims d = reduce_dims("logsumexp", x, dims);
  // An empty input has no max to shift by; the sum of nothing is 0 and its log -inf (as in PyTorch).
  if (x.numel() == 0) return log(sum(exp(x), d, keepdim));
  // Shift by the max for stability; the shift is a constant for the gradient (it cancels), and
  // infinite maxima are replaced by 0 so that inf - inf does not make NaN.
  Tensor m = amax(x, d, true).detach();
  m = where(isinf(m), zeros_like(m), m);
  Tensor out = log(sum(exp(x - m), d, true)) + m;
  return keepdim ? out : reshape(out, reduced_shape(x, d, false));
}

Tensor detail::norm_named(const char* op, const Tensor& x_in, double p, std::span<const int64_t> dims, bool keepdim) {
  const Tensor x = detail::autocast_operand(op, x_in);
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  check_floating(op, x);
  EMBER_CHECK(!std::isnan(p), op, "the order p is NaN (input {} {})", x.dtype(), shape_str(x.shape()));
  Dims d = reduce_dims(op, x, dims);
  int64_t reduced = 1;
  for (const int64_t dim : d) reduced *= x.size(dim);
  EMBER_CHECK(!std::isinf(p) || reduced > 0, op,
              "the norm of order {} of no entries is not defined (it is the {} |x|); x is {} {}", p,
              p > 0 ? "largest" : "smallest", shape_str(x.shape()), x.dtype());
  // p = 0 counts the non-zero entries (PyTorch's definition), a step function: its gradient is 0.
  if (p == 0) return detail::constant_in_graph(cast(sum(ne(x, Scalar(0)), d, keepdim), x.dtype()), x);
  if (std::isinf(p)) return p > 0 ? amax(abs(x), d, keepdim) : amin(abs(x), d, keepdim);
  if (p == 1) return sum(abs(x), d, keepdim);
  if (p == 2) return power_zero_at_zero(sum(x * x, d, keepdim), 0.5);  // a zero norm: gradient 0
  const Tensor ax = abs(x);
  // Below p = 1 the zero entries take gradient 0 too (abs' is 0 there, times an infinite slope).
  const Tensor powered = p < 1 ? power_zero_at_zero(ax, p) : pow(ax, p);
  const Tensor result = power_zero_at_zero(sum(powered, d, keepdim), 1.0 / p);
  if (p > 0) return result;
  // p < 0: a zero entry's |x|^p is infinite, so the sum is, and the norm is 0 (and constant); a zero
  // entry was counted as 0 above.
  const Tensor has_zero = ne(sum(cast(eq(ax, Scalar(0)), x.dtype()), d, keepdim), Scalar(0));
  return where(logical_and(has_zero, logical_not(isnan(result))), zeros_like(result), result);  // NaN stays NaN
}

Tensor norm(const Tensor& x, double p, std::span<const int64_t> dims, bool keepdim) {
  return detail::norm_named("norm", x, p, dims, keepdim);
}

namespace {
Tensor scan_along(const char* op_name, CumulativeOp op, const Tensor& x_in, int64_t dim) {
  EMBER_CHECK(x_in.defined(), op_name, "got an undefined tensor");
  const Tensor x = detail::autocast_operand(op_name, x_in);
  const int64_t d = normalize_dim(op_name, dim, x.dim());
  if (op == CumulativeOp::LogSumExp) {
    EMBER_CHECK(is_floating(x.dtype()), op_name, "needs a floating tensor; got {}", x.dtype());
  }
  Tensor in = x.dtype() == sum_dtype(x.dtype()) ? x : cast(x, sum_dtype(x.dtype()));
  if (x.dim() == 0) return clone(in);
  return apply(Cumulative{op_name, op, d}, in);
}
}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim) { return scan_along("cumsum", CumulativeOp::Sum, x, dim); }
Tensor cumprod(const Tensor& x, int64_t dim) { return scan_along("cumprod", CumulativeOp::Prod, x, dim); }
Tensor logcumsumexp(const Tensor& x, int64_t dim) {
  return scan_along("logcumsumexp", CumulativeOp::LogSumExp, x, dim);
}

bool all(const Tensor& x) {
  EMBER_CHECK(x.defined(), "all", "got an undefined tensor");
  if (x.numel() == 0) return true;
  Tensor b = x.dtype() == DType::Bool ? x : ne(x, Scalar(0));
  return amin(cast(b, DType::UInt8)).item<uint8_t>() != 0;
}

bool any(const Tensor& x) {
  EMBER_CHECK(x.defined(), "any", "got an undefined tensor");
  if (x.numel() == 0) return false;
  Tensor b = x.dtype() == DType::Bool ? x : ne(x, Scalar(0));
  return amax(cast(b, DType::UInt8)).item<uint8_t>() != 0;
}

}  // namespace ember
