// softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m), with m = max(x) for stability. Composites: the
// shift m is detached (softmax does not depend on it), so the gradient is exact and twice
// differentiable without a hand-written rule.
#include <ember/ops/softmax.h>
#include <ember/core/autocast.h>

#include <ember/ops/ops.h>

namespace ember {

Tensor softmax(const Tensor& x_in, int64_t dim) {
  const Tensor x = detail::autocast_operand("softmax", x_in);
  check_floating("softmax", x);
  const int64_t d = normalize_dim("softmax", dim, x.dim());
  if (x.dim() == 0) return exp(x - x.detach());
  if (x.numel() == 0) return clone(x);  // nothing to normalise (amax has no identity)
  Tensor m = amax(x, {d}, true).detach();
  m = where(isinf(m), zeros_like(m), m);
  Tensor e = exp(x - m);
  return e / sum(e, {d}, true);
}

Tensor log_softmax(const Tensor& x_in, int64_t dim) {
  const Tensor x = detail::autocast_operand("log_softmax", x_in);
  check_floating("log_softmax", x);
  const int64_t d = normalize_dim("log_softmax", dim, x.dim());
  if (x.dim() == 0) return x - x;
  return x - logsumexp(x, {d}, true);
}

}  // namespace ember
