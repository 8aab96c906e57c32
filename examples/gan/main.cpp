// Trains a GAN: --loss bce|hinge|wgan|wgan-gp on --data 8gaussians|fashion-mnist (docs/gan.md).
// Every --every generator steps it writes a PNG (a scatter plot of samples over the eight modes, or a
// grid of generated images) and a checkpoint; losses go to metrics.csv every --log-every steps. At the
// end it prints its quality figures: modes covered and the share of samples near a mode (8gaussians),
// or the Frechet distance to the test set in the features of examples/classify's network.
//   gan --data 8gaussians --loss wgan-gp --steps 20000 --out out/gan-toy
//   gan --data fashion-mnist --loss bce --steps 3000 --classifier out/classify/checkpoint.safetensors
//   gan ... --resume out/gan-toy/checkpoint.safetensors
#include <ember/ember.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include <ember/data/fashion_mnist.h>
#include "examples/common/amp.h"
#include "examples/common/checkpoint.h"
#include "examples/common/cli.h"
#include "examples/common/progress.h"
#include "examples/gan/fid.h"
#include "examples/gan/networks.h"
#include "examples/gan/toy.h"
#include <ember/io/checkpoint.h>
#include <ember/io/image.h>
#include <ember/io/safetensors.h>
#include <ember/nn/nn.h>
#include <ember/optim/optim.h>

using namespace ember;
namespace F = ember::nn::functional;
namespace gan = ember::examples::gan;

namespace {

// The most --critic-steps: ten times the 100 the WGAN paper takes in its first generator steps; a
// huge count never finished its first generator step.
constexpr int64_t kMaxCriticSteps = 1000;

struct GanOptions {
  std::string loss = "wgan-gp";
  std::string data = "8gaussians";
  int64_t critic_steps = 0;  // 0: 5 for wgan and wgan-gp, 1 for bce and hinge
  double gp_lambda = 10;
  double clip = 0.01;
  bool spectral_norm = false;
  int64_t every = 0;  // 0: 1000 (8gaussians) or 500 (fashion-mnist)
  int64_t log_every = 10;
  int64_t eval_samples = 10000;
  std::string classifier = "out/classify/checkpoint.safetensors";
  bool fid_calibration = false;
  std::string trace;  // a safetensors file of the initial weights and every random draw (for a PyTorch replay)
};

// The generator and the critic under one root, so one checkpoint names them "model.generator.*" and
// "model.critic.*".
class GanPair : public nn::Module {
 public:
  GanPair(std::shared_ptr<nn::SequentialImpl> g, std::shared_ptr<nn::SequentialImpl> d)
      : generator(register_module("generator", std::move(g))), critic(register_module("critic", std::move(d))) {}
  std::string type_name() const override { return "GAN"; }
  std::shared_ptr<nn::SequentialImpl> generator, critic;
};

// Real batches: fresh toy samples, or Fashion-MNIST images scaled to [-1, 1] (the range of the
// generator's tanh), epoch after epoch. Positions are counted so that a resumed run sees the same
// batches an uninterrupted one would have.
class RealData {
 public:
  RealData(const std::string& kind, const std::string& data_dir, int64_t batch_size, uint64_t seed)
      : batch_size_(batch_size) {
    if (kind == "fashion-mnist") {
      images_ = data::fashion_mnist(true, data_dir);
      loader_ = std::make_unique<data::DataLoader>(
          images_, data::DataLoaderOptions{.batch_size = batch_size, .shuffle = true, .drop_last = true, .seed = seed});
      EMBER_CHECK(loader_->num_batches() > 0, "gan", "--batch-size {} is larger than the {} training images", batch_size,
                  images_->size());
    }
  }
  bool is_images() const { return loader_ != nullptr; }
  const std::shared_ptr<data::TensorDataset>& images() const { return images_; }
  // Skips to the position after `batches` batches (for --resume).
  void skip(int64_t batches) {
    consumed_ = batches;
    if (!loader_) return;
    loader_->set_position(batches / loader_->num_batches(), batches % loader_->num_batches());
    it_.reset();
  }
  Tensor next() {
    ++consumed_;
    if (!loader_) return gan::sample_8gaussians(batch_size_);
    if (!it_ || !(*it_ != loader_->end())) it_.emplace(loader_->begin());  // begin() starts the next epoch
    Tensor x = (**it_).data * 2 - 1;
    ++*it_;
    return x;
  }

