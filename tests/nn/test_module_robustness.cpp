// Every standard module, tried as a careless user would: an undefined input, an empty batch, and a
// parameter changed in place (an optimizer step) between forward and backward. Each gives a clear
// ember::Error or the right result, never a crash or a silently wrong gradient.
#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

using namespace ember;

namespace {

struct ModuleCase {
  std::string name;
  std::function<std::shared_ptr<nn::UnaryModule>()> make;
  Shape input;             // a valid input shape; dim 0 is the batch
  bool integer_input = false;
};

std::vector<ModuleCase> module_cases() {
  return {
      {"Linear", [] { return nn::Linear(4, 3); }, {2, 4}},
      {"Conv2d", [] { return nn::Conv2d(2, 3, 3, {.padding = 1}); }, {2, 2, 5, 5}},
      {"ConvTranspose2d", [] { return nn::ConvTranspose2d(2, 3, 3); }, {2, 2, 4, 4}},
      {"Conv1d", [] { return nn::Conv1d(2, 3, 3); }, {2, 2, 6}},
      {"BatchNorm1d", [] { return nn::BatchNorm1d(4); }, {3, 4}},
      {"BatchNorm2d", [] { return nn::BatchNorm2d(2); }, {3, 2, 4, 4}},
      {"LayerNorm", [] { return nn::LayerNorm(4); }, {2, 4}},
      {"GroupNorm", [] { return nn::GroupNorm(2, 4); }, {2, 4, 3, 3}},
      {"RMSNorm", [] { return nn::RMSNorm(4); }, {2, 4}},
      {"Embedding", [] { return nn::Embedding(5, 3); }, {2, 4}, true},
      {"Dropout", [] { return nn::Dropout(0.5); }, {2, 4}},
      {"ReLU", [] { return nn::ReLU(); }, {2, 4}},
      {"GELU", [] { return nn::GELU(); }, {2, 4}},
      {"MaxPool2d", [] { return nn::MaxPool2d(2); }, {2, 2, 4, 4}},
      {"AvgPool2d", [] { return nn::AvgPool2d(2); }, {2, 2, 4, 4}},
      {"Flatten", [] { return nn::Flatten(); }, {2, 2, 3}},
      {"Sequential", [] { return nn::Sequential({nn::Linear(4, 5), nn::ReLU(), nn::Linear(5, 2)}); }, {2, 4}},
  };
}

Tensor input_for(const ModuleCase& c, const Shape& shape) {
  if (c.integer_input) return randint(0, 5, shape);
  return randn(shape).requires_grad_();
}

}  // namespace

TEST_CASE("every module refuses an undefined input with an ember::Error", "[nn][robustness]") {
  for (const ModuleCase& c : module_cases()) {
    INFO(c.name);
    auto m = c.make();
    try {
      (*m)(Tensor());
      FAIL_CHECK("accepted an undefined input");
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Catch::StartsWith("[") && Catch::Contains("undefined"));
    }
  }
}

TEST_CASE("every module takes an empty batch: an empty output and gradients, or a clear error",
          "[nn][robustness]") {
  for (const ModuleCase& c : module_cases()) {
    INFO(c.name);
    auto m = c.make();
    Shape shape = c.input;
    shape[0] = 0;
    Tensor x = input_for(c, shape);
    try {
      Tensor y = (*m)(x);
      CHECK(y.size(0) == 0);
      if (y.requires_grad()) {
        y.sum().backward();
        for (const Tensor& p : m->parameters()) {
          // No example: every parameter's gradient is zero (or was never written).
          if (p.grad().defined()) CHECK(sum(abs(p.grad())).item<double>() == 0.0);
        }
      }
    } catch (const Error& e) {
      // Batch norm in training mode needs more than one value per channel, as in PyTorch.
      CHECK_THAT(e.what(), Catch::StartsWith("["));
    }
  }
}

TEST_CASE("a parameter stepped in place between forward and backward makes backward an error",
          "[nn][robustness]") {
  for (const ModuleCase& c : module_cases()) {
    INFO(c.name);
    manual_seed(7);
    auto reference = c.make();
    manual_seed(7);
    auto m = c.make();
    if (m->parameters().empty()) continue;
    Tensor x = input_for(c, c.input).detach();
    (*reference)(x).sum().backward();
    Tensor loss = (*m)(x).sum();
    optim::SGD opt(m->parameters(), {.lr = 0.1});
    for (Tensor p : m->parameters()) p.set_grad(ones_like(p));
    opt.step();  // the mistake: a step before the backward of a loss computed with the old weights
    opt.zero_grad();
    try {
      loss.backward();
      // Accepted: then no backward formula read a stepped parameter (a bias's gradient does not
      // depend on the bias), so every gradient equals the one computed without the step.
      const auto got = m->parameters(), want = reference->parameters();
      for (size_t i = 0; i < got.size(); ++i) {
        INFO("parameter " << i);
        REQUIRE(got[i].grad().defined() == want[i].grad().defined());
        if (want[i].grad().defined()) CHECK(all(eq(got[i].grad(), want[i].grad())));
      }
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Catch::Contains("modified by an in-place operation"));
    }
  }
}
