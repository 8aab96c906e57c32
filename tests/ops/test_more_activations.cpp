// relu6, hardtanh, hardsigmoid, hardswish, mish, selu, celu, softsign, elu, glu and prelu against PyTorch
// 1.13 (activation_reference.json, written by make_activation_reference.py): values and gradients at
// the kinks, at large magnitudes, NaN and the infinities in float64; float32 on the same inputs; the
// dtypes PyTorch accepts and refuses; the calls it refuses; gradcheck and gradgradcheck away from the
// kinks.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <set>

#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

#include "tests/ops/activation_reference.h"

using namespace ember;
using act_ref::compare;
using act_ref::json;

namespace {

double arg(const json& args, const char* name, double fallback) {
  return args.contains(name) ? json_ref::number(args.at(name)) : fallback;
}

// The element-wise op a case names, with its stored arguments (PyTorch's defaults where none is stored).
Tensor run(const std::string& op, const json& args, const Tensor& x) {
  if (op == "relu6") return relu6(x);
  if (op == "hardtanh") return hardtanh(x, arg(args, "min_val", -1), arg(args, "max_val", 1));
  if (op == "hardsigmoid") return hardsigmoid(x);
  if (op == "hardswish") return hardswish(x);
  if (op == "mish") return mish(x);
  if (op == "selu") return selu(x);
  if (op == "celu") return celu(x, arg(args, "alpha", 1));
  if (op == "softsign") return softsign(x);
  if (op == "elu") return elu(x, arg(args, "alpha", 1));
  if (op == "glu") return glu(x, args.contains("dim") ? args.at("dim").get<int64_t>() : -1);
  throw std::runtime_error("unknown op " + op);
}

const std::set<std::string> kElementwise = {"relu6", "hardtanh", "hardsigmoid", "hardswish", "mish",
                                            "selu",  "celu",     "softsign",    "elu"};

// Float32 against float64: each op is a handful of float32 roundings (2^-24 relative each) on an input
// float32 holds exactly, the worst amplified about 4 times (expm1(z) for celu(alpha=-1.5) at z = 10/3,
// whose relative error grows like z, and glu's sigmoid(b) times a); 2^-20 is 16 roundings' worth. The
// absolute 2^-24 covers results near 0 made of terms near 1 (hardswish's x (x + 3) / 6 at x = -2.9).
constexpr double kFloat32Rtol = 1.0 / (1 << 20), kFloat32Atol = 1.0 / (1 << 24);

}  // namespace

TEST_CASE("element-wise activations give PyTorch's values and gradients at kinks, large inputs, NaN and inf",
          "[ops][activations-more]") {
  const json& cases = act_ref::reference().at("elementwise");
  REQUIRE(cases.size() >= 14);
  std::set<std::string> seen;
  for (const json& c : cases) {
    const std::string op = c.at("op").get<std::string>();
    INFO(c.at("name").get<std::string>());
    seen.insert(op);
    const Tensor x = act_ref::tensor(c.at("input"), DType::Float64, true);
    const Tensor out = run(op, c.at("args"), x);
    CHECK(out.dtype() == DType::Float64);
    CHECK(compare(out, c.at("output")) == "");
    const double grad_rtol = c.contains("grad_rtol") ? c.at("grad_rtol").get<double>() : 1e-12;
    CHECK(compare(grad({sum(out)}, {x})[0], c.at("grad"), grad_rtol) == "");
  }
  CHECK(seen == kElementwise);
}

TEST_CASE("glu and prelu give PyTorch's values and gradients", "[ops][activations-more][glu][prelu]") {
  for (const char* op : {"glu", "prelu"}) {
    const json& cases = act_ref::reference().at(op);
    REQUIRE(cases.size() >= 7);
    for (const json& c : cases) {
      INFO(c.at("name").get<std::string>());
      std::vector<Tensor> inputs;
      for (const json& t : c.at("inputs")) inputs.push_back(act_ref::tensor(t, DType::Float64, true));
      const Tensor out = std::string(op) == "glu" ? run(op, c.at("args"), inputs[0]) : prelu(inputs[0], inputs[1]);
      CHECK(out.dtype() == DType::Float64);
      REQUIRE(compare(out, c.at("output")) == "");
      if (out.numel() == 0) continue;  // (its shape is checked above)
      const std::vector<Tensor> gs = grad({sum(out * act_ref::tensor(c.at("w"), DType::Float64))}, inputs);
      for (size_t i = 0; i < inputs.size(); ++i) {
        INFO("gradient of input " << i);
        CHECK(compare(gs[i], c.at("grads")[i]) == "");
      }
    }
  }
}

