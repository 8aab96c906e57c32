// VQGAN (Esser et al. 2021) on Fashion-MNIST, in two stages (docs/vq.md):
//   stage one (--stage autoencoder, the default): the VQ-VAE of examples/vqvae trained with a PatchGAN
//     discriminator (hinge loss), a perceptual term in the features of examples/classify's classifier
//     and the adaptive weight of the adversarial term. metrics.csv every --log-every steps, a grid of
//     test reconstructions and a checkpoint every --every steps, test-set MSE, PSNR and Frechet
//     distance of the reconstructions at the end.
//   stage two (--stage prior): a small GPT over the 7x7 code indices that the frozen stage-one model
//     gives the training images, optionally class-conditional; sample grids and a checkpoint every
//     --every steps, the test set's cross-entropy and the Frechet distance of sampled images at the end.
//   vqgan --steps 3000 --disc-start 1000 --classifier out/classify/checkpoint.safetensors --out out/vqgan
//   vqgan --stage prior --autoencoder out/vqgan/checkpoint.safetensors --class-conditional --out out/vqgan-prior
//   vqgan ... --resume out/vqgan/checkpoint.safetensors
#include "examples/common/cli.h"
#include "examples/vqgan/stages.h"

using namespace ember;
namespace vqgan = ember::examples::vqgan;

int main(int argc, char** argv) {
  CLI::App app{"Train VQGAN on Fashion-MNIST: the autoencoder with a discriminator (stage one) or a transformer "
               "prior over its codes (stage two)"};
  examples::CommonOptions opt;
  opt.lr = 0;     // 0: the stage's default
  opt.steps = 3000;
  vqgan::VqganOptions v;
  // Both stages count steps: stage one's discriminator starts at a step, and stage two trains on
  // however many images --train-images keeps.
  add_common_options(app, opt, examples::Epochs::kNotOffered);
  app.get_option("--lr")->default_str("2e-4 (autoencoder: Adam, betas 0.5, 0.9), 3e-4 (prior: AdamW)");
  app.add_option("--stage", v.stage, "autoencoder (stage one) or prior (stage two)")
      ->check(CLI::IsMember({"autoencoder", "prior"}));
  app.add_option("--every", v.every, "Write a PNG and a checkpoint every N steps")
      ->check(examples::integer_at_least(1));
  app.add_option("--log-every", v.log_every, "Append the batch's figures to metrics.csv every N steps")
      ->check(examples::integer_at_least(1));
  app.add_option("--train-images", v.train_images, "Train on the first N training images (0: all 60,000)")
      ->check(examples::integer_at_least(0));
  app.add_option("--test-images", v.test_images,
                 "Measure the final figures on the first N test images (0: all 10,000)")
      ->check(examples::integer_at_least(0));
  app.add_option("--eval-samples", v.eval_samples, "Images for the final Frechet distance")
      ->check(examples::integer_between(2, examples::kMaxEvalSamples));
  app.add_option("--classifier", v.classifier,
                 "examples/classify's checkpoint: the perceptual term's features and the Frechet distance");
  app.add_flag("--fid-calibration", v.fid_calibration,
               "Also measure the Frechet distance of train vs test images (and, for the prior, of stage one's "
               "reconstructions and of the untrained prior's samples)");
  // stage one
  app.add_option("--disc-start", v.disc_start, "Stage one: train the discriminator and add the adversarial term "
                                               "from this step on")
      ->check(examples::integer_at_least(0));
  app.add_option("--disc-weight", v.disc_weight, "Stage one: factor of the adaptive weight (taming's disc_weight)")
      ->check(examples::number_at_least(0));
  app.add_option("--perceptual-weight", v.perceptual_weight, "Stage one: weight of the perceptual term (0: off)")
      ->check(examples::number_at_least(0));
  app.add_option("--restart-every", v.restart_every,
                 "Stage one: every N steps move the codes no vector used since the last restart onto encoder "
                 "outputs (0: never)")
      ->check(examples::integer_at_least(0));
  // stage two
  app.add_option("--autoencoder", v.autoencoder, "Stage two: stage one's checkpoint (required)");
  app.add_flag("--class-conditional", v.class_conditional,
               "Stage two: start each sequence with its class (10 start tokens) and sample a row per class");
  app.add_option("--layers", v.layers, "Stage two: transformer blocks")->check(examples::integer_between(1, 1024));
  app.add_option("--d-model", v.d_model, "Stage two: model width")
      ->check(examples::integer_between(1, examples::kMaxWidth));
  app.add_option("--heads", v.heads, "Stage two: attention heads (dividing --d-model)")
      ->check(examples::integer_at_least(1));
  app.add_option("--weight-decay", v.weight_decay, "Stage two: AdamW's weight decay")
      ->check(examples::number_at_least(0));
  app.add_option("--temperature", v.temperature, "Stage two: sampling temperature")->check(examples::number_above(0));
  app.add_option("--top-k", v.top_k, "Stage two: sample from the k most likely codes (0: all)")
      ->check(examples::integer_at_least(0));
  return examples::run_trainer(app, argc, argv, [&] {
    // The default path is optional (classify may not have run); a path the user gave must exist ("" is none).
    std::error_code no_file;
    EMBER_CHECK(app.count("--classifier") == 0 || v.classifier.empty() || std::filesystem::exists(v.classifier, no_file), "vqgan",
                "--classifier \"{}\": no such file", v.classifier);
    if (v.stage == "autoencoder") {
      EMBER_CHECK(v.autoencoder.empty(), "vqgan", "--autoencoder is for --stage prior (stage one trains one)");
      examples::refuse_options(app, "vqgan",
                               {"--class-conditional", "--layers", "--d-model", "--heads", "--weight-decay",
                                "--temperature", "--top-k"},
                               "by stage one (it is a --stage prior option)");
      if (opt.lr <= 0) opt.lr = 2e-4;
      vqgan::train_autoencoder(opt, v);
    } else {
      EMBER_CHECK(!v.autoencoder.empty(), "vqgan", "--stage prior needs --autoencoder (stage one's checkpoint)");
      examples::refuse_options(app, "vqgan", {"--disc-start", "--disc-weight", "--perceptual-weight", "--restart-every"},
                               "by stage two (it is a --stage autoencoder option)");
      EMBER_CHECK(v.d_model % v.heads == 0, "vqgan", "--d-model {} is not a multiple of --heads {}", v.d_model,
                  v.heads);
      EMBER_CHECK(v.top_k <= 512, "vqgan", "--top-k must be at most the 512 codes, got {}", v.top_k);
      if (opt.lr <= 0) opt.lr = 3e-4;
      vqgan::train_prior(opt, v);
    }
  });
}
