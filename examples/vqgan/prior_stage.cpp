// Stage two: a transformer prior over the codes of the frozen stage-one model. The training images
// are encoded once (49 code indices each, raster order); the prior learns p(c_i | start, c_<i) by
// cross-entropy; new images are 49 sampled codes looked up in the codebook and decoded.
#include <chrono>
#include <filesystem>
#include <optional>

#include <ember/data/fashion_mnist.h>
#include "examples/common/amp.h"
#include "examples/common/checkpoint.h"
#include "examples/common/cli.h"
#include "examples/common/progress.h"
#include "examples/gan/fid.h"
#include "examples/vqgan/autoencoder.h"
#include "examples/vqgan/prior.h"
#include "examples/vqgan/stages.h"
#include <ember/core/generator.h>
#include <ember/core/info.h>
#include <ember/io/checkpoint.h>
#include <ember/io/file.h>
#include <ember/io/image.h>
#include <ember/nn/metrics.h>
#include <ember/optim/optim.h>

namespace ember::examples::vqgan {
namespace {

constexpr int64_t kClasses = 10;
constexpr int64_t kChunk = 500;  // images per encoder, decoder or sampling batch outside training

// Images [N, 1, 28, 28] in [0, 1] -> codes int64 [N, 49], in chunks, without a graph.
Tensor encode_images(VqGan& autoencoder, const Tensor& images, Device device) {
  NoGradGuard no_grad;
  std::vector<Tensor> codes;
  for (int64_t begin = 0; begin < images.size(0); begin += kChunk) {
    const Tensor x = images.slice(0, begin, std::min(begin + kChunk, images.size(0))).to(device) * 2 - 1;
    codes.push_back(autoencoder.encode_to_codes(x).reshape({-1, kCodesPerImage}).to(Device::cpu()));
  }
  return cat(codes, 0);
}

// Codes int64 [N, 49] -> images [N, 1, 28, 28] in [0, 1] (clamped), on the CPU, in chunks.
Tensor decode_to_images(VqGan& autoencoder, const Tensor& codes, Device device) {
  NoGradGuard no_grad;
  std::vector<Tensor> images;
  for (int64_t begin = 0; begin < codes.size(0); begin += kChunk) {
    const Tensor c = codes.slice(0, begin, std::min(begin + kChunk, codes.size(0))).to(device);
    const Tensor x = autoencoder.decode_codes(c.reshape({-1, kLatentSide, kLatentSide}));
    images.push_back(clamp((x + 1) / 2, 0.0, 1.0).to(Device::cpu()));
  }
  return cat(images, 0);
}

// The conditions of n samples: the classes in turn (0, 1, ..., 9, 0, ...) for a class-conditional
// prior, so that every class has its share; zeros (the one start token) otherwise. With
// `class_major`, class c fills samples c * n / 10 ... instead (a grid's row per class).
Tensor sample_conditions(int64_t n, bool class_conditional, bool class_major = false) {
  std::vector<int64_t> c(static_cast<size_t>(n), 0);
  if (class_conditional)
    for (int64_t i = 0; i < n; ++i) c[static_cast<size_t>(i)] = class_major ? i * kClasses / n : i % kClasses;
  return from_vector(c, std::vector<int64_t>{n}, {.dtype = DType::Int64});
}

// n sampled images (codes drawn in chunks from `generator`, then decoded), and their codes.
struct Samples {
  Tensor images, codes;
};
Samples sample_images(CodePriorImpl& prior, VqGan& autoencoder, int64_t n, bool class_conditional,
                      const SamplingOptions& sampling, Generator& generator, Device device) {
  const Tensor conditions = sample_conditions(n, class_conditional);
  std::vector<Tensor> codes;
  for (int64_t begin = 0; begin < n; begin += kChunk)
    codes.push_back(
        sample_codes(prior, conditions.slice(0, begin, std::min(begin + kChunk, n)).to(device), sampling, generator)
            .to(Device::cpu()));
  Samples s;
  s.codes = cat(codes, 0);
  s.images = decode_to_images(autoencoder, s.codes, device);
  return s;
}

// The mean cross-entropy in nats per code of the prior on codes [N, 49] under conditions [N].
double mean_loss(CodePriorImpl& prior, const Tensor& codes, const Tensor& conditions, Device device) {
  NoGradGuard no_grad;
  prior.eval();
  double total = 0;
  for (int64_t begin = 0; begin < codes.size(0); begin += kChunk) {
    const int64_t end = std::min(begin + kChunk, codes.size(0));
    total += prior_loss(prior, codes.slice(0, begin, end).to(device), conditions.slice(0, begin, end).to(device))
                 .item_double() *
             double(end - begin);
  }
  prior.train();
  return total / double(codes.size(0));
}

// The entropy in nats of the codes' overall frequencies (the log of their perplexity): what a prior
// that ignores position and context achieves at best (the trained prior's loss should end well below it).
double unigram_entropy(const Tensor& counts) { return std::log(nn::code_perplexity(counts).item_double()); }

// The start-token condition of each example: its class, or 0 for an unconditional prior.
Tensor conditions_of(const data::TensorDataset& set, bool class_conditional) {
  return class_conditional ? set.targets().to(DType::Int64) : zeros({set.size()}, {.dtype = DType::Int64});
}

}  // namespace

void train_prior(const CommonOptions& opt, const VqganOptions& v) {
  const Device device = select_device(opt.device, "vqgan");
  examples::MixedPrecision amp(opt.amp);
  create_output_folder(opt.out);
  const std::string data_dir = dataset_dir(opt.data_dir);
  manual_seed(opt.seed);

  // ---- the frozen stage-one model. Loaded with a scratch generator: its checkpoint's random state
  // must not reset this run's stream.
  VqGan autoencoder;
  {
    Generator scratch;
    io::Checkpoint ck{.model = &autoencoder, .generator = &scratch};
    const int64_t trained = examples::load_checkpoint("vqgan", "--autoencoder", v.autoencoder, ck);
    fmt::print("stage one: {} (trained {} steps)\n", v.autoencoder, trained);
  }
  autoencoder.to(device);
  autoencoder.eval();
  for (Tensor& p : autoencoder.parameters()) p.requires_grad_(false);

  auto train_set = first_examples(data::fashion_mnist(true, data_dir), v.train_images);
  auto test_set = first_examples(data::fashion_mnist(false, data_dir), v.test_images);
  auto encode_start = std::chrono::steady_clock::now();
  const Tensor train_codes = encode_images(autoencoder, train_set->data(), device);
  const Tensor test_codes = encode_images(autoencoder, test_set->data(), device);
  const Tensor train_conditions = conditions_of(*train_set, v.class_conditional);
  const Tensor test_conditions = conditions_of(*test_set, v.class_conditional);
  const Tensor train_counts = nn::code_counts(train_codes, kCodes);
  const int64_t distinct = gt(train_counts, 0).to(DType::Int64).sum().item<int64_t>();
  const double unigram = unigram_entropy(train_counts);
  fmt::print("encoded {} training and {} test images to {} codes each in {:.1f} s: {} distinct codes, unigram "
             "entropy {:.3f} nats (uniform over 512: {:.3f})\n",
             train_set->size(), test_set->size(), kCodesPerImage,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - encode_start).count(), distinct, unigram,
             std::log(double(kCodes)));

