// Trains a VQ-VAE (van den Oord et al. 2017) on Fashion-MNIST: encoder -> nn::VectorQuantizer ->
// decoder (examples/vqvae/networks.h), loss = MSE(reconstruction, x) + the quantizer's loss, on images
// scaled to [-1, 1]. The codebook learns by gradient (--codebook loss) or by moving averages
// (--codebook ema); --restart-every moves dead codes onto encoder outputs, --kmeans-init starts the
// codebook from k-means on the first batch (docs/vq.md).
// metrics.csv gets the batch's figures every --log-every steps; every --every steps a grid of a fixed
// test batch (originals above, reconstructions below) and a checkpoint. At the end it measures the
// test set (--eval-images): reconstruction MSE, PSNR, and the perplexity and number of the codes it
// uses. --amp bf16|fp16 runs the forward pass under autocast (the quantizer picks codes in float32
// either way), fp16 with loss scaling.
//   vqvae --codebook ema --steps 2000 --out out/vqvae-ema
//   vqvae ... --resume out/vqvae-ema/checkpoint.safetensors
#include <ember/ember.h>

#include <chrono>
#include <cmath>
#include <optional>

#include <ember/data/fashion_mnist.h>
#include "examples/common/amp.h"
#include "examples/common/checkpoint.h"
#include "examples/common/cli.h"
#include "examples/common/progress.h"
#include "examples/vqvae/networks.h"
#include <ember/io/checkpoint.h>
#include <ember/io/file.h>
#include <ember/io/image.h>
#include <ember/nn/nn.h>
#include <ember/optim/optim.h>

using namespace ember;
namespace vqvae = ember::examples::vqvae;

namespace {

// Two stride-2 convolutions take 28x28 images to 7x7 latents: 49 vectors per image.
constexpr int64_t kLatentVectorsPerImage = 7 * 7;
// Test images shown in every reconstruction grid (4 rows of 8 originals above their reconstructions).
constexpr int64_t kGridImages = 32;

// The largest --codes: 64 times the largest codebooks in use (16,384), and small enough that the
// codebook's sizes stay far inside an int64 (a huge K made the --batch-size advice overflow, or failed
// as a tensor shape with more elements than an int64 can count).
constexpr int64_t kMaxCodes = int64_t{1} << 20;

struct VqvaeOptions {
  std::string codebook = "loss";
  int64_t codes = 512;
  int64_t code_dim = 64;
  double beta = 0.25;
  double decay = 0.99;
  // Early enough to catch the first collapse: the untrained codebook sits near the origin and the
  // encoder's outputs move away from it faster than a gradient-trained codebook follows (Adam moves a
  // code by about --lr per step). Measured with the defaults otherwise (seed 0): with restarts every
  // 100 steps that codebook is down to 5 codes in use by step 80, its commitment term near 100, and
  // the restart at step 100 puts codes on those outliers (the batch's MSE jumps from 0.25 to 23);
  // every 20 steps the batch's MSE at step 400 is 0.046 instead of about 0.18.
  int64_t restart_every = 20;
  bool kmeans_init = false;
  int64_t every = 500;
  int64_t log_every = 10;
  int64_t eval_images = 10000;
};

// Encoder, quantizer and decoder under one root, so that one state_dict (and so one checkpoint) holds
// the weights and the quantizer's buffers: the EMA state and the usage counts that decide restarts.
class VqVae : public nn::Module {
 public:
  VqVae(const vqvae::NetworkConfig& network, int64_t codes, nn::VectorQuantizerOptions vq)
      : encoder(register_module("encoder", vqvae::encoder(network))),
        quantizer(register_module("quantizer", nn::VectorQuantizer(codes, network.channels, vq))),
        decoder(register_module("decoder", vqvae::decoder(network))) {}
  std::string type_name() const override { return "VQ-VAE"; }

  Tensor encode_to_codes(const Tensor& x) { return vqvae::encode_to_codes(*encoder, *quantizer, x); }
  Tensor decode_codes(const Tensor& codes) { return vqvae::decode_codes(*decoder, *quantizer, codes); }

