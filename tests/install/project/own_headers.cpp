// Uses the project's own core/shape.h and ember side by side, and checks a gradient from the
// installed library against its closed form: for loss = mean((x w)^2), d loss / d w = 2/N x^T x w.
#include "core/shape.h"

#include <cmath>
#include <cstdio>

#include <ember/ember.h>
#include <ember/testing/gradcheck.h>

int main() {
  static_assert(USER_PROJECT_CORE_SHAPE == 1);
  Shape own{3, 4};  // the project's Shape, not ember's
  using namespace ember;
  manual_seed(7);
  Tensor x = randn({16, 3}, {.dtype = DType::Float64});
  Tensor w = randn({3, 1}, {.dtype = DType::Float64}).requires_grad_();
  Tensor loss = mse_loss(matmul(x, w), zeros({16, 1}, {.dtype = DType::Float64}));
  loss.backward();
  Tensor expected = matmul(x.t(), matmul(x, w.detach())) * (2.0 / 16.0);
  const double error = max(abs(w.grad() - expected)).item<double>();
  if (!(error < 1e-12)) {
    std::printf("gradient differs from 2/N x^T x w by %g\n", error);
    return 1;
  }
  // The installed gradcheck, on an op of the user's choosing.
  const std::string failure = testing::gradcheck(
      [](const std::vector<Tensor>& in) { return sin(in[0] * in[0]).sum(); },
      {randn({4}, {.dtype = DType::Float64}).requires_grad_()});
  if (!failure.empty()) {
    std::printf("gradcheck failed: %s\n", failure.c_str());
    return 1;
  }
  std::printf("ok: own Shape %dx%d, gradient error %g, %s", own.width, own.height, error, info().c_str());
  return 0;
}
