#pragma once
// One step of a running sum, product or log-sum-exp, shared by the CPU and CUDA scan kernels so both
// give the same answers. Integer steps wrap around on overflow, as PyTorch's do (computed unsigned:
// signed overflow is undefined in C++).
#include <cmath>
#include <type_traits>

#include <ember/backends/common/cumulative_op.h>
#include <ember/backends/common/integer_math.h>  // EMBER_HOST_DEVICE

namespace ember::cumulative {

// log(e^a + e^b) as max + log1p(e^(min - max)), which never overflows. Both -inf gives -inf (not
// the NaN of -inf - -inf), and +inf with anything but NaN gives +inf.
template <typename A>
EMBER_HOST_DEVICE inline A log_add_exp(A a, A b) {
  if (a != a || b != b) return a + b;  // NaN
  const A hi = a > b ? a : b, lo = a > b ? b : a;
  if (lo == -INFINITY || hi == INFINITY) return hi;
  return hi + log1p(exp(lo - hi));
}

template <typename A>
EMBER_HOST_DEVICE inline A combine(CumulativeOp op, A running, A next) {
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return op == CumulativeOp::Prod ? static_cast<A>(static_cast<U>(running) * static_cast<U>(next))
                                    : static_cast<A>(static_cast<U>(running) + static_cast<U>(next));
  } else {
    switch (op) {
      case CumulativeOp::Sum: return running + next;
      case CumulativeOp::Prod: return running * next;
      default: return log_add_exp(running, next);
    }
  }
}

}  // namespace ember::cumulative