 private:
  int64_t batch_size_;
  int64_t consumed_ = 0;
  std::shared_ptr<data::TensorDataset> images_;
  std::unique_ptr<data::DataLoader> loader_;
  std::optional<data::DataLoader::Iterator> it_;
};

struct Losses {
  double d_loss = 0, g_loss = 0, gp = 0, w_estimate = 0;  // w_estimate: mean D(real) - mean D(fake)
};

Tensor sample_latent(int64_t n, bool images, Device device) {
  return randn({n, images ? gan::kDcganLatent : gan::kToyLatent}, {.device = device});
}

// The PNG of this step: a grid of the 64 images of fixed_z, or a scatter plot of the 2,000 points of
// fixed_z. Fixed latents show how one sample evolves, and drawing none keeps the training stream
// independent of --every.
void save_samples(nn::SequentialImpl& g, bool images, const std::string& path, const Tensor& fixed_z) {
  NoGradGuard no_grad;
  g.eval();
  Tensor out = g(fixed_z).to(Device::cpu());
  g.train();
  if (images) {
    io::save_image_grid(out, path, 8, -1, 1);
  } else {
    gan::save_scatter_png(out, path);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a GAN (DCGAN, WGAN, WGAN-GP, hinge) on Fashion-MNIST or the 8-Gaussians toy"};
  examples::CommonOptions opt;
  opt.lr = 0;          // 0: the loss's usual learning rate
  opt.batch_size = 0;  // 0: 256 for 8gaussians, 64 for fashion-mnist
  GanOptions g;
  // Training is counted in generator steps, each drawing --critic-steps real batches: an epoch is no
  // natural unit for it, and the 8-Gaussians toy has none.
  add_common_options(app, opt, examples::Epochs::kNotOffered);
  app.get_option("--steps")->description("Generator steps")->default_str("20000 (8gaussians), 3000 (fashion-mnist)");
  app.get_option("--batch-size")->default_str("256 (8gaussians), 64 (fashion-mnist)");
  app.get_option("--lr")->default_str("2e-4 (bce, hinge), 5e-5 (wgan), 1e-4 (wgan-gp)");
  app.add_option("--loss", g.loss, "bce (non-saturating DCGAN), hinge, wgan (weight clipping), wgan-gp")
      ->check(CLI::IsMember({"bce", "hinge", "wgan", "wgan-gp"}));
  app.add_option("--data", g.data, "8gaussians or fashion-mnist")->check(CLI::IsMember({"8gaussians", "fashion-mnist"}));
  app.add_option("--critic-steps", g.critic_steps, "Critic steps per generator step")
      ->check(examples::integer_between(1, kMaxCriticSteps))
      ->default_str("5 (wgan, wgan-gp), 1 (bce, hinge)");
  app.add_option("--gp-lambda", g.gp_lambda, "Weight of the gradient penalty (wgan-gp)")->check(examples::number_at_least(0));
  app.add_option("--clip", g.clip, "Weight clipping bound c (wgan)")->check(examples::number_above(0));
  app.add_flag("--spectral-norm", g.spectral_norm, "Spectral normalisation on every critic layer (SN-GAN)");
  app.add_option("--every", g.every, "Write a PNG and a checkpoint every N generator steps")
      ->check(examples::integer_at_least(1))
      ->default_str("1000 (8gaussians), 500 (fashion-mnist)");
  app.add_option("--log-every", g.log_every, "Append losses to metrics.csv every N generator steps")
      ->check(examples::integer_at_least(1));
  app.add_option("--eval-samples", g.eval_samples, "Samples for the final quality figures")
      ->check(examples::integer_between(2, examples::kMaxEvalSamples));  // (a covariance needs two)
  app.add_option("--classifier", g.classifier, "examples/classify's checkpoint, for the Frechet distance");
  app.add_flag("--fid-calibration", g.fid_calibration,
               "Also measure the Frechet distance of train vs test images and of the untrained generator");
  app.add_option("--trace", g.trace,
                 "Write the initial weights and every batch, latent and interpolation weight drawn to this "
                 "safetensors file (tests/examples/make_gan_reference.py replays them in PyTorch)");
  return examples::run_trainer(app, argc, argv, [&] {
    const Device device = examples::select_device(opt.device, "gan");
    // --amp: one autocast scope per iteration; under fp16 the critic and the generator each scale
    // their own loss (amp and g_amp), because the critic steps critic_steps times per generator step
    // and its losses have another size.
    examples::MixedPrecision amp(opt.amp), g_amp(opt.amp);
    const bool images = g.data == "fashion-mnist";
    const bool wasserstein = g.loss == "wgan" || g.loss == "wgan-gp";
    if (g.loss != "wgan-gp") examples::refuse_options(app, "gan", {"--gp-lambda"}, "without --loss wgan-gp");
    if (g.loss != "wgan") examples::refuse_options(app, "gan", {"--clip"}, "without --loss wgan");
    if (!images)
      examples::refuse_options(app, "gan", {"--data-dir", "--classifier", "--fid-calibration"},
                               "with --data 8gaussians (it has no image files and no Frechet distance)");
    if (g.critic_steps <= 0) g.critic_steps = wasserstein ? 5 : 1;
    if (opt.batch_size <= 0) opt.batch_size = images ? 64 : 256;
    if (opt.steps <= 0) opt.steps = images ? 3000 : 20000;
    if (g.every <= 0) g.every = images ? 500 : 1000;
    examples::create_output_folder(opt.out);  // first: --trace may name a file in it
    // The trace is written after the last step: a path it cannot be written to is refused now.
    if (!g.trace.empty()) examples::check_output_file("--trace", g.trace);
    const std::string data_dir = examples::dataset_dir(opt.data_dir);
    manual_seed(opt.seed);

    // WGAN-GP's critic has no batch norm (the penalty is per example); SN-GAN's normalises instead.
    gan::CriticOptions critic_options{.batch_norm = g.loss != "wgan-gp" && !g.spectral_norm,
                                      .spectral_norm = g.spectral_norm};
    auto model = images ? std::make_shared<GanPair>(gan::dcgan_generator(), gan::dcgan_critic(critic_options))
                        : std::make_shared<GanPair>(gan::mlp(gan::kToyLatent, 2, 256, 3),
                                                    gan::mlp(2, 1, 256, 3, g.spectral_norm));
    model->to(device);  // before the optimizers, whose state follows the parameters' device
    nn::SequentialImpl& G = *model->generator;
    nn::SequentialImpl& D = *model->critic;
    amp.scaler().add_parameter_names(D, "critic.");
    g_amp.scaler().add_parameter_names(G, "generator.");

    // The optimisers of the papers: DCGAN Adam(2e-4, (0.5, 0.999)); WGAN RMSprop(5e-5);
    // WGAN-GP Adam(1e-4, (0, 0.9)).
    std::unique_ptr<optim::Optimizer> g_opt, d_opt;
    const double lr = opt.lr > 0 ? opt.lr : g.loss == "wgan" ? 5e-5 : g.loss == "wgan-gp" ? 1e-4 : 2e-4;
    if (g.loss == "wgan") {
      g_opt = std::make_unique<optim::RMSprop>(G.parameters(), optim::RMSpropOptions{.lr = lr});
      d_opt = std::make_unique<optim::RMSprop>(D.parameters(), optim::RMSpropOptions{.lr = lr});
    } else {
      const bool gp = g.loss == "wgan-gp";
      const optim::AdamOptions adam{.lr = lr, .beta1 = gp ? 0.0 : 0.5,
                                    .beta2 = gp ? 0.9 : 0.999};
      g_opt = std::make_unique<optim::Adam>(G.parameters(), adam);
      d_opt = std::make_unique<optim::Adam>(D.parameters(), adam);
    }
    if (!opt.quiet) fmt::print("{}{}", info(), model->str());
    fmt::print("{} on {}: {} critic step(s) per generator step, batch {}, {} generator steps\n", g.loss, g.data,
               g.critic_steps, opt.batch_size, opt.steps);

    RealData real_data(g.data, data_dir, opt.batch_size, opt.seed);
    const Tensor fixed_z = [&] {  // the same latents for every PNG (from their own stream)
      Generator z_gen(opt.seed + 1);
      return images ? randn({64, gan::kDcganLatent}, {.device = device}, &z_gen)
                    : randn({2000, gan::kToyLatent}, {.device = device}, &z_gen);
    }();
    std::optional<gan::FeatureExtractor> fid;
    std::optional<nn::metrics::GaussianStats> test_stats;
    std::error_code no_classifier;
    // The default path is optional (classify may not have run); a path the user gave must exist ("" is none).
    EMBER_CHECK(app.count("--classifier") == 0 || g.classifier.empty() || std::filesystem::exists(g.classifier, no_classifier), "gan",
                "--classifier \"{}\": no such file", g.classifier);
    if (images && !g.classifier.empty() && std::filesystem::exists(g.classifier, no_classifier)) {
      fid.emplace(g.classifier);
      test_stats = fid->stats(data::fashion_mnist(false, data_dir)->data());
    } else if (images) {
      fmt::print("no classifier checkpoint at \"{}\": no Frechet distance (train examples/classify first)\n", g.classifier);
    }

    const std::string checkpoint_path = opt.out + "/checkpoint.safetensors";
    int64_t step = 0;
    if (!opt.resume.empty()) {
      io::Checkpoint ck{.model = model.get(), .optimizer = g_opt.get()};
      step = examples::load_checkpoint("gan", "--resume", opt.resume, ck, g.critic_steps);
      d_opt->load_state_dict([&] {
        nn::NamedTensors s;
        for (const auto& [name, t] : ck.extra)
          if (name.rfind("critic_optimizer.", 0) == 0) s.emplace_back(name.substr(17), t);
        return s;
      }());
      amp.load_state(ck.extra, "critic_scaler.");
      g_amp.load_state(ck.extra, "generator_scaler.");
      real_data.skip(step * g.critic_steps);
      fmt::print("resumed from {} at step {}\n", opt.resume, step);
    }
    if (fid && g.fid_calibration && step == 0) {
      // Two calibration points measured the same way as the final figure: the floor (10,000 training
      // images against the test set) and the untrained generator. Their random draws use their own
      // generator so that training is the same with and without this flag.
      Generator calib(opt.seed + 2);
      Tensor idx = randint(0, real_data.images()->size(), {g.eval_samples}, {.dtype = DType::Int64}, &calib);
      Tensor train_images = index_select(real_data.images()->data(), 0, idx);
      fmt::print("Frechet distance, train ({} images) vs test: {:.3f}\n", g.eval_samples,
                 nn::metrics::frechet_distance(fid->stats(train_images), *test_stats));
      Tensor untrained = [&] {
        NoGradGuard no_grad;
        G.eval();
        std::vector<Tensor> parts;
        for (int64_t done = 0; done < g.eval_samples; done += 500)
          parts.push_back(G(randn({std::min<int64_t>(500, g.eval_samples - done), gan::kDcganLatent}, {.device = device}, &calib)));
        G.train();
        return (cat(parts, 0).to(Device::cpu()) + 1) / 2;
      }();
      fmt::print("Frechet distance, generator at step 0 vs test: {:.3f}\n",
                 nn::metrics::frechet_distance(fid->stats(untrained), *test_stats));
    }

    nn::NamedTensors trace;
    if (!g.trace.empty())
      for (const auto& [name, t] : model->state_dict()) trace.emplace_back("init." + name, t.clone());
    examples::CsvLog log(opt.out + "/metrics.csv", {"step", "d_loss", "g_loss", "gp", "w_estimate", "seconds"}, !opt.resume.empty());
    examples::CsvLog coverage_log(opt.out + "/coverage.csv", {"step", "modes_covered", "share_near_mode"}, !opt.resume.empty());
    examples::ProgressBar bar(fmt::format("{} {}", g.loss, g.data), opt.steps);
    const auto start = std::chrono::steady_clock::now();
    const int64_t first_step = step;
    auto critic_fn = [&](const Tensor& x) { return D(x); };
    // Under fp16 the penalty's gradient is taken through the critic's scaler, unscaled, so that it
    // does not underflow in the critic's float16 backward.
    F::GradientFn penalty_gradient;
    if (amp.scaler().is_enabled())
      penalty_gradient = [&](const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs) {
        return amp.scaler().grad(outputs, inputs, {.create_graph = true});
      };
    amp.log_scale_to(opt.out + "/loss_scale_critic.csv", !opt.resume.empty());
    g_amp.log_scale_to(opt.out + "/loss_scale_generator.csv", !opt.resume.empty());
    const std::string diverged_hint = fmt::format("--lr {}", lr);
    while (step < opt.steps) {
      // Backward formulas and optimizer updates are not autocast, so one scope covers the steps;
      // it ends before the figures and PNGs, which are float32.
      std::optional<AutocastGuard> scope(std::in_place, amp.dtype(), amp.enabled());
      Losses l;
      Tensor fake;  // the last critic step's fake batch, with its graph, for the generator step
      // ---- critic: maximise its objective on real against (detached) fake batches
      for (int64_t k = 0; k < g.critic_steps; ++k) {
        Tensor real = real_data.next().to(device);
        Tensor z = sample_latent(opt.batch_size, images, device);
        if (k + 1 < g.critic_steps) {
          NoGradGuard no_grad;
          fake = G(z);
        } else {
          fake = G(z);
        }
        Tensor d_real = D(real), d_fake = D(fake.detach());
        // The interpolation weights of the penalty, drawn here rather than inside gradient_penalty so
        // that --trace can record them.
        Tensor eps = g.loss == "wgan-gp" ? rand({opt.batch_size}, {.device = device}) : Tensor();
        if (!g.trace.empty()) {
          const std::string key = fmt::format("step{}.critic{}.", step, k);
          trace.emplace_back(key + "real", real);
          trace.emplace_back(key + "z", z);
          if (eps.defined()) trace.emplace_back(key + "eps", eps);
        }
        Tensor d_loss = g.loss == "bce"     ? F::bce_discriminator_loss(d_real, d_fake)
                        : g.loss == "hinge" ? F::hinge_discriminator_loss(d_real, d_fake)
                                            : F::wasserstein_critic_loss(d_real, d_fake);
        Tensor total = d_loss;
        if (g.loss == "wgan-gp") {
          // Under --amp the generator's output is 16-bit; the penalty interpolates in the real batch's dtype.
          Tensor gp = F::gradient_penalty_at(critic_fn, real, fake.detach().to(real.dtype()), eps, penalty_gradient);
          total = d_loss + g.gp_lambda * gp;
          l.gp = gp.item_double();
        }
        d_opt->zero_grad();
        amp.backward(total);
        const bool stepped = amp.step(*d_opt);
        amp.update();
        if (g.loss == "wgan" && stepped) F::clip_weights_(D.parameters(), g.clip);  // the original WGAN's Lipschitz bound
        l.d_loss = d_loss.item_double();
        l.w_estimate = (d_real.mean() - d_fake.mean()).item_double();
      }
      // ---- generator: one step against the updated critic
      Tensor d_fake = D(fake);
      Tensor g_loss = g.loss == "bce"     ? F::bce_generator_loss(d_fake)
                      : g.loss == "hinge" ? F::hinge_generator_loss(d_fake)
                                          : F::wasserstein_generator_loss(d_fake);
      g_opt->zero_grad();
      g_amp.backward(g_loss);
      g_amp.step(*g_opt);
      g_amp.update();
      l.g_loss = g_loss.item_double();
      scope.reset();
      ++step;
      // A diverged run (too large an --lr) went on logging nan losses and saving NaN weights. Any
      // finite value passes (a Wasserstein critic's loss has no range); under --amp fp16 the
      // scalers expect and skip inf/NaN steps.
      if (!amp.scaler().is_enabled()) examples::check_finite_loss("gan", "critic loss", l.d_loss, step, diverged_hint);
      if (!g_amp.scaler().is_enabled())
        examples::check_finite_loss("gan", "generator loss", l.g_loss, step, diverged_hint);

      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (step % g.log_every == 0 || step == opt.steps)
        log.row(step, fmt::format("{:.9g}", l.d_loss), fmt::format("{:.9g}", l.g_loss), fmt::format("{:.9g}", l.gp),
                fmt::format("{:.9g}", l.w_estimate), fmt::format("{:.2f}", secs));
      if (!opt.quiet)
        bar.update(step, fmt::format("D {:.4f} G {:.4f}{} {:.1f} ms/step", l.d_loss, l.g_loss,
                                     g.loss == "wgan-gp" ? fmt::format(" gp {:.4f}", l.gp) : "",
                                     1e3 * secs / double(step - first_step)));
      if (step % g.every == 0 || step == opt.steps) {
        save_samples(G, images, fmt::format("{}/samples_{:06d}.png", opt.out, step), fixed_z);
        if (!images) {  // how coverage evolves; its own random stream, so training is unaffected
          Generator probe(opt.seed + 4);
          Tensor probe_samples;
          {
            NoGradGuard no_grad;
            probe_samples = G(randn({g.eval_samples, gan::kToyLatent}, {.device = device}, &probe)).to(Device::cpu());
          }
          const gan::ModeCoverage c = gan::mode_coverage(probe_samples);
          coverage_log.row(step, c.modes_covered, fmt::format("{:.4f}", c.share_near_mode));
          if (!opt.quiet)
            fmt::print(stderr, "\nstep {}: {}/8 modes, {:.1f}% near a mode\n", step, c.modes_covered, 100 * c.share_near_mode);
        }
        nn::NamedTensors extra;
        for (const auto& [name, t] : d_opt->state_dict()) extra.emplace_back("critic_optimizer." + name, t);
        amp.save_state(extra, "critic_scaler.");
        g_amp.save_state(extra, "generator_scaler.");
        io::Checkpoint ck{.model = model.get(), .optimizer = g_opt.get(), .step = step, .extra = extra};
        io::save_checkpoint(checkpoint_path, ck);
      }
    }
    if (!g.trace.empty()) io::save_safetensors(g.trace, trace, {{"loss", g.loss}, {"critic_steps", std::to_string(g.critic_steps)}});
    const double train_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("trained to step {} in {:.1f} s ({:.2f} ms per generator step)\n", step, train_secs,
               step > first_step ? 1e3 * train_secs / double(step - first_step) : 0.0);

    // ---- quality figures. Drawn from their own generator so that they do not move the training
    // stream (a resumed run and an uninterrupted one report the same figures).
    Generator eval_gen(opt.seed + 3);
    auto eval_samples = [&] {
      NoGradGuard no_grad;
      G.eval();
      std::vector<Tensor> parts;
      for (int64_t done = 0; done < g.eval_samples; done += 500)
        parts.push_back(G(randn({std::min<int64_t>(500, g.eval_samples - done), images ? gan::kDcganLatent : gan::kToyLatent},
                                {.device = device}, &eval_gen)));
      G.train();
      return cat(parts, 0).to(Device::cpu());
    };
    std::string summary;
    if (!images) {
      gan::ModeCoverage c = gan::mode_coverage(eval_samples());
      const std::string line =
          fmt::format("8gaussians {} step {}: modes covered {}/8, {:.1f}% of {} samples within 3 sigma of a mode "
                      "(per mode: {})",
                      g.loss, step, c.modes_covered, 100 * c.share_near_mode, g.eval_samples, fmt::join(c.per_mode, " "));
      fmt::print("{}\n", line);
      summary += line + "\n";
    } else if (fid) {
      Tensor samples = (eval_samples() + 1) / 2;  // to the classifier's [0, 1]
      const std::string line = fmt::format("fashion-mnist {} step {}: Frechet distance (classifier features), "
                                           "{} generated vs test: {:.3f}",
                                           g.loss, step, g.eval_samples,
                                           nn::metrics::frechet_distance(fid->stats(samples), *test_stats));
      fmt::print("{}\n", line);
      summary += line + "\n";
    }
    io::write_file_atomic(opt.out + "/summary.txt", std::vector<uint8_t>(summary.begin(), summary.end()));
    fmt::print("wrote {}/metrics.csv, {}/samples_*.png, {}, {}/summary.txt\n", opt.out, opt.out, checkpoint_path, opt.out);
  });
}
