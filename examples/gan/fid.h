#pragma once
// The Frechet distance of the GAN trainer, in the penultimate (128-d) features of the Fashion-MNIST
// classifier that examples/classify trains (docs/gan.md says why these features and not Inception's).
#include <memory>
#include <string>

#include <ember/nn/container.h>
#include <ember/nn/metrics.h>

namespace ember::examples::gan {

class FeatureExtractor {
 public:
  // Loads classify's checkpoint (checkpoint.safetensors in its --out folder); a missing or
  // mismatched file is an ember::Error naming it.
  explicit FeatureExtractor(const std::string& checkpoint_path);
  // images [N, 1, 28, 28] in [0, 1] -> features [N, 128], in batches, without a graph.
  Tensor features(const Tensor& images, int64_t batch_size = 500);
  nn::metrics::GaussianStats stats(const Tensor& images) { return nn::metrics::gaussian_stats(features(images)); }

 private:
  std::shared_ptr<nn::SequentialImpl> classifier_;
};

}  // namespace ember::examples::gan
