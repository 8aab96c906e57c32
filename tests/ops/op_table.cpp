// The op table (see op_table.h). Each entry: a name, its samples, the function under test, and for
// elementwise ops a <cmath> reference; most entries also list empty / 0-dim inputs with the output
// shape they must give.
#include "tests/ops/op_table.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace ember::testing {

// ---------------------------------------------------------------- helpers

std::vector<double> Rng::values(int64_t n, const Dist& d) {
  std::vector<double> v(static_cast<size_t>(n));
  if (d.distinct) {
    // n evenly spaced slots, each value jittered inside the middle 30% of its slot, then shuffled:
    // any two values differ by at least 0.7 slot widths.
    const double w = (d.hi - d.lo) / static_cast<double>(std::max<int64_t>(n, 1));
    for (int64_t k = 0; k < n; ++k) v[k] = d.lo + w * (static_cast<double>(k) + 0.35 + 0.3 * uniform(0, 1));
    std::shuffle(v.begin(), v.end(), gen_);
    return v;
  }
  for (double& x : v) {
    x = uniform(d.lo, d.hi);
    for (double k : d.kinks)
      if (std::abs(x - k) < d.margin) x = k + (x >= k ? 1 : -1) * (d.margin + std::abs(x - k));
  }
  return v;
}

namespace {

Shape strides_of(const Shape& shape) {
  Shape s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

}  // namespace

Tensor make_tensor_from(const std::vector<double>& values, const Shape& shape, Layout layout, bool requires_grad,
                        DType dtype) {
  const int64_t n = numel_of(shape);
  EMBER_ASSERT(static_cast<int64_t>(values.size()) == n);
  TensorOptions f64{.dtype = dtype};
  Tensor t;
  if (layout == Layout::Transposed && shape.size() >= 2) {
    // base has the reversed shape; base[reversed idx] = values[idx]; permuting back reverses the dims.
    Shape rev(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) rev[d] = shape[shape.size() - 1 - d];
    const Shape st = strides_of(shape), rst = strides_of(rev);
    std::vector<double> base(values.size());
    for (int64_t i = 0; i < n; ++i) {
      int64_t rest = i, j = 0;
      for (size_t d = 0; d < shape.size(); ++d) {
        const int64_t idx = rest / st[d];
        rest %= st[d];
        j += idx * rst[shape.size() - 1 - d];
      }
      base[j] = values[i];
    }
    std::vector<int64_t> perm(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) perm[d] = static_cast<int64_t>(shape.size() - 1 - d);
    t = from_vector(base, rev, f64).permute(perm);
  } else if (layout != Layout::Contiguous) {
    // Strided (and Transposed for fewer than 2 dims): every other element of a twice-as-wide buffer,
    // the gaps hold NaN (floating dtypes) so that reading outside the view shows.
    Shape wide = shape;
    if (wide.empty()) wide.push_back(1);
    wide.back() *= 2;
    const double gap = is_floating(dtype) ? std::numeric_limits<double>::quiet_NaN() : 12345;
    std::vector<double> base(values.size() * 2, gap);
    for (int64_t i = 0; i < n; ++i) base[2 * i] = values[i];
    t = from_vector(base, wide, f64);
    t = shape.empty() ? t.select(0, 0) : t.slice(-1, 0, std::nullopt, 2);
  } else {
    t = from_vector(values, shape, f64);
  }
  t = t.detach();  // a leaf (a view of its buffer, with the buffer's strides)
  if (requires_grad && is_floating(dtype)) t.requires_grad_();
  return t;
}

Tensor sample(Rng& rng, const Shape& shape, const Dist& d, Layout layout, bool requires_grad) {
  return make_tensor_from(rng.values(numel_of(shape), d), shape, layout, requires_grad);
}

Tensor int_tensor(const std::vector<int64_t>& values, const Shape& shape) {
  return from_vector(values, shape, {.dtype = DType::Int64});
}

Tensor bool_tensor(const std::vector<bool>& values, const Shape& shape) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  return from_vector(bytes, shape, {.dtype = DType::UInt8}).to(DType::Bool);
}

int64_t broadcast_source(const Shape& in_shape, const Shape& out_shape, int64_t out_linear) {
  const size_t lead = out_shape.size() - in_shape.size();
  const Shape ost = strides_of(out_shape), ist = strides_of(in_shape);
  int64_t j = 0, rest = out_linear;
  for (size_t d = 0; d < out_shape.size(); ++d) {
    const int64_t idx = rest / ost[d];
    rest %= ost[d];
    if (d >= lead && in_shape[d - lead] != 1) j += idx * ist[d - lead];
  }
  return j;
}

