// Micikevicius et al.'s loss-scaling experiment in miniature, in real float16 on the CPU: a small
// MLP whose forward and backward run in float16 (ember stores float16 natively and every op,
// backward formulas included, rounds its result to float16), with float32 master weights that the
// optimizer updates, as mixed-precision training does.
//
// Its loss is weighted by 2^-20, standing in for the small gradients of a deep network (in the
// paper's Figure 3 most activation gradients lie below 2^-24, where float16 flushes to zero). In
// float32 the weight changes nothing: SGD with the learning rate multiplied by 2^20 takes exactly
// the same steps, since multiplying by a power of two is exact (the test checks it). In float16 the
// gradient of the loss with respect to the network's output, 2 (output - target) / 2048 * 2^-20,
// about 1e-10, is below half of float16's smallest subnormal (2^-25, 3e-8) and rounds to zero, and
// every gradient behind it is then zero too. GradScaler's 2^16 lifts it back to about 1e-5.
#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

#include <catch2/catch.hpp>
#include <cmath>

using namespace ember;

namespace {

constexpr double kLossWeight = 0x1p-20;
constexpr double kLearningRate = 0.05;
constexpr int kSteps = 300;

std::shared_ptr<nn::SequentialImpl> make_mlp() {
  return nn::Sequential(
      {nn::Linear(16, 32), nn::Tanh(), nn::Linear(32, 32), nn::Tanh(), nn::Linear(32, 8)});
}

enum class Mode { Float32, Float16, Float16Scaled };

struct Run {
  std::vector<double> losses;     // the unweighted MSE of each step, in float32
  double zero_grad_fraction = 0;  // of the float16 gradient elements, over all steps
  int64_t skipped = 0;
};

// A teacher network makes the targets; the student starts from the same weights in every mode.
Run train(Mode mode, double loss_weight) {
  manual_seed(7);
  auto teacher = make_mlp();
  const Tensor x = randn({256, 16});
  Tensor y;
  {
    NoGradGuard no_grad;
    y = teacher->forward(x).detach();
  }
  auto master = make_mlp();  // float32, what the optimizer updates
  auto half = make_mlp();    // the float16 copy that runs forward and backward
  half->to(DType::Float16);
  const Tensor x16 = x.to(DType::Float16);
  optim::SGD sgd(master->parameters(), {.lr = kLearningRate / loss_weight});
  optim::GradScaler scaler;  // PyTorch's defaults: 2^16, growth every 2000 clean steps

  Run run;
  int64_t zeros = 0, elements = 0;
  std::vector<Tensor> master_params = master->parameters(), half_params = half->parameters();
  for (int step = 0; step < kSteps; ++step) {
    sgd.zero_grad();
    half->zero_grad();
    Tensor loss;
    if (mode == Mode::Float32) {
      loss = mse_loss(master->forward(x), y);
      (loss * loss_weight).backward();
    } else {
      {
        NoGradGuard no_grad;
        for (size_t i = 0; i < master_params.size(); ++i)
          half_params[i].detach().copy_(master_params[i]);
      }
      // The loss in float32 from the float16 output, as autocast does: the float16 part starts at
      // the cast's backward, which rounds d(loss)/d(output) to float16.
      loss = mse_loss(half->forward(x16).to(DType::Float32), y);
      if (mode == Mode::Float16)
        (loss * loss_weight).backward();
      else
        scaler.backward(loss * loss_weight);
      for (size_t i = 0; i < half_params.size(); ++i) {
        const Tensor g = half_params[i].grad();
        REQUIRE(g.dtype() == DType::Float16);
        for (float v : g.to_vector<float>()) zeros += v == 0;
        elements += g.numel();
        master_params[i].set_grad(g.to(DType::Float32));
      }
    }
    run.losses.push_back(loss.item<double>());
    if (mode == Mode::Float16Scaled) {
      run.skipped += !scaler.step(sgd);
      scaler.update();
    } else {
      sgd.step();
    }
  }
  if (elements) run.zero_grad_fraction = static_cast<double>(zeros) / static_cast<double>(elements);
  return run;
}

}  // namespace

TEST_CASE(
    "float16 training: without a scaler gradients underflow; with GradScaler it follows float32",
    "[grad_scaler]") {
  const Run f32 = train(Mode::Float32, kLossWeight);
  const Run f16 = train(Mode::Float16, kLossWeight);
  const Run scaled = train(Mode::Float16Scaled, kLossWeight);

  // The weight is invisible in float32: the unweighted run takes bit-identical steps.
  CHECK(train(Mode::Float32, 1.0).losses == f32.losses);
  // float32 learns: the loss falls by more than 5x in 300 steps.
  CHECK(f32.losses.back() < 0.2 * f32.losses.front());

  // Without a scaler every float16 gradient is zero, so the weights never move and the loss stays
  // exactly where it started.
  CHECK(f16.zero_grad_fraction > 0.99);
  CHECK(f16.losses.back() == f16.losses.front());

  // With the scaler (2^16, PyTorch's initial scale, never overflowing here) almost no gradient is
  // zero, and the loss follows the float32 curve. float16 rounds every op's result to 11
  // significant bits (2^-11, about 0.05%), and each step's rounding nudges the trajectory a little:
  // the worst gap over the 300 steps measures 0.11%. The bound is 0.5% of the float32 loss at every
  // step, where the unscaled run ends 8x above it.
  CHECK(scaled.zero_grad_fraction < 0.01);
  CHECK(scaled.skipped == 0);
  for (int s = 0; s < kSteps; ++s) {
    INFO("step " << s << ": float32 " << f32.losses[s] << ", float16 with GradScaler "
                 << scaled.losses[s]);
    REQUIRE(std::abs(scaled.losses[s] - f32.losses[s]) <= 0.005 * f32.losses[s]);
  }
}
