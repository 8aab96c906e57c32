// W2 and W3 for libtorch: the same networks and steps as ember's bench/w2_w3_train.cpp, the bf16
// cases under libtorch's CPU autocast (bfloat16) around the forward pass and the loss.
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <string>

#include "bench/bench_util.h"

namespace nn = torch::nn;

template <class Model>
ember::bench::Timing time_training(Model& model, const torch::Tensor& x, const torch::Tensor& y, bool bf16 = false) {
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  return ember::bench::time_steps([&] {
    at::autocast::set_cpu_enabled(bf16);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
    opt.zero_grad();
    loss.backward();
    opt.step();
  });
}

int main(int argc, char** argv) {
  namespace bench = ember::bench;
  torch::set_num_threads(2);
  torch::manual_seed(0);
  const std::string only = argc > 1 ? argv[1] : "";
  if (only.empty() || only == "W2") {
    nn::Sequential mlp(nn::Linear(784, 512), nn::ReLU(), nn::Linear(512, 512), nn::ReLU(), nn::Linear(512, 10));
    torch::Tensor x = torch::randn({128, 784}), y = torch::randint(0, 10, {128});
    bench::print_case("W2/mlp", time_training(mlp, x, y));
    bench::print_case("W2/mlp_bf16", time_training(mlp, x, y, /*bf16=*/true));
  }
  if (only.empty() || only == "W3") {
    nn::Sequential cnn(nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                       nn::Linear(3136, 128), nn::ReLU(), nn::Linear(128, 10));
    torch::Tensor x = torch::randn({64, 1, 28, 28}), y = torch::randint(0, 10, {64});
    bench::print_case("W3/convnet", time_training(cnn, x, y));
    bench::print_case("W3/convnet_bf16", time_training(cnn, x, y, /*bf16=*/true));
  }
}
