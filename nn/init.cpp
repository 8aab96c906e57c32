#include <ember/nn/init.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <ember/ops/ops.h>

namespace ember::nn::init {

std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& w) {
  EMBER_CHECK(w.dim() >= 2, "init", "fan in and fan out need a tensor of at least 2 dimensions, got shape {}",
              shape_str(w.shape()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  for (const char* identity : {"linear", "sigmoid", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                               "conv_transpose2d", "conv_transpose3d"})
    if (nonlinearity == identity) return 1;
  if (nonlinearity == "tanh") return 5.0 / 3;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4;
  EMBER_FAIL("calculate_gain", "unknown nonlinearity \"{}\"", nonlinearity);
}

Tensor& uniform_(Tensor& t, double low, double high, Generator* gen) {
  NoGradGuard no_grad;
  return t.uniform_(low, high, gen);
}
Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  NoGradGuard no_grad;
  return t.normal_(mean, std, gen);
}
namespace {
// The inverse of erf on (-1, 1): Giles' single-precision approximation ("Approximating the erfinv
// function", 2010), then Newton steps on erf(x) - y, which double the correct digits each (two
// reach double precision). +-1 give +-inf, as PyTorch's erfinv.
double erfinv(double y) {
  if (y <= -1) return y == -1 ? -HUGE_VAL : NAN;
  if (y >= 1) return y == 1 ? HUGE_VAL : NAN;
  double w = -std::log((1 - y) * (1 + y)), x;
  if (w < 5) {
    w -= 2.5;
    x = 2.81022636e-08;
    for (double c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
                     0.246640727, 1.50140941})
      x = c + x * w;
  } else {
    w = std::sqrt(w) - 3;
    x = -0.000200214257;
    for (double c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
                     1.00167406, 2.83297682})
      x = c + x * w;
  }
  x *= y;
  const double two_over_sqrt_pi = 1.1283791670955126;
  for (int step = 0; step < 2; ++step) {
    const double slope = two_over_sqrt_pi * std::exp(-x * x);
    if (slope == 0) break;  // |x| beyond ~26: erf is 1 to double precision, nothing to refine
    x -= (std::erf(x) - y) / slope;
  }
  return x;
}
}  // namespace

namespace {

// `bound` as `dtype` holds it, one step inside the interval where rounding took it outside. Values
// clamped to the result stay within [a, b] once converted to the dtype, since rounding is monotone.
double representable_inward(double bound, DType dtype, bool lower) {
  if (std::isinf(bound) || dtype == DType::Float64) return bound;
  const auto inside = [&](double r) { return lower ? r >= bound : r <= bound; };
  if (dtype == DType::Float32) {
    const float r = static_cast<float>(bound);
    return inside(r) ? r : std::nextafter(r, lower ? INFINITY : -INFINITY);
  }
  // The 16-bit formats order magnitudes as their bit patterns: a step is one more or one less.
  const bool half = dtype == DType::Float16;
  const uint16_t bits = half ? Half::from_float(static_cast<float>(bound)) : BFloat16::from_float(static_cast<float>(bound));
  const auto value = [&](uint16_t b) -> double { return half ? Half::to_float(b) : BFloat16::to_float(b); };
  if (inside(value(bits))) return value(bits);
  const bool negative = bits & 0x8000u, zero = (bits & 0x7fffu) == 0;
  uint16_t step;
  if (lower) step = negative ? (zero ? 0x0001u : bits - 1) : bits + 1;  // towards +inf
  else step = negative ? bits + 1 : (zero ? 0x8001u : bits - 1);       // towards -inf
  return value(step);
}

}  // namespace

