// W2 (MLP) and W3 (ConvNet) of docs/benchmarks.md: one Adam training step, batch 128 and 64, in
// float32 (W2/mlp, W3/convnet) and with the forward pass under bfloat16 autocast (W2/mlp_bf16,
// W3/convnet_bf16; parameters, gradients and Adam stay float32, as with PyTorch's autocast). The
// bf16 cases print vs_f32: their time over the float32 step's, measured in the same run.
#include <ember/ember.h>
#include <omp.h>

#include "bench/bench_util.h"

using namespace ember;

namespace {
template <class Model>
bench::Timing time_training(Model& model, const Tensor& x, const Tensor& y, bool bf16 = false) {
  optim::Adam opt(model->parameters(), {.lr = 1e-3});
  return bench::time_steps([&] {
    Tensor loss;
    {
      ember::autocast scope(DType::BFloat16, bf16);
      loss = cross_entropy((*model)(x), y);
    }
    opt.zero_grad();
    loss.backward();
    opt.step();
  });
}
}  // namespace

int main(int argc, char** argv) {
  omp_set_num_threads(2);
  manual_seed(0);
  const std::string only = argc > 1 ? argv[1] : "";
  if (only.empty() || only == "W2") {
    auto mlp = nn::Sequential({nn::Linear(784, 512), nn::ReLU(), nn::Linear(512, 512), nn::ReLU(), nn::Linear(512, 10)});
    Tensor x = randn({128, 784}), y = randint(0, 10, {128});
    const bench::Timing t = time_training(mlp, x, y);
    const double gflop = 3 * 2.0 * 128 * (784 * 512 + 512 * 512 + 512 * 10) / 1e9;  // forward + 2x backward
    bench::print_case("W2/mlp", t, {{"gflops", gflop / (t.median_ms / 1e3)}});
    const bench::Timing b = time_training(mlp, x, y, /*bf16=*/true);
    bench::print_case("W2/mlp_bf16", b, {{"gflops", gflop / (b.median_ms / 1e3)}, {"vs_f32", b.median_ms / t.median_ms}});
  }
  if (only.empty() || only == "W3") {
    auto cnn = nn::Sequential({nn::Conv2d(1, 32, 3, {.padding = {1, 1}}), nn::ReLU(), nn::MaxPool2d(2),
                               nn::Conv2d(32, 64, 3, {.padding = {1, 1}}), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                               nn::Linear(3136, 128), nn::ReLU(), nn::Linear(128, 10)});
    Tensor x = randn({64, 1, 28, 28}), y = randint(0, 10, {64});
    const bench::Timing t = time_training(cnn, x, y);
    const double flop = 3 * 2.0 * 64 * (28 * 28 * 32 * 9 + 14 * 14 * 64 * 32 * 9 + 3136 * 128 + 128 * 10);
    bench::print_case("W3/convnet", t, {{"gflops", flop / 1e9 / (t.median_ms / 1e3)}});
    const bench::Timing b = time_training(cnn, x, y, /*bf16=*/true);
    bench::print_case("W3/convnet_bf16", b,
                      {{"gflops", flop / 1e9 / (b.median_ms / 1e3)}, {"vs_f32", b.median_ms / t.median_ms}});
  }
}