  auto prior = std::make_shared<CodePriorImpl>(PriorOptions{.codes = kCodes,
                                                            .sequence_length = kCodesPerImage,
                                                            .start_tokens = v.class_conditional ? kClasses : 1,
                                                            .layers = v.layers,
                                                            .d_model = v.d_model,
                                                            .heads = v.heads});
  prior->to(device);  // before the optimizer
  optim::AdamW optimizer(prior->parameters(), {.lr = opt.lr, .weight_decay = v.weight_decay});
  if (!opt.quiet) fmt::print("{}{}", ember::info(), prior->str());
  EndlessBatches batches(std::make_shared<data::TensorDataset>(train_codes, train_conditions), opt.batch_size,
                         opt.seed);
  const SamplingOptions sampling{.temperature = v.temperature, .top_k = v.top_k};
  fmt::print("VQGAN stage two: {} prior, {} layers, d_model {}, {} heads ({} parameters), batch {}, {} steps\n",
             v.class_conditional ? "class-conditional" : "unconditional", v.layers, v.d_model, v.heads,
             prior->num_parameters(), opt.batch_size, opt.steps);

  const std::string checkpoint_path = opt.out + "/checkpoint.safetensors";
  int64_t step = 0;
  if (!opt.resume.empty()) {
    io::Checkpoint ck{.model = prior.get(), .optimizer = &optimizer};
    step = examples::load_checkpoint("vqgan", "--resume", opt.resume, ck);
    amp.load_state(ck.extra);
    batches.skip(step);
    fmt::print("resumed from {} at step {}\n", opt.resume, step);
  }

  std::optional<gan::FeatureExtractor> fid;
  std::optional<nn::metrics::GaussianStats> test_stats;
  std::error_code no_file;
  if (!v.classifier.empty() && std::filesystem::exists(v.classifier, no_file)) {
    fid.emplace(v.classifier);
    test_stats = fid->stats(test_set->data());
  } else {
    fmt::print("no classifier checkpoint at \"{}\": no Frechet distance (train examples/classify first)\n",
               v.classifier);
  }
  // Their own generators throughout: the calibration points, the PNGs and the final samples draw
  // nothing from the training stream, so a run is the same with and without them.
  if (fid && v.fid_calibration && step == 0) {
    Generator calibration(opt.seed + 2);
    const int64_t n = v.eval_samples;
    const Tensor idx = randint(0, train_set->size(), {n}, {.dtype = DType::Int64}, &calibration);
    fmt::print("Frechet distance, train ({} images) vs test: {:.3f}\n", n,
               nn::metrics::frechet_distance(fid->stats(index_select(train_set->data(), 0, idx)), *test_stats));
    fmt::print("Frechet distance, stage one's reconstructions of those train images vs test: {:.3f}\n",
               nn::metrics::frechet_distance(
                   fid->stats(decode_to_images(autoencoder, index_select(train_codes, 0, idx), device)), *test_stats));
    const Samples untrained =
        sample_images(*prior, autoencoder, n, v.class_conditional, sampling, calibration, device);
    fmt::print("Frechet distance, untrained prior's samples vs test: {:.3f}\n",
               nn::metrics::frechet_distance(fid->stats(untrained.images), *test_stats));
  }

