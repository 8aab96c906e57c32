#pragma once
// Stage one's networks under one root: the VQ-VAE (examples/vqvae/networks.h's encoder, an
// nn::VectorQuantizer of 512 codes of dimension 64, the decoder) and the PatchGAN discriminator, so
// that one checkpoint names them "model.encoder.*", "model.quantizer.*", "model.decoder.*" and
// "model.discriminator.*". Stage two loads the same root from stage one's checkpoint and uses the
// encoder, quantizer and decoder, frozen.
//
// The codebook learns by moving averages (.ema = true), not by gradient as in taming: with the
// gradient codebook and taming's Adam (betas 0.5, 0.9; also with the default betas) the encoder's
// outputs ran away from the few codes in use on this network -- the quantizer's loss grew from 0.1 to
// several hundred within the first 100 steps at lr 2e-4, with or without the perceptual term -- and
// the first dead-code restart then moved codes onto those outliers and the reconstruction error
// exploded. With EMA codes follow their vectors directly and the same runs train smoothly.
#include <memory>

#include "examples/vqgan/discriminator.h"
#include "examples/vqvae/networks.h"
#include <ember/nn/nn.h>
#include <ember/nn/vector_quantizer.h>

namespace ember::examples::vqgan {

inline constexpr int64_t kCodes = 512;
inline constexpr int64_t kCodeDim = 64;
// Two stride-2 convolutions take 28x28 images to a 7x7 grid of codes: 49 per image, in raster order.
inline constexpr int64_t kLatentSide = 7;
inline constexpr int64_t kCodesPerImage = kLatentSide * kLatentSide;

class VqGan : public nn::Module {
 public:
  VqGan()
      : encoder(register_module("encoder", vqvae::encoder({.channels = kCodeDim}))),
        quantizer(register_module("quantizer",
                                  nn::VectorQuantizer(kCodes, kCodeDim, nn::VectorQuantizerOptions{.ema = true, .dim = 1}))),
        decoder(register_module("decoder", vqvae::decoder({.channels = kCodeDim}))),
        discriminator(register_module("discriminator", patch_discriminator())) {}
  std::string type_name() const override { return "VQGAN"; }

  // The weight of the decoder's last layer (the final transposed convolution), at which the
  // adaptive weight compares the reconstruction and adversarial gradients.
  const Tensor& last_layer_weight() const {
    return std::dynamic_pointer_cast<nn::ConvTranspose2dImpl>((*decoder)[decoder->size() - 1])->weight;
  }

  // Images [N, 1, 28, 28] in [-1, 1] <-> codes int64 [N, 7, 7] (the decoder has no tanh: its images
  // are nominally in [-1, 1]).
  Tensor encode_to_codes(const Tensor& x) { return vqvae::encode_to_codes(*encoder, *quantizer, x); }
  Tensor decode_codes(const Tensor& codes) { return vqvae::decode_codes(*decoder, *quantizer, codes); }

  std::shared_ptr<nn::SequentialImpl> encoder;
  std::shared_ptr<nn::VectorQuantizerImpl> quantizer;
  std::shared_ptr<nn::SequentialImpl> decoder;
  std::shared_ptr<nn::SequentialImpl> discriminator;
};

}  // namespace ember::examples::vqgan
