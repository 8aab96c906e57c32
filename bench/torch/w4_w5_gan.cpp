// W4 and W5 for libtorch: the same networks and steps as ember's bench/w4_w5_gan.cpp.
#include <torch/torch.h>

#include <string>

#include "bench/bench_util.h"

namespace nn = torch::nn;
namespace Fn = torch::nn::functional;

namespace {

nn::Sequential generator() {
  return nn::Sequential(nn::Linear(100, 128 * 7 * 7), nn::Unflatten(nn::UnflattenOptions(1, {128, 7, 7})),
                        nn::BatchNorm2d(128), nn::ReLU(),
                        nn::ConvTranspose2d(nn::ConvTranspose2dOptions(128, 64, 4).stride(2).padding(1)),
                        nn::BatchNorm2d(64), nn::ReLU(),
                        nn::ConvTranspose2d(nn::ConvTranspose2dOptions(64, 1, 4).stride(2).padding(1)), nn::Tanh());
}

nn::Sequential critic(bool batch_norm) {
  nn::Sequential d(nn::Conv2d(nn::Conv2dOptions(1, 64, 4).stride(2).padding(1)),
                   nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)),
                   nn::Conv2d(nn::Conv2dOptions(64, 128, 4).stride(2).padding(1)));
  if (batch_norm) d->push_back(nn::BatchNorm2d(128));
  d->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
  d->push_back(nn::Flatten());
  d->push_back(nn::Linear(128 * 7 * 7, 1));
  return d;
}

ember::bench::Timing time_gan(bool wgan_gp) {
  torch::manual_seed(0);
  auto G = generator();
  auto D = critic(!wgan_gp);
  auto adam = wgan_gp ? torch::optim::AdamOptions(1e-4).betas({0.0, 0.9}) : torch::optim::AdamOptions(2e-4).betas({0.5, 0.999});
  torch::optim::Adam g_opt(G->parameters(), adam), d_opt(D->parameters(), adam);
  torch::Tensor real = torch::rand({64, 1, 28, 28}) * 2 - 1, z = torch::randn({64, 100});
  return ember::bench::time_steps([&] {
    torch::Tensor fake = G->forward(z);
    torch::Tensor d_real = D->forward(real), d_fake = D->forward(fake.detach());
    torch::Tensor d_loss;
    if (wgan_gp) {
      torch::Tensor eps = torch::rand({64, 1, 1, 1});
      torch::Tensor x_hat = (fake.detach() + eps * (real - fake.detach())).requires_grad_(true);
      torch::Tensor g = torch::autograd::grad({D->forward(x_hat).sum()}, {x_hat}, {}, true, true)[0];
      torch::Tensor gp = (g.flatten(1).norm(2, 1) - 1).pow(2).mean();
      d_loss = d_fake.mean() - d_real.mean() + 10 * gp;
    } else {
      d_loss = Fn::softplus(-d_real).mean() + Fn::softplus(d_fake).mean();
    }
    d_opt.zero_grad();
    d_loss.backward();
    d_opt.step();
    torch::Tensor out = D->forward(fake);
    torch::Tensor g_loss = wgan_gp ? -out.mean() : Fn::softplus(-out).mean();
    g_opt.zero_grad();
    g_loss.backward();
    g_opt.step();
  });
}

}  // namespace

int main(int argc, char** argv) {
  namespace bench = ember::bench;
  torch::set_num_threads(2);
  const std::string only = argc > 1 ? argv[1] : "";
  if (only.empty() || only == "W4") bench::print_case("W4/dcgan", time_gan(false));
  if (only.empty() || only == "W5") bench::print_case("W5/wgan_gp", time_gan(true));
}
