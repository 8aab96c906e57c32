#include "examples/gan/fid.h"

#include <algorithm>

#include "examples/classify/network.h"
#include <ember/io/checkpoint.h>
#include <ember/ops/ops.h>

namespace ember::examples::gan {

FeatureExtractor::FeatureExtractor(const std::string& checkpoint_path) : classifier_(make_classifier()) {
  // A scratch generator: loading a checkpoint restores its random state, which must not reset the
  // GAN's own stream.
  Generator scratch;
  io::Checkpoint ck{.model = classifier_.get(), .generator = &scratch};
  io::load_checkpoint(checkpoint_path, ck);
  classifier_->eval();
}

Tensor FeatureExtractor::features(const Tensor& images, int64_t batch_size) {
  EMBER_CHECK(images.dim() == 4 && images.size(1) == 1 && images.size(2) == 28 && images.size(3) == 28, "fid",
              "expected images [N, 1, 28, 28], got {}", shape_str(images.shape()));
  NoGradGuard no_grad;
  std::vector<Tensor> out;
  for (int64_t start = 0; start < images.size(0); start += batch_size) {
    Tensor h = images.narrow(0, start, std::min(batch_size, images.size(0) - start));
    for (size_t i = 0; i < kClassifierFeatureModules; ++i) h = (*(*classifier_)[i])(h);
    out.push_back(h);
  }
  return cat(out, 0);
}

}  // namespace ember::examples::gan
