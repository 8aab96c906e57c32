#include <ember/ops/ssm/hippo.h>

#include <cmath>
#include <vector>

#include <ember/ops/ops.h>

namespace ember {

HippoMatrices hippo_legs(int64_t N, TensorOptions opts) {
  EMBER_CHECK(N >= 1, "hippo_legs", "the state size N must be at least 1, got {}", N);
  EMBER_CHECK(is_floating(opts.dtype), "hippo_legs", "expected a floating dtype, got {}", opts.dtype);
  std::vector<double> a(static_cast<size_t>(N * N), 0.0), b(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    const double rn = std::sqrt(2.0 * static_cast<double>(n) + 1.0);
    b[n] = rn;
    a[n * N + n] = -static_cast<double>(n + 1);
    for (int64_t k = 0; k < n; ++k) a[n * N + k] = -rn * std::sqrt(2.0 * static_cast<double>(k) + 1.0);
  }
  const TensorOptions out{.dtype = opts.dtype, .device = opts.device};
  Tensor A = from_vector(a, std::vector<int64_t>{N, N}, out), B = from_vector(b, std::vector<int64_t>{N}, out);
  if (opts.requires_grad) {
    A.requires_grad_();
    B.requires_grad_();
  }
  return {A, B};
}

}  // namespace ember
