#include <ember/ops/linalg_host.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include <ember/core/autocast.h>
#include <ember/core/error.h>
#include <ember/ops/ops.h>

namespace ember::linalg::detail {

Tensor matrix_operand(const char* op, const char* what, const Tensor& a_in, bool square) {
  EMBER_CHECK(a_in.defined(), op, "got an undefined {}", what);
  const Tensor a = ember::detail::autocast_operand(op, a_in);
  EMBER_CHECK(a.dtype() == DType::Float32 || a.dtype() == DType::Float64, op,
              "{} must be float32 or float64, got {} {}{}", what, shape_str(a.shape()), a.dtype(),
              is_16bit_float(a.dtype()) ? " (16-bit matrices are factored in float32: cast, or use autocast)"
                                        : "");
  EMBER_CHECK(a.dim() >= 2, op, "{} must be a matrix or a batch of matrices [..., m, n], got {} {}", what,
              shape_str(a.shape()), a.dtype());
  if (square)
    EMBER_CHECK(a.size(-1) == a.size(-2), op, "{} must be square [..., n, n], got {} {}", what,
                shape_str(a.shape()), a.dtype());
  return a;
}

double power_of_two_scale(std::span<const double> x) {
  double largest = 0;
  for (double v : x) largest = std::max(largest, std::abs(v));
  if (largest == 0) return 1;
  int exponent = 0;
  std::frexp(largest, &exponent);  // largest = f 2^exponent with f in [0.5, 1)
  // 2^1024 is inf: an entry of 2^1023 or more is brought into [-2, 2) by 2^1023 instead (a scale of
  // inf made every entry 0 and every result NaN).
  return std::ldexp(1.0, std::min(exponent, std::numeric_limits<double>::max_exponent - 1));
}

double sign_of_largest(const double* x, int64_t count, int64_t stride) {
  int64_t largest = 0;
  for (int64_t i = 1; i < count; ++i)
    if (std::abs(x[i * stride]) > std::abs(x[largest * stride])) largest = i;
  return count > 0 && x[largest * stride] < 0 ? -1.0 : 1.0;
}

HostVector host_matrices(const Tensor& a) {
  const Tensor host = host_matrices_to_read(a);
  const double* values = host.data<double>();
  return HostVector(values, values + host.numel());
}

Tensor host_matrices_to_read(const Tensor& a) { return a.detach().cpu().to(DType::Float64).contiguous(); }

Tensor from_host(std::span<const double> values, std::span<const int64_t> shape, DType dtype, Device device) {
  Tensor host = Tensor::empty(shape, DType::Float64, Device::cpu(), "linalg");
  EMBER_CHECK(static_cast<int64_t>(values.size()) == host.numel(), "linalg", "{} values cannot fill shape {}",
              values.size(), shape_str(shape));
  std::copy(values.begin(), values.end(), host.data<double>());
  return host.to(dtype).to(device);
}

std::string batch_entry(const Tensor& a, int64_t m) {
  return a.dim() > 2 ? fmt::format("(batch entry {}) ", m) : std::string();
}

int64_t batch_count(std::span<const int64_t> shape) {
  int64_t count = 1;
  for (size_t d = 0; d + 2 < shape.size(); ++d) count *= shape[d];
  return count;
}

Tensor identity_batch(std::span<const int64_t> batch, int64_t n, const Tensor& like) {
  Shape shape(batch.begin(), batch.end());
  shape.push_back(n);
  shape.push_back(n);
  return eye(n, std::nullopt, {.dtype = like.dtype(), .device = like.device()}).expand(shape);
}

Tensor rank_threshold(const Tensor& s, const Tensor& a, const RankTolerance& tolerance) {
  const double epsilon = a.dtype() == DType::Float64 ? DBL_EPSILON : FLT_EPSILON;
  const double atol = tolerance.atol.value_or(0);
  // PyTorch's defaults: rtol is max(m, n) eps, unless a positive atol is given alone.
  const double default_rtol = atol > 0 ? 0.0 : static_cast<double>(std::max(a.size(-1), a.size(-2))) * epsilon;
  const Tensor relative = amax(s, {-1}, /*keepdim=*/true) * Scalar(tolerance.rtol.value_or(default_rtol));
  return clamp(relative, atol, std::nullopt);
}

Tensor count_above_threshold(const Tensor& s, const Tensor& a, const RankTolerance& tolerance) {
  return sum(gt(s, rank_threshold(s, a, tolerance)), {-1});
}

void check_rank_tolerance(const char* op, const RankTolerance& tolerance) {
  EMBER_CHECK(!tolerance.atol || *tolerance.atol >= 0, op, "atol must be >= 0, got {}", tolerance.atol.value_or(0));
  EMBER_CHECK(!tolerance.rtol || *tolerance.rtol >= 0, op, "rtol must be >= 0, got {}", tolerance.rtol.value_or(0));
}

}  // namespace ember::linalg::detail
