// Optimizers and schedulers against trajectories recorded from PyTorch 1.13 (make_torch_trajectories.py).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

using namespace ember;

namespace {

const nlohmann::json& trajectories() {
  static const nlohmann::json j = [] {
    const std::string path = std::string(__FILE__).substr(0, std::string(__FILE__).rfind('/')) + "/torch_trajectories.json";
    std::ifstream in(path);
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
  }();
  return j;
}

// The problem of make_torch_trajectories.py, built from the same formulas.
struct Problem {
  Tensor X, y;
  Problem() {
    std::vector<double> xs, ys;
    for (int i = 0; i < 8; ++i) {
      for (int j = 0; j < 5; ++j) xs.push_back(std::sin(0.7 * i + 0.3 * j));
      ys.push_back(std::cos(1.3 * i));
    }
    X = from_vector(xs, std::vector<int64_t>{8, 5}, {.dtype = DType::Float64});
    y = from_vector(ys, std::vector<int64_t>{8}, {.dtype = DType::Float64});
  }
  Tensor loss(const Tensor& w) const {
    Tensor r = matmul(X, w) - y;
    return mean(r * r) + 0.1 * sum(w * w * w * w);
  }
};

Tensor initial_w() {
  std::vector<double> w;
  for (int j = 0; j < 5; ++j) w.push_back(0.5 - 0.25 * j);
  return from_vector(w, std::vector<int64_t>{5}, {.dtype = DType::Float64, .requires_grad = true});
}

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
using MakeScheduler = std::function<std::unique_ptr<optim::LRScheduler>(optim::Optimizer&)>;

void check_against_torch(const std::string& name, const MakeOptimizer& make, const MakeScheduler& make_sched = nullptr) {
  INFO(name);
  const auto& expected = trajectories()["cases"][name];
  REQUIRE(expected.is_object());
  Problem problem;
  Tensor w = initial_w();
  auto opt = make({w});
  std::unique_ptr<optim::LRScheduler> sched = make_sched ? make_sched(*opt) : nullptr;
  for (size_t step = 0; step < expected["w"].size(); ++step) {
    INFO("step " << step + 1);
    opt->zero_grad();
    problem.loss(w).backward();
    opt->step();
    if (sched) sched->step();
    std::vector<double> got = w.to_vector<double>();
    for (size_t k = 0; k < got.size(); ++k) {
      const double want = expected["w"][step][k].get<double>();
      // float64 throughout; the operations are the same but their order can differ by an ulp or so,
      // and 20 steps compound that.
      CHECK(got[k] == Approx(want).epsilon(1e-12).margin(1e-14));
    }
    CHECK(opt->param_groups()[0].get("lr") == Approx(expected["lr"][step].get<double>()).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("SGD follows PyTorch", "[optim]") {
  check_against_torch("sgd", [](auto p) { return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.05}); });
  check_against_torch("sgd_momentum_dampening_wd", [](auto p) {
    return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
  });
  check_against_torch("sgd_nesterov", [](auto p) {
    return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  });
}

TEST_CASE("Adam and AdamW follow PyTorch", "[optim]") {
  check_against_torch("adam", [](auto p) { return std::make_unique<optim::Adam>(p, optim::AdamOptions{.lr = 0.05}); });
  check_against_torch("adam_amsgrad_wd", [](auto p) {
    return std::make_unique<optim::Adam>(
        p, optim::AdamOptions{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6, .weight_decay = 0.02, .amsgrad = true});
  });
  check_against_torch("adamw", [](auto p) {
    return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{.lr = 0.05, .beta1 = 0.85, .beta2 = 0.99, .weight_decay = 0.1});
  });
  check_against_torch("adamw_amsgrad", [](auto p) {
    return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{.lr = 0.05, .weight_decay = 0.1, .amsgrad = true});
  });
}

TEST_CASE("RMSprop follows PyTorch", "[optim]") {
  check_against_torch("rmsprop", [](auto p) { return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions{.lr = 0.01}); });
  check_against_torch("rmsprop_centered_momentum_wd", [](auto p) {
    return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions{.lr = 0.01, .alpha = 0.9, .eps = 1e-6, .weight_decay = 0.01,
                                                                      .momentum = 0.8, .centered = true});
  });
}

