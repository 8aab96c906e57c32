// A two-layer MLP fitting a synthetic regression task: the smallest end-to-end use of ember.
//   demo --steps 200 --lr 0.1
#include <ember/ember.h>

#include <cmath>

#include "examples/common/cli.h"

int main(int argc, char** argv) {
  using namespace ember;
  CLI::App app{"Fit a two-layer MLP to a synthetic regression task (the smallest end-to-end use of ember)"};
  examples::show_defaults_in_help(app);
  int64_t steps = 200;
  double lr = 0.1;
  uint64_t seed = 0;
  app.add_option("--steps", steps, "Gradient descent steps")->check(examples::integer_at_least(0));
  app.add_option("--lr", lr, "Learning rate")->check(examples::number_above(0));
  app.add_option("--seed", seed, "Random seed")->check(examples::unsigned_integer());
  return examples::run_trainer(app, argc, argv, [&] {
    fmt::print("{}\n", info());
    manual_seed(seed);
    Tensor x = randn({256, 8});
    Tensor true_w = randn({8, 1});
    Tensor y = tanh(matmul(x, true_w));
    Tensor w1 = (randn({8, 32}) * 0.3).requires_grad_();
    Tensor w2 = (randn({32, 1}) * 0.3).requires_grad_();
    const std::string diverged_hint = fmt::format("try a smaller --lr than {}", lr);
    for (int64_t step = 0; step <= steps; ++step) {
      Tensor loss = mse_loss(matmul(relu(matmul(x, w1)), w2), y);
      examples::check_finite_loss("demo", "loss", loss.item<double>(), step, diverged_hint);
      loss.backward();
      {
        NoGradGuard no_grad;
        for (Tensor* p : {&w1, &w2}) {
          p->add_(p->grad() * -lr);
          p->zero_grad();
        }
      }
      if (step % 20 == 0 || step == steps) fmt::print("step {:3d}  loss {:.5f}\n", step, loss.item<float>());
    }
  });
}