TEST_CASE("float32 activations keep float32 and agree with PyTorch's float64 values",
          "[ops][activations-more][float32]") {
  for (const json& c : act_ref::reference().at("elementwise")) {
    INFO(c.at("name").get<std::string>());
    const Tensor out = run(c.at("op").get<std::string>(), c.at("args"), act_ref::tensor(c.at("input"), DType::Float32));
    CHECK(out.dtype() == DType::Float32);
    CHECK(compare(out, c.at("output"), kFloat32Rtol, kFloat32Atol) == "");
  }
  for (const json& c : act_ref::reference().at("glu")) {
    INFO(c.at("name").get<std::string>());
    const Tensor out = run("glu", c.at("args"), act_ref::tensor(c.at("inputs")[0], DType::Float32));
    CHECK(out.dtype() == DType::Float32);
    CHECK(compare(out, c.at("output"), kFloat32Rtol, kFloat32Atol) == "");
  }
  for (const json& c : act_ref::reference().at("prelu")) {
    INFO(c.at("name").get<std::string>());
    const Tensor out = prelu(act_ref::tensor(c.at("inputs")[0], DType::Float32),
                             act_ref::tensor(c.at("inputs")[1], DType::Float32));
    CHECK(out.dtype() == DType::Float32);
    CHECK(compare(out, c.at("output"), kFloat32Rtol, kFloat32Atol) == "");
  }
  // 16-bit inputs keep their dtype (PyTorch's CUDA kernels take them; its CPU ones refuse some).
  for (DType d : {DType::Float16, DType::BFloat16}) {
    const Tensor x = cast(from_vector(std::vector<double>{-4, -1, 0.5, 2, 7}), d);
    for (const std::string& op : kElementwise) {
      INFO(op << " " << dtype_name(d));
      CHECK(run(op, json::object(), x).dtype() == d);
    }
    CHECK(glu(x.narrow(0, 0, 4)).dtype() == d);
    CHECK(prelu(x, cast(full({1}, 0.25), d)).dtype() == d);
  }
}

TEST_CASE("integer inputs: relu6, hardtanh and softsign take them as PyTorch does, the others refuse them",
          "[ops][activations-more][dtype]") {
  const json& cases = act_ref::reference().at("dtypes");
  REQUIRE(cases.size() >= 8);
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    const Tensor out = run(c.at("op").get<std::string>(), c.at("args"), act_ref::tensor(c.at("input")));
    CHECK(out.dtype() == json_ref::dtype(c.at("output").at("dtype").get<std::string>()));
    CHECK(compare(out, c.at("output"), 0, 0) == "");
  }
  const json& refused = act_ref::reference().at("refused_dtypes");
  REQUIRE(refused.size() >= 20);
  for (const json& c : refused) {
    const std::string op = c.at("op").get<std::string>();
    const DType d = json_ref::dtype(c.at("dtype").get<std::string>());
    INFO(op << " " << dtype_name(d));
    const Tensor x = zeros({4}, {.dtype = d});
    if (op == "prelu")
      CHECK_THROWS_WITH(prelu(x, zeros({1}, {.dtype = d})), Catch::StartsWith("[prelu]"));
    else
      CHECK_THROWS_WITH(run(op, json::object(), x), Catch::StartsWith("[" + op + "]"));
  }
  // A uint8 tensor is clamped only to non-negative bounds, as in PyTorch.
  CHECK_THROWS_WITH(hardtanh(zeros({3}, {.dtype = DType::UInt8}), -1, 1),
                    Catch::StartsWith("[hardtanh]") && Catch::Contains("uint8"));
}

