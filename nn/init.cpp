#include <ember/nn/init.h>

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
