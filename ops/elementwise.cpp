// Elementwise primitives and their gradients. Every binary op first promotes both operands to the
// result dtype and broadcasts them with expand views, so the primitives below see equal shapes and
// dtypes, and never have to unbroadcast a gradient (expand's backward sums).
#include <ember/ops/elementwise.h>
#include <ember/core/autocast.h>

#include <cmath>
#include <limits>
#include <numbers>

#include <fmt/ranges.h>

#include <ember/ops/ops.h>

namespace ember {

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.defined() && b.defined(), op, "got an undefined tensor");
  EMBER_CHECK(a.device() == b.device(), op, "expected tensors on one device, got {} ({} {}) and {} ({} {})",
              a.device(), shape_str(a.shape()), a.dtype(), b.device(), shape_str(b.shape()), b.dtype());
}

void check_floating(const char* op, const Tensor& t) {
  EMBER_CHECK(t.defined(), op, "got an undefined tensor");
  EMBER_CHECK(t.is_floating_point(), op, "expected a floating-point tensor, got {} of shape {}", t.dtype(),
              shape_str(t.shape()));
}

int64_t checked_numel(const char* op, const char* what, std::span<const int64_t> sizes) {
  // Zero sizes count as 1 in the overflow test (as in Tensor::empty): [0, 2^62, 2^62] is refused too,
  // since its other sizes still enter strides and loop bounds.
  int64_t span = 1;
  bool empty = false;
  for (int64_t s : sizes) {
    empty = empty || s == 0;
    EMBER_CHECK(!__builtin_mul_overflow(span, std::max<int64_t>(s, 1), &span), op,
                "{} [{}] has more elements than an int64 can count", what, fmt::join(sizes, ", "));
  }
  return empty ? 0 : span;
}

// ---------------------------------------------------------------- type promotion
namespace {
int category(DType t) { return t == DType::Bool ? 0 : is_floating(t) ? 2 : 1; }
}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.defined() && b.defined(), "result_type", "got an undefined tensor");
  // Three priority classes: dimensioned tensors, 0-dim tensors, wrapped numbers.
  std::optional<DType> cls[3];
  for (const Tensor* t : {&a, &b}) {
    const int c = t->impl()->is_wrapped_number ? 2 : t->dim() == 0 ? 1 : 0;
    cls[c] = cls[c] ? promote_types(*cls[c], t->dtype()) : t->dtype();
  }
  std::optional<DType> result = cls[0];
  if (cls[1] && (!result || category(*cls[1]) > category(*result))) result = cls[1];
  if (cls[2] && (!result || category(*cls[2]) > category(*result))) {
    // A wrapped number of a higher category brings that category's default dtype.
    result = category(*cls[2]) == 2 ? (result && category(*result) == 2 ? *result : DType::Float32)
             : category(*cls[2]) == 1 ? DType::Int64 : DType::Bool;
  }
  return *result;
}

Tensor wrap_scalar(Scalar s, const Tensor& like) {
  // A float number keeps its double value (as PyTorch's wrapped numbers do): storing it as float32
  // would make x_f64 * 0.1 multiply by 0.10000000149. Promotion only looks at its category, so
  // float32 is kept where the op computes in float32 anyway (no cast per op).
  DType dtype = s.default_dtype();
  // (and in float64 when float32 cannot hold it: x_f32 * 1e39 is inf, as in PyTorch, not a fill error)
  const bool fits_float32 = std::abs(s.to_double()) <= std::numeric_limits<float>::max();
  if (dtype == DType::Float32 && (like.dtype() != DType::Float32 || !fits_float32)) dtype = DType::Float64;
  Tensor t = scalar_tensor(s, {.dtype = dtype, .device = like.device()});
  t.impl()->is_wrapped_number = true;
  return t;
}

