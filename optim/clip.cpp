#include <ember/optim/clip.h>

#include <cmath>

#include <ember/ops/ops.h>

namespace ember::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  NoGradGuard no_grad;
  std::vector<double> norms;
  for (const Tensor& p : params)
    if (p.grad().defined()) norms.push_back(norm(p.grad().to(DType::Float64), norm_type).item<double>());
  if (norms.empty()) return 0;
  double total = 0;
  if (std::isinf(norm_type)) {
    for (double n : norms) total = std::max(total, n);
  } else {
    for (double n : norms) total += std::pow(n, norm_type);
    total = std::pow(total, 1 / norm_type);
  }
  const double coef = max_norm / (total + 1e-6);  // PyTorch's epsilon
  if (coef < 1)
    for (const Tensor& p : params)
      if (p.grad().defined()) {
        Tensor g = p.grad();
        g.mul_(coef);
      }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  NoGradGuard no_grad;
  for (const Tensor& p : params)
    if (p.grad().defined()) {
      Tensor g = p.grad();
      g.clamp_(-clip_value, clip_value);
    }
}

}  // namespace ember::optim
