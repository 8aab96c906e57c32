// A two-layer MLP fitting a synthetic regression task: the smallest end-to-end use of ember.
#include <ember/ember.h>

int main() {
  using namespace ember;
  fmt::print("{}\n", info());
  manual_seed(0);
  Tensor x = randn({256, 8});
  Tensor true_w = randn({8, 1});
  Tensor y = tanh(matmul(x, true_w));
  Tensor w1 = (randn({8, 32}) * 0.3).requires_grad_();
  Tensor w2 = (randn({32, 1}) * 0.3).requires_grad_();
  for (int step = 0; step <= 200; ++step) {
    Tensor loss = mse_loss(matmul(relu(matmul(x, w1)), w2), y);
    loss.backward();
    {
      NoGradGuard no_grad;
      for (Tensor* p : {&w1, &w2}) {
        p->add_(p->grad() * -0.1);
        p->zero_grad();
      }
    }
    if (step % 20 == 0) fmt::print("step {:3d}  loss {:.5f}\n", step, loss.item<float>());
  }
}
