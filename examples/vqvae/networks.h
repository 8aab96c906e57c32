#pragma once
// The VQ-VAE's encoder and decoder for 28x28 Fashion-MNIST images (shared by examples/vqvae,
// examples/vqgan and the W10 benchmark). The layout of van den Oord et al. (2017), section 4.1:
//   encoder: conv(1->h, k4, s2, p1) - ReLU - conv(h->h, k4, s2, p1) - residual blocks   -> [N, h, 7, 7]
//   decoder: residual blocks - ReLU - convT(h->h, k4, s2, p1) - ReLU - convT(h->1, k4, s2, p1)
// with residual blocks x + conv1x1(ReLU(conv3x3(ReLU(x)))), and the latents' channels (h) the
// codebook's dimension D. With no residual blocks this is W10's network exactly.
#include <cmath>
#include <memory>

#include <ember/nn/nn.h>
#include <ember/ops/ops.h>

namespace ember::examples::vqvae {

// x + conv1x1(ReLU(conv3x3(ReLU(x)))), channels preserved.
class ResidualBlockImpl : public nn::UnaryModule {
 public:
  ResidualBlockImpl(int64_t channels, int64_t hidden)
      : body(register_module("body", nn::Sequential({nn::ReLU(), nn::Conv2d(channels, hidden, 3, {.padding = {1, 1}}),
                                                      nn::ReLU(), nn::Conv2d(hidden, channels, 1)}))) {}
  Tensor forward(const Tensor& x) override { return x + (*body)(x); }
  std::string type_name() const override { return "ResidualBlock"; }
  std::shared_ptr<nn::SequentialImpl> body;
};

struct NetworkConfig {
  int64_t channels = 64;  // h, also the code dimension D
  int64_t residual_blocks = 2;
  int64_t residual_hidden = 32;
};

inline std::shared_ptr<nn::SequentialImpl> encoder(const NetworkConfig& c) {
  const nn::Conv2dOptions down{.stride = {2, 2}, .padding = {1, 1}};
  auto net = nn::Sequential({nn::Conv2d(1, c.channels, 4, down), nn::ReLU(), nn::Conv2d(c.channels, c.channels, 4, down)});
  for (int64_t i = 0; i < c.residual_blocks; ++i)
    net->push_back(std::make_shared<ResidualBlockImpl>(c.channels, c.residual_hidden));
  return net;
}

// Its last module is the final transposed convolution (VQGAN's adaptive weight differentiates with
// respect to its weight).
inline std::shared_ptr<nn::SequentialImpl> decoder(const NetworkConfig& c) {
  const nn::Conv2dOptions up{.stride = {2, 2}, .padding = {1, 1}};
  auto net = std::make_shared<nn::SequentialImpl>();
  for (int64_t i = 0; i < c.residual_blocks; ++i)
    net->push_back(std::make_shared<ResidualBlockImpl>(c.channels, c.residual_hidden));
  if (c.residual_blocks > 0) net->push_back(nn::ReLU());
  net->push_back(nn::ConvTranspose2d(c.channels, c.channels, 4, up));
  net->push_back(nn::ReLU());
  net->push_back(nn::ConvTranspose2d(c.channels, 1, 4, up));
  return net;
}

// Images -> code indices [N, 7, 7] and back, through nearest_codes and lookup rather than the
// quantizer's forward: forward counts code usage (which decides dead-code restarts), and counting
// evaluation batches would make training depend on how often it evaluates.
inline Tensor encode_to_codes(nn::SequentialImpl& encoder, const nn::VectorQuantizerImpl& quantizer, const Tensor& x) {
  return quantizer.nearest_codes(encoder(x).permute({0, 2, 3, 1}));
}
inline Tensor decode_codes(nn::SequentialImpl& decoder, const nn::VectorQuantizerImpl& quantizer, const Tensor& codes) {
  return decoder(quantizer.lookup(codes).permute({0, 3, 1, 2}).contiguous());
}

// PSNR in dB of images in [0, 1] from the mean squared error measured on [-1, 1] (4 times larger).
inline double psnr_from_mse_pm1(double mse_pm1) { return 10 * std::log10(4.0 / mse_pm1); }

}  // namespace ember::examples::vqvae
