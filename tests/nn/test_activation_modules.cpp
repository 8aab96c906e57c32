// The activation modules of nn/activations.cpp against PyTorch 1.13 (tests/ops/activation_reference.json,
// written by tests/ops/make_activation_reference.py): each prints PyTorch's repr; Softmax, LogSoftmax,
// Identity, GLU, Hardtanh and CELU give PyTorch's outputs and gradients; PReLU's parameter, its
// initial value, its gradients, a training step and its state_dict; the options refused where the
// module is built.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <map>

#include <ember/nn/nn.h>
#include <ember/optim/optimizers.h>

#include "tests/ops/activation_reference.h"

using namespace ember;
using act_ref::compare;
using act_ref::json;

namespace {

// The module each stored key names.
std::shared_ptr<nn::UnaryModule> make(const std::string& key) {
  static const std::map<std::string, std::function<std::shared_ptr<nn::UnaryModule>()>> made = {
      {"ReLU6()", [] { return nn::ReLU6(); }},
      {"Hardtanh()", [] { return nn::Hardtanh(); }},
      {"Hardtanh(-2, 3.5)", [] { return nn::Hardtanh(-2, 3.5); }},
      {"Hardtanh(0, 6)", [] { return nn::Hardtanh(0, 6); }},
      {"Hardtanh(-0.25, 1e-3)", [] { return nn::Hardtanh(-0.25, 1e-3); }},
      {"Hardtanh(-0.5, 0.25)", [] { return nn::Hardtanh(-0.5, 0.25); }},
      {"Hardsigmoid()", [] { return nn::Hardsigmoid(); }},
      {"Hardswish()", [] { return nn::Hardswish(); }},
      {"Mish()", [] { return nn::Mish(); }},
      {"SELU()", [] { return nn::SELU(); }},
      {"CELU()", [] { return nn::CELU(); }},
      {"CELU(0.5)", [] { return nn::CELU(0.5); }},
      {"CELU(2)", [] { return nn::CELU(2); }},
      {"Softsign()", [] { return nn::Softsign(); }},
      {"GLU()", [] { return nn::GLU(); }},
      {"GLU(0)", [] { return nn::GLU(0); }},
      {"GLU(1)", [] { return nn::GLU(1); }},
      {"GLU(-2)", [] { return nn::GLU(-2); }},
      {"Identity()", [] { return nn::Identity(); }},
      {"Softmax(1)", [] { return nn::Softmax(1); }},
      {"Softmax(-1)", [] { return nn::Softmax(-1); }},
      {"LogSoftmax(0)", [] { return nn::LogSoftmax(0); }},
      {"LogSoftmax(-1)", [] { return nn::LogSoftmax(-1); }},
      {"PReLU()", [] { return nn::PReLU(); }},
      {"PReLU(3)", [] { return nn::PReLU(3); }},
      {"PReLU(3, 0.1)", [] { return nn::PReLU(3, 0.1); }},
  };
  return made.at(key)();
}

}  // namespace

TEST_CASE("activation modules print what PyTorch prints", "[nn][repr][activation-modules]") {
  const json& cases = act_ref::reference().at("modules");
  REQUIRE(cases.size() >= 24);
  for (const json& c : cases) {
    const std::string key = c.at("key").get<std::string>();
    INFO(key);
    const auto m = make(key);
    CHECK(m->type_name() == c.at("type").get<std::string>());
    CHECK(m->extra_repr() == c.at("extra_repr").get<std::string>());
    // A printed model shows PyTorch's repr, and the parameter count for PReLU.
    const std::string repr = c.at("repr").get<std::string>();
    const int64_t n = m->num_parameters();
    CHECK(m->str() == repr + (n ? fmt::format("  # {} params", n) : "") + "\n");
  }
}

TEST_CASE("Softmax, LogSoftmax, Identity, GLU, Hardtanh and CELU modules give PyTorch's outputs and gradients",
          "[nn][activation-modules]") {
  const json& cases = act_ref::reference().at("module_outputs");
  REQUIRE(cases.size() >= 8);
  for (const json& c : cases) {
    INFO(c.at("key").get<std::string>());
    const Tensor x = act_ref::tensor(c.at("input"), DType::Float64, true);
    const Tensor out = (*make(c.at("key").get<std::string>()))(x);
    CHECK(compare(out, c.at("output")) == "");
    CHECK(compare(grad({sum(out * act_ref::tensor(c.at("w")))}, {x})[0], c.at("grad")) == "");
  }
  // Identity hands its input back (as PyTorch's), the same tensor.
  const Tensor x = randn({2, 3});
  CHECK((*nn::Identity())(x).data_ptr() == x.data_ptr());
}