namespace {

// GELU's second derivative, phi(x) (2 - x^2) with phi the standard normal density: d/dx (Phi + x phi)
// = 2 phi + x phi' = phi (2 - x^2). Both GELU slopes (the unary and the fused backward) differentiate to it.
Tensor gelu_second_derivative(const Tensor& x) {
  const Tensor phi = (1 / std::sqrt(2 * std::numbers::pi)) * exp(-0.5 * x * x);
  return phi * (2 - x * x);
}

// ---------------------------------------------------------------- primitives
struct Binary {
  static constexpr const char* name = "binary";
  const char* display_name;
  BinaryOp op;
  Tensor forward(Ctx& ctx, const Tensor& a, const Tensor& b) {
    Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
    backend(a.device()).binary(op, kview(a), kview(b), kview(out));
    // Each side's gradient reads the other side (and division's b's gradient reads a): an operand
    // is saved only where a wanted gradient reads it, as in PyTorch (x * 3 keeps no copy of x).
    const bool want_a = ctx.needs_input_grad(0), want_b = ctx.needs_input_grad(1);
    switch (op) {
      case BinaryOp::Mul:
        ctx.save(want_b ? a : Tensor(), want_a ? b : Tensor());
        break;
      case BinaryOp::Maximum: case BinaryOp::Minimum: case BinaryOp::Atan2: case BinaryOp::Remainder:
        ctx.save(a, b);
        break;
      case BinaryOp::Div:
        ctx.save(want_b ? a : Tensor(), b);
        break;
      case BinaryOp::Pow:
        ctx.save(a, b);
        ctx.save_output(out);
        break;
      case BinaryOp::ReluBackward:
        ctx.save(b);
        break;
      case BinaryOp::GeluBackward:
        ctx.save(a, b);
        break;
      default: break;
    }
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    // Each side's gradient is computed only where it is wanted (a mask or a constant scale needs
    // none): a pass over the tensor saved per constant operand. The saved tensors are plain locals,
    // not structured bindings, which clang before 16 cannot capture in the lambdas below.
    const bool want_a = ctx.needs_input_grad(0), want_b = ctx.needs_input_grad(1);
    auto grads = [&](auto grad_a, auto grad_b) -> Grads {
      return {want_a ? grad_a() : Tensor(), want_b ? grad_b() : Tensor()};
    };
    switch (op) {
      case BinaryOp::Add: return {g, g};            // d(a+b) = da + db
      case BinaryOp::Sub:                           // d(a-b) = da - db
        return grads([&] { return g; }, [&] { return neg(g); });
      case BinaryOp::Mul: {                         // d(ab) = b da + a db
        const Tensor a = ctx.saved(0), b = ctx.saved(1);
        return grads([&] { return g * b; }, [&] { return g * a; });
      }
      case BinaryOp::Div: {                         // d(a/b) = da / b - a db / b^2
        // (a / b) / b, as PyTorch: b * b underflows to 0 below |b| = 1e-154, making 0/0 of a = 0
        const Tensor a = ctx.saved(0), b = ctx.saved(1);
        return grads([&] { return g / b; }, [&] { return neg(g) * ((a / b) / b); });
      }
      case BinaryOp::Pow: {                         // d(a^b) = b a^(b-1) da + a^b ln(a) db
        const Tensor a = ctx.saved(0), b = ctx.saved(1), out = ctx.saved(2);
        // b a^(b-1) is 0 * inf = NaN at a = 0, b = 0; PyTorch defines it as 0 wherever b = 0.
        // ln(a) is -inf at a = 0; PyTorch defines the exponent's gradient as 0 there (for b >= 0).
        return grads([&] { return where(eq(b, Scalar(0)), zeros_like(g), g * b * pow(a, b - 1)); },
                     [&] {
                       return where(logical_and(eq(a, Scalar(0)), ge(b, Scalar(0))), zeros_like(g), g * out * log(a));
                     });
      }
      case BinaryOp::Maximum:
      case BinaryOp::Minimum: {                     // the larger (smaller) input gets g; ties split it
        const Tensor a = ctx.saved(0), b = ctx.saved(1);
        Tensor a_wins = op == BinaryOp::Maximum ? gt(a, b) : lt(a, b);
        Tensor tie = eq(a, b);
        Tensor wa = cast(a_wins, g.dtype()) + cast(tie, g.dtype()) * 0.5;
        return grads([&] { return g * wa; }, [&] { return g * (1 - wa); });
      }
      case BinaryOp::Atan2: {                       // d atan2(a, b) = (b da - a db) / (a^2 + b^2)
        const Tensor a = ctx.saved(0), b = ctx.saved(1);
        Tensor denom = a * a + b * b;
        return grads([&] { return g * b / denom; }, [&] { return neg(g) * a / denom; });
      }
      case BinaryOp::Remainder: {                   // a - floor(a/b) b
        const Tensor a = ctx.saved(0), b = ctx.saved(1);
        return grads([&] { return g; }, [&] { return neg(g) * floor(a / b); });
      }
      // Linear in the incoming gradient a, so its own gradient is the same op; relu's is constant in
      // the saved output y (which relu's backward passes detached), GELU's slope varies with x:
      // d/dx (a gelu'(x)) = a gelu''(x).
      case BinaryOp::ReluBackward: return {apply(Binary{display_name, op}, g, ctx.saved(0)), Tensor()};
      case BinaryOp::GeluBackward: {
        const Tensor a = ctx.saved(0), x = ctx.saved(1);
        return grads([&] { return apply(Binary{display_name, op}, g, x); },
                     [&] { return g * a * gelu_second_derivative(x); });
      }
      // GCOVR_EXCL_START: every op that records this node has a rule above.
      default: EMBER_FAIL(display_name, "is not differentiable");
      // GCOVR_EXCL_STOP
    }
  }
};

Tensor binary(const char* name, BinaryOp op, const Tensor& a, const Tensor& b);

struct Unary {
  static constexpr const char* name = "unary";
  const char* display_name;
  UnaryOp op;
  Tensor forward(Ctx& ctx, const Tensor& x) {
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    backend(x.device()).unary(op, kview(x), kview(out));
    switch (op) {
      case UnaryOp::Exp: case UnaryOp::Expm1: case UnaryOp::Sqrt: case UnaryOp::Rsqrt: case UnaryOp::Tanh:
      case UnaryOp::Sigmoid: case UnaryOp::Reciprocal: case UnaryOp::Relu:
        ctx.save_output(out);
        break;
      default:
        ctx.save(x);
    }
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    const Tensor s = ctx.saved(0);  // the input, or the output for ops whose derivative uses it
    switch (op) {
      case UnaryOp::Neg: return {neg(g)};
      case UnaryOp::Abs: return {g * sign(s)};                          // d|x| = sign(x)
      case UnaryOp::Sign: case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round:
        return {zeros_like(g)};                                         // piecewise constant
      case UnaryOp::Exp: return {g * s};                                // d e^x = e^x
      case UnaryOp::Log: return {g / s};                                // d ln x = 1/x
      case UnaryOp::Log1p: return {g / (s + 1)};                        // 1/(1+x)
      case UnaryOp::Expm1: return {g * (s + 1)};                        // e^x = y + 1
      case UnaryOp::Sqrt: return {g / (2 * s)};                         // 1/(2 sqrt x)
      case UnaryOp::Rsqrt: return {g * -0.5 * s * s * s};               // -x^-3/2 / 2 = -y^3/2
      case UnaryOp::Sin: return {g * cos(s)};
      case UnaryOp::Cos: return {neg(g) * sin(s)};
      case UnaryOp::Tanh: return {g * (1 - s * s)};                     // 1 - tanh^2
      case UnaryOp::Sigmoid: return {g * s * (1 - s)};                  // s (1 - s)
      // g where x > 0, else 0 (a NaN in g stays out of the zeros; a NaN y gets 0, not g as in PyTorch), in
      // one pass with no mask tensor. The output only selects, so it is detached: the gradient is
      // constant in x, and a constant g leaves it outside the graph for constant_in_graph to place.
      case UnaryOp::Relu: return {binary("relu_backward", BinaryOp::ReluBackward, g, s.detach())};
      case UnaryOp::Erf: return {g * (2 / std::sqrt(std::numbers::pi)) * exp(neg(s * s))};
      case UnaryOp::Reciprocal: return {neg(g) * s * s};                // -1/x^2 = -y^2
      case UnaryOp::Gelu: return {binary("gelu_backward", BinaryOp::GeluBackward, g, s)};
      case UnaryOp::GeluDerivative: return {g * gelu_second_derivative(s)};
      // GCOVR_EXCL_START: every op that records this node has a rule above.
      default: EMBER_FAIL(display_name, "is not differentiable");
      // GCOVR_EXCL_STOP
    }
  }
};

struct Where {
  static constexpr const char* name = "where";
  Tensor forward(Ctx& ctx, const Tensor& cond, const Tensor& a, const Tensor& b) {
    Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
    backend(a.device()).where(kview(cond), kview(a), kview(b), kview(out));
    ctx.save(cond);  // versioned: editing the condition before backward is an error, not a wrong gradient
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {  // each branch gets g where it was chosen
    Tensor cond = ctx.saved(0);
    Tensor z = zeros_like(g);
    return {Tensor(), where(cond, g, z), where(cond, z, g)};
  }
};

void check_operands_defined(const char* op, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.defined() && b.defined(), op, "got an undefined tensor as its {} operand",
              !a.defined() ? "first" : "second");
}

// Promotes and broadcasts two operands for a binary op.
std::pair<Tensor, Tensor> prepare_binary(const char* op, const Tensor& a, const Tensor& b, DType dtype) {
  EMBER_CHECK(a.defined() && b.defined(), op, "got an undefined tensor");
  if (a.device() != b.device()) {
    // A CPU number may join a CUDA tensor (as in PyTorch); anything else is an error.
    const bool a_scalar = a.dim() == 0 && a.device().is_cpu(), b_scalar = b.dim() == 0 && b.device().is_cpu();
    EMBER_CHECK(a_scalar || b_scalar, op, "expected tensors on one device, got {} ({} {}) and {} ({} {})",
                a.device(), shape_str(a.shape()), a.dtype(), b.device(), shape_str(b.shape()), b.dtype());
  }
  Tensor x = a, y = b;
  if (x.device() != y.device()) (a.dim() == 0 ? x : y) = to_device(a.dim() == 0 ? a : b, a.dim() == 0 ? b.device() : a.device());
  if (x.dtype() != dtype) x = cast(x, dtype);
  if (y.dtype() != dtype) y = cast(y, dtype);
  if (x.shape() != y.shape()) {
    Shape s = broadcast_shapes(op, x.shape(), y.shape());
    x = expand(x, s);
    y = expand(y, s);
  }
  // A wrapped number that needed no cast or expand is now an operand like any other: were it saved
  // still flagged, a backward formula reusing it (b - 1 in pow's) would promote it as a number, to
  // float32.
  if (x.impl()->is_wrapped_number) x = x.detach();
  if (y.impl()->is_wrapped_number) y = y.detach();
  return {x, y};
}

Tensor binary(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  check_operands_defined(name, a, b);
  const DType dtype = result_type(a, b);
  auto [x, y] = prepare_binary(name, a, b, dtype);
  return apply(Binary{name, op}, x, y);
}

// Integer division by zero raises, as in PyTorch (ZeroDivisionError), on every device: checking here
// rather than in a kernel keeps CPU and CUDA alike. The divisor is checked after its cast to the
// result dtype, where a value like 256 into uint8 becomes a zero.
void check_integer_divisor(const char* op, const Tensor& a, const Tensor& b, const Tensor& divisor) {
  if (is_floating(divisor.dtype())) return;
  NoGradGuard no_grad;
  EMBER_CHECK(!any(eq(divisor, Scalar(0))), op,
              "ZeroDivisionError: integer division by zero ({} {} by {} {} on {})", shape_str(a.shape()),
              a.dtype(), shape_str(b.shape()), b.dtype(), divisor.device());
}

// floor_divide and remainder on integers: the divisor is checked, then one integer kernel runs.
Tensor integer_division(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  check_operands_defined(name, a, b);
  const DType dtype = result_type(a, b);
  // As in PyTorch: bool has no division (a bool divisor is true or a division by zero).
  EMBER_CHECK(dtype != DType::Bool, name, "not defined for bool tensors ({} {} and {} {})",
              shape_str(a.shape()), a.dtype(), shape_str(b.shape()), b.dtype());
  auto [x, y] = prepare_binary(name, a, b, dtype);
  check_integer_divisor(name, a, b, y);
  return apply(Binary{name, op}, x, y);
}

Tensor comparison(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  check_operands_defined(name, a, b);
  const DType dtype = result_type(a, b);
  auto [x, y] = prepare_binary(name, a, b, dtype);
  Tensor out = Tensor::empty(x.shape(), DType::Bool, x.device());
  backend(x.device()).binary(op, kview(x), kview(y), kview(out));
  return out;
}

Tensor unary(const char* name, UnaryOp op, const Tensor& x, bool needs_float) {
  EMBER_CHECK(x.defined(), name, "got an undefined tensor");
  if (needs_float && !x.is_floating_point()) return apply(Unary{name, op}, cast(x, DType::Float32));
  EMBER_CHECK(x.dtype() != DType::Bool || op == UnaryOp::LogicalNot, name, "not defined for bool tensors");
  return apply(Unary{name, op}, x);
}

// alpha as add and sub use it, checked as PyTorch checks it against the result's dtype: a fractional
// alpha with an integer result is refused, a bool alpha needs a bool result (where any alpha means
// "b or not"), and the value must fit the dtype (an integer alpha for uint8 may be as low as -255,
// which wraps as PyTorch's does).
Scalar checked_alpha(const char* name, const Tensor& a, const Tensor& b, Scalar alpha, DType dtype) {
  EMBER_CHECK(is_floating(dtype) || alpha.is_integral(), name,
              "alpha {} is a floating-point number but the inputs ({} and {}) give an integer result {}",
              alpha.to_double(), a.dtype(), b.dtype(), dtype);
  EMBER_CHECK(!alpha.is_bool() || dtype == DType::Bool, name,
              "a bool alpha needs a bool result, but the inputs ({} and {}) give {}", a.dtype(), b.dtype(), dtype);
  if (dtype == DType::Bool) return Scalar(alpha.to_double() != 0);
  if (is_floating(dtype)) {
    check_fill_value(name, alpha, dtype);
  } else {
    const auto [lowest, highest] = integer_range(dtype);
    const int64_t v = alpha.to_int64();
    EMBER_CHECK(v <= highest && (lowest < 0 ? v >= lowest : v >= -highest), name,
                "alpha {} cannot be converted to {} without overflow", v, dtype);
  }
  return alpha;
}

// b * alpha for add and sub, in the dtype of the sum: b is promoted first, so that alpha * b does not
// wrap in b's narrower dtype (int32 + 2 * uint8(200) is 400, not 144) or round in float32 when the
// sum is float64.
Tensor scaled_by_alpha(const Tensor& b, Scalar alpha, DType dtype) {
  const Tensor promoted = b.dtype() == dtype ? b : cast(b, dtype);
  return mul(promoted, wrap_scalar(alpha, promoted));
}

// An integer alpha of 1 (the default) fits every dtype: the plain op, with nothing to check.
bool is_integer_one(Scalar alpha) { return alpha.is_integral() && !alpha.is_bool() && alpha.to_int64() == 1; }

}  // namespace