  // The sample grids: a row of 10 per class (conditional) or 8 rows of 8, from the same random
  // stream each time so that the PNGs show how the samples evolve.
  const int64_t grid_columns = v.class_conditional ? kClasses : 8;
  auto save_sample_grid = [&](const std::string& path) {
    Generator grid_generator(opt.seed + 1);
    const Tensor conditions = sample_conditions(grid_columns * grid_columns, v.class_conditional, /*class_major=*/true);
    const Tensor codes = sample_codes(*prior, conditions.to(device), sampling, grid_generator);
    io::save_image_grid(decode_to_images(autoencoder, codes, device), path, grid_columns, 0, 1);
  };

  examples::CsvLog log(opt.out + "/metrics.csv", {"step", "loss", "bits_per_code", "seconds"}, !opt.resume.empty());
  amp.scaler().add_parameter_names(*prior);
  amp.log_scale_to(opt.out + "/loss_scale.csv", !opt.resume.empty());
  examples::ProgressBar bar(v.class_conditional ? "vqgan prior (conditional)" : "vqgan prior", opt.steps);
  const auto start = std::chrono::steady_clock::now();
  const int64_t first_step = step;
  const std::string diverged_hint = fmt::format("--lr {}, --weight-decay {}", opt.lr, v.weight_decay);
  while (step < opt.steps) {
    const data::Batch b = batches.next();
    Tensor loss;
    {
      auto scope = amp.autocast();
      loss = prior_loss(*prior, b.data.to(device), b.target.to(device));
    }
    optimizer.zero_grad();
    amp.backward(loss);
    amp.step(optimizer);
    amp.update();
    ++step;
    const double l = loss.item_double();
    // A diverged run (too large an --lr or --weight-decay) went on logging nan; under --amp fp16 the
    // scaler expects and skips inf/NaN steps.
    if (!amp.scaler().is_enabled()) examples::check_finite_loss("vqgan", "prior's training loss", l, step, diverged_hint);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (step % v.log_every == 0 || step == opt.steps)
      log.row(step, number(l), fmt::format("{:.4f}", l / std::log(2.0)), fmt::format("{:.2f}", secs));
    if (!opt.quiet)
      bar.update(step, fmt::format("loss {:.4f} {:.1f} ms/step", l, 1e3 * secs / double(step - first_step)));
    if (step % v.every == 0 || step == opt.steps) {
      save_sample_grid(fmt::format("{}/samples_{:06d}.png", opt.out, step));
      io::Checkpoint ck{.model = prior.get(), .optimizer = &optimizer, .step = step};
      amp.save_state(ck.extra);
      io::save_checkpoint(checkpoint_path, ck);
    }
  }
  const double train_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("trained to step {} in {:.1f} s ({:.2f} ms per step)\n", step, train_secs,
             step > first_step ? 1e3 * train_secs / double(step - first_step) : 0.0);

  const double test_loss = mean_loss(*prior, test_codes, test_conditions, device);
  std::string summary = fmt::format(
      "vqgan prior ({}) step {}: test set ({} images) cross-entropy {:.4f} nats per code ({:.3f} bits; the codes' "
      "unigram entropy {:.3f} nats, uniform {:.3f})\n",
      v.class_conditional ? "class-conditional" : "unconditional", step, test_set->size(), test_loss,
      test_loss / std::log(2.0), unigram, std::log(double(kCodes)));
  Generator eval_generator(opt.seed + 3);
  const Samples samples = sample_images(*prior, autoencoder, v.eval_samples, v.class_conditional, sampling,
                                        eval_generator, device);
  summary += fmt::format("sampled codes of {} images: min {}, max {}\n", v.eval_samples,
                         min(samples.codes).item<int64_t>(), max(samples.codes).item<int64_t>());
  if (fid)
    summary += fmt::format(
        "Frechet distance (classifier features), {} samples (temperature {}, top-k {}) vs test: {:.3f}\n",
        v.eval_samples, v.temperature, v.top_k, nn::metrics::frechet_distance(fid->stats(samples.images), *test_stats));
  fmt::print("{}", summary);
  io::write_file_atomic(opt.out + "/summary.txt", std::vector<uint8_t>(summary.begin(), summary.end()));
  fmt::print("wrote {}/metrics.csv, {}/samples_*.png, {}, {}/summary.txt\n", opt.out, opt.out, checkpoint_path,
             opt.out);
}

}  // namespace ember::examples::vqgan