Tensor& trunc_normal_(Tensor& t, double mean, double std, double a, double b, Generator* gen) {
  const char* op = "trunc_normal_";
  EMBER_CHECK(t.defined(), op, "got an undefined tensor");
  EMBER_CHECK(is_floating(t.dtype()), op, "needs a floating-point tensor, got {} (shape {})", dtype_name(t.dtype()),
              shape_str(t.shape()));
  EMBER_CHECK(std::isfinite(mean) && std::isfinite(std) && std > 0, op,
              "mean must be finite and std finite and positive, got mean {} and std {}", mean, std);
  // Infinite bounds are a half-normal (a = -inf) or the normal itself, as in PyTorch.
  EMBER_CHECK(!std::isnan(a) && !std::isnan(b) && a < b, op, "the bounds must not be NaN and a < b, got [{}, {}]", a, b);
  // The clamp's bounds in the tensor's dtype: [0.1, 0.3] rounded to bfloat16 would let 0.30078 through.
  const double lowest = representable_inward(a, t.dtype(), true), highest = representable_inward(b, t.dtype(), false);
  EMBER_CHECK(lowest <= highest, op, "no {} value lies in [{}, {}]", dtype_name(t.dtype()), a, b);
  if (t.numel() == 0) return t;
  const auto cdf = [&](double v) { return (1 + std::erf((v - mean) / std / std::sqrt(2.0))) / 2; };
  // Uniform on [2 cdf(a) - 1, 2 cdf(b) - 1] is erf of the normal's standardised value / sqrt(2).
  Tensor u = empty(t.shape(), {.dtype = DType::Float64});
  u.uniform_(2 * cdf(a) - 1, 2 * cdf(b) - 1, gen);
  std::vector<double> v = u.to_vector<double>();
  // erfinv(+-1) is infinite: an infinite bound's own end (drawn once in 2^53) stays finite.
  const double below_one = std::nextafter(1.0, 0.0);
  for (double& e : v)
    e = std::clamp(mean + std * std::sqrt(2.0) * erfinv(std::clamp(e, -below_one, below_one)), lowest, highest);
  NoGradGuard no_grad;
  t.copy_(from_vector(v, t.shape(), {.dtype = DType::Float64}));
  return t;
}

Tensor& constant_(Tensor& t, double value) {
  NoGradGuard no_grad;
  return t.fill_(value);
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1); }

// An empty tensor has nothing to draw, as for kaiming_*_ (a [0, 0] weight would divide by zero fans).
Tensor& xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  if (t.defined() && t.numel() == 0) return t;
  auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  const double a = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(t, -a, a, gen);
}
Tensor& xavier_normal_(Tensor& t, double gain, Generator* gen) {
  if (t.defined() && t.numel() == 0) return t;
  auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  return normal_(t, 0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), gen);
}

namespace {
double kaiming_std(const Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  EMBER_CHECK(mode == FanMode::FanIn || mode == FanMode::FanOut, "init", "unknown FanMode {} (FanIn or FanOut)",
              static_cast<int>(mode));
  auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  const int64_t fan = mode == FanMode::FanIn ? fan_in : fan_out;
  EMBER_CHECK(fan > 0, "init", "cannot initialise a tensor with zero elements (shape {})", shape_str(t.shape()));
  return calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
}
}  // namespace

Tensor& kaiming_uniform_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity, Generator* gen) {
  if (t.defined() && t.numel() == 0) return t;  // as PyTorch: nothing to draw (Linear(0, 3) is legal)
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity);
  return uniform_(t, -bound, bound, gen);
}
Tensor& kaiming_normal_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity, Generator* gen) {
  if (t.defined() && t.numel() == 0) return t;
  return normal_(t, 0, kaiming_std(t, a, mode, nonlinearity), gen);
}

Tensor& orthogonal_(Tensor& t, double gain, Generator* gen) {
  EMBER_CHECK(t.dim() >= 2, "orthogonal_", "needs a tensor of at least 2 dimensions, got shape {}", shape_str(t.shape()));
  EMBER_CHECK(is_floating(t.dtype()), "orthogonal_", "needs a floating-point tensor, got {} (shape {})",
              dtype_name(t.dtype()), shape_str(t.shape()));
  if (t.numel() == 0) return t;  // as PyTorch; cols = numel / rows would divide by zero rows
  const int64_t rows = t.size(0), cols = t.numel() / rows;
  // Gram-Schmidt (modified, twice for stability) on the columns of a Gaussian [max, min] matrix,
  // in double: the orthonormal columns of its QR factor, with Q's signs fixed by R's diagonal.
  const int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  std::vector<double> q = randn({m, n}, {.dtype = DType::Float64}, gen).to_vector<double>();
  for (int64_t j = 0; j < n; ++j) {
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t k = 0; k < j; ++k) {
        double dot = 0;
        for (int64_t i = 0; i < m; ++i) dot += q[i * n + k] * q[i * n + j];
        for (int64_t i = 0; i < m; ++i) q[i * n + j] -= dot * q[i * n + k];
      }
    double norm = 0;
    for (int64_t i = 0; i < m; ++i) norm += q[i * n + j] * q[i * n + j];
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < m; ++i) q[i * n + j] /= norm;
  }
  Tensor qt = from_vector(q, std::vector<int64_t>{m, n}, {.dtype = DType::Float64});
  if (rows < cols) qt = qt.t();  // rows x cols with orthonormal rows
  NoGradGuard no_grad;
  t.copy_((qt * gain).reshape(t.shape()));
  return t;
}

}  // namespace ember::nn::init