// ---------------------------------------------------------------- public binary ops

Tensor add(const Tensor& a, const Tensor& b, Scalar alpha) {
  if (is_integer_one(alpha)) return binary("add", BinaryOp::Add, a, b);
  check_operands_defined("add", a, b);
  const DType dtype = result_type(a, b);
  alpha = checked_alpha("add", a, b, alpha, dtype);
  if (alpha.to_double() == 1 && !alpha.is_bool()) return binary("add", BinaryOp::Add, a, b);
  return binary("add", BinaryOp::Add, a, scaled_by_alpha(b, alpha, dtype));
}
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha) {
  check_operands_defined("sub", a, b);
  // As in PyTorch, a bool operand on either side is refused (a - True is a mistake for ~a or logical_not).
  EMBER_CHECK(a.dtype() != DType::Bool && b.dtype() != DType::Bool, "sub",
              "subtracting a bool tensor is not supported ({} - {}); use logical_not or logical_xor", a.dtype(),
              b.dtype());
  if (is_integer_one(alpha)) return binary("sub", BinaryOp::Sub, a, b);
  const DType dtype = result_type(a, b);
  alpha = checked_alpha("sub", a, b, alpha, dtype);
  if (alpha.to_double() == 1) return binary("sub", BinaryOp::Sub, a, b);
  return binary("sub", BinaryOp::Sub, a, scaled_by_alpha(b, alpha, dtype));
}
Tensor mul(const Tensor& a, const Tensor& b) { return binary("mul", BinaryOp::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) {
  check_operands_defined("div", a, b);
  DType dtype = result_type(a, b);
  if (!is_floating(dtype)) dtype = DType::Float32;  // true division
  auto [x, y] = prepare_binary("div", a, b, dtype);
  return apply(Binary{"div", BinaryOp::Div}, x, y);
}
Tensor pow(const Tensor& a, const Tensor& b) { return binary("pow", BinaryOp::Pow, a, b); }
Tensor pow(const Tensor& a, Scalar exponent) {
  const double e = exponent.to_double();
  // PyTorch refuses a negative number as an integer exponent rather than round 2^-1 to 0.
  EMBER_CHECK(!(e < 0 && !a.is_floating_point() && exponent.is_integral()), "pow",
              "Integers to negative integer powers are not allowed (base {} {}, exponent {})",
              shape_str(a.shape()), a.dtype(), e);
  // (the shortcuts keep a's dtype, so only where promotion does too: bool ** 2 is int64, as in PyTorch)
  const bool keeps_dtype = result_type(a, wrap_scalar(exponent, a)) == a.dtype();
  if (e == 1 && keeps_dtype) return a.is_floating_point() ? a * 1 : clone(a);
  if (e == 2 && keeps_dtype) return a * a;  // exact and cheaper, with the same derivative 2a
  if (e == 0.5 && a.is_floating_point()) return sqrt(a);
  return binary("pow", BinaryOp::Pow, a, wrap_scalar(exponent, a));
}
Tensor pow(Scalar base, const Tensor& exponent) { return binary("pow", BinaryOp::Pow, wrap_scalar(base, exponent), exponent); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary("maximum", BinaryOp::Maximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary("minimum", BinaryOp::Minimum, a, b); }
Tensor atan2(const Tensor& a, const Tensor& b) {
  check_operands_defined("atan2", a, b);
  DType dtype = result_type(a, b);
  if (!is_floating(dtype)) dtype = DType::Float32;
  auto [x, y] = prepare_binary("atan2", a, b, dtype);
  return apply(Binary{"atan2", BinaryOp::Atan2}, x, y);
}
Tensor remainder(const Tensor& a, const Tensor& b) {
  check_operands_defined("remainder", a, b);
  return integer_division("remainder", BinaryOp::Remainder, a, b);
}
Tensor remainder(const Tensor& a, Scalar b) { return remainder(a, wrap_scalar(b, a)); }
namespace {
// Python's float //, as PyTorch computes it: floor(a / b) would round 1 // 0.1 up to 10, where the
// exact quotient 9.99... floors to 9. Dividing the exact multiple a - (a mod b) and rounding to the
// nearest integer (ties down) gives 9. A zero divisor gives a / b (+-inf or NaN). The gradient is 0
// almost everywhere (PyTorch defines none).
Tensor floating_floor_divide(const Tensor& a, const Tensor& b, DType dtype) {
  // 16-bit floats compute in float32, as every elementwise op does, from operands first rounded to
  // the result's dtype (a number divisor 2.0001 is 2 in float16, as remainder and PyTorch see it).
  const DType compute = is_16bit_float(dtype) ? DType::Float32 : dtype;
  const Tensor x = cast(cast(a, dtype), compute), y = cast(cast(b, dtype), compute);
  const Tensor quotient = div(x - remainder(x, y), y);  // an integer, up to rounding
  const Tensor down = floor(quotient);
  Tensor result = where(gt(quotient - down, Scalar(0.5)), down + 1, down);
  // As PyTorch: a zero quotient keeps the sign of x / y (-0 // 1 is -0).
  const Tensor ratio = div(x, y), signed_zero = ratio * 0;
  result = where(eq(result, Scalar(0)), signed_zero, result);
  // An infinite divisor: remainder(x, y) is infinite, so the formula above gives NaN; C's fmod(x, y) is
  // x, and the floor is -1 where x is non-zero and the signs differ, else +-0 (5 // -inf is -1, as
  // in Python). A non-finite x keeps NaN (signed_zero is NaN there).
  const Tensor below_zero = logical_and(ne(x, Scalar(0)), ne(lt(x, Scalar(0)), lt(y, Scalar(0))));
  const Tensor by_infinity = where(isnan(signed_zero), signed_zero, where(below_zero, full_like(x, -1.0), signed_zero));
  result = where(isinf(y), by_infinity, result);
  result = where(eq(y, Scalar(0)), ratio, result);
  return result.dtype() == dtype ? result : cast(result, dtype);
}
}  // namespace

Tensor floor_divide(const Tensor& a, const Tensor& b) {
  check_operands_defined("floor_divide", a, b);
  broadcast_shapes("floor_divide", a.shape(), b.shape());  // here, not in the remainder it is made of
  const DType dtype = result_type(a, b);
  if (is_floating(dtype)) return floating_floor_divide(a, b, dtype);
  return integer_division("floor_divide", BinaryOp::Div, a, b);
}
Tensor floor_divide(const Tensor& a, Scalar b) { return floor_divide(a, wrap_scalar(b, a)); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(cond.defined(), "where", "got an undefined condition");
  check_operands_defined("where", a, b);
  EMBER_CHECK(cond.dtype() == DType::Bool, "where", "the condition must be bool, got {} (shape {})", cond.dtype(),
              shape_str(cond.shape()));
  check_same_device("where", cond, a);
  const DType dtype = result_type(a, b);
  auto [x, y] = prepare_binary("where", a, b, dtype);
  Shape s = broadcast_shapes("where", cond.shape(), x.shape());
  Tensor c = expand(cond, s);
  if (x.shape() != s) {
    x = expand(x, s);
    y = expand(y, s);
  }
  return apply(Where{}, c, x, y);
}
namespace {
// where(cond, x, number): as PyTorch, a number the result's dtype cannot hold is refused (1e6 for a
// float16 x would otherwise become inf, 300 for an int8 x would wrap).
Tensor where_number(const Tensor& cond, const Tensor& x, Scalar number, bool number_first) {
  EMBER_CHECK(x.defined(), "where", "got an undefined tensor");
  const Tensor wrapped = wrap_scalar(number, x);
  check_fill_value("where", number, result_type(x, wrapped));
  return number_first ? where(cond, wrapped, x) : where(cond, x, wrapped);
}
}  // namespace
Tensor where(const Tensor& cond, const Tensor& a, Scalar b) { return where_number(cond, a, b, false); }
Tensor where(const Tensor& cond, Scalar a, const Tensor& b) { return where_number(cond, b, a, true); }

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  EMBER_CHECK(x.defined(), "clamp", "got an undefined tensor");
  // As PyTorch: without bounds there is nothing to clamp, and returning x itself would let a write
  // into the "result" change x.
  EMBER_CHECK(lo || hi, "clamp", "needs a lower or an upper bound (or both), got neither ({} {})", x.dtype(),
              shape_str(x.shape()));
  EMBER_CHECK(!is_integral(x.dtype(), true) || ((!lo || !std::isnan(*lo)) && (!hi || !std::isnan(*hi))), "clamp",
              "a NaN bound cannot clamp an integer tensor ({} {})", x.dtype(), shape_str(x.shape()));
  // where() keeps the gradient 1 inside [lo, hi] and 0 outside, as in PyTorch.
  // An integer tensor's bound past its dtype's range is never selected, but full_like must be able to
  // hold it (300 is no uint8): it is clipped to the range first.
  auto fillable = [&](double b) -> Scalar {
    // A floating tensor's bound must fit its dtype, as in PyTorch (1e39 is no bfloat16): named here,
    // not by the full_like below.
    if (is_floating(x.dtype())) check_fill_value("clamp", b, x.dtype());
    if (!is_integral(x.dtype()) || b != b) return b;
    const auto [lowest, highest] = integer_range(x.dtype());
    // As doubles: -2^63 is exact, and INT64_MAX rounds up to 2^63, which no int64 reaches.
    if (b <= static_cast<double>(lowest)) return lowest;
    if (b >= static_cast<double>(highest)) return highest;
    return b;
  };
  // A fractional bound on an integer tensor promotes, as PyTorch's does: clamp(int [-3, 5], 0.5, 2.5)
  // is float [0.5, 2.5], not the truncated bounds' int [0, 2].
  auto fractional = [](const std::optional<double>& b) { return b && std::isfinite(*b) && *b != std::floor(*b); };
  if (is_integral(x.dtype(), true) && (fractional(lo) || fractional(hi)))
    return clamp(cast(x, DType::Float32), lo, hi);
  // A NaN bound, as in PyTorch: with both bounds given every element is NaN (where() below would
  // ignore it); alone, it leaves the values as they are. Either way the gradient is 0: PyTorch passes
  // it where lo <= x <= hi, which no comparison with NaN satisfies.
  if ((lo && std::isnan(*lo)) || (hi && std::isnan(*hi))) {
    const Tensor values = lo && hi ? full_like(x, std::numeric_limits<double>::quiet_NaN()) : x.detach().clone();
    return detail::constant_in_graph(values, x);
  }
  Tensor out = x;
  if (lo) out = where(lt(out, Scalar(*lo)), full_like(out, fillable(*lo)), out);
  if (hi) out = where(gt(out, Scalar(*hi)), full_like(out, fillable(*hi)), out);
  return out;
}

Tensor lerp(const Tensor& a, const Tensor& b, const Tensor& weight) {
  EMBER_CHECK(a.defined() && b.defined() && weight.defined(), "lerp", "got an undefined tensor");
  // (checked here so that a mismatch names lerp, not the mul or sub it is made of)
  broadcast_shapes("lerp", broadcast_shapes("lerp", a.shape(), b.shape()), weight.shape());
  // 16-bit floats compute in float32 and round once, as PyTorch's kernel does: the composite below
  // in 16-bit ops rounds each step (lerp(-3.906, 4.594, 0.459) in bfloat16 gave 0, not -0.0049).
  if (is_16bit_float(a.dtype()) && a.dtype() == b.dtype() && a.dtype() == weight.dtype())
    return cast(lerp(cast(a, DType::Float32), cast(b, DType::Float32), cast(weight, DType::Float32)), a.dtype());
  // As PyTorch, from the nearer end: a + w (b - a) at w = 1 loses b when |a| dwarfs it
  // (lerp(1e16, 1e-17, 1) gave 0, not 1e-17).
  // Each branch sees a weight that zeroes its own terms where the other branch is taken, so an
  // infinite end (b - a = inf) does not send 0 * inf = NaN into the weight's gradient from there.
  const Tensor near_a = lt(abs(weight), Scalar(0.5));
  const Tensor weight_a = where(near_a, weight, 0.0), weight_b = where(near_a, 1.0, weight);
  const Tensor from_a = a + weight_a * (b - a), from_b = b - (b - a) * (1 - weight_b);
  return where(near_a, from_a, from_b);
}

// ---------------------------------------------------------------- public unary ops
Tensor neg(const Tensor& x) { return unary("neg", UnaryOp::Neg, x, false); }
Tensor abs(const Tensor& x) { return unary("abs", UnaryOp::Abs, x, false); }
Tensor sign(const Tensor& x) { return unary("sign", UnaryOp::Sign, x, false); }
Tensor exp(const Tensor& x) { return unary("exp", UnaryOp::Exp, detail::autocast_operand("exp", x), true); }
Tensor log(const Tensor& x) { return unary("log", UnaryOp::Log, detail::autocast_operand("log", x), true); }
Tensor log1p(const Tensor& x) { return unary("log1p", UnaryOp::Log1p, x, true); }
Tensor expm1(const Tensor& x) { return unary("expm1", UnaryOp::Expm1, x, true); }
Tensor sqrt(const Tensor& x) { return unary("sqrt", UnaryOp::Sqrt, x, true); }
Tensor rsqrt(const Tensor& x) { return unary("rsqrt", UnaryOp::Rsqrt, x, true); }
// PyTorch's square is pow(x, 2): a bool tensor gives int64, as pow(bool, 2) does here.
Tensor square(const Tensor& x) {
  EMBER_CHECK(x.defined(), "square", "got an undefined tensor");
  if (x.dtype() == DType::Bool) return square(cast(x, DType::Int64));
  return x * x;
}
Tensor reciprocal(const Tensor& x) { return unary("reciprocal", UnaryOp::Reciprocal, x, true); }
Tensor sin(const Tensor& x) { return unary("sin", UnaryOp::Sin, x, true); }
Tensor cos(const Tensor& x) { return unary("cos", UnaryOp::Cos, x, true); }
Tensor tanh(const Tensor& x) { return unary("tanh", UnaryOp::Tanh, x, true); }
Tensor erf(const Tensor& x) { return unary("erf", UnaryOp::Erf, x, true); }
Tensor floor(const Tensor& x) { return unary("floor", UnaryOp::Floor, x, false); }
Tensor ceil(const Tensor& x) { return unary("ceil", UnaryOp::Ceil, x, false); }
Tensor round(const Tensor& x) { return unary("round", UnaryOp::Round, x, false); }

namespace {
Tensor predicate(UnaryOp op, const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), DType::Bool, x.device());
  backend(x.device()).unary(op, kview(x), kview(out));
  return out;
}
}  // namespace
Tensor isnan(const Tensor& x) { return predicate(UnaryOp::IsNan, x); }
Tensor isinf(const Tensor& x) { return predicate(UnaryOp::IsInf, x); }
Tensor isfinite(const Tensor& x) { return logical_not(logical_or(isnan(x), isinf(x))); }
Tensor logical_not(const Tensor& x) { return predicate(UnaryOp::LogicalNot, x); }

