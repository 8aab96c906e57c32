#include <ember/ops/ssm/hippo.h>

#include <cmath>
#include <vector>

#include <ember/ops/ops.h>

namespace ember {

HippoMatrices hippo_legs(int64_t N, TensorOptions opts) {
  EMBER_CHECK(N >= 1, "hippo_legs", "the state size N must be at least 1, got {}", N);
  EMBER_CHECK(is_floating(opts.dtype), "hippo_legs", "expected a floating dtype, got {}", opts.dtype);
  // Built in float64 tensors, whose allocation checks N * N for overflow and memory (a std::vector of
  // a wrapped N * N would be written out of bounds).
  Tensor A64 = zeros(std::vector<int64_t>{N, N}, {.dtype = DType::Float64});
  Tensor B64 = empty(std::vector<int64_t>{N}, {.dtype = DType::Float64});
  double* a = A64.data<double>();
  double* b = B64.data<double>();
  for (int64_t n = 0; n < N; ++n) {
    const double rn = std::sqrt(2.0 * static_cast<double>(n) + 1.0);
    b[n] = rn;
    a[n * N + n] = -static_cast<double>(n + 1);
    for (int64_t k = 0; k < n; ++k) a[n * N + k] = -rn * std::sqrt(2.0 * static_cast<double>(k) + 1.0);
  }
  Tensor A = A64.to(opts.device, opts.dtype), B = B64.to(opts.device, opts.dtype);
  if (opts.requires_grad) {
    A.requires_grad_();
    B.requires_grad_();
  }
  return {A, B};
}

}  // namespace ember
