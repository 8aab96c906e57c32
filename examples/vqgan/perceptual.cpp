#include "examples/vqgan/perceptual.h"

#include "examples/classify/network.h"
#include <ember/io/checkpoint.h>
#include <ember/ops/ops.h>

namespace ember::examples::vqgan {

PerceptualLoss::PerceptualLoss(const std::string& classifier_checkpoint, Device device)
    : classifier_(make_classifier()) {
  // A scratch generator: loading a checkpoint restores its random state, which must not reset the
  // trainer's own stream.
  Generator scratch;
  io::Checkpoint ck{.model = classifier_.get(), .generator = &scratch};
  io::load_checkpoint(classifier_checkpoint, ck);
  classifier_->to(device);
  classifier_->eval();
  for (Tensor& p : classifier_->parameters()) p.requires_grad_(false);
}

Tensor PerceptualLoss::features(const Tensor& images) const {
  EMBER_CHECK(images.dim() == 4 && images.size(1) == 1 && images.size(2) == 28 && images.size(3) == 28, "perceptual",
              "expected images [N, 1, 28, 28], got {}", shape_str(images.shape()));
  Tensor h = images;
  for (size_t i = 0; i < kClassifierFeatureModules; ++i) h = (*(*classifier_)[i])(h);
  return h;
}

Tensor PerceptualLoss::operator()(const Tensor& reconstruction, const Tensor& original) const {
  Tensor target;
  {
    NoGradGuard no_grad;
    target = features((original + 1) / 2);
  }
  return mse_loss(features((reconstruction + 1) / 2), target);
}

}  // namespace ember::examples::vqgan
