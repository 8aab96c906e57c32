#pragma once
// InstanceNorm1d and InstanceNorm2d: instance_norm (ops/norm.h) as a module, with PyTorch's defaults
// (no affine parameters, no running statistics). They take a batch [N, C, L] / [N, C, H, W] or one
// unbatched example [C, L] / [C, H, W].
#include <ember/nn/module.h>

namespace ember::nn {

class InstanceNormImpl : public UnaryModule {
 public:
  InstanceNormImpl(int64_t num_features, int64_t spatial_dims, double eps = 1e-5, double momentum = 0.1,
                   bool affine = false, bool track_running_stats = false);
  // Statistics of each instance, except in evaluation with tracked running statistics, which then
  // normalise instead. Without weights or running statistics the channel count is not checked
  // against num_features, as in PyTorch.
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return spatial_dims_ == 2 ? "InstanceNorm2d" : "InstanceNorm1d"; }
  std::string extra_repr() const override;  // every option, as PyTorch prints them
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  int64_t num_features;
  double eps, momentum;

 private:
  int64_t spatial_dims_;
};
inline std::shared_ptr<InstanceNormImpl> InstanceNorm1d(int64_t n, double eps = 1e-5, double momentum = 0.1,
                                                        bool affine = false, bool track_running_stats = false) {
  return std::make_shared<InstanceNormImpl>(n, 1, eps, momentum, affine, track_running_stats);
}
inline std::shared_ptr<InstanceNormImpl> InstanceNorm2d(int64_t n, double eps = 1e-5, double momentum = 0.1,
                                                        bool affine = false, bool track_running_stats = false) {
  return std::make_shared<InstanceNormImpl>(n, 2, eps, momentum, affine, track_running_stats);
}

}  // namespace ember::nn
