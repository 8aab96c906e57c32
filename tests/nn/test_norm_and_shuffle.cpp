// pixel_shuffle and pixel_unshuffle, normalize, instance_norm and their modules against PyTorch 1.13
// (norm_shuffle_reference.json, written by make_norm_shuffle_reference.py): values, gradients with
// respect to every input, running statistics and reprs; gradcheck and gradgradcheck in float64; the
// inputs they refuse.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include <ember/nn/nn.h>
#include <ember/nn/instance_norm.h>
#include <ember/ops/pixel_shuffle.h>
#include <ember/testing/gradcheck.h>

#include "tests/support/json_reference.h"

using namespace ember;
using json_ref::compare;
using json_ref::json;

namespace {

const json& reference() {
  static const json doc = json_ref::load(std::filesystem::path(__FILE__).parent_path(), "norm_shuffle_reference.json",
                                         "EMBER_NORM_SHUFFLE_REFERENCE");
  return doc;
}

// The case's inputs as float64 leaves that require grad (those PyTorch differentiated).
std::map<std::string, Tensor> leaves(const json& c) {
  std::map<std::string, Tensor> in;
  for (const auto& [name, t] : c.at("inputs").items()) in[name] = json_ref::tensor(t, c.at("grads").contains(name));
  return in;
}

// Where out or the gradients of (out * w).sum() differ from PyTorch's; empty when none does.
std::string check_against_torch(const json& c, const Tensor& out, const std::map<std::string, Tensor>& in) {
  if (std::string diff = compare(out, c.at("output")); !diff.empty()) return "output: " + diff;
  std::vector<std::string> names;
  std::vector<Tensor> inputs;
  for (const auto& [name, g] : c.at("grads").items()) {
    names.push_back(name);
    inputs.push_back(in.at(name));
  }
  if (inputs.empty()) return "";
  const std::vector<Tensor> grads = json_ref::weighted_grads(out, inputs, c);
  for (size_t i = 0; i < names.size(); ++i)
    if (std::string diff = compare(grads[i], c.at("grads").at(names[i])); !diff.empty())
      return "gradient of " + names[i] + ": " + diff;
  return "";
}

double number(const json& v) { return json_ref::number(v); }

}  // namespace

TEST_CASE("pixel_shuffle and pixel_unshuffle give PyTorch's values and gradients", "[nn][pixel-shuffle]") {
  const json& cases = reference().at("shuffle");
  REQUIRE(cases.size() >= 10);
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    const auto in = leaves(c);
    const int64_t r = c.at("factor").get<int64_t>();
    const bool up = c.at("op") == "pixel_shuffle";
    const Tensor out = up ? pixel_shuffle(in.at("x"), r) : pixel_unshuffle(in.at("x"), r);
    CHECK(check_against_torch(c, out, in) == "");
    const auto module = up ? nn::PixelShuffle(r) : nn::PixelUnshuffle(r);
    CHECK(compare((*module)(in.at("x")), c.at("output")) == "");
  }
}

TEST_CASE("pixel_unshuffle inverts pixel_shuffle, on integers too, and both gradcheck to second order",
          "[nn][pixel-shuffle]") {
  const Tensor i = arange(0, 2 * 12 * 2 * 3, 1, {.dtype = DType::Int64}).reshape({2, 12, 2, 3});
  CHECK(equal(pixel_unshuffle(pixel_shuffle(i, 2), 2), i));
  CHECK(pixel_shuffle(i, 2).dtype() == DType::Int64);
  // output (n, c, h r + a, w r + b) is input (n, c r^2 + a r + b, h, w); the input's values are its
  // flat indices
  const std::vector<int64_t> shuffled = pixel_shuffle(i, 2).to_vector<int64_t>();
  size_t k = 0;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 4; ++y)
        for (int64_t x = 0; x < 6; ++x, ++k) {
          const int64_t channel = c * 4 + (y % 2) * 2 + x % 2;
          CHECK(shuffled[k] == ((n * 12 + channel) * 2 + y / 2) * 3 + x / 2);
        }
  Generator gen(5);
  const Tensor x = randn({2, 8, 2, 3}, {.dtype = DType::Float64}, &gen).requires_grad_();
  const Tensor y = randn({2, 2, 4, 6}, {.dtype = DType::Float64}, &gen).requires_grad_();
  const testing::Fn up = [](const std::vector<Tensor>& in) { return square(pixel_shuffle(in[0], 2)); };
  const testing::Fn down = [](const std::vector<Tensor>& in) { return square(pixel_unshuffle(in[0], 2)); };
  CHECK(testing::gradcheck(up, {x}) == "");
  CHECK(testing::gradgradcheck(up, {x}) == "");
  CHECK(testing::gradcheck(down, {y}) == "");
  CHECK(testing::gradgradcheck(down, {y}) == "");
}

