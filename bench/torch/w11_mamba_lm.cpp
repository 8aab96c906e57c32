// W11 for libtorch 1.13: the Mamba language model of ember's bench/w11_mamba_lm.cpp built from torch
// ops, as a PyTorch user without mamba's CUDA kernels writes it (mamba_simple.py's block around
// selective_scan_ref): embedding N(0, 0.02), 4 residual blocks x + Mamba(RMSNorm(x)), final RMSNorm,
// head tied to the embedding. The block: in_proj 256 -> 2 x 512, depthwise causal conv (k 4) + SiLU,
// x_proj 512 -> 16 + 2 x 16, dt_proj 16 -> 512, the selective scan as a loop of torch ops over the
// 256 positions, out_proj 512 -> 256. seq 256, batch 16, cross-entropy, AdamW(3e-4, wd 0.1, none on
// A_log, D and the norm gains).
//   torch_w11_mamba_lm          W11/mamba: the loop takes position t of the [b, D, L, N] decay and
//                               drive tensors from their unbind(2), whose backward stacks the 256
//                               gradients once;
//   torch_w11_mamba_lm select   also W11/mamba-select: selective_scan_ref's indexing, decay[:, :, t],
//                               whose backward in libtorch 1.13 allocates and zero-fills a whole
//                               [b, D, L, N] tensor (134 MB) per position: over a minute a step
//                               here (23 steps did not end in 36 minutes), so not the peer the
//                               target is measured against.
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "bench/bench_util.h"

namespace {

constexpr int64_t kModel = 256, kInner = 512, kState = 16, kConv = 4, kRank = 16, kLayers = 4;

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight) {
  return x * torch::rsqrt(x.pow(2).mean(-1, true) + 1e-5) * weight;
}

struct MambaImpl : torch::nn::Module {
  explicit MambaImpl(bool select) : select_(select) {
    in_proj = register_module("in_proj", torch::nn::Linear(torch::nn::LinearOptions(kModel, 2 * kInner).bias(false)));
    const double bound = 1 / std::sqrt(double(kConv));
    conv_weight = register_parameter("conv_weight", torch::empty({kInner, 1, kConv}).uniform_(-bound, bound));
    conv_bias = register_parameter("conv_bias", torch::empty({kInner}).uniform_(-bound, bound));
    x_proj = register_module("x_proj", torch::nn::Linear(torch::nn::LinearOptions(kInner, kRank + 2 * kState).bias(false)));
    dt_proj = register_module("dt_proj", torch::nn::Linear(kRank, kInner));
    torch::NoGradGuard no_grad;
    dt_proj->weight.uniform_(-1 / std::sqrt(double(kRank)), 1 / std::sqrt(double(kRank)));
    auto dt = torch::exp(torch::rand({kInner}) * (std::log(0.1) - std::log(1e-3)) + std::log(1e-3)).clamp_min(1e-4);
    dt_proj->bias.copy_(dt + torch::log(-torch::expm1(-dt)));
    A_log = register_parameter("A_log", torch::log(torch::arange(1, kState + 1, torch::kFloat32)).repeat({kInner, 1}));
    D = register_parameter("D", torch::ones({kInner}));
    out_proj = register_module("out_proj", torch::nn::Linear(torch::nn::LinearOptions(kInner, kModel).bias(false)));
    out_proj->weight.div_(std::sqrt(double(kLayers)));
  }

