#pragma once
// The two stages of the VQGAN trainer (examples/vqgan/main.cpp parses the command line):
//   train_autoencoder  stage one: the VQ-VAE with a PatchGAN discriminator, a perceptual term and the
//                      adaptive weight (autoencoder_stage.cpp);
//   train_prior        stage two: a small GPT over stage one's code indices (prior_stage.cpp).
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "examples/common/cli.h"
#include "examples/vqvae/networks.h"
#include <ember/data/dataset.h>
#include <ember/ops/ops.h>

namespace ember::examples::vqgan {

struct VqganOptions {
  std::string stage = "autoencoder";
  int64_t every = 500;  // PNG and checkpoint every N steps
  int64_t log_every = 10;
  int64_t train_images = 0;  // 0: all 60,000
  int64_t test_images = 0;   // 0: all 10,000
  int64_t eval_samples = 10000;
  std::string classifier = "out/classify/checkpoint.safetensors";
  bool fid_calibration = false;
  // stage one
  int64_t disc_start = 1000;
  double disc_weight = 0.8;
  double perceptual_weight = 1.0;
  int64_t restart_every = 100;
  // stage two
  std::string autoencoder;
  bool class_conditional = false;
  int64_t layers = 4, d_model = 256, heads = 4;
  double weight_decay = 0.01;
  double temperature = 1.0;
  int64_t top_k = 0;
};

void train_autoencoder(const CommonOptions& common, const VqganOptions& options);
void train_prior(const CommonOptions& common, const VqganOptions& options);

// Batches of a dataset, epoch after epoch (shuffled, the last partial batch dropped), counted so that
// a resumed run sees the batches an uninterrupted one would have.
class EndlessBatches {
 public:
  EndlessBatches(std::shared_ptr<data::TensorDataset> set, int64_t batch_size, uint64_t seed)
      : loader_(set, {.batch_size = batch_size, .shuffle = true, .drop_last = true, .seed = seed}) {
    EMBER_CHECK(loader_.num_batches() > 0, "vqgan", "--batch-size {} is larger than the {} training examples",
                batch_size, set->size());
  }
  // Continues after `batches` batches (for --resume).
  void skip(int64_t batches) {
    loader_.set_position(batches / loader_.num_batches(), batches % loader_.num_batches());
    it_.reset();
  }
  data::Batch next() {
    if (!it_ || !(*it_ != loader_.end())) it_.emplace(loader_.begin());  // begin() starts the next epoch
    data::Batch b = **it_;
    ++*it_;
    return b;
  }

 private:
  data::DataLoader loader_;
  std::optional<data::DataLoader::Iterator> it_;
};

// The first `count` examples of a dataset (all of them for count 0).
inline std::shared_ptr<data::TensorDataset> first_examples(std::shared_ptr<data::TensorDataset> set, int64_t count) {
  if (count <= 0 || count >= set->size()) return set;
  return std::make_shared<data::TensorDataset>(set->data().slice(0, 0, count).contiguous(),
                                               set->targets().slice(0, 0, count).contiguous());
}

using vqvae::psnr_from_mse_pm1;

inline std::string number(double v) { return fmt::format("{:.9g}", v); }

}  // namespace ember::examples::vqgan
