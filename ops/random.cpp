#include <ember/ops/random.h>

#include <ember/ops/ops.h>

namespace ember {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  EMBER_CHECK(p >= 0 && p <= 1, "dropout", "probability must be in [0, 1], got {}", p);
  check_floating("dropout", x);
  if (!training || p == 0) return x;
  if (p == 1) return x * zeros_like(x);
  Tensor keep = bernoulli(x.shape(), 1 - p, {.dtype = x.dtype(), .device = x.device()}, gen);
  return x * keep * (1.0 / (1 - p));
}

}  // namespace ember
