#include <ember/nn/metrics.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember::nn::metrics {
namespace {

using Matrix = std::vector<double>;  // row-major n x n

void check_square(const char* op, const Tensor& a) {
  EMBER_CHECK(a.defined() && a.dim() == 2 && a.size(0) == a.size(1), op, "expected a square matrix [n, n], got {}",
              a.defined() ? shape_str(a.shape()) : std::string("undefined"));
  EMBER_CHECK(a.is_floating_point(), op, "expected a floating point matrix, got {}", a.dtype());
}

Tensor to_tensor(const Matrix& m, int64_t rows, int64_t cols) {
  return from_vector(m, std::vector<int64_t>{rows, cols}, {.dtype = DType::Float64});
}

// The entries of a finite symmetric matrix (to 1e-6 of its largest entry), or an error naming op.
Matrix symmetric_entries(const char* op, const Tensor& input) {
  check_square(op, input);
  const int64_t n = input.size(0);
  Matrix a = input.to_vector<double>();
  double asym = 0, scale = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      // finiteness first: std::max below passes over a NaN, and a NaN matrix looked symmetric
      EMBER_CHECK(std::isfinite(a[i * n + j]), op, "the matrix [{}, {}] holds {} at ({}, {})", n, n, a[i * n + j], i, j);
      asym = std::max(asym, std::abs(a[i * n + j] - a[j * n + i]));
      scale = std::max(scale, std::abs(a[i * n + j]));
    }
  EMBER_CHECK(asym <= 1e-6 * std::max(scale, 1e-300), op,
              "the matrix [{}, {}] is not symmetric (largest |a_ij - a_ji| is {}, largest |a_ij| {})", n, n, asym, scale);
  return a;
}

SymmetricEigen eigen_of(const char* op, const Tensor& input) {
  Matrix a = symmetric_entries(op, input);
  const int64_t n = input.size(0);
  for (int64_t i = 0; i < n; ++i)  // symmetrise exactly: rotations below assume a_ij == a_ji
    for (int64_t j = i + 1; j < n; ++j) a[i * n + j] = a[j * n + i] = (a[i * n + j] + a[j * n + i]) / 2;
  Matrix v(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) v[i * n + i] = 1;

  // Cyclic Jacobi: each rotation in the (p, q) plane zeroes a_pq; sweeps until the off-diagonal mass is
  // negligible next to the diagonal (quadratic convergence: typically < 10 sweeps).
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (int64_t i = 0; i < n; ++i) {
      diag += a[i * n + i] * a[i * n + i];
      for (int64_t j = i + 1; j < n; ++j) off += a[i * n + j] * a[i * n + j];
    }
    if (off <= 1e-30 * std::max(diag, 1e-300) || off == 0) break;
    for (int64_t p = 0; p < n - 1; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (apq == 0) continue;
        // t = tan(theta) from cot(2 theta) = (a_qq - a_pp) / (2 a_pq), the smaller root (stable).
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // a <- a J (columns p, q)
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {  // a <- J^T a (rows p, q)
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (int64_t k = 0; k < n; ++k) {  // v <- v J
          const double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return a[x * n + x] < a[y * n + y]; });
  Matrix values(static_cast<size_t>(n)), vectors(static_cast<size_t>(n * n));
  for (int64_t j = 0; j < n; ++j) {
    values[j] = a[order[j] * n + order[j]];
    for (int64_t k = 0; k < n; ++k) vectors[k * n + j] = v[k * n + order[j]];
  }
  return {from_vector(values, std::vector<int64_t>{n}, {.dtype = DType::Float64}), to_tensor(vectors, n, n)};
}

// The square root of a symmetric positive semi-definite matrix (negative eigenvalues, rounding, as 0).
Tensor psd_sqrt(const char* op, const Tensor& a) {
  SymmetricEigen e = eigen_of(op, a);
  const int64_t n = a.size(0);
  const std::vector<double> l = e.values.to_vector<double>(), v = e.vectors.to_vector<double>();
  Matrix out(static_cast<size_t>(n * n), 0.0);
  for (int64_t k = 0; k < n; ++k) {
    const double r = std::sqrt(std::max(l[k], 0.0));
    if (r == 0) continue;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) out[i * n + j] += v[i * n + k] * r * v[j * n + k];
  }
  return to_tensor(out, n, n);
}

}  // namespace

SymmetricEigen symmetric_eigen(const Tensor& input) { return eigen_of("symmetric_eigen", input); }

Tensor sqrtm_psd(const Tensor& a) { return psd_sqrt("sqrtm_psd", a); }

GaussianStats gaussian_stats(const Tensor& features) {
  EMBER_CHECK(features.defined() && features.dim() == 2 && features.size(0) >= 2, "gaussian_stats",
              "expected features [N, d] with N >= 2, got {}",
              features.defined() ? shape_str(features.shape()) : std::string("undefined"));
  NoGradGuard no_grad;
  Tensor f = features.to(DType::Float64);
  Tensor mu = f.mean({0});
  Tensor centered = f - mu;
  Tensor cov = matmul(centered.t(), centered) / static_cast<double>(f.size(0) - 1);
  return {mu, cov};
}

double frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  auto shape_of = [](const Tensor& t) { return t.defined() ? shape_str(t.shape()) : std::string("undefined"); };
  const bool defined = a.mean.defined() && b.mean.defined() && a.cov.defined() && b.cov.defined();
  EMBER_CHECK(defined && a.mean.dim() == 1 && b.mean.dim() == 1 && a.mean.size(0) == b.mean.size(0) &&
                  a.cov.shape() == Shape({a.mean.size(0), a.mean.size(0)}) && b.cov.shape() == a.cov.shape(),
              "frechet_distance", "statistics do not match: means {} and {}, covariances {} and {} (expected [d, d])",
              shape_of(a.mean), shape_of(b.mean), shape_of(a.cov), shape_of(b.cov));
  symmetric_entries("frechet_distance", b.cov);  // a.cov is checked by its square root below
  for (const Tensor* mean : {&a.mean, &b.mean})
    EMBER_CHECK(!backend(mean->device()).has_nonfinite(kview(*mean)), "frechet_distance",
                "a mean holds NaN or infinite values");
  NoGradGuard no_grad;
  Tensor s1 = a.cov.to(DType::Float64), s2 = b.cov.to(DType::Float64);
  Tensor diff = a.mean.to(DType::Float64) - b.mean.to(DType::Float64);
  const double mean_term = (diff * diff).sum().item_double();
  Tensor r1 = psd_sqrt("frechet_distance", s1);
  Tensor m = matmul(matmul(r1, s2), r1);
  m = (m + m.t()) / 2;  // symmetric up to rounding; make it exactly so
  const std::vector<double> l = symmetric_eigen(m).values.to_vector<double>();
  double tr_sqrt = 0;
  for (double x : l) tr_sqrt += std::sqrt(std::max(x, 0.0));
  const double tr1 = s1.diagonal().sum().item_double(), tr2 = s2.diagonal().sum().item_double();
  return mean_term + tr1 + tr2 - 2 * tr_sqrt;
}

}  // namespace ember::nn::metrics
