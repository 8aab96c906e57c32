#pragma once
// The networks of the GAN trainer (and of the W4/W5 benchmarks).
#include <memory>

#include <ember/nn/nn.h>

namespace ember::examples::gan {

inline constexpr int64_t kDcganLatent = 100;

// W4's DCGAN generator (docs/benchmarks.md): z [N, 100] -> linear -> 128x7x7, BN, ReLU -> convT(128->64, k4,
// s2, p1) + BN + ReLU -> convT(64->1, k4, s2, p1) + tanh: images [N, 1, 28, 28] in [-1, 1].
inline std::shared_ptr<nn::SequentialImpl> dcgan_generator() {
  return nn::Sequential({nn::Linear(kDcganLatent, 128 * 7 * 7), nn::Unflatten(1, {128, 7, 7}), nn::BatchNorm2d(128),
                         nn::ReLU(), nn::ConvTranspose2d(128, 64, 4, {.stride = {2, 2}, .padding = {1, 1}}),
                         nn::BatchNorm2d(64), nn::ReLU(),
                         nn::ConvTranspose2d(64, 1, 4, {.stride = {2, 2}, .padding = {1, 1}}), nn::Tanh()});
}

struct CriticOptions {
  // W4's discriminator has BN after its second convolution; WGAN-GP's critic must not (the penalty is
  // per example, and batch norm makes each score depend on the whole batch).
  bool batch_norm = true;
  bool spectral_norm = false;  // wrap every convolution and linear layer (SN-GAN)
};

inline std::shared_ptr<nn::UnaryModule> maybe_sn(std::shared_ptr<nn::UnaryModule> layer, bool sn) {
  return sn ? nn::SpectralNorm(std::move(layer)) : std::move(layer);
}

// W4's discriminator: conv(1->64, k4, s2, p1) + LeakyReLU(0.2) -> conv(64->128, k4, s2, p1) [+ BN] +
// LeakyReLU(0.2) -> flatten -> linear(6272 -> 1): one score per image [N, 1].
inline std::shared_ptr<nn::SequentialImpl> dcgan_critic(CriticOptions o = {}) {
  const nn::Conv2dOptions down{.stride = {2, 2}, .padding = {1, 1}};
  auto net = nn::Sequential({maybe_sn(nn::Conv2d(1, 64, 4, down), o.spectral_norm), nn::LeakyReLU(0.2),
                             maybe_sn(nn::Conv2d(64, 128, 4, down), o.spectral_norm)});
  if (o.batch_norm) net->push_back(nn::BatchNorm2d(128));
  net->push_back(nn::LeakyReLU(0.2));
  net->push_back(nn::Flatten());
  net->push_back(maybe_sn(nn::Linear(128 * 7 * 7, 1), o.spectral_norm));
  return net;
}

// The 2-D toy's networks (as in the WGAN-GP paper's toy experiments): MLPs with `hidden` ReLU layers.
inline constexpr int64_t kToyLatent = 2;
inline std::shared_ptr<nn::SequentialImpl> mlp(int64_t in, int64_t out, int64_t width, int64_t hidden_layers,
                                               bool spectral_norm = false) {
  auto net = std::make_shared<nn::SequentialImpl>();
  int64_t from = in;
  for (int64_t i = 0; i < hidden_layers; ++i) {
    net->push_back(maybe_sn(nn::Linear(from, width), spectral_norm));
    net->push_back(nn::ReLU());
    from = width;
  }
  net->push_back(maybe_sn(nn::Linear(from, out), spectral_norm));
  return net;
}

}  // namespace ember::examples::gan