TEST_CASE("pixel_shuffle and pixel_unshuffle refuse what PyTorch refuses", "[nn][pixel-shuffle]") {
  using Catch::Contains;
  using Catch::StartsWith;
  CHECK_THROWS_WITH(pixel_shuffle(zeros({1, 8, 2, 2}), 0), StartsWith("[pixel_shuffle] upscale_factor must be positive"));
  CHECK_THROWS_WITH(pixel_shuffle(zeros({1, 8, 2, 2}), -2), StartsWith("[pixel_shuffle]"));
  CHECK_THROWS_WITH(pixel_unshuffle(zeros({1, 1, 4, 4}), 0), StartsWith("[pixel_unshuffle] downscale_factor"));
  CHECK_THROWS_WITH(pixel_shuffle(zeros({1, 3, 2, 2}), 2), StartsWith("[pixel_shuffle]") && Contains("[1, 3, 2, 2]"));
  CHECK_THROWS_WITH(pixel_shuffle(zeros({8, 2}), 2), StartsWith("[pixel_shuffle]") && Contains("at least 3 dims"));
  CHECK_THROWS_WITH(pixel_unshuffle(zeros({1, 1, 3, 4}), 2), StartsWith("[pixel_unshuffle]") && Contains("multiples"));
  CHECK_THROWS_WITH(pixel_unshuffle(zeros({1, 1, 4, 3}), 2), StartsWith("[pixel_unshuffle]"));
  // A factor whose square does not fit in int64 (the output never has more elements than the input).
  CHECK_THROWS_WITH(pixel_shuffle(zeros({1, 4, 2, 2}), int64_t{1} << 32),
                    StartsWith("[pixel_shuffle]") && Contains("overflows int64"));
  CHECK_THROWS_WITH(pixel_unshuffle(zeros({1, 1, 0, 0}), int64_t{3} << 31), StartsWith("[pixel_unshuffle]"));
  CHECK_THROWS_WITH(pixel_shuffle(Tensor(), 2), StartsWith("[pixel_shuffle]"));
  CHECK_THROWS_WITH(nn::PixelShuffle(0), StartsWith("[PixelShuffle]"));
  CHECK_THROWS_WITH(nn::PixelUnshuffle(-1), StartsWith("[PixelUnshuffle]"));
}

TEST_CASE("normalize gives PyTorch's values and gradients", "[nn][normalize]") {
  const json& cases = reference().at("normalize");
  REQUIRE(cases.size() >= 9);
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    const auto in = leaves(c);
    const Tensor out = normalize(in.at("x"), number(c.at("p")), c.at("dim").get<int64_t>(), c.at("eps").get<double>());
    CHECK(check_against_torch(c, out, in) == "");
  }
}

TEST_CASE("normalize gradchecks to second order and refuses bad arguments", "[nn][normalize]") {
  Generator gen(6);
  const Tensor x = randn({3, 4}, {.dtype = DType::Float64}, &gen).requires_grad_();
  for (double p : {1.0, 2.0, 3.0}) {
    INFO("p = " << p);
    const testing::Fn f = [p](const std::vector<Tensor>& in) { return normalize(in[0], p, 1); };
    CHECK(testing::gradcheck(f, {x}) == "");
    CHECK(testing::gradgradcheck(f, {x}) == "");
  }
  CHECK(normalize(x.detach().to(DType::Float32)).dtype() == DType::Float32);
  CHECK_THROWS_WITH(normalize(zeros({2, 3}), 2, 2), Catch::StartsWith("[normalize]"));
  CHECK_THROWS_WITH(normalize(zeros({2, 3}), 2, 1, -1), Catch::StartsWith("[normalize] eps"));
  CHECK_THROWS_WITH(normalize(zeros({2, 3}, {.dtype = DType::Int64})), Catch::StartsWith("[normalize]"));
}