// ---------------------------------------------------------------- comparisons
Tensor eq(const Tensor& a, const Tensor& b) { return comparison("eq", BinaryOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return comparison("ne", BinaryOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return comparison("lt", BinaryOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return comparison("le", BinaryOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return comparison("gt", BinaryOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return comparison("ge", BinaryOp::Ge, a, b); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return comparison("logical_and", BinaryOp::LogicalAnd, a, b); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return comparison("logical_or", BinaryOp::LogicalOr, a, b); }
Tensor logical_xor(const Tensor& a, const Tensor& b) { return comparison("logical_xor", BinaryOp::LogicalXor, a, b); }
Tensor eq(const Tensor& a, Scalar b) { return eq(a, wrap_scalar(b, a)); }
Tensor ne(const Tensor& a, Scalar b) { return ne(a, wrap_scalar(b, a)); }
Tensor lt(const Tensor& a, Scalar b) { return lt(a, wrap_scalar(b, a)); }
Tensor le(const Tensor& a, Scalar b) { return le(a, wrap_scalar(b, a)); }
Tensor gt(const Tensor& a, Scalar b) { return gt(a, wrap_scalar(b, a)); }
Tensor ge(const Tensor& a, Scalar b) { return ge(a, wrap_scalar(b, a)); }

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  check_operands_defined("allclose", a, b);
  EMBER_CHECK(rtol >= 0 && atol >= 0, "allclose", "rtol and atol must be non-negative, got rtol {} and atol {}", rtol, atol);
  if (a.shape() != b.shape()) return false;
  NoGradGuard no_grad;
  // Equal values are close (equal infinities too); otherwise only a pair of finite values can be, by
  // |a - b| <= atol + rtol |b|. (An infinite b made the bound infinite and every a close to it.)
  Tensor close = eq(a, b);
  Tensor distance, comparable;  // comparable: both finite
  if (is_integral(a.dtype(), true) && is_integral(b.dtype(), true)) {
    // Exactly: int64 values past 2^53 differ by less than a double's spacing there. Values of one
    // sign subtract without overflow; of different signs, their distance is |a| + |b|.
    const Tensor x = cast(a, DType::Int64), y = cast(b, DType::Int64);
    const Tensor same_sign = eq(lt(x, Scalar(0)), lt(y, Scalar(0)));
    const Tensor x_same = where(same_sign, x, zeros_like(x)), y_same = where(same_sign, y, zeros_like(y));
    distance = where(same_sign, cast(abs(x_same - y_same), DType::Float64),
                     abs(cast(x, DType::Float64)) + abs(cast(y, DType::Float64)));
    comparable = cast(ones_like(x), DType::Bool);
  } else {
    const Tensor x = cast(a, DType::Float64), y = cast(b, DType::Float64);
    distance = abs(x - y);
    comparable = logical_and(isfinite(x), isfinite(y));
  }
  close = logical_or(close, logical_and(comparable, le(distance, atol + rtol * abs(cast(b, DType::Float64)))));
  if (equal_nan && a.is_floating_point() && b.is_floating_point())
    close = logical_or(close, logical_and(isnan(a), isnan(b)));
  return all(close);
}

bool equal(const Tensor& a, const Tensor& b) {
  check_operands_defined("equal", a, b);
  // As PyTorch 1.13: values compared after type promotion (int64 1 equals float32 1).
  if (a.shape() != b.shape()) return false;
  return all(eq(a, b));
}

// ---------------------------------------------------------------- operators
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, Scalar b) { return add(a, wrap_scalar(b, a)); }
Tensor operator-(const Tensor& a, Scalar b) { return sub(a, wrap_scalar(b, a)); }
Tensor operator*(const Tensor& a, Scalar b) { return mul(a, wrap_scalar(b, a)); }
Tensor operator/(const Tensor& a, Scalar b) { return div(a, wrap_scalar(b, a)); }
Tensor operator+(Scalar a, const Tensor& b) { return add(wrap_scalar(a, b), b); }
Tensor operator-(Scalar a, const Tensor& b) { return sub(wrap_scalar(a, b), b); }
Tensor operator*(Scalar a, const Tensor& b) { return mul(wrap_scalar(a, b), b); }
Tensor operator/(Scalar a, const Tensor& b) { return div(wrap_scalar(a, b), b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator<(const Tensor& a, Scalar b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, Scalar b) { return le(a, b); }
Tensor operator>(const Tensor& a, Scalar b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, Scalar b) { return ge(a, b); }

}  // namespace ember

namespace ember::detail {
Tensor relu_primitive(const Tensor& x) { return apply(Unary{"relu", UnaryOp::Relu}, x); }
Tensor sigmoid_primitive(const Tensor& x) { return apply(Unary{"sigmoid", UnaryOp::Sigmoid}, x); }
Tensor gelu_primitive(const Tensor& x) { return apply(Unary{"gelu", UnaryOp::Gelu}, x); }
}  // namespace ember::detail
