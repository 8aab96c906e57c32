// logaddexp, hypot, xlogy and nan_to_num as composites of differentiable elementwise ops, so that
// their gradients of every order come from those ops and they run on every backend. Each is built so
// that no intermediate overflows where the result is finite, and so that no branch a where() drops
// can send a NaN into the gradient of the branch it keeps. PyTorch 1.13's values and gradients,
// checked against it by tests/ops/test_tensor_ops.cpp (the two places xlogy's gradient differs are
// spelled out at xlogy).
#include <ember/ops/elementwise.h>

#include <cmath>
#include <limits>

#include <ember/ops/ops.h>

namespace ember {
namespace {

// Both operands in dtype, on one device: the binary ops' rules (a 0-d CPU tensor may join a tensor on
// another device), checked here so that a mismatch names the composite, not one of its parts.
std::pair<Tensor, Tensor> operands(const char* op, const Tensor& a, const Tensor& b, DType dtype) {
  Tensor x = a, y = b;
  if (x.device() != y.device()) {
    const bool a_number = a.dim() == 0 && a.device().is_cpu(), b_number = b.dim() == 0 && b.device().is_cpu();
    EMBER_CHECK(a_number || b_number, op, "expected tensors on one device, got {} ({} {}) and {} ({} {})", a.device(),
                shape_str(a.shape()), a.dtype(), b.device(), shape_str(b.shape()), b.dtype());
    if (a_number) x = to_device(a, b.device());
    else y = to_device(b, a.device());
  }
  broadcast_shapes(op, x.shape(), y.shape());
  if (x.dtype() != dtype) x = cast(x, dtype);
  if (y.dtype() != dtype) y = cast(y, dtype);
  return {x, y};
}

// The promoted dtype of a floating-only op. PyTorch has no integer kernel for logaddexp and hypot;
// ember refuses them too rather than pick a float dtype PyTorch never would.
DType floating_result(const char* op, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.defined() && b.defined(), op, "got an undefined tensor as its {} operand",
              a.defined() ? "second" : "first");
  const DType dtype = result_type(a, b);
  EMBER_CHECK(is_floating(dtype), op, "needs a floating-point operand, got {} {} and {} {}", a.dtype(),
              shape_str(a.shape()), b.dtype(), shape_str(b.shape()));
  return dtype;
}

// 16-bit floats are computed in float32 and rounded once at the end, as PyTorch's kernels do: each
// of a composite's steps rounding to bfloat16 would add up to several of its ulps.
DType compute_dtype(DType dtype) { return is_16bit_float(dtype) ? DType::Float32 : dtype; }
Tensor rounded_to(const Tensor& out, DType dtype) { return out.dtype() == dtype ? out : cast(out, dtype); }

}  // namespace

Tensor logaddexp(const Tensor& a_in, const Tensor& b_in) {
  const char* op = "logaddexp";
  const DType dtype = floating_result(op, a_in, b_in);
  const auto [a, b] = operands(op, a_in, b_in, compute_dtype(dtype));
  // The larger operand plus log1p(exp(-|a - b|)), PyTorch's formula, but with the larger one chosen by
  // where() rather than maximum() and abs(): each side is then a smooth function (a + log1p(exp(b - a))
  // where a >= b), so the second derivative at a == b is sigmoid's 1/4, not the 0 that abs's kink
  // would give. The exponent is <= 0 on the side where() keeps, so nothing overflows.
  const Tensor a_larger = ge(a, b);
  const Tensor d = b - a;
  const Tensor out = where(a_larger, a, b) + log1p(exp(where(a_larger, d, neg(d))));
  // Two equal infinities make d NaN: the result is that infinity, as PyTorch's. Its gradient comes
  // out NaN there (the dropped branch's 0 * NaN), as PyTorch's 1 / (1 + exp(b - a)) does.
  return rounded_to(where(logical_and(isinf(a), eq(a, b)), a, out), dtype);
}

