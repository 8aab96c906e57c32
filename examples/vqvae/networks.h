#pragma once
// The VQ-VAE's encoder and decoder for 28x28 Fashion-MNIST images (shared by examples/vqvae,
// examples/vqgan and the W10 benchmark). The layout of van den Oord et al. (2017), section 4.1:
//   encoder: conv(1->h, k4, s2, p1) - ReLU - conv(h->h, k4, s2, p1) - residual blocks   -> [N, h, 7, 7]
//   decoder: residual blocks - ReLU - convT(h->h, k4, s2, p1) - ReLU - convT(h->1, k4, s2, p1)
// with residual blocks x + conv1x1(ReLU(conv3x3(ReLU(x)))), and the latents' channels (h) the
// codebook's dimension D. With no residual blocks this is W10's network exactly.
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

}  // namespace ember::examples::vqvae
