// Stage one: the VQ-VAE with a PatchGAN discriminator, trained as taming-transformers trains VQGAN.
//   L_G = L_rec + L_vq + lambda * L_adv     with L_rec = MSE(x_hat, x) + w_p * perceptual(x_hat, x),
//   L_vq the quantizer's commitment loss (its codebook learns by EMA, autoencoder.h says why),
//   L_adv = -mean D(x_hat) (the hinge loss's generator side), lambda the adaptive weight of
//   adaptive_weight.h (taken with respect to the decoder's last weight, with L_rec as taming's
//   nll_loss: pixels and perceptual term together), and
//   L_D = mean relu(1 - D(x)) + mean relu(1 + D(x_hat)),
// both adversarial parts switched on at --disc-start: before it the discriminator is not trained and
// lambda is not computed, so the autoencoder first learns to reconstruct.
//
// The pixel term is the squared error, not taming's L1: its test figures (MSE, PSNR) are then directly
// comparable with examples/vqvae's, whose loss is this squared error alone, so that any difference is
// what the discriminator and the perceptual term add. (taming takes L1 because squared error blurs; the
// adversarial and perceptual terms are there to counter exactly that.)
#include <chrono>
#include <filesystem>
#include <optional>

#include <ember/data/fashion_mnist.h>
#include "examples/common/amp.h"
#include "examples/common/checkpoint.h"
#include "examples/common/cli.h"
#include "examples/common/progress.h"
#include "examples/gan/fid.h"
#include "examples/vqgan/adaptive_weight.h"
#include "examples/vqgan/autoencoder.h"
#include "examples/vqgan/perceptual.h"
#include "examples/vqgan/stages.h"
#include <ember/core/generator.h>
#include <ember/core/info.h>
#include <ember/io/checkpoint.h>
#include <ember/io/file.h>
#include <ember/io/image.h>
#include <ember/nn/gan.h>
#include <ember/nn/metrics.h>
#include <ember/optim/optim.h>

namespace ember::examples::vqgan {
namespace {

namespace F = ember::nn::functional;

// Test images shown in every reconstruction grid (4 rows of 8 originals above their reconstructions).
constexpr int64_t kGridImages = 32;
// Prefix of the discriminator optimizer's state among the checkpoint's extra tensors.
const std::string kDiscriminatorOptimizer = "discriminator_optimizer.";

struct StepFigures {
  double rec_mse = 0, perceptual = 0, vq_loss = 0, g_adv = 0, d_loss = 0, lambda = 0, perplexity = 0;
  int64_t codes_used = 0;
};

struct TestFigures {
  double mse = 0, psnr = 0, perplexity = 0;
  int64_t codes_used = 0;
  Tensor reconstructions;  // [N, 1, 28, 28] in [0, 1] (clamped), on the CPU, for the Frechet distance
};

// The whole test set through the trained autoencoder: mean squared error per pixel (on [-1, 1]), its
// PSNR, the perplexity and count of the codes over all of its latent vectors, and the reconstructions.
TestFigures evaluate(VqGan& model, const data::TensorDataset& test_set, Device device) {
  NoGradGuard no_grad;
  const int64_t n = test_set.size(), chunk = 500;
  Tensor counts = zeros({kCodes}, {.dtype = DType::Int64, .device = device});
  double squared_error = 0;
  std::vector<Tensor> reconstructions;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const Tensor x = test_set.data().slice(0, begin, std::min(begin + chunk, n)).to(device) * 2 - 1;
    const Tensor codes = model.encode_to_codes(x);
    counts = counts + nn::code_counts(codes, kCodes);
    const Tensor recon = model.decode_codes(codes);
    squared_error += mse_loss(recon, x, "sum").item_double();
    reconstructions.push_back(clamp((recon + 1) / 2, 0.0, 1.0).to(Device::cpu()));
  }
  TestFigures f;
  f.mse = squared_error / double(test_set.data().numel());
  f.psnr = psnr_from_mse_pm1(f.mse);
  f.perplexity = nn::code_perplexity(counts).item_double();
  f.codes_used = gt(counts, 0).to(DType::Int64).sum().item<int64_t>();
  f.reconstructions = cat(reconstructions, 0);
  return f;
}

void save_reconstruction_grid(VqGan& model, const Tensor& originals, const std::string& path) {
  NoGradGuard no_grad;
  const Tensor recon = model.decode_codes(model.encode_to_codes(originals));
  io::save_image_grid(cat({originals, recon}, 0).to(Device::cpu()), path, 8, -1, 1);
}

std::vector<Tensor> autoencoder_parameters(const VqGan& model) {
  std::vector<Tensor> params;
  for (const nn::Module* part : {static_cast<const nn::Module*>(model.encoder.get()),
                                 static_cast<const nn::Module*>(model.quantizer.get()),
                                 static_cast<const nn::Module*>(model.decoder.get())})
    for (const Tensor& p : part->parameters()) params.push_back(p);
  return params;
}

}  // namespace