  std::shared_ptr<nn::SequentialImpl> encoder;
  std::shared_ptr<nn::VectorQuantizerImpl> quantizer;
  std::shared_ptr<nn::SequentialImpl> decoder;
};

// Training batches scaled to [-1, 1], epoch after epoch, counted so that a resumed run sees the
// batches an uninterrupted one would have.
class TrainingBatches {
 public:
  TrainingBatches(std::shared_ptr<data::TensorDataset> images, int64_t batch_size, uint64_t seed)
      : loader_(images, {.batch_size = batch_size, .shuffle = true, .drop_last = true, .seed = seed}) {
    EMBER_CHECK(loader_.num_batches() > 0, "vqvae", "--batch-size {} is larger than the {} training images", batch_size,
                images->size());
  }
  int64_t per_epoch() const { return loader_.num_batches(); }
  // Continues after `batches` batches (for --resume).
  void skip(int64_t batches) {
    loader_.set_position(batches / loader_.num_batches(), batches % loader_.num_batches());
    it_.reset();
  }
  Tensor next() {
    if (!it_ || !(*it_ != loader_.end())) it_.emplace(loader_.begin());  // begin() starts the next epoch
    Tensor x = (**it_).data * 2 - 1;
    ++*it_;
    return x;
  }

 private:
  data::DataLoader loader_;
  std::optional<data::DataLoader::Iterator> it_;
};


struct TestFigures {
  double mse = 0, psnr = 0, perplexity = 0;
  int64_t codes_used = 0;
};

// The first n test images through the trained model: mean squared error per pixel (on [-1, 1]), its
// PSNR, and the perplexity and count of the codes over all of their latent vectors.
TestFigures evaluate(VqVae& model, const data::TensorDataset& test_set, int64_t n, Device device) {
  NoGradGuard no_grad;
  const int64_t chunk = 500;
  Tensor images = test_set.data().slice(0, 0, n);
  Tensor counts = zeros({model.quantizer->num_codes}, {.dtype = DType::Int64, .device = device});
  double squared_error = 0;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    Tensor x = images.slice(0, begin, std::min(begin + chunk, n)).to(device) * 2 - 1;
    Tensor codes = model.encode_to_codes(x);  // [n, 7, 7]
    counts = counts + nn::code_counts(codes, model.quantizer->num_codes);
    squared_error += mse_loss(model.decode_codes(codes), x, "sum").item_double();
  }
  TestFigures f;
  f.mse = squared_error / double(images.numel());
  f.psnr = vqvae::psnr_from_mse_pm1(f.mse);
  f.perplexity = nn::code_perplexity(counts).item_double();
  f.codes_used = gt(counts, 0).to(DType::Int64).sum().item<int64_t>();
  return f;
}

void save_reconstruction_grid(VqVae& model, const Tensor& originals, const std::string& path) {
  NoGradGuard no_grad;
  Tensor recon = model.decode_codes(model.encode_to_codes(originals));
  io::save_image_grid(cat({originals, recon}, 0).to(Device::cpu()), path, 8, -1, 1);
}

