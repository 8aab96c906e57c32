// W6 for libtorch 1.13: the same byte-level transformer LM step as ember's bench/w6_lm.cpp (pre-LN
// blocks, rotary embeddings on q and k, causal softmax attention through the math path, GELU MLP x4,
// AdamW(3e-4, wd 0.1)). libtorch 1.13 has no fused CPU attention, so its one case is W6/softmax.
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <cmath>

#include "bench/bench_util.h"

namespace {

torch::Tensor rotary(const torch::Tensor& x) {  // x [B, H, n, dh], the halves convention of ember
  const int64_t n = x.size(2), dh = x.size(3), half = dh / 2;
  auto pos = torch::arange(n, torch::kFloat32).unsqueeze(1);
  auto freq = torch::exp(torch::arange(half, torch::kFloat32) * (-2.0 * std::log(10000.0) / dh)).unsqueeze(0);
  auto c = torch::cos(pos * freq), s = torch::sin(pos * freq);
  auto x1 = x.narrow(3, 0, half), x2 = x.narrow(3, half, half);
  return torch::cat({x1 * c - x2 * s, x2 * c + x1 * s}, 3);
}

struct BlockImpl : torch::nn::Module {
  BlockImpl(int64_t d, int64_t h) : heads(h) {
    norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    qkv = register_module("qkv", torch::nn::Linear(d, 3 * d));
    out = register_module("out", torch::nn::Linear(d, d));
    norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    fc1 = register_module("fc1", torch::nn::Linear(d, 4 * d));
    fc2 = register_module("fc2", torch::nn::Linear(4 * d, d));
  }
  torch::Tensor forward(torch::Tensor x) {
    const int64_t B = x.size(0), n = x.size(1), d = x.size(2), dh = d / heads;
    auto parts = qkv->forward(norm1->forward(x)).chunk(3, 2);
    auto split = [&](const torch::Tensor& t) { return t.reshape({B, n, heads, dh}).transpose(1, 2); };
    auto q = rotary(split(parts[0])), k = rotary(split(parts[1])), v = split(parts[2]);
    auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(dh));
    auto future = torch::ones({n, n}, torch::kBool).triu(1);
    auto y = torch::matmul(torch::softmax(scores.masked_fill(future, -INFINITY), -1), v);
    x = x + out->forward(y.transpose(1, 2).reshape({B, n, d}));
    return x + fc2->forward(torch::gelu(fc1->forward(norm2->forward(x))));
  }
  int64_t heads;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Linear qkv{nullptr}, out{nullptr}, fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Block);

}  // namespace

int main() {
  namespace bench = ember::bench;
  torch::set_num_threads(2);
  torch::manual_seed(0);
  std::printf("# cpu: %s threads: 2 (libtorch)\n", bench::cpu_model().c_str());
  torch::nn::Embedding embedding(256, 256);
  std::vector<Block> blocks;
  for (int i = 0; i < 4; ++i) blocks.emplace_back(256, 4);
  torch::nn::LayerNorm norm(torch::nn::LayerNormOptions({256}));
  torch::nn::Linear head(256, 256);
  std::vector<torch::Tensor> params;
  for (auto& p : embedding->parameters()) params.push_back(p);
  for (auto& b : blocks)
    for (auto& p : b->parameters()) params.push_back(p);
  for (auto& p : norm->parameters()) params.push_back(p);
  for (auto& p : head->parameters()) params.push_back(p);
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(3e-4).weight_decay(0.1));
  auto tokens = torch::randint(0, 256, {16, 257}, torch::kLong);
  auto inputs = tokens.narrow(1, 0, 256), targets = tokens.narrow(1, 1, 256).reshape({-1});
  // bf16: the forward pass and the loss under libtorch's CPU autocast (bfloat16), as ember's W6/*_bf16.
  for (bool bf16 : {false, true}) {
    const auto timing = bench::time_steps([&] {
      at::autocast::set_cpu_enabled(bf16);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      auto h = embedding->forward(inputs);
      for (auto& b : blocks) h = b->forward(h);
      auto loss = torch::nn::functional::cross_entropy(head->forward(norm->forward(h)).reshape({-1, 256}), targets);
      at::autocast::set_cpu_enabled(false);
      at::autocast::clear_cache();
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    });
    bench::print_case(bf16 ? "W6/softmax_bf16" : "W6/softmax", timing, {{"tokens_per_s", 16 * 256 / (timing.median_ms / 1000)}});
  }
}
