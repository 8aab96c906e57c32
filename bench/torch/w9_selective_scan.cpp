// W9 for libtorch 1.13: the selective scan as the loop of torch ops that a PyTorch user writes without
// a fused kernel (mamba's selective_scan_ref), forward + backward; same sizes, options and output
// format as ember's bench/w9_selective_scan.cpp, one case: W9/loop.
#include <torch/torch.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_util.h"

namespace {

int run_case() {
  namespace bench = ember::bench;
  torch::set_num_threads(2);
  torch::manual_seed(9);
  const int64_t batch = 16, L = 256, D = 512, N = 16;
  auto u = torch::randn({batch, D, L}).requires_grad_(), delta = (torch::randn({batch, D, L}) * 0.5).requires_grad_();
  auto A = (-torch::exp(torch::randn({D, N}) * 0.5)).requires_grad_(), B = torch::randn({batch, N, L}).requires_grad_();
  auto C = torch::randn({batch, N, L}).requires_grad_(), Dskip = torch::randn({D}).requires_grad_();
  auto z = torch::randn({batch, D, L}).requires_grad_(), bias = (torch::randn({D}) * 0.3).requires_grad_();
  auto g = torch::randn({batch, D, L});
  const double setup_mb = bench::peak_rss_mb();
  const auto timing = bench::time_steps([&] {
    auto dt = torch::softplus(delta + bias.unsqueeze(-1));                          // [b, D, L]
    auto decay = torch::exp(dt.unsqueeze(-1) * A.unsqueeze(1));                     // [b, D, L, N]
    auto drive = (dt * u).unsqueeze(-1) * B.transpose(1, 2).unsqueeze(1);           // [b, D, L, N]
    auto Ct = C.transpose(1, 2).unsqueeze(1);                                       // [b, 1, L, N]
    // unbind, not select(2, t): select's backward writes each step's gradient into a zero tensor of
    // the full [b, D, L, N] size (256 of them per call); unbind's backward stacks the slices once.
    const auto decays = decay.unbind(2), drives = drive.unbind(2), Cs = Ct.unbind(2);
    auto x = torch::zeros({batch, D, N});
    std::vector<torch::Tensor> ys;
    for (int64_t t = 0; t < L; ++t) {
      x = decays[t] * x + drives[t];
      ys.push_back((x * Cs[t]).sum(-1));
    }
    auto out = (torch::stack(ys, 2) + Dskip.unsqueeze(-1) * u) * torch::silu(z);
    bench::do_not_optimize(torch::autograd::grad({out}, {u, delta, A, B, C, Dskip, z, bias}, {g}));
  }, {.warmup_steps = 2});
  const double peak = bench::peak_rss_mb();
  bench::print_case("W9/loop", timing, {{"peak_mb", peak}, {"extra_mb", peak - setup_mb}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2) return run_case();
  std::printf("# cpu: %s threads: 2 (libtorch)\n", ember::bench::cpu_model().c_str());
  std::fflush(stdout);
  const std::string command = std::string("\"") + argv[0] + "\" loop";
  return std::system(command.c_str()) == 0 ? 0 : 1;
}
