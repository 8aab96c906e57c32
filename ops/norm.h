#pragma once
// Normalisation layers: differentiable to any order (layer_norm and batch_norm in training run fused
// kernels where the backend has them, with backwards that are ops under create_graph). Variances are
// biased (divided by n), as in PyTorch's normalisation layers.
#include <optional>
#include <span>
#include <vector>

#include <ember/core/tensor.h>

namespace ember {

// x [N, C, ...]; per-channel statistics over every dim but 1. In training, normalises with the
// batch statistics and, when running_mean/running_var are defined, updates them in place without
// recording a graph: running = (1 - momentum) running + momentum stat, with the unbiased batch
// variance. In evaluation, normalises with the running statistics (which must be defined). weight,
// bias: [C]. momentum is in [0, 1] and eps > 0; weight and bias are floating (used in x's dtype).
Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const std::optional<Tensor>& weight,
                  const std::optional<Tensor>& bias, bool training, double momentum = 0.1, double eps = 1e-5);
// The same with named options; the defaults are torch.nn.functional.batch_norm's:
//   batch_norm(x, running_mean, running_var, {.weight = gamma, .bias = beta, .training = true})
struct BatchNormOptions {
  std::optional<Tensor> weight;  // [C]
  std::optional<Tensor> bias;    // [C]
  bool training = false;
  double momentum = 0.1;
  double eps = 1e-5;
};
Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var,
                  const BatchNormOptions& options = {});
// Normalises over the trailing dims given by normalized_shape; weight and bias have that shape.
Tensor layer_norm(const Tensor& x, std::span<const int64_t> normalized_shape,
                  const std::optional<Tensor>& weight = std::nullopt, const std::optional<Tensor>& bias = std::nullopt,
                  double eps = 1e-5);
// x [N, C, ...]: statistics per sample over each group of C / num_groups channels; weight, bias: [C].
Tensor group_norm(const Tensor& x, int64_t num_groups, const std::optional<Tensor>& weight = std::nullopt,
                  const std::optional<Tensor>& bias = std::nullopt, double eps = 1e-5);
// x [N, C, ...] (at least one spatial dim): statistics per sample and channel over the spatial dims,
// as torch.nn.functional.instance_norm. With use_input_stats (the default) and running_mean/running_var
// given, these are updated in place by momentum times the batch's mean of each instance's mean and
// unbiased variance (an empty batch is refused: PyTorch turns them into NaN); without
// use_input_stats, the running statistics normalise instead (they must be given). weight, bias: [C].
Tensor instance_norm(const Tensor& x, Tensor running_mean = {}, Tensor running_var = {},
                     const std::optional<Tensor>& weight = std::nullopt, const std::optional<Tensor>& bias = std::nullopt,
                     bool use_input_stats = true, double momentum = 0.1, double eps = 1e-5);
// x divided by its p-norm along dim, kept at least eps: x / max(norm(x, p, dim), eps), as
// torch.nn.functional.normalize (unit vectors; a zero vector stays zero).
Tensor normalize(const Tensor& x, double p = 2, int64_t dim = 1, double eps = 1e-12);
// x * rsqrt(mean(x^2 over the trailing normalized_shape dims) + eps) * weight; eps defaults to the
// machine epsilon of x's dtype (as torch.nn.functional.rms_norm).
Tensor rms_norm(const Tensor& x, std::span<const int64_t> normalized_shape,
                const std::optional<Tensor>& weight = std::nullopt, std::optional<double> eps = std::nullopt);

inline Tensor layer_norm(const Tensor& x, std::initializer_list<int64_t> normalized_shape,
                         const std::optional<Tensor>& weight = std::nullopt,
                         const std::optional<Tensor>& bias = std::nullopt, double eps = 1e-5) {
  return layer_norm(x, std::span<const int64_t>(normalized_shape.begin(), normalized_shape.size()), weight, bias, eps);
}
inline Tensor rms_norm(const Tensor& x, std::initializer_list<int64_t> normalized_shape,
                       const std::optional<Tensor>& weight = std::nullopt, std::optional<double> eps = std::nullopt) {
  return rms_norm(x, std::span<const int64_t>(normalized_shape.begin(), normalized_shape.size()), weight, eps);
}

}  // namespace ember