TEST_CASE("glu and prelu refuse what PyTorch refuses, with an ember::Error naming the op and the shapes",
          "[ops][activations-more][glu][prelu]") {
  const json& cases = act_ref::reference().at("errors");
  REQUIRE(cases.size() >= 19);
  for (const json& c : cases) {
    const std::string op = c.at("op").get<std::string>();
    const Shape shape = act_ref::shape(c);
    INFO(op << " " << c.dump());
    const Tensor x = zeros(shape, {.dtype = c.contains("dtype") ? json_ref::dtype(c.at("dtype").get<std::string>()) : DType::Float32});
    std::function<Tensor()> call;
    if (op == "glu") call = [&] { return glu(x, c.at("dim").get<int64_t>()); };
    if (op == "prelu") {
      const std::vector<int64_t> ws = json_ref::ints(c.at("weight_shape"));
      call = [&x, ws] { return prelu(x, zeros(ws)); };
    }
    if (op == "celu") call = [&] { return celu(x, c.at("alpha").get<double>()); };
    if (op == "hardtanh") call = [&] { return hardtanh(x, c.at("min_val").get<double>(), c.at("max_val").get<double>()); };
    REQUIRE(call);
    CHECK_THROWS_AS(call(), Error);
    CHECK_THROWS_WITH(call(), Catch::StartsWith("[" + op + "]"));
  }
  // The messages name the shapes and sizes that are wrong.
  CHECK_THROWS_WITH(glu(zeros({2, 5}), 1), Catch::Contains("[2, 5]") && Catch::Contains("5"));
  CHECK_THROWS_WITH(glu(zeros({2, 4}), 2), Catch::Contains("[2, 4]") && Catch::Contains("dim 2"));
  CHECK_THROWS_WITH(glu(zeros({})), Catch::StartsWith("[glu]") && Catch::Contains("0-d"));
  CHECK_THROWS_WITH(prelu(zeros({2, 3, 4}), zeros({4})),
                    Catch::Contains("[2, 3, 4]") && Catch::Contains("[4]") && Catch::Contains("3 channels"));
  CHECK_THROWS_WITH(prelu(zeros({2, 3}), zeros({1, 3})), Catch::StartsWith("[prelu]") && Catch::Contains("[1, 3]"));
  // A weight of another dtype (PyTorch: "Found dtype Double but expected Float").
  CHECK_THROWS_WITH(prelu(zeros({2, 3}), zeros({3}, {.dtype = DType::Float64})),
                    Catch::StartsWith("[prelu]") && Catch::Contains("float64") && Catch::Contains("float32"));
  // Undefined tensors.
  for (const std::string& op : kElementwise) CHECK_THROWS_WITH(run(op, json::object(), Tensor()), Catch::StartsWith("[" + op + "]"));
  CHECK_THROWS_WITH(glu(Tensor()), Catch::StartsWith("[glu]"));
  CHECK_THROWS_WITH(prelu(zeros({2}), Tensor()), Catch::StartsWith("[prelu]"));
  CHECK_THROWS_WITH(prelu(Tensor(), zeros({1})), Catch::StartsWith("[prelu]"));
}

// PyTorch's functional hardtanh gives max_val everywhere when min_val > max_val, NaN everywhere for a
// NaN bound, and celu with a NaN alpha gives NaN for every x <= 0 (make_activation_reference.py
// asserts these); none is ever meant, and here each is an error naming the op (nn.Hardtanh refuses
// max_val <= min_val in PyTorch too, and celu's alpha = 0 is refused by both).
TEST_CASE("hardtanh with crossed or NaN bounds and celu with a zero or non-finite alpha are errors",
          "[ops][activations-more]") {
  const Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH(hardtanh(x, 2, 1), Catch::StartsWith("[hardtanh]") && Catch::Contains("[2, 3]") &&
                                           Catch::Contains("min_val (2)") && Catch::Contains("max_val (1)"));
  CHECK_THROWS_WITH(hardtanh(x, NAN, 1), Catch::StartsWith("[hardtanh]") && Catch::Contains("NaN"));
  CHECK_THROWS_WITH(hardtanh(x, -1, NAN), Catch::StartsWith("[hardtanh]"));
  CHECK_THROWS_WITH(relu6(zeros({2}, {.dtype = DType::Bool})), Catch::StartsWith("[relu6]"));
  // equal bounds are a constant (the reference has the values)
  CHECK(hardtanh(x, 0.5, 0.5).to_vector<float>() == std::vector<float>(6, 0.5f));
  for (double alpha : {0.0, -0.0, double(NAN), double(INFINITY), -double(INFINITY)})
    CHECK_THROWS_WITH(celu(x, alpha), Catch::StartsWith("[celu]") && Catch::Contains("alpha") && Catch::Contains("[2, 3]"));
}

// Hand-worked values where PyTorch 1.13 is not exact (make_activation_reference.py): hardsigmoid's
// slope is 1/6 (PyTorch's backward uses float32's 1/6), and selu and celu near 0 are expm1's
// (PyTorch's exp(z) - 1 loses digits there), here against <cmath>.
TEST_CASE("hardsigmoid's slope is 1/6 and selu and celu are accurate near 0", "[ops][activations-more]") {
  const Tensor x = from_vector(std::vector<double>{-2.5, 0, 1.25}, {3}).requires_grad_();
  for (double g : grad({sum(hardsigmoid(x))}, {x})[0].to_vector<double>()) CHECK(g == 1.0 / 6);
  const double alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946;
  for (double z : {-1e-10, -1e-7, -3e-5}) {
    const Tensor t = full({1}, z, {.dtype = DType::Float64});
    CHECK(selu(t).item<double>() == Approx(scale * alpha * std::expm1(z)).epsilon(1e-14));
    CHECK(celu(t, 2).item<double>() == Approx(2 * std::expm1(z / 2)).epsilon(1e-14));
    CHECK(celu(t).item<double>() == Approx(std::expm1(z)).epsilon(1e-14));
  }
}