std::string number(double v) { return fmt::format("{:.9g}", v); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a VQ-VAE on Fashion-MNIST"};
  examples::CommonOptions opt;
  opt.lr = 2e-4;
  opt.epochs = 2;
  VqvaeOptions v;
  add_common_options(app, opt);
  app.add_option("--codebook", v.codebook, "How the codebook learns: loss (by gradient) or ema (moving averages)")
      ->check(CLI::IsMember({"loss", "ema"}));
  app.add_option("--codes", v.codes, "Codebook size K")->check(examples::integer_between(1, kMaxCodes));
  app.add_option("--code-dim", v.code_dim, "Code dimension D (the latents' channels)")
      ->check(examples::integer_between(1, examples::kMaxWidth));
  app.add_option("--beta", v.beta, "Weight of the commitment loss")->check(examples::number_at_least(0));
  app.add_option("--decay", v.decay, "EMA decay (--codebook ema), below 1")->check(examples::number_at_least(0));
  app.add_option("--restart-every", v.restart_every,
                 "Every N steps move the codes no vector used since the last restart onto encoder outputs (0: never)")
      ->check(examples::integer_at_least(0));
  app.add_flag("--kmeans-init", v.kmeans_init, "Start the codebook from k-means on the first batch's encoder outputs");
  app.add_option("--every", v.every, "Write a reconstruction PNG and a checkpoint every N steps")
      ->check(examples::integer_at_least(1));
  app.add_option("--log-every", v.log_every, "Append the batch's figures to metrics.csv every N steps")
      ->check(examples::integer_at_least(1));
  app.add_option("--eval-images", v.eval_images, "Test images (the first N) for the final figures")
      ->check(examples::integer_at_least(1));
  return examples::run_trainer(app, argc, argv, [&] {
    const Device device = examples::select_device(opt.device, "vqvae");
    EMBER_CHECK(v.decay < 1, "vqvae", "--decay: expected a number below 1, got {}", v.decay);
    // A restart needs a vector for each dead code, k-means one for each code; both draw from one batch.
    const int64_t batch_vectors = opt.batch_size * kLatentVectorsPerImage;
    EMBER_CHECK(batch_vectors >= v.codes || (v.restart_every == 0 && !v.kmeans_init), "vqvae",
                "{} needs up to --codes {} vectors from one batch, and --batch-size {} gives {} ({} per image): use "
                "--batch-size {} or more{}",
                v.kmeans_init ? "--kmeans-init" : "--restart-every", v.codes, opt.batch_size, batch_vectors,
                kLatentVectorsPerImage, (v.codes + kLatentVectorsPerImage - 1) / kLatentVectorsPerImage,
                v.kmeans_init ? "" : ", or --restart-every 0");
    examples::create_output_folder(opt.out);
    const std::string data_dir = examples::dataset_dir(opt.data_dir);
    manual_seed(opt.seed);

    const vqvae::NetworkConfig network{.channels = v.code_dim};
    auto model = std::make_shared<VqVae>(
        network, v.codes, nn::VectorQuantizerOptions{.beta = v.beta, .ema = v.codebook == "ema", .decay = v.decay, .dim = 1});
    model->to(device);  // before the optimizer, whose state follows the parameters' device
    // With EMA the codebook is a buffer, so the optimizer holds the encoder and decoder only.
    optim::Adam optimizer(model->parameters(), {.lr = opt.lr});
    examples::MixedPrecision amp(opt.amp);
    amp.scaler().add_parameter_names(*model);
    // --amp fp16: the scale per step, overflows named
    amp.log_scale_to(opt.out + "/loss_scale.csv", !opt.resume.empty());
    if (!opt.quiet) fmt::print("{}{}", info(), model->str());

    const std::string checkpoint_path = opt.out + "/checkpoint.safetensors";
    int64_t step = 0;
    // Codes restarted since metrics.csv's last row; checkpointed, since a checkpoint may fall between rows.
    int64_t restarted_since_row = 0;
    if (!opt.resume.empty()) {  // before reading the dataset, so that a bad checkpoint fails at once
      // The model's state holds the quantizer's buffers, and the checkpoint the default generator that
      // restarts draw from, so the run continues bit for bit.
      io::Checkpoint ck{.model = model.get(), .optimizer = &optimizer};
      step = examples::load_checkpoint("vqvae", "--resume", opt.resume, ck);
      amp.load_state(ck.extra);
      for (const auto& [name, t] : ck.extra)
        if (name == "restarted_since_row") restarted_since_row = t.item<int64_t>();
      fmt::print("resumed from {} at step {}\n", opt.resume, step);
    }

    auto test_set = data::fashion_mnist(false, data_dir);
    TrainingBatches batches(data::fashion_mnist(true, data_dir), opt.batch_size, opt.seed);
    batches.skip(step);
    int64_t total_steps = opt.steps;
    EMBER_CHECK(opt.steps > 0 || !__builtin_mul_overflow(opt.epochs, batches.per_epoch(), &total_steps), "vqvae",
                "--epochs {} of {} steps each is more steps than an int64 can count", opt.epochs, batches.per_epoch());
    const Tensor grid_originals = test_set->data().slice(0, 0, kGridImages).to(device) * 2 - 1;
    fmt::print("VQ-VAE, {} codebook: K {}, D {}, beta {}, batch {}, {} steps{}{}\n", v.codebook, v.codes, v.code_dim,
               v.beta, opt.batch_size, total_steps,
               v.restart_every > 0 ? fmt::format(", dead-code restart every {} steps", v.restart_every) : "",
               v.kmeans_init ? ", k-means init" : "");

    examples::CsvLog log(opt.out + "/metrics.csv", {"step", "recon_mse", "psnr", "vq_loss", "commitment", "perplexity",
                                                    "codes_used", "restarted", "seconds"}, !opt.resume.empty());
    examples::ProgressBar bar(fmt::format("vqvae {}", v.codebook), total_steps);
    const auto start = std::chrono::steady_clock::now();
    const int64_t first_step = step;
    const std::string diverged_hint = fmt::format("--lr {}", opt.lr);
    while (step < total_steps) {
      const Tensor x = batches.next().to(device);
      Tensor z, recon_mse, loss;
      nn::VectorQuantizerOutput q;
      {
        auto scope = amp.autocast();
        z = (*model->encoder)(x);
        if (step == 0 && v.kmeans_init) model->quantizer->kmeans_init(z.detach());
        q = (*model->quantizer)(z);
        recon_mse = mse_loss((*model->decoder)(q.quantized), x);
        loss = recon_mse + q.loss;
      }
      optimizer.zero_grad();
      amp.backward(loss);
      amp.step(optimizer);
      amp.update();
      ++step;
      // After the step, from this batch's encoder outputs: the usage counts cover the steps since the
      // last restart, this one included.
      if (v.restart_every > 0 && step % v.restart_every == 0)
        restarted_since_row += model->quantizer->restart_dead_codes(z.detach(), 1);

      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double mse = recon_mse.item_double();
      // A diverged run (too large an --lr) went on logging nan and saving NaN weights; under --amp
      // fp16 the scaler expects and skips inf/NaN steps.
      if (!amp.scaler().is_enabled()) examples::check_finite_loss("vqvae", "reconstruction loss", mse, step, diverged_hint);
      const int64_t codes_used = q.codes_used.item<int64_t>();
      if (step % v.log_every == 0 || step == total_steps) {
        const double vq_loss = q.loss.item_double();
        if (!amp.scaler().is_enabled()) examples::check_finite_loss("vqvae", "vq loss", vq_loss, step, diverged_hint);
        log.row(step, number(mse), fmt::format("{:.4f}", vqvae::psnr_from_mse_pm1(mse)), number(vq_loss),
                number(q.commitment_loss.item_double()), number(q.perplexity.item_double()), codes_used,
                restarted_since_row, fmt::format("{:.2f}", secs));
        restarted_since_row = 0;
      }
      if (!opt.quiet)
        bar.update(step, fmt::format("mse {:.4f} psnr {:.2f} ppl {:.1f} codes {} {:.1f} ms/step", mse,
                                     vqvae::psnr_from_mse_pm1(mse), q.perplexity.item_double(), codes_used,
                                     1e3 * secs / double(step - first_step)));
      if (step % v.every == 0 || step == total_steps) {
        save_reconstruction_grid(*model, grid_originals, fmt::format("{}/recon_{:06d}.png", opt.out, step));
        nn::NamedTensors extra{{"restarted_since_row", scalar_tensor(restarted_since_row, {.dtype = DType::Int64})}};
        amp.save_state(extra);
        io::save_checkpoint(checkpoint_path, {.model = model.get(), .optimizer = &optimizer, .step = step, .extra = extra});
      }
    }
    const double train_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("trained to step {} in {:.1f} s ({:.2f} ms per step)\n", step, train_secs,
               step > first_step ? 1e3 * train_secs / double(step - first_step) : 0.0);

    const TestFigures t = evaluate(*model, *test_set, std::min(v.eval_images, test_set->size()), device);
    const std::string summary =
        fmt::format("vqvae {} codebook step {}: {} test images, reconstruction MSE {:.6f} (pixels in [-1, 1]), "
                    "PSNR {:.2f} dB (pixels in [0, 1]), code perplexity {:.1f}, codes used {}/{}\n",
                    v.codebook, step, std::min(v.eval_images, test_set->size()), t.mse, t.psnr, t.perplexity, t.codes_used, v.codes);
    fmt::print("{}", summary);
    io::write_file_atomic(opt.out + "/summary.txt", std::vector<uint8_t>(summary.begin(), summary.end()));
    if (step > first_step) {
      fmt::print("wrote {}/metrics.csv, {}/recon_*.png, {}, {}/summary.txt\n", opt.out, opt.out, checkpoint_path, opt.out);
    } else {  // --epochs 0, or a --resume already at --steps
      fmt::print("wrote {}/summary.txt; no step trained (step {} of {}), so no checkpoint\n", opt.out, step, total_steps);
    }
  });
}