Tensor hypot(const Tensor& a_in, const Tensor& b_in) {
  const char* op = "hypot";
  const DType dtype = floating_result(op, a_in, b_in);
  const auto [a, b] = operands(op, a_in, b_in, compute_dtype(dtype));
  // m sqrt((a/m)^2 + (b/m)^2) with m = max(|a|, |b|): no square overflows (1e200) or underflows
  // (1e-200). m is detached: the expression equals hypot for any constant m > 0, so its derivatives
  // of every order are hypot's, a / hypot and b / hypot, with no kink where |a| = |b|.
  Tensor m, infinite_operand;
  {
    NoGradGuard no_grad;
    m = maximum(abs(a), abs(b));
    infinite_operand = isinf(m);
    // m = 0 (both 0) or inf: scale by 1. At (0, 0) the value is 0 and the gradient 0 / 0 = NaN,
    // PyTorch's a / hypot; at an infinity the value is inf and the gradient inf / inf = NaN for it
    // and 0 for a finite partner, as PyTorch's.
    m = where(logical_or(eq(m, Scalar(0)), infinite_operand), Scalar(1.0), m);
  }
  const Tensor scaled = m * sqrt(square(a / m) + square(b / m));
  const double inf = std::numeric_limits<double>::infinity();
  // Finite operands whose hypot overflows (1.5e308 twice): inf, with PyTorch's gradient a / inf = 0
  // rather than the finite slope of the scaled form. An infinity beside a NaN is inf too (C's hypot,
  // and PyTorch's), where inf^2 + NaN would give NaN; its gradient stays NaN through `scaled`.
  const Tensor overflow = logical_and(isinf(scaled), logical_not(infinite_operand));
  const Tensor inf_and_nan = logical_or(logical_and(isinf(a), isnan(b)), logical_and(isnan(a), isinf(b)));
  return rounded_to(where(logical_or(overflow, inf_and_nan), Scalar(inf), scaled), dtype);
}

Tensor xlogy(const Tensor& x_in, const Tensor& y_in) {
  const char* op = "xlogy";
  EMBER_CHECK(x_in.defined() && y_in.defined(), op, "got an undefined tensor as its {} operand",
              x_in.defined() ? "second" : "first");
  DType dtype = result_type(x_in, y_in);
  if (!is_floating(dtype)) dtype = DType::Float32;  // integers and bools promote, as in PyTorch
  const auto [x, y] = operands(op, x_in, y_in, compute_dtype(dtype));
  // x log y with y replaced by 1 where x is 0 and log y is not finite (y <= 0, or +inf): 0 there, and
  // x log y unchanged elsewhere (0 * finite is 0 anyway; a NaN y is kept, so x = 0 gives NaN, as
  // PyTorch's). No where() around the product, so the gradient in x at x = 0 stays log y (a where()
  // would cut it to 0), and the replaced y are the only ones whose log is not taken.
  // PyTorch's gradient is at::xlogy(grad, y) masked to 0 where x == 0 and y <= 0 for x, and x / y for
  // y. This matches it except at two points, where a product of x with log y cannot: at x = 0,
  // y = +inf the gradient in x is 0 (PyTorch: log(inf) = inf), and at x = 0, y = 0 the gradient in y
  // is 0 (PyTorch: 0 / 0 = NaN).
  const Tensor replaced =
      logical_and(eq(x, Scalar(0)), logical_or(le(y, Scalar(0)), eq(y, Scalar(std::numeric_limits<double>::infinity()))));
  return rounded_to(x * log(where(replaced, Scalar(1.0), y)), dtype);
}

namespace {

// The largest finite value of a floating dtype, as a double (every one is exact in float64).
double largest_finite(DType dtype) {
  switch (dtype) {
    case DType::Float16: return 65504.0;
    case DType::BFloat16: return 3.3895313892515355e38;  // 0x7f7f: float32's exponent, 7 mantissa bits
    case DType::Float32: return std::numeric_limits<float>::max();
    default: return std::numeric_limits<double>::max();
  }
}

}  // namespace

Tensor nan_to_num(const Tensor& x, double nan, std::optional<double> posinf, std::optional<double> neginf) {
  const char* op = "nan_to_num";
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  // Integers hold no NaN or infinity: a copy, as PyTorch returns (never x itself).
  if (!x.is_floating_point()) return clone(x);
  const double top = largest_finite(x.dtype());
  // A replacement x's dtype cannot hold rounds as a cast does (1e39 in float32 is inf), as in PyTorch,
  // rather than being refused as a fill would be.
  auto fill = [&](double v) { return cast(scalar_tensor(v, {.dtype = DType::Float64, .device = x.device()}), x.dtype()); };
  const Tensor replacement = where(isnan(x), fill(nan), where(gt(x, Scalar(0)), fill(posinf.value_or(top)),
                                                             fill(neginf.value_or(-top))));
  // The gradient passes where x was finite; the replacements are constants.
  return where(isfinite(x), x, replacement);
}

}  // namespace ember