TEST_CASE("PReLU has PyTorch's parameter, initial value and gradients, trains, and round-trips its state",
          "[nn][activation-modules][prelu]") {
  const json& ref = act_ref::reference().at("prelu_module");
  // PReLU(): one slope, 0.25, float32, named "weight".
  auto one = nn::PReLU();
  REQUIRE(one->named_parameters().size() == 1);
  CHECK(one->named_parameters()[0].first == "weight");
  CHECK(one->weight.dtype() == json_ref::dtype(ref.at("default_dtype").get<std::string>()));
  CHECK(compare(one->weight, ref.at("default_weight"), 0, 0) == "");
  CHECK(one->weight.requires_grad());

  auto m = nn::PReLU(3, 0.1);
  CHECK(m->num_parameters == 3);
  const nn::NamedTensors state = m->state_dict();
  REQUIRE(state.size() == ref.at("state_dict").size());
  CHECK(state[0].first == "weight");
  CHECK(state[0].second.shape() == act_ref::shape(json{{"shape", ref.at("state_dict").at("weight")}}));
  m->to(DType::Float64);
  CHECK(compare(m->weight, ref.at("weight")) == "");

  // Its output and gradients, against PyTorch's for the same input.
  const Tensor x = act_ref::tensor(ref.at("input"), DType::Float64, true);
  const Tensor out = (*m)(x);
  CHECK(compare(out, ref.at("output")) == "");
  sum(out * act_ref::tensor(ref.at("w"))).backward();
  REQUIRE(m->weight.grad().defined());
  CHECK(compare(m->weight.grad(), ref.at("grad_weight")) == "");
  CHECK(compare(x.grad(), ref.at("grad_input")) == "");

  // One SGD step moves each slope by -lr times its gradient: the gradient reaches the parameter.
  const std::vector<double> before = m->weight.to_vector<double>(), g = m->weight.grad().to_vector<double>();
  optim::SGD sgd(m->parameters(), {.lr = 0.5});
  sgd.step();
  const std::vector<double> after = m->weight.to_vector<double>();
  for (size_t i = 0; i < after.size(); ++i) {
    CHECK(g[i] != 0);
    CHECK(after[i] == Approx(before[i] - 0.5 * g[i]).epsilon(1e-15));
  }

  // The trained slopes round-trip through state_dict into a new module, which then computes the same.
  auto copy = nn::PReLU(3);
  copy->to(DType::Float64);
  copy->load_state_dict(m->state_dict());
  CHECK(copy->weight.to_vector<double>() == after);
  CHECK(copy->weight.data_ptr() != m->weight.data_ptr());
  CHECK(equal((*copy)(x.detach()), (*m)(x.detach())));
  // A state of the wrong size is refused.
  CHECK_THROWS_AS(copy->load_state_dict({{"weight", zeros({2}, {.dtype = DType::Float64})}}), Error);
  // A slope count that is not the input's channel count is the op's error.
  CHECK_THROWS_WITH((*nn::PReLU(4))(zeros({2, 3, 5})), Catch::StartsWith("[prelu]"));
}

TEST_CASE("activation modules refuse bad options where they are built", "[nn][activation-modules]") {
  // PyTorch's nn.Hardtanh asserts max_val > min_val.
  CHECK_THROWS_WITH(nn::Hardtanh(1, 1), Catch::StartsWith("[Hardtanh]") && Catch::Contains("max_val (1)"));
  CHECK_THROWS_WITH(nn::Hardtanh(2, 1), Catch::StartsWith("[Hardtanh]"));
  CHECK_THROWS_WITH(nn::Hardtanh(NAN, 1), Catch::StartsWith("[Hardtanh]"));
  CHECK_THROWS_WITH(nn::CELU(0), Catch::StartsWith("[CELU]") && Catch::Contains("alpha"));
  CHECK_THROWS_WITH(nn::CELU(NAN), Catch::StartsWith("[CELU]"));
  CHECK_THROWS_WITH(nn::PReLU(-1), Catch::StartsWith("[PReLU]") && Catch::Contains("-1"));
  CHECK_THROWS_WITH(nn::PReLU(2, NAN), Catch::StartsWith("[PReLU]") && Catch::Contains("init"));
  // What depends on the input is checked by the op when it runs.
  CHECK_THROWS_WITH((*nn::GLU(0))(zeros({3, 2})), Catch::StartsWith("[glu]"));
  CHECK_THROWS_WITH((*nn::Softmax(2))(zeros({3, 2})), Catch::StartsWith("[softmax]"));
  // PReLU(0) is legal (as in PyTorch): no slopes, for an input without channels.
  CHECK(nn::PReLU(0)->weight.numel() == 0);
  CHECK((*nn::PReLU(0))(zeros({2, 0, 3})).shape() == Shape{2, 0, 3});
}
