// W4 (DCGAN) and W5 (WGAN-GP) of docs/benchmarks.md: one critic step on a real and a fake batch plus one
// generator step, batch 64, with the trainer's networks (examples/gan/networks.h).
#include <ember/ember.h>
#include <omp.h>

#include "bench/bench_util.h"
#include "examples/gan/networks.h"

using namespace ember;
namespace F = ember::nn::functional;
namespace gan = ember::examples::gan;

namespace {

bench::Timing time_gan(bool wgan_gp) {
  manual_seed(0);
  auto G = gan::dcgan_generator();
  auto D = gan::dcgan_critic({.batch_norm = !wgan_gp});
  const optim::AdamOptions adam = wgan_gp ? optim::AdamOptions{.lr = 1e-4, .beta1 = 0, .beta2 = 0.9}
                                          : optim::AdamOptions{.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999};
  optim::Adam g_opt(G->parameters(), adam), d_opt(D->parameters(), adam);
  Tensor real = rand({64, 1, 28, 28}) * 2 - 1, z = randn({64, gan::kDcganLatent});
  auto critic = [&](const Tensor& x) { return (*D)(x); };
  return bench::time_steps([&] {
    Tensor fake = (*G)(z);
    Tensor d_real = (*D)(real), d_fake = (*D)(fake.detach());
    Tensor d_loss = wgan_gp ? F::wasserstein_critic_loss(d_real, d_fake) + 10 * F::gradient_penalty(critic, real, fake)
                            : F::bce_discriminator_loss(d_real, d_fake);
    d_opt.zero_grad();
    d_loss.backward();
    d_opt.step();
    Tensor g_loss = wgan_gp ? F::wasserstein_generator_loss((*D)(fake)) : F::bce_generator_loss((*D)(fake));
    g_opt.zero_grad();
    g_loss.backward();
    g_opt.step();
  });
}

}  // namespace

int main(int argc, char** argv) {
  omp_set_num_threads(2);
  const std::string only = argc > 1 ? argv[1] : "";
  if (only.empty() || only == "W4") bench::print_case("W4/dcgan", time_gan(false));
  if (only.empty() || only == "W5") bench::print_case("W5/wgan_gp", time_gan(true));
}
