#include <ember/optim/clip.h>

#include <cmath>

#include <ember/ops/ops.h>

namespace ember::optim {
namespace {

void check_params(const char* op, const std::vector<Tensor>& params) {
  for (size_t i = 0; i < params.size(); ++i)
    EMBER_CHECK(params[i].defined(), op, "parameter {} of {} is an undefined tensor", i, params.size());
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  // A negative max_norm would flip every gradient's sign, a NaN one would silently clip nothing.
  EMBER_CHECK(std::isfinite(max_norm) && max_norm >= 0, "clip_grad_norm_",
              "max_norm must be finite and non-negative, got {}", max_norm);
  EMBER_CHECK(!std::isnan(norm_type), "clip_grad_norm_", "norm_type is NaN");
  check_params("clip_grad_norm_", params);
  NoGradGuard no_grad;
  std::vector<double> norms;
  // An empty gradient holds no entry to count (a norm of order inf over it has no largest entry).
  for (const Tensor& p : params)
    if (p.grad().defined() && p.grad().numel() > 0)
      norms.push_back(norm(p.grad().to(DType::Float64), norm_type).item<double>());
  if (norms.empty()) return 0;
  // The norm of the per-tensor norms, as PyTorch defines it for every order: the joint p-norm for
  // p > 0, the largest (inf) or smallest (-inf) entry, and for p = 0 the count of tensors with a
  // non-zero entry.
  const double total = norm(from_vector(norms), norm_type).item<double>();
  const double coef = max_norm / (total + 1e-6);  // PyTorch's epsilon
  // A NaN total (a NaN gradient) scales too, as PyTorch's clamp(coef, max=1) does: every gradient
  // becomes NaN, which a GradScaler or an anomaly check then sees, instead of the NaN going unnoticed.
  if (!(coef >= 1))
    for (const Tensor& p : params)
      if (p.grad().defined()) {
        Tensor g = p.grad();
        g.mul_(coef);
      }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  // A negative bound would set every element to -clip_value, a NaN one would clip nothing.
  EMBER_CHECK(std::isfinite(clip_value) && clip_value >= 0, "clip_grad_value_",
              "clip_value must be finite and non-negative, got {}", clip_value);
  check_params("clip_grad_value_", params);
  NoGradGuard no_grad;
  for (const Tensor& p : params)
    if (p.grad().defined()) {
      Tensor g = p.grad();
      g.clamp_(-clip_value, clip_value);
    }
}

}  // namespace ember::optim