TEST_CASE("maximize ascends the loss as PyTorch's does, fused and op by op", "[optim]") {
  check_against_torch("sgd_momentum_maximize", [](auto p) {
    return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 0.01, .maximize = true});
  });
  for (bool fused : {true, false}) {
    check_against_torch("adam_maximize", [fused](auto p) {
      return std::make_unique<optim::Adam>(p, optim::AdamOptions{.lr = 0.01, .weight_decay = 0.02, .maximize = true, .fused = fused});
    });
    check_against_torch("adamw_amsgrad_maximize", [fused](auto p) {
      return std::make_unique<optim::AdamW>(
          p, optim::AdamWOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true, .maximize = true, .fused = fused});
    });
  }
  check_against_torch("rmsprop_centered_momentum_maximize", [](auto p) {
    return std::make_unique<optim::RMSprop>(
        p, optim::RMSpropOptions{.lr = 0.002, .weight_decay = 0.01, .momentum = 0.5, .centered = true, .maximize = true});
  });
}

TEST_CASE("learning-rate schedulers follow PyTorch", "[optim]") {
  auto sgd = [](auto p) { return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.05}); };
  check_against_torch("sgd_steplr", sgd, [](optim::Optimizer& o) { return std::make_unique<optim::StepLR>(o, 3, 0.5); });
  check_against_torch("sgd_exponentiallr", sgd, [](optim::Optimizer& o) { return std::make_unique<optim::ExponentialLR>(o, 0.9); });
  check_against_torch("sgd_cosine", sgd, [](optim::Optimizer& o) { return std::make_unique<optim::CosineAnnealingLR>(o, 10, 0.001); });
  check_against_torch(
      "adam_onecycle", [](auto p) { return std::make_unique<optim::Adam>(p, optim::AdamOptions{.lr = 0.05}); },
      [](optim::Optimizer& o) { return std::make_unique<optim::OneCycleLR>(o, 0.1, 20); });
}

TEST_CASE("Lion takes the sign of the interpolated momentum", "[optim]") {
  // One step by hand: m = 0, so the update is -lr * sign((1 - b1) g) = -lr * sign(g), after decay.
  Tensor w = from_vector(std::vector<double>{1.0, -2.0, 0.5}, std::vector<int64_t>{3}, {.dtype = DType::Float64, .requires_grad = true});
  optim::Lion opt({w}, {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.99, .weight_decay = 0.5});
  (w * w * w).sum().backward();  // g = 3 w^2 > 0 everywhere
  opt.step();
  std::vector<double> got = w.to_vector<double>();
  const std::vector<double> want = {1.0 * 0.95 - 0.1, -2.0 * 0.95 - 0.1, 0.5 * 0.95 - 0.1};
  for (int i = 0; i < 3; ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-15));
  // second step: m = 0.01 * g1; the update uses sign(0.9 m + 0.1 g2)
  opt.zero_grad();
  (w * -1).sum().backward();  // g2 = -1
  std::vector<double> before = w.to_vector<double>();
  opt.step();
  got = w.to_vector<double>();
  for (int i = 0; i < 3; ++i) {
    const double g1 = 3 * std::vector<double>{1.0, -2.0, 0.5}[i] * std::vector<double>{1.0, -2.0, 0.5}[i];
    const double c = 0.9 * (0.01 * g1) + 0.1 * -1.0;
    CHECK(got[i] == Approx(before[i] * 0.95 - 0.1 * (c > 0 ? 1 : -1)).epsilon(1e-15));
  }
}

TEST_CASE("optimizer state_dict round trip continues the same trajectory", "[optim]") {
  Problem problem;
  Tensor a = initial_w(), b = initial_w();
  optim::Adam first({a}, {.lr = 0.05, .amsgrad = true});
  for (int i = 0; i < 5; ++i) {
    first.zero_grad();
    problem.loss(a).backward();
    first.step();
  }
  {
    NoGradGuard no_grad;
    b.copy_(a);
  }
  optim::Adam second({b}, {.lr = 0.9});  // the loaded state must override this lr
  second.load_state_dict(first.state_dict());
  CHECK(second.param_groups()[0].get("lr") == 0.05);
  for (int i = 0; i < 5; ++i) {
    for (auto* pair : {&first, &second}) pair->zero_grad();
    problem.loss(a).backward();
    problem.loss(b).backward();
    first.step();
    second.step();
  }
  CHECK(equal(a, b));
}

