// W10 for libtorch: the VQ-VAE step of ember's bench/w10_vqvae.cpp, batch 64 of [1, 28, 28] random
// values in [0, 1). Encoder conv 1->64 (k4 s2 p1) - ReLU - conv 64->64 (k4 s2 p1) -> [64, 64, 7, 7];
// a codebook of 512 x 64 (U(-1/512, 1/512), as ember's); decoder convT 64->64 (k4 s2 p1) - ReLU -
// convT 64->1 (k4 s2 p1). The quantizer as a PyTorch user writes it: the latents channels-last and
// flattened to [3136, 64], distances ||z||^2 - 2 z.e + ||e||^2 through a matmul, argmin, embedding
// lookup, straight-through z + (e - z).detach(), and the loss MSE(reconstruction, x) +
// MSE(e, sg[z]) + 0.25 MSE(z, sg[e]); Adam(2e-4).
// Prints W10/vqvae with peak_mb and the phase medians fwd_ms, bwd_ms and adam_ms (zero_grad + step).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "bench/bench_util.h"

namespace nn = torch::nn;
namespace Fn = torch::nn::functional;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main() {
  namespace bench = ember::bench;
  torch::set_num_threads(2);
  std::printf("# cpu: %s threads: 2\n", bench::cpu_model().c_str());
  std::fflush(stdout);
  torch::manual_seed(0);
  constexpr int64_t kChannels = 64, kCodes = 512;
  nn::Sequential encoder(nn::Conv2d(nn::Conv2dOptions(1, kChannels, 4).stride(2).padding(1)), nn::ReLU(),
                         nn::Conv2d(nn::Conv2dOptions(kChannels, kChannels, 4).stride(2).padding(1)));
  nn::Sequential decoder(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(kChannels, kChannels, 4).stride(2).padding(1)),
                         nn::ReLU(),
                         nn::ConvTranspose2d(nn::ConvTranspose2dOptions(kChannels, 1, 4).stride(2).padding(1)));
  torch::Tensor codebook = torch::empty({kCodes, kChannels}).uniform_(-1.0 / kCodes, 1.0 / kCodes).requires_grad_();
  std::vector<torch::Tensor> params = encoder->parameters();
  for (const auto& p : decoder->parameters()) params.push_back(p);
  params.push_back(codebook);
  torch::optim::Adam optimizer(params, torch::optim::AdamOptions(2e-4));
  const torch::Tensor x = torch::rand({64, 1, 28, 28});

  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  };
  std::vector<double> fwd, bwd, adam;
  const bench::TimingOptions options{3, 20};
  const auto timing = bench::time_steps([&] {
    auto start = Clock::now();
    const torch::Tensor z = encoder->forward(x);  // [N, D, H, W]
    const int64_t n = z.size(0), h = z.size(2), w = z.size(3);
    const torch::Tensor flat = z.permute({0, 2, 3, 1}).reshape({-1, kChannels});  // [N H W, D]
    torch::Tensor indices;
    {
      torch::NoGradGuard no_grad;
      const torch::Tensor distances = flat.pow(2).sum(1, true) - 2 * torch::matmul(flat, codebook.t()) +
                                      codebook.pow(2).sum(1).unsqueeze(0);
      indices = distances.argmin(1);
    }
    const torch::Tensor e = Fn::embedding(indices, codebook);
    const torch::Tensor codebook_loss = Fn::mse_loss(e, flat.detach());
    const torch::Tensor commitment_loss = Fn::mse_loss(flat, e.detach());
    const torch::Tensor quantized = (flat + (e - flat).detach()).view({n, h, w, kChannels}).permute({0, 3, 1, 2});
    torch::Tensor loss = Fn::mse_loss(decoder->forward(quantized), x) + codebook_loss + 0.25 * commitment_loss;
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
  const auto timed = [&](const std::vector<double>& v) {
    return median(std::vector<double>(v.begin() + options.warmup_steps, v.end()));
  };
  bench::print_case("W10/vqvae", timing,
                    {{"peak_mb", bench::peak_rss_mb()}, {"fwd_ms", timed(fwd)}, {"bwd_ms", timed(bwd)},
                     {"adam_ms", timed(adam)}});
}
