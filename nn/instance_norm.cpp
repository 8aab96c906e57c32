#include <ember/nn/instance_norm.h>

#include <fmt/format.h>

#include <ember/ops/ops.h>

namespace ember::nn {

InstanceNormImpl::InstanceNormImpl(int64_t n, int64_t spatial_dims, double eps_, double momentum_, bool affine,
                                   bool track)
    : num_features(n), eps(eps_), momentum(momentum_), spatial_dims_(spatial_dims) {
  EMBER_CHECK(n >= 0, type_name(), "num_features must be non-negative, got {}", n);
  EMBER_CHECK(momentum >= 0 && momentum <= 1, type_name(), "momentum must be in [0, 1], got {}", momentum);
  // (refused here rather than at the first batch, as instance_norm refuses it)
  EMBER_CHECK(eps > 0 && std::isfinite(eps), type_name(), "eps must be positive and finite, got {}", eps);
  if (affine) {
    register_parameter("weight", &weight, ones({n}));
    register_parameter("bias", &bias, zeros({n}));
  }
  if (track) {
    register_buffer("running_mean", &running_mean, zeros({n}));
    register_buffer("running_var", &running_var, ones({n}));
    // Kept for PyTorch's state dict; instance norm never counts batches (momentum is always used).
    register_buffer("num_batches_tracked", &num_batches_tracked, zeros({}, {.dtype = DType::Int64}));
  }
}

Tensor InstanceNormImpl::forward(const Tensor& x) {
  const int64_t batched = spatial_dims_ + 2;
  EMBER_CHECK(x.defined() && (x.dim() == batched || x.dim() == batched - 1), type_name(),
              "expected a {}-D or {}-D (unbatched) input, got shape {}", batched - 1, batched,
              x.defined() ? shape_str(x.shape()) : std::string("undefined"));
  const Tensor x_batch = x.dim() == batched ? x : unsqueeze(x, 0);
  if (weight.defined() || running_mean.defined())
    EMBER_CHECK(x_batch.size(1) == num_features, type_name(), "expected {} channels, got input {}", num_features,
                shape_str(x.shape()));
  const auto optional = [](const Tensor& t) { return t.defined() ? std::optional<Tensor>(t) : std::nullopt; };
  const Tensor y = instance_norm(x_batch, running_mean, running_var, optional(weight), optional(bias),
                                 training_ || !running_mean.defined(), momentum, eps);
  return x.dim() == batched ? y : squeeze(y, 0);
}

std::string InstanceNormImpl::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", num_features, eps, momentum,
                     weight.defined() ? "True" : "False", running_mean.defined() ? "True" : "False");
}

}  // namespace ember::nn