TEST_CASE("the activations pass gradcheck and gradgradcheck in float64 away from their kinks",
          "[ops][activations-more][gradcheck]") {
  using testing::gradcheck;
  using testing::gradgradcheck;
  const auto vec = [](const std::vector<double>& v) { return from_vector(v).requires_grad_(); };
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&)> f;
    std::vector<double> x;  // at least 1e-2 from every kink, so that the finite differences stay on one piece
  };
  const std::vector<Case> cases = {
      {"relu6", [](const Tensor& x) { return relu6(x); }, {-2.5, -0.7, 0.3, 1.7, 4.2, 5.5, 6.8, 9}},
      {"hardtanh", [](const Tensor& x) { return hardtanh(x); }, {-2.5, -0.9, -0.3, 0.4, 0.95, 1.6}},
      {"hardtanh(-2, 3.5)", [](const Tensor& x) { return hardtanh(x, -2, 3.5); }, {-3.1, -1.2, 0.4, 2.2, 3.9}},
      {"hardsigmoid", [](const Tensor& x) { return hardsigmoid(x); }, {-4.5, -2.2, -0.3, 1.1, 2.6, 3.8}},
      {"hardswish", [](const Tensor& x) { return hardswish(x); }, {-4.5, -2.2, -0.3, 1.1, 2.6, 3.8}},
      {"mish", [](const Tensor& x) { return mish(x); }, {-6, -1.3, -0.2, 0.4, 2.5, 7}},
      {"selu", [](const Tensor& x) { return selu(x); }, {-3, -0.4, 0.25, 2}},
      {"celu", [](const Tensor& x) { return celu(x); }, {-3, -0.4, 0.25, 2}},
      {"celu(alpha=2)", [](const Tensor& x) { return celu(x, 2); }, {-3, -0.4, 0.25, 2}},
      {"celu(alpha=-1.5)", [](const Tensor& x) { return celu(x, -1.5); }, {-3, -0.4, 0.25, 2}},
      {"softsign", [](const Tensor& x) { return softsign(x); }, {-3, -0.5, 0.7, 4}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const Tensor x = vec(c.x);
    const testing::Fn f = [&](const std::vector<Tensor>& in) { return c.f(in[0]); };
    CHECK(gradcheck(f, {x}) == "");
    CHECK(gradgradcheck(f, {x}) == "");
  }
  Generator gen(7);
  const Tensor g = randn({4, 6}, {.dtype = DType::Float64}, &gen).requires_grad_();
  for (int64_t dim : {0, -1, 1}) {
    INFO("glu dim " << dim);
    const testing::Fn f = [dim](const std::vector<Tensor>& in) { return glu(in[0], dim); };
    CHECK(gradcheck(f, {g}) == "");
    CHECK(gradgradcheck(f, {g}) == "");
  }
  // prelu with respect to both x and weight: per channel, one weight, a 1-d input. x is kept at least
  // 0.1 from 0, weight anywhere (prelu is bilinear in it).
  const auto away_from_zero = [](Tensor t) {
    NoGradGuard no_grad;
    return (t + where(ge(t, Scalar(0)), Scalar(0.1), full_like(t, -0.1))).detach().requires_grad_();
  };
  const Tensor x3 = away_from_zero(randn({2, 3, 4}, {.dtype = DType::Float64}, &gen));
  const Tensor x1 = away_from_zero(randn({5}, {.dtype = DType::Float64}, &gen));
  struct PreluCase {
    const char* name;
    Tensor x, w;
  };
  for (const PreluCase& c : std::vector<PreluCase>{
           {"per channel", x3, vec({0.25, -0.5, 1.5})}, {"one weight", x3, vec({0.3})}, {"1-d", x1, vec({-0.2})}}) {
    INFO("prelu " << c.name);
    const testing::Fn f = [](const std::vector<Tensor>& in) { return prelu(in[0], in[1]); };
    CHECK(gradcheck(f, {c.x, c.w}) == "");
    CHECK(gradgradcheck(f, {c.x, c.w}) == "");
  }
}