  torch::Tensor forward(const torch::Tensor& hidden) {  // [b, L, d_model]
    const int64_t batch = hidden.size(0), L = hidden.size(1);
    auto xz = in_proj->forward(hidden).transpose(1, 2);  // [b, 2 d_inner, L]
    auto x = xz.narrow(1, 0, kInner), z = xz.narrow(1, kInner, kInner);
    x = torch::silu(torch::conv1d(x, conv_weight, conv_bias, 1, kConv - 1, 1, kInner).narrow(2, 0, L));
    auto x_dbl = x_proj->forward(x.transpose(1, 2));  // [b, L, rank + 2 N]
    auto delta = torch::linear(x_dbl.narrow(2, 0, kRank), dt_proj->weight).transpose(1, 2);
    auto B = x_dbl.narrow(2, kRank, kState), C = x_dbl.narrow(2, kRank + kState, kState);  // [b, L, N]
    // selective_scan_ref: the recurrence over L with every state kept for autograd.
    auto dt = torch::softplus(delta + dt_proj->bias.unsqueeze(-1));  // [b, D, L]
    auto A = -torch::exp(A_log);
    auto decay = torch::exp(dt.unsqueeze(-1) * A.unsqueeze(1));       // [b, D, L, N]
    auto drive = (dt * x).unsqueeze(-1) * B.unsqueeze(1);             // [b, D, L, N]
    auto Ct = C.unsqueeze(1);                                          // [b, 1, L, N]
    auto state = torch::zeros({batch, kInner, kState});
    std::vector<torch::Tensor> ys, decays, drives, Cs;
    if (!select_) {
      decays = decay.unbind(2);
      drives = drive.unbind(2);
      Cs = Ct.unbind(2);
    }
    for (int64_t t = 0; t < L; ++t) {
      if (select_) {
        state = decay.select(2, t) * state + drive.select(2, t);
        ys.push_back((state * Ct.select(2, t)).sum(-1));
      } else {
        state = decays[t] * state + drives[t];
        ys.push_back((state * Cs[t]).sum(-1));
      }
    }
    auto y = (torch::stack(ys, 2) + D.unsqueeze(-1) * x) * torch::silu(z);
    return out_proj->forward(y.transpose(1, 2));
  }

  torch::nn::Linear in_proj{nullptr}, x_proj{nullptr}, dt_proj{nullptr}, out_proj{nullptr};
  torch::Tensor conv_weight, conv_bias, A_log, D;
  bool select_;
};
TORCH_MODULE(Mamba);

void run_case(const char* name, bool select) {
  namespace bench = ember::bench;
  torch::manual_seed(0);
  auto embedding = torch::nn::Embedding(256, kModel);
  torch::nn::init::normal_(embedding->weight, 0, 0.02);
  std::vector<Mamba> blocks;
  std::vector<torch::Tensor> norms, decay, no_decay;
  for (int64_t i = 0; i < kLayers; ++i) {
    blocks.emplace_back(select);
    norms.push_back(torch::ones({kModel}, torch::requires_grad()));
  }
  auto final_norm = torch::ones({kModel}, torch::requires_grad());
  decay.push_back(embedding->weight);
  for (int64_t i = 0; i < kLayers; ++i) {
    for (auto& p : blocks[i]->named_parameters()) {
      const bool skip = p.key() == "A_log" || p.key() == "D";
      (skip ? no_decay : decay).push_back(p.value());
    }
    no_decay.push_back(norms[i]);
  }
  no_decay.push_back(final_norm);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(3e-4).weight_decay(0.1)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(3e-4).weight_decay(0)));
  torch::optim::AdamW optimizer(groups, torch::optim::AdamWOptions(3e-4).weight_decay(0.1));
  auto tokens = torch::randint(0, 256, {16, 257}, torch::kLong);
  auto inputs = tokens.narrow(1, 0, 256), targets = tokens.narrow(1, 1, 256).reshape({-1});
  const auto timing = bench::time_steps([&] {
    auto h = embedding->forward(inputs);
    for (int64_t i = 0; i < kLayers; ++i) h = h + blocks[i]->forward(rms_norm(h, norms[i]));
    auto logits = torch::linear(rms_norm(h, final_norm), embedding->weight);
    auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, 256}), targets);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  });
  bench::print_case(name, timing, {{"tokens_per_s", 16 * 256 / (timing.median_ms / 1000)}});
}

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(2);
  std::printf("# cpu: %s threads: 2 (libtorch)\n", ember::bench::cpu_model().c_str());
  std::fflush(stdout);
  run_case("W11/mamba", false);
  if (argc > 1 && std::string(argv[1]) == "select") run_case("W11/mamba-select", true);
}
