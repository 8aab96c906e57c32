#pragma once
// Spectral normalisation (Miyato et al. 2018, SN-GAN) as a module wrapper: the wrapped layer runs with
// weight / sigma(weight), where sigma is the largest singular value of the weight as a matrix
// [out, in * k...], estimated by power iteration, one step per training forward (the estimate is
// carried across steps in the buffers, so it converges while the weights change slowly).
// Every layer then has Lipschitz constant <= 1, which bounds the critic's (with 1-Lipschitz
// activations such as (leaky) ReLU).
//   auto layer = nn::SpectralNorm(nn::Linear(256, 256));
// Names: the trained weight stays the wrapped layer's ("module.weight"), the estimates are the
// buffers "weight_u" [out] and "weight_v" [in * k...].
#include <memory>

#include <ember/core/generator.h>
#include <ember/nn/module.h>

namespace ember::nn {

class SpectralNormImpl : public UnaryModule {
 public:
  // module: a Linear, Conv2d or ConvTranspose2d (anything else is an ember::Error).
  explicit SpectralNormImpl(std::shared_ptr<UnaryModule> module, double eps = 1e-12, Generator* generator = nullptr);
  // In training mode, one power-iteration step updates weight_u and weight_v first.
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SpectralNorm"; }
  std::string extra_repr() const override;
  // The normalised weight the next forward would use, without updating the estimates.
  Tensor normalized_weight() const;
  // The current estimate of the largest singular value, u^T W v.
  double sigma() const;

  std::shared_ptr<UnaryModule> module;
  Tensor weight_u, weight_v;
  double eps;

 private:
  Tensor& weight_ref() const;  // the wrapped layer's weight member
  Tensor weight_matrix(const Tensor& w) const;  // w as [out, in * k...]
  Tensor* weight_ = nullptr;
  bool transposed_ = false;  // ConvTranspose2d keeps out channels in dim 1
};

inline std::shared_ptr<SpectralNormImpl> SpectralNorm(std::shared_ptr<UnaryModule> module, double eps = 1e-12,
                                                      Generator* generator = nullptr) {
  return std::make_shared<SpectralNormImpl>(std::move(module), eps, generator);
}

}  // namespace ember::nn