void train_autoencoder(const CommonOptions& opt, const VqganOptions& v) {
  const Device device = select_device(opt.device, "vqgan");
  // A dead-code restart needs a latent vector for each dead code, drawn from one batch.
  EMBER_CHECK(v.restart_every == 0 || opt.batch_size * kCodesPerImage >= kCodes, "vqgan",
              "--restart-every draws codes from one batch's {} latent vectors (--batch-size {} x {}), fewer than the "
              "{} codes; use a larger batch or --restart-every 0",
              opt.batch_size * kCodesPerImage, opt.batch_size, kCodesPerImage, kCodes);
  // --amp: one autocast scope per step; under fp16 the autoencoder's and the discriminator's losses
  // each have their own scale (amp, d_amp), and the adaptive weight's two gradients are taken
  // through the autoencoder's scaler.
  examples::MixedPrecision amp(opt.amp), d_amp(opt.amp);
  create_output_folder(opt.out);
  const std::string data_dir = dataset_dir(opt.data_dir);
  manual_seed(opt.seed);

  auto model = std::make_shared<VqGan>();
  model->to(device);  // before the optimizers, whose state follows the parameters' device
  nn::SequentialImpl& D = *model->discriminator;
  // taming's optimisers: Adam with betas (0.5, 0.9) for both players, one learning rate.
  const optim::AdamOptions adam{.lr = opt.lr, .beta1 = 0.5, .beta2 = 0.9};
  optim::Adam g_opt(autoencoder_parameters(*model), adam);
  optim::Adam d_opt(D.parameters(), adam);
  if (!opt.quiet) fmt::print("{}{}", ember::info(), model->str());
  amp.scaler().add_parameter_names(*model);
  d_amp.scaler().add_parameter_names(*model);
  LossGradient scaled_gradient;
  if (amp.scaler().is_enabled())
    scaled_gradient = [&](const Tensor& loss, const Tensor& weight) {
      return amp.scaler().grad({loss}, {weight}, {.retain_graph = true})[0];
    };

  std::error_code no_file;
  const bool have_classifier = !v.classifier.empty() && std::filesystem::exists(v.classifier, no_file);
  std::optional<PerceptualLoss> perceptual;
  if (v.perceptual_weight > 0 && have_classifier) {
    perceptual.emplace(v.classifier, device);
  } else if (v.perceptual_weight > 0) {
    fmt::print("no classifier checkpoint at \"{}\": the perceptual term is off (train examples/classify first)\n",
               v.classifier);
  }

  auto test_set = first_examples(data::fashion_mnist(false, data_dir), v.test_images);
  auto train_set = first_examples(data::fashion_mnist(true, data_dir), v.train_images);
  EndlessBatches batches(train_set, opt.batch_size, opt.seed);
  const Tensor grid_originals = test_set->data().slice(0, 0, kGridImages).to(device) * 2 - 1;
  fmt::print("VQGAN stage one: K {}, D {}, batch {}, {} steps, discriminator from step {} (weight {}), perceptual "
             "weight {}, {} training images\n",
             kCodes, kCodeDim, opt.batch_size, opt.steps, v.disc_start, v.disc_weight,
             perceptual ? v.perceptual_weight : 0.0, train_set->size());

  const std::string checkpoint_path = opt.out + "/checkpoint.safetensors";
  int64_t step = 0;
  if (!opt.resume.empty()) {
    // The model's state holds the quantizer's usage counts and the discriminator's batch-norm
    // statistics, and the checkpoint the default generator that restarts draw from, so the run
    // continues bit for bit.
    io::Checkpoint ck{.model = model.get(), .optimizer = &g_opt};
    step = examples::load_checkpoint("vqgan", "--resume", opt.resume, ck);
    nn::NamedTensors d_state;
    for (const auto& [name, t] : ck.extra)
      if (name.rfind(kDiscriminatorOptimizer, 0) == 0)
        d_state.emplace_back(name.substr(kDiscriminatorOptimizer.size()), t);
    d_opt.load_state_dict(d_state);
    amp.load_state(ck.extra);
    d_amp.load_state(ck.extra, "discriminator_scaler.");
    batches.skip(step);
    fmt::print("resumed from {} at step {}\n", opt.resume, step);
  }

  examples::CsvLog log(opt.out + "/metrics.csv", {"step", "rec_mse", "psnr", "perceptual", "vq_loss", "g_adv", "d_loss",
                                                  "lambda", "perplexity", "codes_used", "seconds"}, !opt.resume.empty());
  amp.log_scale_to(opt.out + "/loss_scale.csv", !opt.resume.empty());
  d_amp.log_scale_to(opt.out + "/loss_scale_discriminator.csv", !opt.resume.empty());
  examples::ProgressBar bar("vqgan autoencoder", opt.steps);
  const auto start = std::chrono::steady_clock::now();
  const int64_t first_step = step;
  const std::string diverged_hint = fmt::format("--lr {}", opt.lr);
  while (step < opt.steps) {
    // Backward formulas and optimizer updates are not autocast, so one scope covers the steps; it
    // ends before the figures and PNGs, which are float32.
    std::optional<AutocastGuard> scope(std::in_place, amp.dtype(), amp.enabled());
    const Tensor x = batches.next().data.to(device) * 2 - 1;
    const bool adversarial = step >= v.disc_start;
    StepFigures f;
    // ---- autoencoder
    const Tensor z = (*model->encoder)(x);
    const nn::VectorQuantizerOutput q = (*model->quantizer)(z);
    const Tensor recon = (*model->decoder)(q.quantized);
    const Tensor rec_mse = mse_loss(recon, x);
    Tensor rec_loss = rec_mse;
    if (perceptual) {
      const Tensor p = (*perceptual)(recon, x);
      rec_loss = rec_loss + v.perceptual_weight * p;
      f.perceptual = p.item_double();
    }
    Tensor loss = rec_loss + q.loss;
    if (adversarial) {
      const Tensor g_adv = F::hinge_generator_loss(D(recon));
      const Tensor lambda = adaptive_gan_weight(rec_loss, g_adv, model->last_layer_weight(), v.disc_weight, scaled_gradient);
      loss = loss + lambda * g_adv;
      f.g_adv = g_adv.item_double();
      f.lambda = lambda.item_double();
    }
    g_opt.zero_grad();
    amp.backward(loss);  // also reaches the discriminator's parameters; d_opt.zero_grad() clears them
    amp.step(g_opt);
    amp.update();
    // ---- discriminator, on this batch and its (detached) reconstructions
    if (adversarial) {
      const Tensor d_loss = F::hinge_discriminator_loss(D(x), D(recon.detach()));
      d_opt.zero_grad();
      d_amp.backward(d_loss);
      d_amp.step(d_opt);
      d_amp.update();
      f.d_loss = d_loss.item_double();
    }
    scope.reset();
    ++step;
    // After the step, from this batch's encoder outputs: the usage counts cover the steps since the
    // last restart, this one included.
    if (v.restart_every > 0 && step % v.restart_every == 0) model->quantizer->restart_dead_codes(z.detach(), 1);

    f.rec_mse = rec_mse.item_double();
    f.vq_loss = q.loss.item_double();
    f.perplexity = q.perplexity.item_double();
    f.codes_used = q.codes_used.item<int64_t>();
    // A diverged run (too large an --lr) went on logging nan and saving NaN weights; under --amp fp16
    // the scalers expect and skip inf/NaN steps. (The values are 0 before the discriminator starts.)
    if (!amp.scaler().is_enabled()) {
      examples::check_finite_loss("vqgan", "reconstruction loss", f.rec_mse, step, diverged_hint);
      examples::check_finite_loss("vqgan", "perceptual loss", f.perceptual, step, diverged_hint);
      examples::check_finite_loss("vqgan", "vq loss", f.vq_loss, step, diverged_hint);
      examples::check_finite_loss("vqgan", "generator loss", f.g_adv, step, diverged_hint);
    }
    if (!d_amp.scaler().is_enabled())
      examples::check_finite_loss("vqgan", "discriminator loss", f.d_loss, step, diverged_hint);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (step % v.log_every == 0 || step == opt.steps)
      log.row(step, number(f.rec_mse), fmt::format("{:.4f}", psnr_from_mse_pm1(f.rec_mse)), number(f.perceptual),
              number(f.vq_loss), number(f.g_adv), number(f.d_loss), number(f.lambda), number(f.perplexity),
              f.codes_used, fmt::format("{:.2f}", secs));
    if (!opt.quiet)
      bar.update(step, fmt::format("mse {:.4f} perc {:.4f} D {:.3f} lambda {:.3g} codes {} {:.1f} ms/step",
                                   f.rec_mse, f.perceptual, f.d_loss, f.lambda, f.codes_used,
                                   1e3 * secs / double(step - first_step)));
    if (step % v.every == 0 || step == opt.steps) {
      save_reconstruction_grid(*model, grid_originals, fmt::format("{}/recon_{:06d}.png", opt.out, step));
      nn::NamedTensors extra;
      for (const auto& [name, t] : d_opt.state_dict()) extra.emplace_back(kDiscriminatorOptimizer + name, t);
      amp.save_state(extra);
      d_amp.save_state(extra, "discriminator_scaler.");
      io::save_checkpoint(checkpoint_path, {.model = model.get(), .optimizer = &g_opt, .step = step, .extra = extra});
    }
  }
  const double train_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("trained to step {} in {:.1f} s ({:.2f} ms per step)\n", step, train_secs,
             step > first_step ? 1e3 * train_secs / double(step - first_step) : 0.0);

  const TestFigures t = evaluate(*model, *test_set, device);
  std::string summary = fmt::format(
      "vqgan autoencoder step {}: test set ({} images) reconstruction MSE {:.6f} (pixels in [-1, 1]), PSNR {:.2f} dB "
      "(pixels in [0, 1]), code perplexity {:.1f}, codes used {}/{}\n",
      step, test_set->size(), t.mse, t.psnr, t.perplexity, t.codes_used, kCodes);
  if (have_classifier) {
    gan::FeatureExtractor fid(v.classifier);
    const nn::metrics::GaussianStats test_stats = fid.stats(test_set->data());
    if (v.fid_calibration) {
      // The floor: as many training images against the test set (drawn from their own generator).
      Generator calibration(opt.seed + 2);
      const Tensor idx = randint(0, train_set->size(), {test_set->size()}, {.dtype = DType::Int64}, &calibration);
      const Tensor train_images = index_select(train_set->data(), 0, idx);
      summary += fmt::format("Frechet distance (classifier features), {} train images vs test: {:.3f}\n",
                             test_set->size(), nn::metrics::frechet_distance(fid.stats(train_images), test_stats));
    }
    summary += fmt::format("Frechet distance (classifier features), test reconstructions vs test: {:.3f}\n",
                           nn::metrics::frechet_distance(fid.stats(t.reconstructions), test_stats));
  }
  fmt::print("{}", summary);
  io::write_file_atomic(opt.out + "/summary.txt", std::vector<uint8_t>(summary.begin(), summary.end()));
  fmt::print("wrote {}/metrics.csv, {}/recon_*.png, {}, {}/summary.txt\n", opt.out, opt.out, checkpoint_path, opt.out);
}

}  // namespace ember::examples::vqgan