TEST_CASE("instance_norm gives PyTorch's values, gradients and running statistics", "[nn][instance-norm]") {
  const json& cases = reference().at("instance_norm");
  REQUIRE(cases.size() >= 8);
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    const auto in = leaves(c);
    const auto opt = [&](const char* k) { return in.count(k) ? std::optional<Tensor>(in.at(k)) : std::nullopt; };
    Tensor rm, rv;
    if (c.contains("running_mean")) {
      rm = json_ref::tensor(c.at("running_mean"));
      rv = json_ref::tensor(c.at("running_var"));
    }
    const Tensor out = instance_norm(in.at("x"), rm, rv, opt("weight"), opt("bias"), c.at("use_input_stats").get<bool>(),
                                     c.at("momentum").get<double>(), c.at("eps").get<double>());
    CHECK(check_against_torch(c, out, in) == "");
    if (rm.defined()) {
      CHECK(compare(rm, c.at("running_mean_after")) == "");
      CHECK(compare(rv, c.at("running_var_after")) == "");
    }
  }
}

TEST_CASE("instance_norm gradchecks to second order and refuses bad inputs", "[nn][instance-norm]") {
  Generator gen(7);
  const TensorOptions f64{.dtype = DType::Float64};
  const Tensor x = randn({2, 3, 5}, f64, &gen).requires_grad_();
  const Tensor w = (randn({3}, f64, &gen) * 0.5 + 1).detach().requires_grad_();
  const Tensor b = randn({3}, f64, &gen).requires_grad_();
  const testing::Fn f = [](const std::vector<Tensor>& in) {
    return instance_norm(in[0], {}, {}, in[1], in[2], true, 0.1, 1e-5);
  };
  CHECK(testing::gradcheck(f, {x, w, b}) == "");
  CHECK(testing::gradgradcheck(f, {x, w, b}) == "");

  using Catch::Contains;
  using Catch::StartsWith;
  CHECK_THROWS_WITH(instance_norm(zeros({2, 3})), StartsWith("[instance_norm]") && Contains("[2, 3]"));
  CHECK_THROWS_WITH(instance_norm(zeros({2, 3, 1, 1})), StartsWith("[instance_norm] expected more than one spatial"));
  CHECK_THROWS_WITH(instance_norm(zeros({2, 3, 4}), {}, {}, std::nullopt, std::nullopt, false),
                    StartsWith("[instance_norm] needs running_mean"));
  CHECK_THROWS_WITH(instance_norm(zeros({2, 3, 4}), zeros({3}), Tensor()), StartsWith("[instance_norm]"));
  CHECK_THROWS_WITH(instance_norm(zeros({2, 3, 4}), zeros({4}), ones({4})),
                    StartsWith("[instance_norm] running_mean must have shape [3]"));
  CHECK_THROWS_WITH(instance_norm(zeros({2, 3, 4}), {}, {}, ones({2})), StartsWith("[instance_norm] weight"));
  CHECK_THROWS_WITH(instance_norm(zeros({2, 3, 4}, {.dtype = DType::Int64})), StartsWith("[instance_norm]"));
  // eps and momentum are this op's errors, not those of the batch_norm it runs (eps = 0 is refused as
  // batch_norm refuses it; PyTorch accepts it and divides a constant instance by zero).
  CHECK_THROWS_WITH(instance_norm(zeros({2, 3, 4}), {}, {}, std::nullopt, std::nullopt, true, 0.1, 0),
                    StartsWith("[instance_norm] eps"));
  CHECK_THROWS_WITH(instance_norm(zeros({2, 3, 4}), {}, {}, std::nullopt, std::nullopt, true, NAN),
                    StartsWith("[instance_norm] momentum"));
  // PyTorch turns the running statistics into NaN on an empty batch; here they are refused and kept.
  Tensor rm = zeros({3}), rv = ones({3});
  CHECK_THROWS_WITH(instance_norm(zeros({0, 3, 4}), rm, rv), StartsWith("[instance_norm]") && Contains("empty batch"));
  CHECK(equal(rm, zeros({3})));
  CHECK(instance_norm(zeros({0, 3, 4})).shape() == Shape{0, 3, 4});
}

