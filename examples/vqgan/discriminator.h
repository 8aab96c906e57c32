#pragma once
// VQGAN's PatchGAN discriminator (Isola et al. 2017; taming-transformers' NLayerDiscriminator) for
// 28x28 images. Instead of one score per image it outputs a grid of logits, one per overlapping
// patch, so that it judges local texture and sharpness and leaves global structure to the
// reconstruction and perceptual terms.
//
// taming's version is built for 256x256 images: three stride-2 k4 convolutions and two stride-1 ones.
// A 28x28 image survives two halvings only, so here (ndf 64, 3 convolutions):
//   conv(1 -> 64,   k4, s2, p1)           - LeakyReLU(0.2)    28x28 -> 14x14
//   conv(64 -> 128, k4, s2, p1, no bias)  - BN - LeakyReLU     14x14 ->  7x7
//   conv(128 -> 1,  k4, s1, p1)                                 7x7  ->  6x6 patch logits
// Each logit sees a 22x22-pixel patch (receptive field 4, then 4 + 3*2 = 10, then 10 + 3*4 = 22).
// The convolution before batch norm has no bias (BN's shift replaces it), as in taming.
#include <memory>

#include <ember/nn/init.h>
#include <ember/nn/nn.h>

namespace ember::examples::vqgan {

inline std::shared_ptr<nn::SequentialImpl> patch_discriminator(int64_t ndf = 64) {
  const nn::Conv2dOptions down{.stride = {2, 2}, .padding = {1, 1}};
  nn::Conv2dOptions down_no_bias = down;
  down_no_bias.bias = false;
  auto net = nn::Sequential({nn::Conv2d(1, ndf, 4, down), nn::LeakyReLU(0.2), nn::Conv2d(ndf, 2 * ndf, 4, down_no_bias),
                             nn::BatchNorm2d(2 * ndf), nn::LeakyReLU(0.2),
                             nn::Conv2d(2 * ndf, 1, 4, {.stride = {1, 1}, .padding = {1, 1}})});
  // DCGAN's initialisation, which taming keeps: convolution weights N(0, 0.02), batch-norm gains
  // N(1, 0.02), every bias 0.
  for (const auto& [name, module] : net->named_modules()) {
    if (auto conv = std::dynamic_pointer_cast<nn::Conv2dImpl>(module)) {
      nn::init::normal_(conv->weight, 0.0, 0.02);
      if (conv->bias.defined()) nn::init::zeros_(conv->bias);
    } else if (auto bn = std::dynamic_pointer_cast<nn::BatchNormImpl>(module)) {
      nn::init::normal_(bn->weight, 1.0, 0.02);
      nn::init::zeros_(bn->bias);
    }
  }
  return net;
}

}  // namespace ember::examples::vqgan
