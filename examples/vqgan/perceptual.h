#pragma once
// VQGAN's perceptual term without a pretrained VGG (there is none on these machines, and nothing is
// downloaded): the mean squared difference between the penultimate (128-d) features of
// examples/classify's Fashion-MNIST classifier for the reconstruction and for the original. Unlike
// examples/gan's FeatureExtractor, which measures under NoGradGuard, the reconstruction's features
// keep their graph, so the term trains the autoencoder; the classifier itself stays frozen.
#include <memory>
#include <string>

#include <ember/core/device.h>
#include <ember/nn/container.h>

namespace ember::examples::vqgan {

class PerceptualLoss {
 public:
  // Loads classify's checkpoint (checkpoint.safetensors in its --out folder); a missing or
  // mismatched file is an ember::Error naming it. The classifier is frozen and in evaluation mode
  // (no dropout), on `device`.
  PerceptualLoss(const std::string& classifier_checkpoint, Device device);
  // reconstruction and original: [N, 1, 28, 28] in [-1, 1] (the autoencoder's range; mapped to the
  // classifier's [0, 1] here). Returns a 0-dim mean over the batch and the 128 features, differentiable
  // with respect to the reconstruction only.
  Tensor operator()(const Tensor& reconstruction, const Tensor& original) const;
  // Features of images in [0, 1], with a graph when grad mode is on.
  Tensor features(const Tensor& images) const;

 private:
  std::shared_ptr<nn::SequentialImpl> classifier_;
};

}  // namespace ember::examples::vqgan
