// W10 of docs/benchmarks.md: one training step of a VQ-VAE on Fashion-MNIST-shaped data, batch 64
// [64, 1, 28, 28] (random values in [0, 1), no dataset): the encoder and decoder of
// examples/vqvae/networks.h with no residual blocks (conv 1->64, k4 s2 p1 - ReLU - conv 64->64, k4 s2
// p1 -> 7x7x64 latents; convT 64->64 - ReLU - convT 64->1), nn::VectorQuantizer with 512 codes of 64
// dimensions (gradient-trained codebook, straight-through), loss MSE(reconstruction, x) + codebook
// term + 0.25 commitment, Adam(2e-4).
// Prints W10/vqvae with peak_mb and the medians of the step's phases over the timed steps:
// fwd_ms (encoder, quantizer, decoder, loss), bwd_ms (backward) and adam_ms (zero_grad and step).
#include <ember/ember.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "bench/bench_util.h"
#include "examples/vqvae/networks.h"

using namespace ember;
namespace vqvae = ember::examples::vqvae;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main() {
  omp_set_num_threads(2);
  std::printf("# cpu: %s threads: 2\n", bench::cpu_model().c_str());
  std::fflush(stdout);
  manual_seed(0);
  const vqvae::NetworkConfig config{.channels = 64, .residual_blocks = 0};
  auto encoder = vqvae::encoder(config);
  auto decoder = vqvae::decoder(config);
  auto quantizer = nn::VectorQuantizer(512, 64, {.dim = 1});
  std::vector<Tensor> params = encoder->parameters();
  for (const auto* module : {static_cast<nn::Module*>(quantizer.get()), static_cast<nn::Module*>(decoder.get())})
    for (const Tensor& p : module->parameters()) params.push_back(p);
  optim::Adam optimizer(params, {.lr = 2e-4});
  const Tensor x = rand({64, 1, 28, 28});

  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  };
  std::vector<double> fwd, bwd, adam;
  const bench::TimingOptions options{.warmup_steps = 3, .steps = 20};
  const auto timing = bench::time_steps([&] {
    auto start = Clock::now();
    const nn::VectorQuantizerOutput vq = (*quantizer)((*encoder)(x));
    Tensor loss = mse_loss((*decoder)(vq.quantized), x) + vq.loss;
    fwd.push_back(ms_since(start));
    start = Clock::now();
    optimizer.zero_grad();
    const double zero_grad_ms = ms_since(start);
    start = Clock::now();
    loss.backward();
    bwd.push_back(ms_since(start));
    start = Clock::now();
    optimizer.step();
    adam.push_back(zero_grad_ms + ms_since(start));
  }, options);
  // The phases of the timed steps only.
  const auto timed = [&](std::vector<double> v) {
    return median(std::vector<double>(v.begin() + options.warmup_steps, v.end()));
  };
  bench::print_case("W10/vqvae", timing,
                    {{"peak_mb", bench::peak_rss_mb()}, {"fwd_ms", timed(fwd)}, {"bwd_ms", timed(bwd)},
                     {"adam_ms", timed(adam)}});
}