TEST_CASE("InstanceNorm1d and InstanceNorm2d train and evaluate as PyTorch's", "[nn][instance-norm]") {
  const json& cases = reference().at("modules");
  REQUIRE(cases.size() >= 5);
  for (const json& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    INFO(name);
    std::shared_ptr<nn::InstanceNormImpl> m;
    if (name == "InstanceNorm1d(3) unbatched") m = nn::InstanceNorm1d(3);
    if (name == "InstanceNorm2d(3, affine, tracked)") m = nn::InstanceNorm2d(3, 1e-5, 0.1, true, true);
    if (name == "InstanceNorm2d(2, tracked) unbatched") m = nn::InstanceNorm2d(2, 1e-5, 0.1, false, true);
    if (name == "InstanceNorm2d(4) on 3 channels") m = nn::InstanceNorm2d(4);
    if (name == "InstanceNorm1d(1, affine, tracked)") m = nn::InstanceNorm1d(1, 1e-5, 0.1, true, true);
    REQUIRE(m);
    m->to(DType::Float64);
    const Tensor x = json_ref::tensor(c.at("input"));
    CHECK(compare((*m)(x), c.at("train_output")) == "");
    m->eval();
    CHECK(compare((*m)(x), c.at("eval_output")) == "");
    if (c.contains("running_mean")) {
      CHECK(compare(m->running_mean, c.at("running_mean")) == "");
      CHECK(compare(m->running_var, c.at("running_var")) == "");
      CHECK(m->num_batches_tracked.item<int64_t>() == 0);  // as PyTorch: instance norm never counts batches
    }
  }
  // Parameters and buffers under PyTorch's names.
  auto tracked = nn::InstanceNorm2d(3, 1e-5, 0.1, true, true);
  std::vector<std::string> names;
  for (const auto& [name, t] : tracked->state_dict()) names.push_back(name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"bias", "num_batches_tracked", "running_mean", "running_var", "weight"});
  CHECK(tracked->parameters().size() == 2);
  CHECK(nn::InstanceNorm2d(3)->parameters().empty());
  // With weights, the channel count must be num_features.
  CHECK_THROWS_WITH((*nn::InstanceNorm2d(4, 1e-5, 0.1, true))(zeros({2, 3, 2, 2})),
                    Catch::StartsWith("[InstanceNorm2d] expected 4 channels"));
  CHECK_THROWS_WITH((*nn::InstanceNorm2d(3))(zeros({2, 3, 2, 2, 2})), Catch::StartsWith("[InstanceNorm2d]"));
  CHECK_THROWS_WITH((*nn::InstanceNorm1d(3))(zeros({4})), Catch::StartsWith("[InstanceNorm1d]"));
  CHECK_THROWS_WITH(nn::InstanceNorm2d(3, 1e-5, 1.5), Catch::StartsWith("[InstanceNorm2d] momentum"));
  CHECK_THROWS_WITH(nn::InstanceNorm1d(3, 0), Catch::StartsWith("[InstanceNorm1d] eps must be positive"));
}

TEST_CASE("InstanceNorm and PixelShuffle modules print what PyTorch prints", "[nn][repr][instance-norm]") {
  const json& want = reference().at("repr");
  const std::map<std::string, std::function<std::shared_ptr<nn::Module>()>> made = {
      {"InstanceNorm2d(3)", [] { return nn::InstanceNorm2d(3); }},
      {"InstanceNorm1d(4, affine=True, track_running_stats=True)",
       [] { return nn::InstanceNorm1d(4, 1e-5, 0.1, true, true); }},
      {"InstanceNorm2d(3, eps=1e-3, momentum=0.2)", [] { return nn::InstanceNorm2d(3, 1e-3, 0.2); }},
      {"PixelShuffle(3)", [] { return nn::PixelShuffle(3); }},
      {"PixelUnshuffle(2)", [] { return nn::PixelUnshuffle(2); }},
  };
  REQUIRE(want.size() == made.size());
  for (const auto& [key, make] : made) {
    INFO(key);
    std::string s = make()->str();
    s = s.substr(0, s.find('\n'));
    s = s.substr(0, s.find("  # "));
    CHECK(s == want.at(key).get<std::string>());
  }
}