TEST_CASE("optimizer errors name the problem", "[optim]") {
  Tensor w = initial_w();
  CHECK_THROWS_WITH(optim::SGD({w}, {.lr = -1}), Catch::Contains("SGD"));
  CHECK_THROWS_WITH(optim::Adam({w, w}), Catch::Contains("twice"));
  optim::Adam opt({w});
  CHECK_THROWS_WITH(opt.load_state_dict({{"state.7.exp_avg", zeros({5}, {.dtype = DType::Float64})}}), Catch::Contains("parameter 7"));
  CHECK_THROWS_WITH(opt.load_state_dict({{"state.0.exp_avg", zeros({4}, {.dtype = DType::Float64})}}), Catch::Contains("shape"));
  CHECK_THROWS_WITH(opt.load_state_dict({{"bogus", zeros({})}}), Catch::Contains("bogus"));
}

TEST_CASE("clip_grad_norm_ scales gradients to the norm and returns the old norm", "[optim]") {
  Tensor a = from_vector(std::vector<double>{3, 0}, std::vector<int64_t>{2}, {.dtype = DType::Float64, .requires_grad = true});
  Tensor b = from_vector(std::vector<double>{0, 4}, std::vector<int64_t>{2}, {.dtype = DType::Float64, .requires_grad = true});
  (a * a / 2).sum().backward();  // grad a = [3, 0]
  (b * b / 2).sum().backward();  // grad b = [0, 4]
  const double norm = optim::clip_grad_norm_({a, b}, 1.0);
  CHECK(norm == Approx(5.0));
  CHECK(a.grad().to_vector<double>()[0] == Approx(3.0 / (5 + 1e-6)));
  CHECK(b.grad().to_vector<double>()[1] == Approx(4.0 / (5 + 1e-6)));
  optim::clip_grad_value_({a, b}, 0.5);
  CHECK(b.grad().to_vector<double>()[1] == 0.5);
}

TEST_CASE("EMA refuses a model whose tensors differ from the one it was made from", "[optim][ema]") {
  auto model = nn::Linear(3, 2);
  optim::EMA ema(*model, 0.5);
  const std::vector<float> shadow_weight = ema.shadow()[0].second.to_vector<float>();
  // A [2, 1] weight was broadcast into the [2, 3] shadow, and copy_to broadcast the other way.
  auto narrower = nn::Linear(1, 2);
  CHECK_THROWS_WITH(ema.update(*narrower), Catch::StartsWith("[EMA]") && Catch::Contains("[2, 1]") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_WITH(ema.copy_to(*narrower), Catch::StartsWith("[EMA]"));
  auto no_bias = nn::Linear(3, 2, false);  // fewer tensors
  CHECK_THROWS_WITH(ema.update(*no_bias), Catch::StartsWith("[EMA]") && Catch::Contains("1 floating-point") && Catch::Contains("2"));
  auto wider = nn::Linear(4, 2);
  CHECK_THROWS_WITH(ema.update(*wider), Catch::StartsWith("[EMA]"));
  CHECK(ema.shadow()[0].second.to_vector<float>() == shadow_weight);  // nothing was averaged in
  const std::vector<float> narrower_weight = narrower->weight.to_vector<float>();
  CHECK(narrower->weight.to_vector<float>() == narrower_weight);
}

TEST_CASE("EMA averages parameters with its decay", "[optim]") {
  auto model = nn::Linear(2, 1);
  optim::EMA ema(*model, 0.9);
  const double w0 = model->weight.to_vector<float>()[0];
  {
    NoGradGuard no_grad;
    model->weight.fill_(1.0);
  }
  ema.update(*model);
  ema.copy_to(*model);
  CHECK(model->weight.to_vector<float>()[0] == Approx(0.9 * w0 + 0.1 * 1.0));
}
