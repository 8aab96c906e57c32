// Why float16 training needs loss scaling, in two figures (docs/mixed-precision.md): Micikevicius et
// al.'s experiment in miniature, the same one tests/optim/test_grad_scaler_fp16.cpp asserts.
//
// A student MLP (16-32-32-8, tanh) learns a teacher's outputs with its loss weighted by 2^-20, which
// stands in for the tiny gradients of a deep network. The program trains it three ways, 300 SGD steps
// each: in float32; in float16 (forward and backward in float16 through optim::MasterWeights) without
// a scaler; and in float16 with optim::GradScaler. It writes
//   gradient_histogram.svg  the float32 run's weight gradients, log2|g|, against float16's
//                           smallest subnormal (2^-24) and normal (2^-14) numbers, and the same
//                           gradients times the scaler's 2^16;
//   loss_curves.svg         the three runs' losses;
// and prints the share of gradient entries each float16 run loses to zero.
//   fp16_gradients [--out docs/images/mixed_precision] [--steps 300]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <ember/ember.h>

#include "examples/common/cli.h"

using namespace ember;

namespace {

constexpr double kLossWeight = 0x1p-20;
constexpr double kLearningRate = 0.05;
constexpr double kScale = 65536.0;  // GradScaler's initial scale, 2^16

std::shared_ptr<nn::SequentialImpl> make_mlp() {
  return nn::Sequential({nn::Linear(16, 32), nn::Tanh(), nn::Linear(32, 32), nn::Tanh(), nn::Linear(32, 8)});
}

enum class Mode { Float32, Float16, Float16Scaled };

struct Run {
  std::vector<double> losses;
  std::vector<double> log2_grads;  // float32 run: log2 |g| of every non-zero weight-gradient entry
  double zero_fraction = 0;        // float16 runs: the share of gradient entries that were exactly 0
};

Run train(Mode mode, int steps) {
  manual_seed(7);
  auto teacher = make_mlp();
  const Tensor x = randn({256, 16});
  Tensor y;
  {
    NoGradGuard no_grad;
    y = teacher->forward(x);
  }
  auto student = make_mlp();
  if (mode != Mode::Float32) student->to(DType::Float16);
  optim::MasterWeights master(student->parameters());
  optim::SGD sgd(master.parameters(), {.lr = kLearningRate / kLossWeight});
  optim::GradScaler scaler({.init_scale = kScale});
  const Tensor input = mode == Mode::Float32 ? x : x.to(DType::Float16);
  Run run;
  int64_t zeros = 0, entries = 0;
  for (int step = 0; step < steps; ++step) {
    master.zero_grad();
    // The loss in float32, as autocast computes it from a 16-bit output.
    const Tensor loss = mse_loss(student->forward(input).to(DType::Float32), y);
    if (mode == Mode::Float16Scaled) {
      scaler.backward(loss * kLossWeight);
    } else {
      (loss * kLossWeight).backward();
    }
    for (const Tensor& p : student->parameters()) {
      const Tensor g = p.grad().to(DType::Float32);
      for (float v : g.to_vector<float>()) {
        if (mode == Mode::Float32 && v != 0) run.log2_grads.push_back(std::log2(std::abs(double(v))));
        zeros += v == 0;
      }
      entries += g.numel();
    }
    run.losses.push_back(loss.item<double>());
    master.step(sgd, mode == Mode::Float16Scaled ? &scaler : nullptr);
    if (mode == Mode::Float16Scaled) scaler.update();
  }
  run.zero_fraction = double(zeros) / double(std::max<int64_t>(entries, 1));
  return run;
}

// A vertical marker from y = 0 to y = top at x.
void marker(io::Plot& p, double x, double top, const std::string& label, const std::string& color) {
  p.line({x, x}, {0, top}, {.label = label, .color = color, .width = 1.5, .dashed = true});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("float16 gradients with and without loss scaling: a histogram and loss curves");
  std::string out = "docs/images/mixed_precision";
  int steps = 300;
  app.add_option("--out", out, "Folder for the two SVG figures");
  app.add_option("--steps", steps, "SGD steps per run")->check(examples::integer_between(1, 1 << 30));
  return examples::run_trainer(app, argc, argv, [&] {
    examples::create_output_folder(out);
    const Run f32 = train(Mode::Float32, steps);
    const Run f16 = train(Mode::Float16, steps);
    const Run scaled = train(Mode::Float16Scaled, steps);

    const auto& g = f32.log2_grads;
    const double below_subnormal =
        double(std::count_if(g.begin(), g.end(), [](double e) { return e < -24; })) / double(g.size());
    const double scaled_below = double(std::count_if(g.begin(), g.end(), [](double e) { return e + 16 < -24; })) /
                                double(g.size());
    fmt::print("float32 weight gradients: {} entries, log2|g| from {:.1f} to {:.1f}; {:.2f}% below float16's smallest "
               "subnormal 2^-24, {:.2f}% once scaled by 2^16\n",
               g.size(), *std::min_element(g.begin(), g.end()), *std::max_element(g.begin(), g.end()),
               100 * below_subnormal, 100 * scaled_below);
    fmt::print("float16 without a scaler: {:.1f}% of gradient entries are 0; with GradScaler: {:.2f}%\n",
               100 * f16.zero_fraction, 100 * scaled.zero_fraction);
    fmt::print("loss after {} steps: float32 {:.5f}, float16 {:.5f}, float16 + GradScaler {:.5f}\n", steps,
               f32.losses.back(), f16.losses.back(), scaled.losses.back());

    std::vector<double> shifted(g.size());
    std::transform(g.begin(), g.end(), shifted.begin(), [](double e) { return e + 16; });
    const std::pair<double, double> range{-56, 0};  // one bin per power of two
    io::Plot hist({.title = "weight gradients of the miniature MLP (float32 run, loss x 2^-20)",
                   .xlabel = "log2 |gradient|", .ylabel = "share of entries per bin", .width = 720, .xlim = range});
    hist.histogram(g, 56, {.label = "gradients", .color = "#4c72b0", .opacity = 0.7}, /*density=*/true, range);
    hist.histogram(shifted, 56, {.label = "gradients x 2^16 (GradScaler)", .color = "#dd8452", .opacity = 0.6},
                   /*density=*/true, range);
    marker(hist, -24, 0.5, "float16 smallest subnormal (2^-24)", "#c44e52");
    marker(hist, -14, 0.5, "float16 smallest normal (2^-14)", "#8172b3");
    hist.save(out + "/gradient_histogram.svg");

    std::vector<double> step_axis(static_cast<size_t>(steps));
    for (int s = 0; s < steps; ++s) step_axis[size_t(s)] = s + 1;
    io::Plot curves({.title = "the same MLP trained three ways", .xlabel = "SGD step", .ylabel = "training MSE",
                     .width = 720, .log_y = true});
    curves.line(step_axis, f32.losses, {.label = "float32"});
    curves.line(step_axis, f16.losses, {.label = "float16, no scaler (every gradient is 0)"});
    curves.line(step_axis, scaled.losses, {.label = "float16 + GradScaler", .dashed = true});
    curves.save(out + "/loss_curves.svg");
    fmt::print("wrote {}/gradient_histogram.svg and {}/loss_curves.svg\n", out, out);
  });
}