namespace {

using SampleFn = std::function<std::vector<OpSample>()>;
using ShapeFn = std::function<std::vector<ShapeCase>()>;
using V = std::vector<int64_t>;

OpFn f1(std::function<Tensor(const Tensor&)> f) {
  return [f](const Inputs& in) { return f(in[0]); };
}
OpFn f2(std::function<Tensor(const Tensor&, const Tensor&)> f) {
  return [f](const Inputs& in) { return f(in[0], in[1]); };
}

// Unary elementwise: contiguous, transposed, strided and 0-dim samples; empty and 0-dim shapes.
SampleFn unary_samples(Dist d) {
  return [d] {
    Rng r(101);
    return std::vector<OpSample>{
        {"contiguous [3, 4]", {sample(r, {3, 4}, d)}},
        {"transposed [3, 4]", {sample(r, {3, 4}, d, Layout::Transposed)}},
        {"strided [2, 3, 2]", {sample(r, {2, 3, 2}, d, Layout::Strided)}},
        {"0-dim", {sample(r, {}, d)}},
    };
  };
}
ShapeFn unary_shapes(Dist d) {
  return [d] {
    Rng r(102);
    return std::vector<ShapeCase>{
        {"[0]", {sample(r, {0}, d)}, {0}},
        {"[2, 0, 3]", {sample(r, {2, 0, 3}, d)}, {2, 0, 3}},
        {"0-dim", {sample(r, {}, d)}, {}},
    };
  };
}

OpEntry unary_op(std::string name, std::function<Tensor(const Tensor&)> f, Dist d, std::function<double(double)> ref) {
  return OpEntry{std::move(name), unary_samples(d), f1(std::move(f)),
                 [ref](const std::vector<double>& v) { return ref(v[0]); }, unary_shapes(d)};
}

// Binary elementwise. With joint_distinct, a and b are drawn from one pool of distinct values
// (no ties between them anywhere, for maximum/minimum).
SampleFn binary_samples(Dist da, Dist db, bool joint_distinct = false) {
  return [=] {
    Rng r(201);
    auto pair = [&](Shape sa, Layout la, Shape sb, Layout lb) {
      if (!joint_distinct) return Inputs{sample(r, sa, da, la), sample(r, sb, db, lb)};
      const int64_t na = numel_of(sa), nb = numel_of(sb);
      std::vector<double> all = r.values(na + nb, da);
      return Inputs{make_tensor_from(std::vector<double>(all.begin(), all.begin() + na), sa, la),
                    make_tensor_from(std::vector<double>(all.begin() + na, all.end()), sb, lb)};
    };
    const Layout C = Layout::Contiguous;
    return std::vector<OpSample>{
        {"contiguous [3, 4] [3, 4]", pair({3, 4}, C, {3, 4}, C)},
        {"transposed [3, 4] with strided [3, 4]", pair({3, 4}, Layout::Transposed, {3, 4}, Layout::Strided)},
        {"broadcast [3, 1] [1, 4]", pair({3, 1}, C, {1, 4}, C)},
        {"broadcast [2, 3, 4] [4] (transposed)", pair({2, 3, 4}, Layout::Transposed, {4}, C)},
        {"broadcast [2, 3] with 0-dim", pair({2, 3}, C, {}, C)},
        {"0-dim with [3]", pair({}, C, {3}, Layout::Strided)},
    };
  };
}
ShapeFn binary_shapes(Dist da, Dist db) {
  return [=] {
    Rng r(202);
    return std::vector<ShapeCase>{
        {"[0] [0]", {sample(r, {0}, da), sample(r, {0}, db)}, {0}},
        {"[2, 0, 3] [3]", {sample(r, {2, 0, 3}, da), sample(r, {3}, db)}, {2, 0, 3}},
        {"[1] [0]", {sample(r, {1}, da), sample(r, {0}, db)}, {0}},
        {"[2, 1, 3] [0, 1]", {sample(r, {2, 1, 3}, da), sample(r, {0, 1}, db)}, {2, 0, 3}},
        {"0-dim [2, 0]", {sample(r, {}, da), sample(r, {2, 0}, db)}, {2, 0}},
        {"0-dim 0-dim", {sample(r, {}, da), sample(r, {}, db)}, {}},
    };
  };
}

OpEntry binary_op(std::string name, std::function<Tensor(const Tensor&, const Tensor&)> f, Dist da, Dist db,
                  std::function<double(double, double)> ref, bool joint_distinct = false) {
  return OpEntry{std::move(name), binary_samples(da, db, joint_distinct), f2(std::move(f)),
                 [ref](const std::vector<double>& v) { return ref(v[0], v[1]); }, binary_shapes(da, db)};
}

// A generic set of samples for an op of one [2, 3, 4] input (reductions, softmax, views).
SampleFn samples_3d(Dist d, Shape shape = {2, 3, 4}) {
  return [d, shape] {
    Rng r(301);
    return std::vector<OpSample>{
        {"contiguous", {sample(r, shape, d)}},
        {"transposed", {sample(r, shape, d, Layout::Transposed)}},
        {"strided", {sample(r, shape, d, Layout::Strided)}},
    };
  };
}

ShapeFn shapes(std::function<std::vector<ShapeCase>(Rng&)> f) {
  return [f] {
    Rng r(401);
    return f(r);
  };
}

const Dist kAny = uniform(-2, 2);
const Dist kPos = uniform(0.5, 2);
const Dist kNonzero = away(-2, 2, 0.3);

double sigmoid_ref(double x) { return 1 / (1 + std::exp(-x)); }

std::vector<OpEntry> build_table() {
  std::vector<OpEntry> t;

  // ------------------------------------------------------------ elementwise binary
  t.push_back(binary_op(
      "add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, kAny, kAny,
      [](double a, double b) { return a + b; }));
  t.push_back(binary_op(
      "add(alpha=2.5)", [](const Tensor& a, const Tensor& b) { return add(a, b, 2.5); }, kAny, kAny,
      [](double a, double b) { return a + 2.5 * b; }));
  t.push_back(binary_op(
      "sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, kAny, kAny,
      [](double a, double b) { return a - b; }));
  t.push_back(binary_op(
      "sub(alpha=-0.5)", [](const Tensor& a, const Tensor& b) { return sub(a, b, -0.5); }, kAny, kAny,
      [](double a, double b) { return a + 0.5 * b; }));
  t.push_back(binary_op(
      "mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, kAny, kAny,
      [](double a, double b) { return a * b; }));
  t.push_back(binary_op(
      "div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, kAny, kNonzero,
      [](double a, double b) { return a / b; }));
  t.push_back(binary_op(
      "pow(tensor, tensor)", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, kPos, kAny,
      [](double a, double b) { return std::pow(a, b); }));
  t.push_back(binary_op(
      "atan2", [](const Tensor& a, const Tensor& b) { return atan2(a, b); }, kNonzero, kNonzero,
      [](double a, double b) { return std::atan2(a, b); }));
  t.push_back(binary_op(
      "maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }, distinct(), distinct(),
      [](double a, double b) { return std::max(a, b); }, true));
  t.push_back(binary_op(
      "minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }, distinct(), distinct(),
      [](double a, double b) { return std::min(a, b); }, true));
  t.push_back(binary_op(
      "operator* (number)", [](const Tensor& a, const Tensor& b) { return a * 3 - b / 2.5; }, kAny, kAny,
      [](double a, double b) { return a * 3 - b / 2.5; }));

  // pow with a number exponent: each exponent takes a different path (mul, sqrt, the Pow kernel).
  for (double e : {3.0, 2.0, 0.5, -1.5, 1.0, 0.0}) {
    t.push_back(unary_op(
        fmt::format("pow(tensor, {})", e), [e](const Tensor& x) { return pow(x, e); }, kPos,
        [e](double x) { return std::pow(x, e); }));
  }
  t.push_back(unary_op(
      "pow(tensor, 3) of negative bases", [](const Tensor& x) { return pow(x, 3); }, kNonzero,
      [](double x) { return x * x * x; }));
  t.push_back(unary_op(
      "pow(2.5, tensor)", [](const Tensor& x) { return pow(2.5, x); }, kAny,
      [](double x) { return std::pow(2.5, x); }));

  // where: cond (bool, no grad), a, b
  t.push_back(
      OpEntry{"where",
              [] {
                Rng r(501);
                Tensor c34 = bool_tensor({1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0}, {3, 4});
                return std::vector<OpSample>{
                    {"contiguous", {c34, sample(r, {3, 4}), sample(r, {3, 4})}},
                    {"non-contiguous",
                     {c34, sample(r, {3, 4}, kAny, Layout::Transposed), sample(r, {3, 4}, kAny, Layout::Strided)}},
                    {"broadcast cond [3, 1], a [1, 4], b [4]",
                     {bool_tensor({1, 0, 1}, {3, 1}), sample(r, {1, 4}), sample(r, {4})}},
                    {"broadcast cond [4], a 0-dim, b [3, 1]",
                     {bool_tensor({0, 1, 1, 0}, {4}), sample(r, {}), sample(r, {3, 1})}},
                };
              },
              [](const Inputs& in) { return where(in[0], in[1], in[2]); },
              [](const std::vector<double>& v) { return v[0] != 0 ? v[1] : v[2]; }, shapes([](Rng& r) {
                return std::vector<ShapeCase>{
                    {"[0]", {bool_tensor({}, {0}), sample(r, {0}), sample(r, {0})}, {0}},
                    {"[2, 0, 3] with [3]", {bool_tensor({}, {2, 0, 3}), sample(r, {3}), sample(r, {1})}, {2, 0, 3}},
                    {"0-dim", {bool_tensor({true}, {}), sample(r, {}), sample(r, {})}, {}},
                };
              })});
  t.push_back(
      OpEntry{"where(cond, tensor, number)",
              [] {
                Rng r(502);
                return std::vector<OpSample>{
                    {"contiguous", {bool_tensor({1, 0, 0, 1, 1, 0}, {2, 3}), sample(r, {2, 3})}},
                    {"broadcast", {bool_tensor({1, 0, 0}, {3, 1}), sample(r, {2, 1, 4}, kAny, Layout::Strided)}},
                };
              },
              [](const Inputs& in) { return where(in[0], in[1], 0.75); },
              [](const std::vector<double>& v) { return v[0] != 0 ? v[1] : 0.75; }, nullptr});
  t.push_back(OpEntry{"masked_fill",
                      [] {
                        Rng r(503);
                        return std::vector<OpSample>{
                            {"contiguous", {sample(r, {2, 3}), bool_tensor({1, 0, 0, 1, 1, 0}, {2, 3})}},
                            {"transposed, broadcast mask",
                             {sample(r, {3, 4}, kAny, Layout::Transposed), bool_tensor({0, 1, 1, 0}, {4})}},
                        };
                      },
                      [](const Inputs& in) { return masked_fill(in[0], in[1], -1.5); },
                      [](const std::vector<double>& v) { return v[1] != 0 ? -1.5 : v[0]; }, shapes([](Rng& r) {
                        return std::vector<ShapeCase>{
                            {"[2, 0, 3]", {sample(r, {2, 0, 3}), bool_tensor({}, {0, 3})}, {2, 0, 3}},
                            {"0-dim", {sample(r, {}), bool_tensor({true}, {})}, {}}};
                      })});

  // ------------------------------------------------------------ elementwise unary
  t.push_back(unary_op(
      "neg", [](const Tensor& x) { return neg(x); }, kAny, [](double x) { return -x; }));
  t.push_back(unary_op(
      "abs", [](const Tensor& x) { return abs(x); }, kNonzero, [](double x) { return std::abs(x); }));
  t.push_back(unary_op(
      "exp", [](const Tensor& x) { return exp(x); }, kAny, [](double x) { return std::exp(x); }));
  t.push_back(unary_op(
      "log", [](const Tensor& x) { return log(x); }, kPos, [](double x) { return std::log(x); }));
  t.push_back(unary_op(
      "log1p", [](const Tensor& x) { return log1p(x); }, uniform(-0.5, 2), [](double x) { return std::log1p(x); }));
  t.push_back(unary_op(
      "expm1", [](const Tensor& x) { return expm1(x); }, kAny, [](double x) { return std::expm1(x); }));
  t.push_back(unary_op(
      "sqrt", [](const Tensor& x) { return sqrt(x); }, kPos, [](double x) { return std::sqrt(x); }));
  t.push_back(unary_op(
      "rsqrt", [](const Tensor& x) { return rsqrt(x); }, kPos, [](double x) { return 1 / std::sqrt(x); }));
  t.push_back(unary_op(
      "square", [](const Tensor& x) { return square(x); }, kAny, [](double x) { return x * x; }));
  t.push_back(unary_op(
      "reciprocal", [](const Tensor& x) { return reciprocal(x); }, kNonzero, [](double x) { return 1 / x; }));
  t.push_back(unary_op(
      "sin", [](const Tensor& x) { return sin(x); }, kAny, [](double x) { return std::sin(x); }));
  t.push_back(unary_op(
      "cos", [](const Tensor& x) { return cos(x); }, kAny, [](double x) { return std::cos(x); }));
  t.push_back(unary_op(
      "tanh", [](const Tensor& x) { return tanh(x); }, kAny, [](double x) { return std::tanh(x); }));
  t.push_back(unary_op(
      "erf", [](const Tensor& x) { return erf(x); }, kAny, [](double x) { return std::erf(x); }));
  t.push_back(unary_op(
      "sigmoid", [](const Tensor& x) { return sigmoid(x); }, uniform(-4, 4), sigmoid_ref));
  t.push_back(unary_op(
      "relu", [](const Tensor& x) { return relu(x); }, kNonzero, [](double x) { return x > 0 ? x : 0.0; }));
  t.push_back(unary_op(
      "leaky_relu", [](const Tensor& x) { return leaky_relu(x); }, kNonzero,
      [](double x) { return x > 0 ? x : 0.01 * x; }));
  t.push_back(unary_op(
      "leaky_relu(0.2)", [](const Tensor& x) { return leaky_relu(x, 0.2); }, kNonzero,
      [](double x) { return x > 0 ? x : 0.2 * x; }));
  t.push_back(unary_op(
      "gelu", [](const Tensor& x) { return gelu(x); }, uniform(-3, 3),
      [](double x) { return 0.5 * x * (1 + std::erf(x / std::numbers::sqrt2)); }));
  t.push_back(unary_op(
      "gelu(tanh)", [](const Tensor& x) { return gelu(x, "tanh"); }, uniform(-3, 3),
      [](double x) {
        return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
      }));
  // The activations of the eighth round (their kinks and NaN conventions against PyTorch are in
  // test_more_activations.cpp); here their values, gradients and layouts like every other op's.
  const auto hardsigmoid_ref = [](double x) { return x <= -3 ? 0.0 : x >= 3 ? 1.0 : x / 6 + 0.5; };
  t.push_back(unary_op(
      "relu6", [](const Tensor& x) { return relu6(x); }, away(-2, 8, 0.2, {0, 6}),
      [](double x) { return std::min(std::max(x, 0.0), 6.0); }));
  t.push_back(unary_op(
      "hardtanh", [](const Tensor& x) { return hardtanh(x); }, away(-3, 3, 0.2, {-1, 1}),
      [](double x) { return std::min(std::max(x, -1.0), 1.0); }));
  t.push_back(unary_op(
      "hardsigmoid", [](const Tensor& x) { return hardsigmoid(x); }, away(-5, 5, 0.2, {-3, 3}), hardsigmoid_ref));
  t.push_back(unary_op(
      "hardswish", [](const Tensor& x) { return hardswish(x); }, away(-5, 5, 0.2, {-3, 3}),
      [=](double x) { return x * hardsigmoid_ref(x); }));
  t.push_back(unary_op(
      "mish", [](const Tensor& x) { return mish(x); }, uniform(-4, 4),
      [](double x) { return x * std::tanh(std::log1p(std::exp(x))); }));
  t.push_back(unary_op(
      "selu", [](const Tensor& x) { return selu(x); }, away(-3, 3),
      [](double x) {
        const double alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946;
        return scale * (x > 0 ? x : alpha * std::expm1(x));
      }));
  t.push_back(unary_op(
      "celu(0.5)", [](const Tensor& x) { return celu(x, 0.5); }, away(-3, 3),
      [](double x) { return x > 0 ? x : 0.5 * std::expm1(x / 0.5); }));
  t.push_back(unary_op(
      "softsign", [](const Tensor& x) { return softsign(x); }, away(-3, 3),
      [](double x) { return x / (1 + std::abs(x)); }));
  t.push_back(unary_op(
      "silu", [](const Tensor& x) { return silu(x); }, uniform(-4, 4), [](double x) { return x * sigmoid_ref(x); }));
  t.push_back(unary_op(
      "softplus", [](const Tensor& x) { return softplus(x); }, uniform(-4, 4),
      [](double x) { return std::log1p(std::exp(x)); }));
  // beta 2, threshold 1: linear above x = 0.5, samples on both sides of it
  t.push_back(unary_op(
      "softplus(beta=2, threshold=1)", [](const Tensor& x) { return softplus(x, 2, 1); }, away(-2, 2, 0.15, {0.5}),
      [](double x) { return 2 * x > 1 ? x : std::log1p(std::exp(2 * x)) / 2; }));
  t.push_back(unary_op(
      "elu", [](const Tensor& x) { return elu(x); }, kNonzero, [](double x) { return x > 0 ? x : std::expm1(x); }));
  t.push_back(unary_op(
      "elu(alpha=0.5)", [](const Tensor& x) { return elu(x, 0.5); }, kNonzero,
      [](double x) { return x > 0 ? x : 0.5 * std::expm1(x); }));
  t.push_back(unary_op(
      "log_sigmoid", [](const Tensor& x) { return log_sigmoid(x); }, uniform(-4, 4),
      [](double x) { return std::log(sigmoid_ref(x)); }));
  t.push_back(unary_op(
      "clamp(-0.5, 0.7)", [](const Tensor& x) { return clamp(x, -0.5, 0.7); }, away(-2, 2, 0.15, {-0.5, 0.7}),
      [](double x) { return std::clamp(x, -0.5, 0.7); }));
  t.push_back(unary_op(
      "clamp(min=0.3)", [](const Tensor& x) { return clamp(x, 0.3, std::nullopt); }, away(-2, 2, 0.15, {0.3}),
      [](double x) { return std::max(x, 0.3); }));
  t.push_back(unary_op(
      "clamp(max=-0.3)", [](const Tensor& x) { return clamp(x, std::nullopt, -0.3); }, away(-2, 2, 0.15, {-0.3}),
      [](double x) { return std::min(x, -0.3); }));

  // ------------------------------------------------------------ reductions
  const Shape s3 = {2, 3, 4};
  auto reduce_entry = [&](std::string name, OpFn fn, Dist d, std::function<std::vector<ShapeCase>(Rng&)> sc) {
    t.push_back(OpEntry{std::move(name), samples_3d(d), std::move(fn), nullptr, sc ? shapes(sc) : nullptr});
  };
  reduce_entry("sum", f1([](const Tensor& x) { return sum(x); }), kAny, [](Rng& r) {
    return std::vector<ShapeCase>{
        {"[0]", {sample(r, {0})}, {}}, {"[2, 0, 3]", {sample(r, {2, 0, 3})}, {}}, {"0-dim", {sample(r, {})}, {}}};
  });
  reduce_entry("sum(dims=[0, 2], keepdim)", f1([](const Tensor& x) {
                 return sum(x, {0, 2}, true);
               }),
               kAny, [](Rng& r) {
                 return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {1, 0, 1}}};
               });
  reduce_entry("sum(dim=-1)", f1([](const Tensor& x) { return sum(x, {-1}); }), kAny, [](Rng& r) {
    return std::vector<ShapeCase>{
        {"[0]", {sample(r, {0})}, {}}, {"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0}}, {"0-dim", {sample(r, {})}, {}}};
  });
  reduce_entry("mean", f1([](const Tensor& x) { return mean(x); }), kAny, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {}}, {"0-dim", {sample(r, {})}, {}}};
  });
  reduce_entry("mean(dims=[1, -1], keepdim)", f1([](const Tensor& x) {
                 return mean(x, {1, -1}, true);
               }),
               kAny, [](Rng& r) {
                 return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 1, 1}}};
               });
  reduce_entry("var", f1([](const Tensor& x) { return var(x); }), kAny, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {}}};
  });
  reduce_entry("var(dims=[1], correction=0, keepdim)", f1([](const Tensor& x) { return var(x, {1}, 0, true); }), kAny,
               [](Rng& r) {
                 return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 1, 3}}};
               });
  reduce_entry("std", f1([](const Tensor& x) { return ember::std(x); }), kAny, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {}}};
  });
  reduce_entry("std(dims=[0, 2])", f1([](const Tensor& x) {
                 return ember::std(x, {0, 2});
               }),
               kAny, [](Rng& r) {
                 return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {0}}};
               });
  reduce_entry("amax", f1([](const Tensor& x) { return amax(x); }), distinct(), [](Rng& r) {
    return std::vector<ShapeCase>{{"0-dim", {sample(r, {})}, {}}};
  });
  reduce_entry("amax(dims=[0, 2], keepdim)", f1([](const Tensor& x) {
                 return amax(x, {0, 2}, true);
               }),
               distinct(), [](Rng& r) {
                 return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {1, 0, 1}}};
               });
  reduce_entry("amin(dim=1)", f1([](const Tensor& x) { return amin(x, {1}); }), distinct(), [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 3, 0]", {sample(r, {2, 3, 0})}, {2, 0}}};
  });
  reduce_entry("amin(dims=[-1, 0])", f1([](const Tensor& x) {
                 return amin(x, {-1, 0});
               }),
               distinct(), [](Rng& r) {
                 return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {0}}};
               });
  reduce_entry("max()", f1([](const Tensor& x) { return max(x); }), distinct(), nullptr);
  reduce_entry("min()", f1([](const Tensor& x) { return min(x); }), distinct(), nullptr);
  reduce_entry("max(dim=1).values", f1([](const Tensor& x) { return max(x, 1).values; }), distinct(), [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 3, 0]", {sample(r, {2, 3, 0})}, {2, 0}}};
  });
  reduce_entry(
      "max(dim=-1, keepdim).values", f1([](const Tensor& x) { return max(x, -1, true).values; }), distinct(),
      [](Rng& r) {
        return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0, 1}}, {"0-dim", {sample(r, {})}, {}}};
      });
  reduce_entry("min(dim=0).values", f1([](const Tensor& x) { return min(x, 0).values; }), distinct(), [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {0, 3}}};
  });
  reduce_entry("logsumexp(dim=1)", f1([](const Tensor& x) { return logsumexp(x, {1}); }), kAny, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3] over the empty dim", {sample(r, {2, 0, 3})}, {2, 3}},
                                  {"[0, 3, 2]", {sample(r, {0, 3, 2})}, {0, 2}}};
  });
  reduce_entry("logsumexp(dims=[0, 2], keepdim)", f1([](const Tensor& x) {
                 return logsumexp(x, {0, 2}, true);
               }),
               uniform(40, 44), nullptr);  // large values: the max shift must keep exp finite
  reduce_entry("norm(p=2)", f1([](const Tensor& x) { return norm(x); }), kAny, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {}}, {"0-dim", {sample(r, {})}, {}}};
  });
  reduce_entry("norm(p=2, dim=1)", f1([](const Tensor& x) { return norm(x, 2, {1}); }), kAny, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 3}}};
  });
  reduce_entry("norm(p=1, dims=[0, 2], keepdim)", f1([](const Tensor& x) {
                 return norm(x, 1, {0, 2}, true);
               }),
               kNonzero, nullptr);
  reduce_entry("norm(p=3)", f1([](const Tensor& x) { return norm(x, 3); }), kNonzero, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {}}, {"[0]", {sample(r, {0})}, {}}};
  });
  reduce_entry("norm(p=3, dim=-1)", f1([](const Tensor& x) { return norm(x, 3, {-1}); }), kNonzero, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0}}};
  });
  // p = inf: max |x|; positive distinct values so |x| has no ties
  reduce_entry("norm(p=inf)", f1([](const Tensor& x) { return norm(x, std::numeric_limits<double>::infinity()); }),
               distinct(0.2, 2), nullptr);
  reduce_entry("norm(p=inf, dim=1) of negatives",
               f1([](const Tensor& x) { return norm(x, std::numeric_limits<double>::infinity(), {1}); }),
               distinct(-2, -0.2), nullptr);
  reduce_entry("prod", f1([](const Tensor& x) { return prod(x); }), away(-1.5, 1.5, 0.5), [](Rng& r) {
    return std::vector<ShapeCase>{
        {"[0]", {sample(r, {0})}, {}}, {"[2, 0, 3]", {sample(r, {2, 0, 3})}, {}}, {"0-dim", {sample(r, {})}, {}}};
  });
  reduce_entry("prod(dim=1)", f1([](const Tensor& x) { return prod(x, 1); }), away(-1.5, 1.5, 0.5), [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 3}},
                                  {"[2, 3, 0]", {sample(r, {2, 3, 0})}, {2, 0}}};
  });
  reduce_entry("prod(dim=-1, keepdim)", f1([](const Tensor& x) { return prod(x, -1, true); }), away(-1.5, 1.5, 0.5),
               nullptr);
  t.push_back(OpEntry{"prod(dim=1) with zeros",
                      [] {
                        // row 0 has one zero, row 1 two zeros, row 2 none
                        std::vector<double> v = {0.5, 0.0, 1.2, -0.8, 0.0, 1.1, 0.0, 0.9, 1.3, -0.7, 0.6, 1.4};
                        return std::vector<OpSample>{{"contiguous", {make_tensor_from(v, {3, 4})}},
                                                     {"transposed", {make_tensor_from(v, {3, 4}, Layout::Transposed)}}};
                      },
                      f1([](const Tensor& x) { return prod(x, 1); }), nullptr, nullptr});
  for (int64_t d : {0, 1, -1}) {
    reduce_entry(fmt::format("cumsum(dim={})", d), f1([d](const Tensor& x) { return cumsum(x, d); }), kAny,
                 [d](Rng& r) {
                   std::vector<ShapeCase> c = {{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0, 3}}};
                   if (d != 1) c.push_back({"0-dim", {sample(r, {})}, {}});
                   return c;
                 });
  }

  for (int64_t d : {0, 1, -1}) {
    reduce_entry(fmt::format("cumprod(dim={})", d), f1([d](const Tensor& x) { return cumprod(x, d); }),
                 away(-1.5, 1.5, 0.5), [d](Rng& r) {
                   std::vector<ShapeCase> c = {{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0, 3}}};
                   if (d != 1) c.push_back({"0-dim", {sample(r, {})}, {}});
                   return c;
                 });
  }
  t.push_back(OpEntry{"cumprod(dim=1) with zeros",
                      [] {
                        // row 0 has one zero, row 1 two zeros, row 2 none
                        std::vector<double> v = {0.5, 0.0, 1.2, -0.8, 0.0, 1.1, 0.0, 0.9, 1.3, -0.7, 0.6, 1.4};
                        return std::vector<OpSample>{{"contiguous", {make_tensor_from(v, {3, 4})}},
                                                     {"transposed", {make_tensor_from(v, {3, 4}, Layout::Transposed)}}};
                      },
                      f1([](const Tensor& x) { return cumprod(x, 1); }), nullptr, nullptr});
  reduce_entry("logcumsumexp(dim=1)", f1([](const Tensor& x) { return logcumsumexp(x, 1); }), kAny, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0, 3}}};
  });
  reduce_entry("logcumsumexp(dim=0)", f1([](const Tensor& x) { return logcumsumexp(x, 0); }), kAny, [](Rng& r) {
    return std::vector<ShapeCase>{{"[0, 3]", {sample(r, {0, 3})}, {0, 3}}, {"0-dim", {sample(r, {})}, {}}};
  });

  // ------------------------------------------------------------ sorting: values gathered by the sort
  reduce_entry("sort(dim=1).values", f1([](const Tensor& x) { return sort(x, 1).values; }), distinct(), [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0, 3}}};
  });
  reduce_entry("sort(dim=-1, descending).values", f1([](const Tensor& x) { return sort(x, -1, true).values; }),
               distinct(), nullptr);
  reduce_entry("topk(k=2, dim=-1).values", f1([](const Tensor& x) { return topk(x, 2, -1).values; }), distinct(),
               nullptr);
  reduce_entry("topk(k=2, dim=0, smallest).values", f1([](const Tensor& x) { return topk(x, 2, 0, false).values; }),
               distinct(), nullptr);

  // ------------------------------------------------------------ linear algebra
  t.push_back(
      OpEntry{"matmul",
              [] {
                Rng r(601);
                return std::vector<OpSample>{
                    {"1-D @ 1-D", {sample(r, {4}), sample(r, {4})}},
                    {"1-D @ 2-D", {sample(r, {3}), sample(r, {3, 4})}},
                    {"2-D @ 1-D", {sample(r, {3, 4}), sample(r, {4}, kAny, Layout::Strided)}},
                    {"2-D @ 2-D", {sample(r, {2, 3}), sample(r, {3, 4})}},
                    {"transposed @ transposed",
                     {sample(r, {2, 3}, kAny, Layout::Transposed), sample(r, {3, 4}, kAny, Layout::Transposed)}},
                    {"strided @ transposed",
                     {sample(r, {3, 3}, kAny, Layout::Strided), sample(r, {3, 2}, kAny, Layout::Transposed)}},
                    {"batched [2, 2, 3] @ 2-D", {sample(r, {2, 2, 3}), sample(r, {3, 2})}},
                    {"batch broadcast [2, 1, 2, 3] @ [3, 3, 2]",
                     {sample(r, {2, 1, 2, 3}), sample(r, {3, 3, 2}, kAny, Layout::Transposed)}},
                    {"1-D @ batched", {sample(r, {3}), sample(r, {2, 3, 2})}},
                    {"batched @ 1-D", {sample(r, {2, 2, 3}, kAny, Layout::Transposed), sample(r, {3})}},
                };
              },
              f2([](const Tensor& a, const Tensor& b) { return matmul(a, b); }), nullptr, shapes([](Rng& r) {
                return std::vector<ShapeCase>{
                    {"[0, 3] @ [3, 4]", {sample(r, {0, 3}), sample(r, {3, 4})}, {0, 4}},
                    {"[2, 0] @ [0, 3]", {sample(r, {2, 0}), sample(r, {0, 3})}, {2, 3}},
                    {"[0] @ [0]", {sample(r, {0}), sample(r, {0})}, {}},
                    {"[2, 0, 2, 3] @ [3, 1]", {sample(r, {2, 0, 2, 3}), sample(r, {3, 1})}, {2, 0, 2, 1}},
                    {"[3] @ [3, 0]", {sample(r, {3}), sample(r, {3, 0})}, {0}},
                };
              })});
  t.push_back(
      OpEntry{"bmm",
              [] {
                Rng r(602);
                return std::vector<OpSample>{
                    {"contiguous", {sample(r, {2, 2, 3}), sample(r, {2, 3, 2})}},
                    {"transposed",
                     {sample(r, {2, 2, 3}, kAny, Layout::Transposed), sample(r, {2, 3, 2}, kAny, Layout::Strided)}},
                };
              },
              f2([](const Tensor& a, const Tensor& b) { return bmm(a, b); }), nullptr, shapes([](Rng& r) {
                return std::vector<ShapeCase>{
                    {"[0, 2, 3] @ [0, 3, 4]", {sample(r, {0, 2, 3}), sample(r, {0, 3, 4})}, {0, 2, 4}},
                    {"[2, 2, 0] @ [2, 0, 4]", {sample(r, {2, 2, 0}), sample(r, {2, 0, 4})}, {2, 2, 4}}};
              })});
  t.push_back(OpEntry{
      "mm",
      [] {
        Rng r(603);
        return std::vector<OpSample>{{"transposed", {sample(r, {2, 3}, kAny, Layout::Transposed), sample(r, {3, 4})}}};
      },
      f2([](const Tensor& a, const Tensor& b) { return mm(a, b); }), nullptr, nullptr});
  t.push_back(
      OpEntry{"outer",
              [] {
                Rng r(604);
                return std::vector<OpSample>{
                    {"contiguous", {sample(r, {3}), sample(r, {4})}},
                    {"strided", {sample(r, {3}, kAny, Layout::Strided), sample(r, {4}, kAny, Layout::Strided)}}};
              },
              f2([](const Tensor& a, const Tensor& b) { return outer(a, b); }), nullptr, shapes([](Rng& r) {
                return std::vector<ShapeCase>{{"[0] x [3]", {sample(r, {0}), sample(r, {3})}, {0, 3}}};
              })});
  t.push_back(OpEntry{"dot",
                      [] {
                        Rng r(605);
                        return std::vector<OpSample>{
                            {"contiguous", {sample(r, {5}), sample(r, {5})}},
                            {"strided", {sample(r, {5}, kAny, Layout::Strided), sample(r, {5})}}};
                      },
                      f2([](const Tensor& a, const Tensor& b) { return dot(a, b); }), nullptr, shapes([](Rng& r) {
                        return std::vector<ShapeCase>{{"[0] . [0]", {sample(r, {0}), sample(r, {0})}, {}}};
                      })});

  // linear: x [..., in], weight [out, in], optional bias [out]; contiguous 3-D inputs take one
  // GEMM, others the batched matmul
  auto linear_fn = [](const Inputs& in) {
    return in.size() == 3 ? linear(in[0], in[1], in[2]) : linear(in[0], in[1]);
  };
  t.push_back(OpEntry{
      "linear",
      [] {
        Rng r(606);
        return std::vector<OpSample>{
            {"2-D with bias", {sample(r, {3, 4}), sample(r, {2, 4}), sample(r, {2})}},
            {"3-D with bias", {sample(r, {2, 3, 4}), sample(r, {5, 4}), sample(r, {5})}},
            {"transposed 3-D, transposed weight, strided bias",
             {sample(r, {3, 2, 4}, kAny, Layout::Transposed),
              sample(r, {2, 4}, kAny, Layout::Transposed), sample(r, {2}, kAny, Layout::Strided)}},
            {"1-D input", {sample(r, {4}), sample(r, {3, 4}), sample(r, {3})}},
        };
      },
      linear_fn, nullptr, shapes([](Rng& r) {
        return std::vector<ShapeCase>{
            {"[2, 0, 4] x [3, 4]",
             {sample(r, {2, 0, 4}), sample(r, {3, 4}), sample(r, {3})},
             {2, 0, 3}},
            {"[2, 0] x [3, 0]", {sample(r, {2, 0}), sample(r, {3, 0}), sample(r, {3})}, {2, 3}},
            {"[4] x [0, 4]", {sample(r, {4}), sample(r, {0, 4})}, {0}},
        };
      })});
  t.push_back(
      OpEntry{"linear(no bias)",
              [] {
                Rng r(607);
                return std::vector<OpSample>{
                    {"3-D", {sample(r, {2, 3, 4}), sample(r, {5, 4})}},
                    {"strided 2-D", {sample(r, {3, 4}, kAny, Layout::Strided), sample(r, {2, 4})}},
                };
              },
              linear_fn, nullptr, nullptr});

  // ------------------------------------------------------------ views
  auto view_entry = [&](std::string name, OpFn fn, Shape shape, std::function<std::vector<ShapeCase>(Rng&)> sc) {
    t.push_back(OpEntry{std::move(name), samples_3d(kAny, shape), std::move(fn), nullptr, sc ? shapes(sc) : nullptr});
  };
  view_entry("reshape([4, -1])", f1([](const Tensor& x) {
               return reshape(x, V{4, -1});
             }),
             s3, [](Rng& r) {
               return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {4, 0}}};
             });
  view_entry("reshape([-1])", f1([](const Tensor& x) { return reshape(x, V{-1}); }), s3, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {0}}, {"0-dim", {sample(r, {})}, {1}}};
  });
  t.push_back(OpEntry{"view([6, 4])",
                      [] {
                        Rng r(701);
                        return std::vector<OpSample>{{"contiguous", {sample(r, {2, 3, 4})}}};
                      },
                      f1([](const Tensor& x) {
                        return view(x, V{6, 4});
                      }),
                      nullptr, nullptr});
  view_entry("permute([2, 0, 1])", f1([](const Tensor& x) {
               return permute(x, V{2, 0, 1});
             }),
             s3, [](Rng& r) {
               return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {3, 2, 0}}};
             });
  view_entry("transpose(0, -1)", f1([](const Tensor& x) { return transpose(x, 0, -1); }), s3, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {3, 0, 2}}};
  });
  view_entry("expand([2, -1, 4])", f1([](const Tensor& x) {
               return expand(x, V{2, -1, 4});
             }),
             Shape{3, 1}, [](Rng& r) {
               return std::vector<ShapeCase>{{"[0, 1]", {sample(r, {0, 1})}, {2, 0, 4}}};
             });
  view_entry("expand([2, 3, 4]) of 0-dim", f1([](const Tensor& x) { return expand(x, V{2, 3, 4}); }), Shape{}, nullptr);
  view_entry("squeeze()", f1([](const Tensor& x) { return squeeze(x); }), Shape{3, 1, 4, 1}, [](Rng& r) {
    return std::vector<ShapeCase>{{"[1, 0, 1]", {sample(r, {1, 0, 1})}, {0}}, {"0-dim", {sample(r, {})}, {}}};
  });
  view_entry("squeeze(1)", f1([](const Tensor& x) { return squeeze(x, 1); }), Shape{3, 1, 4}, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 1, 0]", {sample(r, {2, 1, 0})}, {2, 0}}};
  });
  view_entry("unsqueeze(1)", f1([](const Tensor& x) { return unsqueeze(x, 1); }), Shape{3, 4}, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 1, 0, 3}}};
  });
  view_entry("unsqueeze(-1)", f1([](const Tensor& x) { return unsqueeze(x, -1); }), Shape{3, 4}, [](Rng& r) {
    return std::vector<ShapeCase>{{"[0]", {sample(r, {0})}, {0, 1}}, {"0-dim", {sample(r, {})}, {1}}};
  });
  view_entry("slice(1, 1, end, step=2)", f1([](const Tensor& x) { return slice(x, 1, 1, std::nullopt, 2); }),
             Shape{3, 7}, [](Rng& r) {
               return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0, 3}},
                                             {"[3, 1]", {sample(r, {3, 1})}, {3, 0}}};
             });
  view_entry("slice(0, -4, -1, step=2)", f1([](const Tensor& x) { return slice(x, 0, -4, -1, 2); }), Shape{6, 2},
             nullptr);
  view_entry("slice(-1, 0, 3, step=3)", f1([](const Tensor& x) { return slice(x, -1, 0, 3, 3); }), Shape{2, 3, 4},
             nullptr);
  view_entry("narrow(1, 1, 2)", f1([](const Tensor& x) { return narrow(x, 1, 1, 2); }), s3, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 3, 0]", {sample(r, {2, 3, 0})}, {2, 2, 0}}};
  });
  view_entry("narrow(-1, -3, 2)", f1([](const Tensor& x) { return narrow(x, -1, -3, 2); }), s3, [](Rng& r) {
    return std::vector<ShapeCase>{{"[0, 4]", {sample(r, {0, 4})}, {0, 2}}};
  });
  view_entry("select(1, -1)", f1([](const Tensor& x) { return select(x, 1, -1); }), s3, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 1, 0]", {sample(r, {2, 1, 0})}, {2, 0}}};
  });
  view_entry("select(0, 1)", f1([](const Tensor& x) { return select(x, 0, 1); }), s3, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0]", {sample(r, {2, 0})}, {0}}};
  });
  view_entry("flatten(1, 2)", f1([](const Tensor& x) { return flatten(x, 1, 2); }), s3, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0}}};
  });
  view_entry("flatten()", f1([](const Tensor& x) { return flatten(x); }), s3, [](Rng& r) {
    return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {0}}, {"0-dim", {sample(r, {})}, {1}}};
  });
  view_entry("unflatten(1, [2, -1])", f1([](const Tensor& x) {
               return unflatten(x, 1, V{2, -1});
             }),
             Shape{3, 6}, [](Rng& r) {
               return std::vector<ShapeCase>{{"[0, 4]", {sample(r, {0, 4})}, {0, 2, 2}}};
             });
  t.push_back(OpEntry{"as_strided",
                      [] {
                        Rng r(702);
                        return std::vector<OpSample>{{"contiguous [4, 6]", {sample(r, {4, 6})}}};
                      },
                      // rows 0..2, every other column starting at column 1: offset 1, strides [6, 2]
                      f1([](const Tensor& x) {
                        return as_strided(x, V{3, 2}, V{6, 2}, x.offset() + 1);
                      }),
                      nullptr, nullptr});
  t.push_back(OpEntry{"as_strided (skips and reorders)",
                      [] {
                        Rng r(703);
                        return std::vector<OpSample>{{"contiguous [12]", {sample(r, {12})}}};
                      },
                      f1([](const Tensor& x) {
                        return as_strided(x, V{2, 3}, V{1, 4}, x.offset());
                      }),
                      nullptr, nullptr});
  view_entry("diagonal()", f1([](const Tensor& x) { return diagonal(x); }), Shape{3, 4}, [](Rng& r) {
    return std::vector<ShapeCase>{{"[0, 3]", {sample(r, {0, 3})}, {0}}};
  });
  view_entry("diagonal(1)", f1([](const Tensor& x) { return diagonal(x, 1); }), Shape{3, 4}, [](Rng& r) {
    return std::vector<ShapeCase>{{"[3, 0]", {sample(r, {3, 0})}, {0}}, {"[0, 2]", {sample(r, {0, 2})}, {0}}};
  });
  view_entry("diagonal(-1, 1, 2)", f1([](const Tensor& x) { return diagonal(x, -1, 1, 2); }), Shape{2, 3, 3},
             [](Rng& r) {
               return std::vector<ShapeCase>{{"[0, 3, 3]", {sample(r, {0, 3, 3})}, {0, 2}}};
             });
  view_entry("diagonal(0, -1, 0)", f1([](const Tensor& x) { return diagonal(x, 0, -1, 0); }), Shape{3, 2, 4}, nullptr);

  // ------------------------------------------------------------ rearranging
  t.push_back(OpEntry{
      "cat(dim=1)",
      [] {
        Rng r(801);
        return std::vector<OpSample>{
            {"contiguous", {sample(r, {2, 1}), sample(r, {2, 3}), sample(r, {2, 2})}},
            {"non-contiguous", {sample(r, {2, 3}, kAny, Layout::Transposed), sample(r, {2, 2}, kAny, Layout::Strided)}},
            {"with a legacy empty [0]",
             {sample(r, {2, 3}), sample(r, {0}), sample(r, {2, 2}, kAny, Layout::Transposed)}},
            {"one tensor", {sample(r, {2, 3})}},
        };
      },
      [](const Inputs& in) { return cat(in, 1); }, nullptr, shapes([](Rng& r) {
        return std::vector<ShapeCase>{{"[2, 0] and [2, 3]", {sample(r, {2, 0}), sample(r, {2, 3})}, {2, 3}},
                                      {"[0, 2] and [0, 3]", {sample(r, {0, 2}), sample(r, {0, 3})}, {0, 5}}};
      })});
  t.push_back(OpEntry{"cat(dim=0)",
                      [] {
                        Rng r(802);
                        return std::vector<OpSample>{{"contiguous",
                                                      {sample(r, {1, 3}), sample(r, {2, 3}, kAny, Layout::Transposed),
                                                       sample(r, {3, 3}, kAny, Layout::Strided)}}};
                      },
                      [](const Inputs& in) { return cat(in, 0); }, nullptr, shapes([](Rng& r) {
                        return std::vector<ShapeCase>{
                            {"[0] and [0]", {sample(r, {0}), sample(r, {0})}, {0}},
                            {"[0, 3] and [2, 3]", {sample(r, {0, 3}), sample(r, {2, 3})}, {2, 3}}};
                      })});
  for (int64_t d : {0, -1}) {
    t.push_back(OpEntry{fmt::format("stack(dim={})", d),
                        [] {
                          Rng r(803);
                          return std::vector<OpSample>{{"mixed layouts",
                                                        {sample(r, {2, 3}), sample(r, {2, 3}, kAny, Layout::Transposed),
                                                         sample(r, {2, 3}, kAny, Layout::Strided)}},
                                                       {"0-dim", {sample(r, {}), sample(r, {})}}};
                        },
                        [d](const Inputs& in) { return stack(in, d); }, nullptr, shapes([d](Rng& r) {
                          return std::vector<ShapeCase>{{"[2, 0] x 3",
                                                         {sample(r, {2, 0}), sample(r, {2, 0}), sample(r, {2, 0})},
                                                         d == 0 ? Shape{3, 2, 0} : Shape{2, 0, 3}}};
                        })});
  }
  // split/chunk: every piece is weighted differently and concatenated again, so each piece's gradient shows.
  auto weighted_cat = [](const std::vector<Tensor>& pieces, int64_t dim) {
    std::vector<Tensor> w;
    for (size_t k = 0; k < pieces.size(); ++k) w.push_back(pieces[k] * static_cast<double>(k + 1));
    return cat(w, dim);
  };
  view_entry("split(2, dim=1)", f1([=](const Tensor& x) { return weighted_cat(split(x, 2, 1), 1); }), Shape{3, 5},
             [](Rng& r) {
               return std::vector<ShapeCase>{{"[3, 0]", {sample(r, {3, 0})}, {3, 0}}};
             });
  view_entry("split_with_sizes([1, 3, 0], dim=0)", f1([=](const Tensor& x) {
               return weighted_cat(split_with_sizes(x, V{1, 3, 0}, 0), 0);
             }),
             Shape{4, 2}, nullptr);
  view_entry("chunk(3, dim=0)", f1([=](const Tensor& x) { return weighted_cat(chunk(x, 3, 0), 0); }), Shape{5, 2},
             [](Rng& r) {
               return std::vector<ShapeCase>{{"[0, 2]", {sample(r, {0, 2})}, {0, 2}}};
             });
  view_entry("chunk(2, dim=-1)", f1([=](const Tensor& x) { return weighted_cat(chunk(x, 2, -1), -1); }), Shape{2, 3, 4},
             nullptr);
  view_entry("unbind(1)", f1([=](const Tensor& x) { return weighted_cat(unbind(x, 1), 0); }), Shape{2, 3}, [](Rng& r) {
    return std::vector<ShapeCase>{{"[0, 3]", {sample(r, {0, 3})}, {0}}};
  });
  view_entry("repeat([2, 1, 2])", f1([](const Tensor& x) { return repeat(x, {2, 1, 2}); }), Shape{2, 3}, [](Rng& r) {
    return std::vector<ShapeCase>{{"[0, 3]", {sample(r, {0, 3})}, {2, 0, 6}}, {"0-dim", {sample(r, {})}, {2, 1, 2}}};
  });
  view_entry(
      "repeat([3, 2])", f1([](const Tensor& x) {
        return repeat(x, {3, 2});
      }),
      Shape{2, 2}, [](Rng& r) {
        return std::vector<ShapeCase>{{"[0, 2]", {sample(r, {0, 2})}, {0, 4}}, {"[2]", {sample(r, {2})}, {3, 4}}};
      });
  view_entry("flip([0])", f1([](const Tensor& x) { return flip(x, {0}); }), Shape{3, 4}, [](Rng& r) {
    return std::vector<ShapeCase>{{"[0, 3]", {sample(r, {0, 3})}, {0, 3}}};
  });
  view_entry("flip([0, -1])", f1([](const Tensor& x) {
               return flip(x, {0, -1});
             }),
             s3, [](Rng& r) {
               return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0, 3}}};
             });
  for (int64_t k : {0, 1, -1}) {
    view_entry(fmt::format("tril({})", k), f1([k](const Tensor& x) { return tril(x, k); }), Shape{3, 4}, [](Rng& r) {
      return std::vector<ShapeCase>{{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0, 3}}};
    });
    view_entry(fmt::format("triu({})", k), f1([k](const Tensor& x) { return triu(x, k); }), Shape{2, 3, 3}, nullptr);
  }
  view_entry(
      "pad([1, 2])", f1([](const Tensor& x) {
        return pad(x, {1, 2});
      }),
      Shape{2, 3}, [](Rng& r) {
        return std::vector<ShapeCase>{{"[2, 0]", {sample(r, {2, 0})}, {2, 3}}, {"[0, 2]", {sample(r, {0, 2})}, {0, 5}}};
      });
  view_entry("pad([1, 1, 2, 0], value=0.5)", f1([](const Tensor& x) {
               return pad(x, {1, 1, 2, 0}, 0.5);
             }),
             Shape{2, 3}, nullptr);
  view_entry("pad([-1, 1])", f1([](const Tensor& x) {
               return pad(x, {-1, 1});
             }),
             Shape{2, 3}, [](Rng& r) {
               return std::vector<ShapeCase>{{"[0, 3]", {sample(r, {0, 3})}, {0, 3}}};
             });
  view_entry("pad([1, -1, -1, 2], value=-2)", f1([](const Tensor& x) {
               return pad(x, {1, -1, -1, 2}, -2);
             }),
             Shape{3, 4}, nullptr);

  // ------------------------------------------------------------ indexing
  t.push_back(
      OpEntry{"index_select(dim=0)",
              [] {
                Rng r(901);
                Tensor idx = int_tensor({2, 0, 2, 1}, {4});
                return std::vector<OpSample>{{"contiguous", {sample(r, {3, 4}), idx}},
                                             {"transposed", {sample(r, {3, 4}, kAny, Layout::Transposed), idx}}};
              },
              f2([](const Tensor& x, const Tensor& i) { return index_select(x, 0, i); }), nullptr, shapes([](Rng& r) {
                return std::vector<ShapeCase>{{"no indices", {sample(r, {3, 4}), int_tensor({}, {0})}, {0, 4}},
                                              {"[3, 0]", {sample(r, {3, 0}), int_tensor({1, 1}, {2})}, {2, 0}}};
              })});
  t.push_back(OpEntry{"index_select(dim=-1) int32 indices",
                      [] {
                        Rng r(902);
                        Tensor idx = from_vector(std::vector<int32_t>{3, 3, 0}, Shape{3}, {.dtype = DType::Int32});
                        return std::vector<OpSample>{{"strided", {sample(r, {2, 3, 4}, kAny, Layout::Strided), idx}}};
                      },
                      f2([](const Tensor& x, const Tensor& i) { return index_select(x, -1, i); }), nullptr, nullptr});
  t.push_back(
      OpEntry{"gather(dim=1)",
              [] {
                Rng r(903);
                Tensor idx = int_tensor({3, 0, 3, 1, 1, 2, 0, 0}, {4, 2});
                Tensor idx_small = int_tensor({2, 1, 1}, {1, 3});  // index smaller than input in dim 0
                return std::vector<OpSample>{{"contiguous", {sample(r, {4, 4}), idx}},
                                             {"transposed", {sample(r, {4, 4}, kAny, Layout::Transposed), idx}},
                                             {"smaller index", {sample(r, {2, 3}, kAny, Layout::Strided), idx_small}}};
              },
              f2([](const Tensor& x, const Tensor& i) { return gather(x, 1, i); }), nullptr, shapes([](Rng& r) {
                return std::vector<ShapeCase>{{"empty index", {sample(r, {3, 4}), int_tensor({}, {3, 0})}, {3, 0}}};
              })});
  t.push_back(
      OpEntry{"gather(dim=0)",
              [] {
                Rng r(904);
                return std::vector<OpSample>{{"contiguous", {sample(r, {3, 2}), int_tensor({2, 0, 2, 2}, {2, 2})}}};
              },
              f2([](const Tensor& x, const Tensor& i) { return gather(x, 0, i); }), nullptr, nullptr});
  t.push_back(
      OpEntry{"scatter_add(dim=1)",
              [] {
                Rng r(905);
                Tensor idx = int_tensor({0, 0, 3, 1, 2, 1}, {3, 2});  // repeats within a row
                return std::vector<OpSample>{
                    {"contiguous", {sample(r, {3, 4}), idx, sample(r, {3, 2})}},
                    {"non-contiguous",
                     {sample(r, {3, 4}, kAny, Layout::Transposed), idx, sample(r, {3, 3}, kAny, Layout::Strided)}},
                };
              },
              [](const Inputs& in) { return scatter_add(in[0], 1, in[1], in[2]); }, nullptr, shapes([](Rng& r) {
                return std::vector<ShapeCase>{
                    {"empty index", {sample(r, {3, 4}), int_tensor({}, {3, 0}), sample(r, {3, 0})}, {3, 4}}};
              })});
  t.push_back(OpEntry{"scatter_add(dim=0)",
                      [] {
                        Rng r(906);
                        return std::vector<OpSample>{{"contiguous",
                                                      {sample(r, {2, 3}), int_tensor({1, 0, 1, 1, 1, 0}, {2, 3}),
                                                       sample(r, {2, 3}, kAny, Layout::Transposed)}}};
                      },
                      [](const Inputs& in) { return scatter_add(in[0], 0, in[1], in[2]); }, nullptr, nullptr});
  t.push_back(
      OpEntry{"index_add(dim=0)",
              [] {
                Rng r(907);
                Tensor idx = int_tensor({0, 2, 0}, {3});
                return std::vector<OpSample>{
                    {"contiguous", {sample(r, {3, 4}), idx, sample(r, {3, 4})}},
                    {"non-contiguous",
                     {sample(r, {3, 4}, kAny, Layout::Strided), idx, sample(r, {3, 4}, kAny, Layout::Transposed)}},
                };
              },
              [](const Inputs& in) { return index_add(in[0], 0, in[1], in[2]); }, nullptr, shapes([](Rng& r) {
                return std::vector<ShapeCase>{
                    {"no indices", {sample(r, {3, 4}), int_tensor({}, {0}), sample(r, {0, 4})}, {3, 4}}};
              })});
  t.push_back(OpEntry{
      "index_add(dim=1)",
      [] {
        Rng r(908);
        return std::vector<OpSample>{{"contiguous", {sample(r, {2, 3}), int_tensor({2, 2}, {2}), sample(r, {2, 2})}}};
      },
      [](const Inputs& in) { return index_add(in[0], 1, in[1], in[2]); }, nullptr, nullptr});
  t.push_back(
      OpEntry{"embedding",
              [] {
                Rng r(909);
                Tensor idx = int_tensor({4, 0, 4, 2, 1, 4}, {2, 3});
                return std::vector<OpSample>{{"contiguous", {sample(r, {5, 3}), idx}},
                                             {"transposed weight", {sample(r, {5, 3}, kAny, Layout::Transposed), idx}},
                                             {"1-D indices", {sample(r, {5, 3}), int_tensor({3, 3, 1}, {3})}},
                                             {"0-dim index", {sample(r, {5, 3}), int_tensor({2}, {})}}};
              },
              f2([](const Tensor& w, const Tensor& i) { return embedding(w, i); }), nullptr, shapes([](Rng& r) {
                return std::vector<ShapeCase>{{"no indices", {sample(r, {5, 3}), int_tensor({}, {2, 0})}, {2, 0, 3}}};
              })});

  // ------------------------------------------------------------ softmax
  for (const char* which : {"softmax", "log_softmax"}) {
    const bool log_form = std::string(which) == "log_softmax";
    auto sm = [log_form](const Tensor& x, int64_t d) { return log_form ? log_softmax(x, d) : softmax(x, d); };
    for (int64_t d : {1, 0, -1}) {
      view_entry(fmt::format("{}(dim={})", which, d), f1([=](const Tensor& x) { return sm(x, d); }), s3, [=](Rng& r) {
        std::vector<ShapeCase> c = {{"[2, 0, 3]", {sample(r, {2, 0, 3})}, {2, 0, 3}}};
        if (d != 1) c.push_back({"0-dim", {sample(r, {})}, {}});
        return c;
      });
    }
    t.push_back(OpEntry{fmt::format("{}(dim=1) of large values", which),
                        [] {
                          Rng r(1001);
                          return std::vector<OpSample>{{"contiguous", {sample(r, {3, 4}, uniform(200, 204))}}};
                        },
                        f1([=](const Tensor& x) { return sm(x, 1); }), nullptr, nullptr});
  }

  // ------------------------------------------------------------ losses
  // two same-shape float inputs (input, target), both differentiable
  auto pair_samples = [](Dist di, Dist dt, uint64_t seed) -> SampleFn {
    return [=] {
      Rng r(seed);
      return std::vector<OpSample>{
          {"contiguous [3, 4]", {sample(r, {3, 4}, di), sample(r, {3, 4}, dt)}},
          {"non-contiguous [3, 4]",
           {sample(r, {3, 4}, di, Layout::Transposed), sample(r, {3, 4}, dt, Layout::Strided)}}};
    };
  };
  auto pair_shapes = [](Dist di, Dist dt, bool mean) -> ShapeFn {
    return [=] {
      Rng r(1101);
      return std::vector<ShapeCase>{
          {"[2, 0]", {sample(r, {2, 0}, di), sample(r, {2, 0}, dt)}, mean ? Shape{} : Shape{2, 0}},
          {"0-dim", {sample(r, {}, di), sample(r, {}, dt)}, {}}};
    };
  };
  for (const char* red : {"mean", "sum", "none"}) {
    const std::string rs = red;
    t.push_back(OpEntry{fmt::format("mse_loss({})", red), pair_samples(kAny, kAny, 1102),
                        f2([rs](const Tensor& a, const Tensor& b) { return mse_loss(a, b, rs); }), nullptr,
                        pair_shapes(kAny, kAny, rs != "none")});
  }
  // l1: |input - target| away from 0: target = input + an offset of at least 0.2
  t.push_back(OpEntry{
      "l1_loss(mean)",
      [] {
        Rng r(1103);
        std::vector<double> a = r.values(12, uniform(-2, 2)), off = r.values(12, away(-1, 1, 0.2));
        std::vector<double> b(12);
        for (int i = 0; i < 12; ++i) b[i] = a[i] + off[i];
        return std::vector<OpSample>{
            {"contiguous", {make_tensor_from(a, {3, 4}), make_tensor_from(b, {3, 4})}},
            {"non-contiguous",
             {make_tensor_from(a, {3, 4}, Layout::Transposed), make_tensor_from(b, {3, 4}, Layout::Strided)}}};
      },
      f2([](const Tensor& a, const Tensor& b) { return l1_loss(a, b); }), nullptr, pair_shapes(kAny, kAny, true)});
  t.push_back(OpEntry{
      "l1_loss(none)",
      [] {
        Rng r(1104);
        std::vector<double> a = r.values(6, uniform(-2, 2)), off = r.values(6, away(-1, 1, 0.2));
        std::vector<double> b(6);
        for (int i = 0; i < 6; ++i) b[i] = a[i] - off[i];
        return std::vector<OpSample>{{"contiguous", {make_tensor_from(a, {2, 3}), make_tensor_from(b, {2, 3})}}};
      },
      f2([](const Tensor& a, const Tensor& b) { return l1_loss(a, b, "none"); }), nullptr, nullptr});

  // cross_entropy with class indices: logits [4, 5] (also [2, 5, 3] and [5])
  auto ce_samples = [](std::vector<int64_t> targets) -> SampleFn {
    return [targets] {
      Rng r(1201);
      std::vector<int64_t> t3 = {0, 4, 2, 1, 3, 3};
      for (size_t i = 0; i < t3.size() && i < targets.size(); ++i) t3[i] = targets[i];
      return std::vector<OpSample>{
          {"[4, 5]", {sample(r, {4, 5}), int_tensor(targets, {4})}},
          {"transposed [4, 5]", {sample(r, {4, 5}, uniform(-2, 2), Layout::Transposed), int_tensor(targets, {4})}},
          {"[2, 5, 3] spatial", {sample(r, {2, 5, 3}), int_tensor(t3, {2, 3})}},
          {"[5] with a 0-dim target", {sample(r, {5}), int_tensor({4}, {})}},
      };
    };
  };
  // Class weights, made on the device of the input they weigh (tests/cuda runs the table on CUDA).
  auto w5 = [] {
    return from_vector(std::vector<double>{0.5, 2.0, 1.0, 0.25, 1.5}, Shape{5}, {.dtype = DType::Float64});
  };
  t.push_back(OpEntry{"cross_entropy", ce_samples({1, 4, 0, 1}),
                      f2([](const Tensor& x, const Tensor& y) { return cross_entropy(x, y); }), nullptr,
                      shapes([](Rng& r) {
                        return std::vector<ShapeCase>{{"[0, 5]", {sample(r, {0, 5}), int_tensor({}, {0})}, {}}};
                      })});
  t.push_back(OpEntry{"cross_entropy(sum)", ce_samples({1, 4, 0, 1}), f2([](const Tensor& x, const Tensor& y) {
                        return cross_entropy(x, y, std::nullopt, -100, "sum");
                      }),
                      nullptr, nullptr});
  t.push_back(
      OpEntry{"cross_entropy(none)", ce_samples({1, 4, 0, 1}),
              f2([](const Tensor& x, const Tensor& y) { return cross_entropy(x, y, std::nullopt, -100, "none"); }),
              nullptr, shapes([](Rng& r) {
                return std::vector<ShapeCase>{{"[0, 5]", {sample(r, {0, 5}), int_tensor({}, {0})}, {0}},
                                              {"[2, 5, 0]", {sample(r, {2, 5, 0}), int_tensor({}, {2, 0})}, {2, 0}}};
              })});
  t.push_back(OpEntry{"cross_entropy(ignore_index=-100)", ce_samples({1, -100, 3, 1}),
                      f2([](const Tensor& x, const Tensor& y) { return cross_entropy(x, y); }), nullptr, nullptr});
  t.push_back(OpEntry{"cross_entropy(ignore_index=2, none)", ce_samples({2, 4, 2, 0}),
                      f2([](const Tensor& x, const Tensor& y) { return cross_entropy(x, y, std::nullopt, 2, "none"); }),
                      nullptr, nullptr});
  t.push_back(
      OpEntry{"cross_entropy(label_smoothing=0.1)", ce_samples({1, 4, 0, 1}),
              f2([](const Tensor& x, const Tensor& y) { return cross_entropy(x, y, std::nullopt, -100, "mean", 0.1); }),
              nullptr, nullptr});
  t.push_back(OpEntry{"cross_entropy(weight)", ce_samples({1, 4, 0, 1}),
                      f2([w5](const Tensor& x, const Tensor& y) { return cross_entropy(x, y, w5().to(x.device())); }), nullptr,
                      nullptr});
  t.push_back(OpEntry{"cross_entropy(weight, ignore_index=3, label_smoothing=0.2)", ce_samples({3, 4, 0, 3}),
                      f2([w5](const Tensor& x, const Tensor& y) { return cross_entropy(x, y, w5().to(x.device()), 3, "mean", 0.2); }),
                      nullptr, nullptr});
  t.push_back(
      OpEntry{"cross_entropy(weight, label_smoothing=0.3, sum)", ce_samples({2, 4, 0, 2}),
              f2([w5](const Tensor& x, const Tensor& y) { return cross_entropy(x, y, w5().to(x.device()), -100, "sum", 0.3); }),
              nullptr, nullptr});
  // class probabilities as the target (differentiable too)
  auto prob_samples = [] {
    Rng r(1202);
    auto probs = [&](Shape s, int64_t class_dim) {
      // softmax by hand along class_dim of random logits
      const int64_t n = numel_of(s);
      std::vector<double> v = r.values(n, uniform(-1, 1));
      for (double& x : v) x = std::exp(x);
      const Shape st = strides_of(s);
      for (int64_t i = 0; i < n; ++i) {
        if ((i / st[class_dim]) % s[class_dim] != 0) continue;  // i is the first of its class column
        double total = 0;
        for (int64_t c = 0; c < s[class_dim]; ++c) total += v[i + c * st[class_dim]];
        for (int64_t c = 0; c < s[class_dim]; ++c) v[i + c * st[class_dim]] /= total;
      }
      return make_tensor_from(v, s);
    };
    return std::vector<OpSample>{
        {"[3, 4]", {sample(r, {3, 4}), probs({3, 4}, 1)}},
        {"transposed [3, 4]", {sample(r, {3, 4}, uniform(-2, 2), Layout::Transposed), probs({3, 4}, 1)}},
        {"[2, 4, 2] spatial", {sample(r, {2, 4, 2}), probs({2, 4, 2}, 1)}},
    };
  };
  auto w4 = [] { return from_vector(std::vector<double>{0.5, 2.0, 1.0, 0.25}, Shape{4}, {.dtype = DType::Float64}); };
  t.push_back(OpEntry{"cross_entropy(probabilities)", prob_samples,
                      f2([](const Tensor& x, const Tensor& y) { return cross_entropy(x, y); }), nullptr, nullptr});
  t.push_back(
      OpEntry{"cross_entropy(probabilities, weight, label_smoothing=0.1, none)", prob_samples,
              f2([w4](const Tensor& x, const Tensor& y) { return cross_entropy(x, y, w4().to(x.device()), -100, "none", 0.1); }),
              nullptr, nullptr});
  t.push_back(OpEntry{"nll_loss", ce_samples({1, 4, 0, 1}),
                      f2([](const Tensor& x, const Tensor& y) { return nll_loss(x, y); }), nullptr, nullptr});
  t.push_back(OpEntry{"nll_loss(weight, ignore_index=0, sum)", ce_samples({0, 4, 0, 1}),
                      f2([w5](const Tensor& x, const Tensor& y) { return nll_loss(x, y, w5().to(x.device()), 0, "sum"); }), nullptr,
                      nullptr});
  t.push_back(OpEntry{"nll_loss(weight, none)", ce_samples({2, 4, 0, 1}),
                      f2([w5](const Tensor& x, const Tensor& y) { return nll_loss(x, y, w5().to(x.device()), -100, "none"); }),
                      nullptr, nullptr});
  const Dist prob = uniform(0.1, 0.9);
  t.push_back(OpEntry{"binary_cross_entropy", pair_samples(prob, uniform(0, 1), 1301),
                      f2([](const Tensor& p, const Tensor& y) { return binary_cross_entropy(p, y); }), nullptr,
                      pair_shapes(prob, uniform(0, 1), true)});
  t.push_back(
      OpEntry{"binary_cross_entropy(weight, sum)",
              [] {
                Rng r(1302);
                return std::vector<OpSample>{{"weight [4] broadcast",
                                              {sample(r, {3, 4}, uniform(0.1, 0.9)), sample(r, {3, 4}, uniform(0, 1)),
                                               sample(r, {4}, uniform(0.5, 2))}}};
              },
              [](const Inputs& in) { return binary_cross_entropy(in[0], in[1], in[2], "sum"); }, nullptr, nullptr});
  t.push_back(OpEntry{"binary_cross_entropy_with_logits", pair_samples(uniform(-3, 3), uniform(0, 1), 1303),
                      f2([](const Tensor& x, const Tensor& y) { return binary_cross_entropy_with_logits(x, y); }),
                      nullptr, pair_shapes(kAny, uniform(0, 1), true)});
  t.push_back(
      OpEntry{"binary_cross_entropy_with_logits(weight, pos_weight, none)",
              [] {
                Rng r(1304);
                return std::vector<OpSample>{
                    {"pos_weight [4] broadcast",
                     {sample(r, {3, 4}, uniform(-3, 3)), sample(r, {3, 4}, uniform(0, 1)),
                      sample(r, {3, 1}, uniform(0.5, 2)), sample(r, {4}, uniform(0.5, 3))}},
                    {"transposed",
                     {sample(r, {3, 4}, uniform(-3, 3), Layout::Transposed), sample(r, {3, 4}, uniform(0, 1)),
                      sample(r, {3, 4}, uniform(0.5, 2), Layout::Strided), sample(r, {4}, uniform(0.5, 3))}}};
              },
              [](const Inputs& in) { return binary_cross_entropy_with_logits(in[0], in[1], in[2], "none", in[3]); },
              nullptr, nullptr});
  t.push_back(OpEntry{
      "binary_cross_entropy_with_logits(pos_weight)",
      [] {
        Rng r(1305);
        return std::vector<OpSample>{
            {"pos_weight [4]",
             {sample(r, {3, 4}, uniform(-3, 3)), sample(r, {3, 4}, uniform(0, 1)), sample(r, {4}, uniform(0.5, 3))}}};
      },
      [](const Inputs& in) { return binary_cross_entropy_with_logits(in[0], in[1], std::nullopt, "mean", in[2]); },
      nullptr, nullptr});

  add_nn_op_entries(t);
  add_linalg_op_entries(t);
  return t;
}

}  // namespace

const std::vector<OpEntry>& op_table() {
  static const std::vector<OpEntry> table = build_table();
  return table;
}

}  // namespace ember::testing
