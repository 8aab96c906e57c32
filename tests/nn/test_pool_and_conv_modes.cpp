// Against PyTorch 1.13 (modes_reference.json, written by make_modes_reference.py): pooling's
// ceil_mode, count_include_pad and divisor_override, the convolutions' padding_mode and unbatched
// inputs, the Upsample and AdaptiveAvgPool2d (None in its size) modules and the reprs of all of these; each new differentiable path
// gradchecked and gradgradchecked; the errors PyTorch gives. And nn::init::trunc_normal_, tested for
// its distribution (the truncated normal's moments and CDF in closed form), not PyTorch's draws.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include <ember/nn/nn.h>
#include <ember/testing/gradcheck.h>

#include "tests/nn/modes_reference.h"

using namespace ember;
using modes_ref::compare;
using modes_ref::ints;
using modes_ref::json;

namespace {

Size2 size2(const json& v) {
  const std::vector<int64_t> s = ints(v);
  return {s[0], s[1]};
}

std::optional<int64_t> divisor(const json& c) {
  return c.contains("divisor_override") ? std::optional<int64_t>(c.at("divisor_override").get<int64_t>())
                                        : std::nullopt;
}

Tensor run_pool(const json& c, const Tensor& x) {
  const Size2 k = size2(c.at("kernel")), s = size2(c.at("stride")), p = size2(c.at("padding"));
  const bool ceil = c.at("ceil_mode").get<bool>(), include_pad = c.at("count_include_pad").get<bool>();
  return c.at("op") == "max" ? max_pool2d(x, k, s, p, ceil) : avg_pool2d(x, k, s, p, include_pad, ceil, divisor(c));
}

// A module of the case's settings, in float64 with the case's weight and bias.
template <typename M>
std::shared_ptr<nn::UnaryModule> loaded(std::shared_ptr<M> m, const json& c, std::vector<Tensor>& params) {
  m->to(DType::Float64);
  NoGradGuard no_grad;
  m->weight.copy_(modes_ref::tensor(c.at("weight")));
  params = {m->weight};
  if (c.contains("bias")) {
    m->bias.copy_(modes_ref::tensor(c.at("bias")));
    params.push_back(m->bias);
  }
  return m;
}

// The modules of make_modes_reference.py's CONV table, by name.
std::shared_ptr<nn::UnaryModule> conv_module(const json& c, std::vector<Tensor>& params) {
  const std::string name = c.at("name").get<std::string>();
  using C1 = nn::Conv1dOptions;
  using C2 = nn::Conv2dOptions;
  if (name == "conv1d reflect" || name == "conv1d reflect unbatched")
    return loaded(nn::Conv1d(2, 3, 3, C1{.padding = 2, .padding_mode = "reflect"}), c, params);
  if (name == "conv1d replicate")
    return loaded(nn::Conv1d(2, 3, 3, C1{.stride = 2, .padding = 1, .padding_mode = "replicate"}), c, params);
  if (name == "conv1d circular")
    return loaded(nn::Conv1d(2, 4, 3, C1{.padding = 2, .dilation = 2, .groups = 2, .padding_mode = "circular"}), c,
                  params);
  if (name == "conv1d zeros unbatched") return loaded(nn::Conv1d(2, 3, 3, C1{.padding = 1}), c, params);
  if (name == "conv1d circular unbatched")
    return loaded(nn::Conv1d(2, 3, 3, C1{.padding = 1, .padding_mode = "circular"}), c, params);
  if (name == "conv2d reflect")
    return loaded(nn::Conv2d(2, 3, 3, C2{.stride = {2, 2}, .padding = {1, 1}, .padding_mode = "reflect"}), c, params);
  if (name == "conv2d replicate")
    return loaded(nn::Conv2d(2, 3, 3, C2{.padding = {1, 2}, .padding_mode = "replicate"}), c, params);
  if (name == "conv2d circular")
    return loaded(nn::Conv2d(2, 4, 3,
                             C2{.padding = {2, 2}, .dilation = {2, 2}, .groups = 2, .bias = false,
                                .padding_mode = "circular"}),
                  c, params);
  if (name == "conv2d reflect unbatched")
    return loaded(nn::Conv2d(2, 3, 3, C2{.padding = {2, 1}, .padding_mode = "reflect"}), c, params);
  if (name == "conv2d zeros unbatched")
    return loaded(nn::Conv2d(2, 3, 3, C2{.stride = {2, 2}, .padding = {1, 1}}), c, params);
  if (name == "conv2d circular unbatched")
    return loaded(nn::Conv2d(2, 3, 3, C2{.padding = {1, 1}, .padding_mode = "circular"}), c, params);
  if (name == "conv2d same") return loaded(nn::Conv2d(2, 3, 3, C2{.same_padding = true}), c, params);
  if (name == "conv2d same asymmetric")
    return loaded(std::make_shared<nn::Conv2dImpl>(2, 3, std::array<int64_t, 2>{3, 4},
                                                   C2{.dilation = {1, 3}, .same_padding = true}),
                  c, params);
  if (name == "conv1d same reflect")
    return loaded(nn::Conv1d(2, 3, 4, C1{.padding_mode = "reflect", .same_padding = true}), c, params);
  if (name == "conv2d same replicate")
    return loaded(nn::Conv2d(2, 2, 2, C2{.groups = 2, .padding_mode = "replicate", .same_padding = true}), c, params);
  if (name == "conv1d same unbatched") return loaded(nn::Conv1d(2, 3, 2, C1{.same_padding = true}), c, params);
  if (name == "conv_transpose2d unbatched")
    return loaded(nn::ConvTranspose2d(2, 3, 3, C2{.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}}), c,
                  params);
  FAIL("no module for case " << name);
  return nullptr;
}

// The modules of make_modes_reference.py's MODULES table, by name.
std::shared_ptr<nn::FunctionalImpl> resize_module(const std::string& name) {
  if (name == "upsample nearest 2") return nn::Upsample({.scale_factor = 2});
  if (name == "upsample bilinear size") return nn::Upsample({.size = Size2{5, 7}, .mode = "bilinear"});
  if (name == "upsample bilinear 1.5 aligned")
    return nn::Upsample({.scale_factor = 1.5, .mode = "bilinear", .align_corners = true});
  if (name == "adaptive 3x3") return nn::AdaptiveAvgPool2d(Size2{3, 3});
  if (name == "adaptive 2 unbatched") return nn::AdaptiveAvgPool2d(2);
  if (name == "adaptive None 3") return nn::AdaptiveAvgPool2d(std::nullopt, 3);
  if (name == "adaptive 2 None unbatched") return nn::AdaptiveAvgPool2d(2, std::nullopt);
  if (name == "adaptive None None") return nn::AdaptiveAvgPool2d(std::nullopt, std::nullopt);
  FAIL("no module for case " << name);
  return nullptr;
}

}  // namespace

TEST_CASE("pooling with ceil_mode or a divisor_override gives PyTorch's values and gradients",
          "[nn][pool][ceil-mode]") {
  const json& cases = modes_ref::reference().at("pool");
  REQUIRE(cases.size() >= 25);
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    CHECK(modes_ref::check_case(c, [&](const Tensor& x) { return run_pool(c, x); }) == "");
    // The modules, where the window is square as theirs is.
    const Tensor x = modes_ref::tensor(c.at("input"));
    const Size2 k = size2(c.at("kernel")), s = size2(c.at("stride")), p = size2(c.at("padding"));
    if (k[0] == k[1] && s[0] == s[1] && p[0] == p[1]) {
      const bool ceil = c.at("ceil_mode").get<bool>();
      auto m = c.at("op") == "max"
                   ? nn::MaxPool2d(k[0], {.stride = s[0], .padding = p[0], .ceil_mode = ceil})
                   : nn::AvgPool2d(k[0], {.stride = s[0], .padding = p[0], .ceil_mode = ceil,
                                          .count_include_pad = c.at("count_include_pad").get<bool>(),
                                          .divisor_override = divisor(c)});
      CHECK(compare((*m)(x), c.at("output")) == "");
    }
  }
}

TEST_CASE("pooling with ceil_mode refuses the shapes PyTorch refuses", "[nn][pool][ceil-mode]") {
  const json& cases = modes_ref::reference().at("pool_errors");
  REQUIRE(cases.size() >= 3);
  for (const json& c : cases) {
    INFO(c.dump());
    const Tensor x = zeros(ints(c.at("shape")), {.dtype = DType::Float64});
    const std::string op = c.at("op") == "max" ? "[max_pool2d]" : "[avg_pool2d]";
    CHECK_THROWS_WITH(run_pool(c, x), Catch::StartsWith(op));
  }
  // An empty height or width (PyTorch refuses it): ceil_mode, or a kernel of twice the padding, counted
  // a window of padding alone, -inf from max and 0 / 0 from the mean.
  for (bool ceil_mode : {true, false}) {
    CHECK_THROWS_WITH(max_pool2d(zeros({1, 1, 4, 0}), Size2{1, 1}, Size2{2, 2}, Size2{0, 0}, ceil_mode),
                      Catch::StartsWith("[max_pool2d] needs a non-empty height and width, got shape [1, 1, 4, 0]"));
    CHECK_THROWS_WITH(avg_pool2d(zeros({1, 1, 4, 0}), Size2{1, 1}, Size2{2, 2}, Size2{0, 0}, true, ceil_mode),
                      Catch::StartsWith("[avg_pool2d] needs a non-empty height and width"));
  }
  CHECK_THROWS_WITH(max_pool2d(zeros({1, 1, 0, 4}), 2, 1, 1), Catch::StartsWith("[max_pool2d] needs a non-empty"));
  CHECK_THROWS_WITH((*nn::MaxPool2d(2, 2, 0, true))(zeros({1, 4, 0})), Catch::StartsWith("[max_pool2d] needs a non-empty"));
  // No window would start inside the input: the message names the shape, kernel and ceil_mode.
  CHECK_THROWS_WITH(max_pool2d(zeros({1, 1, 1, 1}), 3, 1, 0, true),
                    Catch::Contains("[1, 1, 1, 1]") && Catch::Contains("[3, 3]") && Catch::Contains("ceil_mode"));
}

TEST_CASE("pooling with ceil_mode is differentiable to second order", "[nn][pool][ceil-mode][gradcheck]") {
  Generator gen(11);
  // 5x5 by 2x2 windows of stride 2: the backend's 2x2 kernel, with half windows on the last row and column
  const Tensor x = randn({1, 2, 5, 5}, {.dtype = DType::Float64}, &gen).requires_grad_();
  const Tensor y = randn({2, 6, 7}, {.dtype = DType::Float64}, &gen).requires_grad_();  // unbatched
  const std::vector<std::pair<std::string, testing::Fn>> fns = {
      {"max 2x2", [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 2, 2, 0, true); }},
      {"max 3x3 padded", [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 2, 1, true); }},
      {"avg 2x2", [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], 2, 2, 0, true, true); }},
      {"avg 3x3 padded, pad excluded",
       [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], 3, 2, 1, false, true); }},
      {"avg 3x3 padded, divisor_override -3",
       [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], 3, 2, 1, false, true, -3); }},
  };
  for (const auto& [name, f] : fns)
    for (const Tensor& in : {x, y}) {
      INFO(name << " on " << shape_str(in.shape()));
      CHECK(testing::gradcheck(f, {in}) == "");
      CHECK(testing::gradgradcheck(f, {in}) == "");
    }
}

TEST_CASE("convolutions with padding_mode and unbatched inputs give PyTorch's values and gradients",
          "[nn][conv][padding-mode]") {
  const json& cases = modes_ref::reference().at("conv");
  REQUIRE(cases.size() >= 18);
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    std::vector<Tensor> params;
    auto m = conv_module(c, params);
    const Tensor x = modes_ref::tensor(c.at("input"), true);
    const Tensor out = (*m)(x);
    CHECK(compare(out, c.at("output")) == "");
    std::vector<Tensor> inputs = {x};
    inputs.insert(inputs.end(), params.begin(), params.end());
    const std::vector<Tensor> g = modes_ref::weighted_grads(out, inputs, c);
    const json& want = c.at("grads");
    REQUIRE(want.size() == g.size());
    for (size_t i = 0; i < g.size(); ++i) {
      INFO("gradient " << i << " (input, weight, bias)");
      CHECK(compare(g[i], want[i], 1e-11) == "");
    }
  }
}

TEST_CASE("convolutions with padding_mode are differentiable to second order", "[nn][conv][padding-mode][gradcheck]") {
  for (const std::string mode : {"reflect", "replicate", "circular"}) {
    INFO(mode);
    auto c2 = nn::Conv2d(2, 2, 3, {.padding = {1, 2}, .padding_mode = mode});
    c2->to(DType::Float64);
    Generator gen(3);
    const Tensor x = randn({1, 2, 3, 4}, {.dtype = DType::Float64}, &gen).requires_grad_();
    const testing::Fn f2 = [&](const std::vector<Tensor>&) { return (*c2)(x); };
    CHECK(testing::gradcheck(f2, {x, c2->weight, c2->bias}) == "");
    CHECK(testing::gradgradcheck(f2, {x, c2->weight}) == "");
    auto c1 = nn::Conv1d(2, 2, 3, {.padding = 2, .padding_mode = mode});
    c1->to(DType::Float64);
    const Tensor u = randn({2, 4}, {.dtype = DType::Float64}, &gen).requires_grad_();  // unbatched
    const testing::Fn f1 = [&](const std::vector<Tensor>&) { return (*c1)(u); };
    CHECK(testing::gradcheck(f1, {u, c1->weight}) == "");
    CHECK(testing::gradgradcheck(f1, {u, c1->weight}) == "");
  }
}

TEST_CASE("padding=\"same\" refuses strides, explicit padding and transposed convolutions", "[nn][conv][padding-mode]") {
  CHECK_THROWS_WITH(nn::Conv2d(2, 3, 3, {.stride = {2, 1}, .same_padding = true}),
                    Catch::StartsWith("[Conv2d] padding=\"same\" needs stride 1 (as PyTorch), got stride (2, 1)"));
  CHECK_THROWS_WITH(nn::Conv1d(2, 3, 3, {.padding = 1, .same_padding = true}),
                    Catch::StartsWith("[Conv1d] padding=\"same\" computes the padding; got padding (1,) besides"));
  CHECK_THROWS_WITH(nn::Conv1d(2, 3, 3, {.dilation = INT64_MAX, .same_padding = true}),
                    Catch::StartsWith("[Conv1d] padding=\"same\" with kernel (3,) and dilation"));
  CHECK_THROWS_WITH(nn::ConvTranspose2d(2, 3, 3, {.same_padding = true}), Catch::StartsWith("[ConvTranspose2d]"));
  // The output keeps the input's length, for even kernels too.
  CHECK((*nn::Conv1d(2, 3, 4, {.dilation = 3, .same_padding = true}))(zeros({1, 2, 9})).shape() == Shape{1, 3, 9});
}

// F.conv2d(x, w, b, padding="same") is what nn.Conv2d(padding="same") runs: the module cases' PyTorch
// values check the functional form too.
TEST_CASE("conv2d and conv1d take padding by name, \"same\" and \"valid\", as torch.nn.functional's",
          "[nn][conv][padding-mode]") {
  int checked = 0;
  for (const json& c : modes_ref::reference().at("conv")) {
    const std::string name = c.at("name").get<std::string>();
    if (name != "conv2d same" && name != "conv2d same asymmetric" && name != "conv1d same unbatched") continue;
    INFO(name);
    ++checked;
    const Tensor x = modes_ref::tensor(c.at("input"), true), weight = modes_ref::tensor(c.at("weight"), true);
    const Tensor bias = modes_ref::tensor(c.at("bias"), true);
    Tensor out;
    if (name == "conv1d same unbatched") {
      out = squeeze(conv1d(unsqueeze(x, 0), weight, bias, 1, "same"), 0);
    } else {
      const Size2 dilation = name == "conv2d same" ? Size2{1, 1} : Size2{1, 3};
      out = conv2d(x, weight, bias, Size2{1, 1}, "same", dilation);
    }
    CHECK(compare(out, c.at("output")) == "");
    const std::vector<Tensor> g = modes_ref::weighted_grads(out, {x, weight, bias}, c);
    for (size_t i = 0; i < g.size(); ++i) CHECK(compare(g[i], c.at("grads")[i], 1e-11) == "");
  }
  CHECK(checked == 3);
  const Tensor x = ones({1, 2, 5, 6}), w = ones({3, 2, 3, 3});
  CHECK(conv2d(x, w, std::nullopt, 1, "valid").shape() == Shape{1, 3, 3, 4});
  CHECK(conv1d(ones({1, 2, 7}), ones({3, 2, 4}), std::nullopt, 1, "valid").shape() == Shape{1, 3, 4});
  CHECK_THROWS_WITH(conv2d(x, w, std::nullopt, 2, "same"), Catch::StartsWith("[conv2d] padding=\"same\" needs stride 1"));
  CHECK_THROWS_WITH(conv2d(x, w, std::nullopt, 1, "full"), Catch::StartsWith("[conv2d]") && Catch::Contains("\"full\""));
  CHECK_THROWS_WITH(conv1d(ones({2, 7}), ones({3, 2, 4}), std::nullopt, 1, "same"), Catch::StartsWith("[conv1d]"));
  CHECK_THROWS_WITH(conv2d(x, ones({3, 2, 3}), std::nullopt, 1, "same"), Catch::StartsWith("[conv2d]"));
}

TEST_CASE("convolutions refuse the padding modes PyTorch refuses", "[nn][conv][padding-mode]") {
  CHECK(modes_ref::reference().at("module_errors").size() == 3);
  CHECK_THROWS_WITH(nn::ConvTranspose2d(2, 3, 3, {.padding_mode = "reflect"}),
                    Catch::StartsWith("[ConvTranspose2d]") && Catch::Contains("\"reflect\""));
  CHECK_THROWS_WITH(nn::Conv2d(2, 3, 3, {.padding_mode = "mirror"}),
                    Catch::StartsWith("[Conv2d]") && Catch::Contains("\"mirror\""));
  CHECK_THROWS_WITH(nn::Conv1d(2, 3, 3, {.padding_mode = "constant"}),
                    Catch::StartsWith("[Conv1d]") && Catch::Contains("\"constant\""));
  // A reflect pad as large as the input is refused when the input comes.
  auto m = nn::Conv1d(1, 1, 3, {.padding = 4, .padding_mode = "reflect"});
  CHECK_THROWS_WITH((*m)(zeros({1, 1, 4})), Catch::StartsWith("[pad]") && Catch::Contains("(4, 4)"));
  // Found by a red-team review: negative padding was refused (at forward) only with "zeros"; the other
  // modes cropped the input (circular padding -1 took L = 8 to 4). PyTorch refuses it in every mode.
  for (const char* mode : {"zeros", "reflect", "replicate", "circular"}) {
    INFO(mode);
    CHECK_THROWS_WITH(nn::Conv1d(1, 1, 3, {.padding = -1, .padding_mode = mode}),
                      Catch::StartsWith("[Conv1d]") && Catch::Contains("padding must be non-negative"));
    CHECK_THROWS_WITH(nn::Conv2d(1, 1, 3, {.padding = {0, -1}, .padding_mode = mode}),
                      Catch::StartsWith("[Conv2d]") && Catch::Contains("(0, -1)"));
  }
  // Found by a red-team review: output_padding (ConvTranspose2d's) on a Conv2d was ignored.
  CHECK_THROWS_WITH(nn::Conv2d(2, 3, 3, {.stride = {2, 2}, .output_padding = {1, 0}}),
                    Catch::StartsWith("[Conv2d]") && Catch::Contains("output_padding") && Catch::Contains("(1, 0)"));
}

TEST_CASE("Upsample and AdaptiveAvgPool2d give PyTorch's values and gradients", "[nn][resize-modules]") {
  const json& cases = modes_ref::reference().at("modules");
  REQUIRE(cases.size() >= 8);
  for (const json& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    INFO(name);
    auto m = resize_module(name);
    CHECK(modes_ref::check_case(c, [&](const Tensor& x) { return (*m)(x); }) == "");
  }
  CHECK_THROWS_WITH(nn::Upsample({}), Catch::StartsWith("[Upsample]"));
  CHECK_THROWS_WITH(nn::Upsample({.scale_factor = 2, .mode = "bicubic"}), Catch::StartsWith("[Upsample]"));
  CHECK_THROWS_WITH(nn::Upsample({.scale_factor = -1}), Catch::StartsWith("[Upsample]"));
  CHECK_THROWS_WITH(nn::AdaptiveAvgPool2d(Size2{0, 3}), Catch::StartsWith("[AdaptiveAvgPool2d]"));
  CHECK_THROWS_WITH(nn::AdaptiveAvgPool2d(std::nullopt, -1), Catch::StartsWith("[AdaptiveAvgPool2d]"));
  // Output sizes too large for memory, or for int64, are this op's errors (PyTorch: "integer
  // multiplication overflow"), not std::bad_alloc or std::length_error from the host tables.
  const Tensor small = zeros({1, 1, 3, 5});
  CHECK_THROWS_WITH(adaptive_avg_pool2d(small, {INT64_MAX, std::nullopt}), Catch::StartsWith("[adaptive_avg_pool2d]"));
  CHECK_THROWS_WITH(adaptive_avg_pool2d(small, {int64_t{1} << 40, int64_t{1} << 40}),
                    Catch::StartsWith("[adaptive_avg_pool2d]"));
  CHECK_THROWS_WITH(adaptive_avg_pool2d(small, {int64_t{1} << 40, 1}), Catch::StartsWith("[adaptive_avg_pool2d]"));
  // A dim kept at the input's size is still refused when the input is empty there, as PyTorch.
  CHECK_THROWS_WITH(adaptive_avg_pool2d(zeros({1, 1, 0, 3}), {std::nullopt, 2}),
                    Catch::StartsWith("[adaptive_avg_pool2d]") && Catch::Contains("empty"));
}

TEST_CASE("avg_pool2d's divisor_override refuses zero, as PyTorch", "[nn][pool][divisor-override]") {
  CHECK_THROWS_WITH(avg_pool2d(zeros({1, 1, 4, 4}), 2, std::nullopt, 0, true, false, 0),
                    Catch::StartsWith("[avg_pool2d] divisor_override must be nonzero") &&
                        Catch::Contains("[1, 1, 4, 4]"));
  CHECK_THROWS_WITH(nn::AvgPool2d(2, {.divisor_override = 0}), Catch::StartsWith("[AvgPool2d]"));
  // It divides the padded, clipped and whole windows alike, whatever count_include_pad says.
  Generator gen(12);
  const Tensor x = randn({1, 2, 5, 5}, {.dtype = DType::Float64}, &gen);
  const Tensor sum_of_windows = avg_pool2d(x, 3, 2, 1, true, true, 1);
  CHECK(allclose(avg_pool2d(x, 3, 2, 1, false, true, 4), sum_of_windows / 4.0, 0, 0));
  // The module takes it last, in PyTorch's positional order, as well as by name.
  CHECK(allclose((*nn::AvgPool2d(3, 2, 1, true, false, 4))(x), sum_of_windows / 4.0, 0, 0));
}

TEST_CASE("pooling, resizing and padded convolutions print what PyTorch prints", "[nn][repr][padding-mode]") {
  const json& want = modes_ref::reference().at("repr");
  const std::map<std::string, std::function<std::shared_ptr<nn::Module>()>> made = {
      {"MaxPool2d(2)", [] { return nn::MaxPool2d(2); }},
      {"MaxPool2d(3, 2, 1, ceil_mode=True)", [] { return nn::MaxPool2d(3, 2, 1, true); }},
      {"AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)",
       [] { return nn::AvgPool2d(3, 2, 1, true, false); }},
      {"AdaptiveAvgPool2d((3, 3))", [] { return nn::AdaptiveAvgPool2d(Size2{3, 3}); }},
      {"AdaptiveAvgPool2d(3)", [] { return nn::AdaptiveAvgPool2d(3); }},
      {"AdaptiveAvgPool2d((2, 5))", [] { return nn::AdaptiveAvgPool2d(Size2{2, 5}); }},
      {"AdaptiveAvgPool2d((None, 3))", [] { return nn::AdaptiveAvgPool2d(std::nullopt, 3); }},
      {"AdaptiveAvgPool2d((None, None))", [] { return nn::AdaptiveAvgPool2d(std::nullopt, std::nullopt); }},
      {"AvgPool2d(2, divisor_override=3)", [] { return nn::AvgPool2d(2, {.divisor_override = 3}); }},
      {"Upsample(scale_factor=2)", [] { return nn::Upsample({.scale_factor = 2}); }},
      {"Upsample(scale_factor=0.5, mode='bilinear')",
       [] { return nn::Upsample({.scale_factor = 0.5, .mode = "bilinear"}); }},
      {"Upsample(scale_factor=(2, 1.5))", [] { return nn::Upsample({.scale_factor = ScaleFactor2(2, 1.5)}); }},
      {"Upsample(size=(4, 6), mode='bilinear', align_corners=True)",
       [] { return nn::Upsample({.size = Size2{4, 6}, .mode = "bilinear", .align_corners = true}); }},
      {"Conv2d(2, 4, 3, padding=1, padding_mode='reflect', bias=False)",
       [] { return nn::Conv2d(2, 4, 3, {.padding = {1, 1}, .bias = false, .padding_mode = "reflect"}); }},
      {"Conv2d(2, 4, 3, stride=2, padding_mode='replicate')",
       [] { return nn::Conv2d(2, 4, 3, {.stride = {2, 2}, .padding_mode = "replicate"}); }},
      {"Conv1d(2, 4, 3, padding=1, padding_mode='circular')",
       [] { return nn::Conv1d(2, 4, 3, {.padding = 1, .padding_mode = "circular"}); }},
      {"Conv1d(2, 4, 3, padding_mode='zeros')", [] { return nn::Conv1d(2, 4, 3, {.padding_mode = "zeros"}); }},
      {"Conv2d(2, 4, (3, 4), padding='same', dilation=(1, 3))",
       [] {
         return std::make_shared<nn::Conv2dImpl>(2, 4, std::array<int64_t, 2>{3, 4},
                                                 nn::Conv2dOptions{.dilation = {1, 3}, .same_padding = true});
       }},
      {"Conv1d(2, 4, 3, padding='same', padding_mode='reflect')",
       [] { return nn::Conv1d(2, 4, 3, {.padding_mode = "reflect", .same_padding = true}); }},
  };
  REQUIRE(want.size() == made.size());
  for (const auto& [key, make] : made) {
    INFO(key);
    const std::shared_ptr<nn::Module> m = make();
    // The first line, without the parameter count ember prints after it and PyTorch does not.
    std::string s = m->str();
    s = s.substr(0, s.find('\n'));
    s = s.substr(0, s.find("  # "));
    CHECK(s == want.at(key).get<std::string>());
  }
}

// ---------------------------------------------------------------- trunc_normal_
namespace {

double normal_pdf(double z) { return std::exp(-z * z / 2) / std::sqrt(2 * M_PI); }
double z_times_pdf(double z) { return std::isinf(z) ? 0 : z * normal_pdf(z); }  // 0 at an infinite bound
double normal_cdf(double z) { return (1 + std::erf(z / std::sqrt(2.0))) / 2; }

struct Truncated {
  double mean, std, a, b;
  double alpha() const { return (a - mean) / std; }
  double beta() const { return (b - mean) / std; }
  double mass() const { return normal_cdf(beta()) - normal_cdf(alpha()); }
  // The closed forms of the truncated normal's moments and CDF.
  double expected_mean() const { return mean + std * (normal_pdf(alpha()) - normal_pdf(beta())) / mass(); }
  double expected_std() const {
    const double r = (normal_pdf(alpha()) - normal_pdf(beta())) / mass();
    return std * std::sqrt(1 + (z_times_pdf(alpha()) - z_times_pdf(beta())) / mass() - r * r);
  }
  double cdf(double x) const { return (normal_cdf((x - mean) / std) - normal_cdf(alpha())) / mass(); }
};

}  // namespace

TEST_CASE("trunc_normal_ draws the truncated normal", "[nn][init][trunc-normal]") {
  const std::vector<std::pair<Truncated, DType>> cases = {
      {{0, 1, -2, 2}, DType::Float32},     // the defaults
      {{0.5, 2, -1, 3}, DType::Float64},   // asymmetric
      {{0, 1, 3, 4}, DType::Float32},      // in the far tail: erfinv near 1
      {{0, 0.02, -0.04, 0.04}, DType::Float32},  // ViT's weights
      {{1, 1, -5, 0}, DType::Float64},     // the mean outside [a, b]
      {{0, 1, -INFINITY, 0}, DType::Float64},  // a half-normal
      {{0, 2, -1, INFINITY}, DType::Float32},
  };
  constexpr int64_t n = 200000;
  for (const auto& [t, dtype] : cases) {
    INFO(fmt::format("mean {} std {} a {} b {} {}", t.mean, t.std, t.a, t.b, dtype));
    Tensor w = empty({400, n / 400}, {.dtype = dtype});
    Generator gen(2024);
    nn::init::trunc_normal_(w, t.mean, t.std, t.a, t.b, &gen);
    std::vector<double> v = cast(w, DType::Float64).to_vector<double>();
    REQUIRE(static_cast<int64_t>(v.size()) == n);
    double lo = v[0], hi = v[0], total = 0;
    for (double e : v) {
      lo = std::min(lo, e);
      hi = std::max(hi, e);
      total += e;
    }
    CHECK(lo >= t.a);
    CHECK(hi <= t.b);
    const double m = total / n;
    double ss = 0;
    for (double e : v) ss += (e - m) * (e - m);
    const double sd = std::sqrt(ss / (n - 1));
    // Five standard errors of the sample mean; the sample std within 1.5% (about 6 standard errors).
    CHECK(std::abs(m - t.expected_mean()) < 5 * t.expected_std() / std::sqrt(double(n)));
    CHECK(sd == Approx(t.expected_std()).epsilon(0.015));
    // Kolmogorov-Smirnov distance to the truncated normal's CDF, below its 0.1% critical value.
    std::sort(v.begin(), v.end());
    double ks = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double f = t.cdf(v[i]);
      ks = std::max({ks, std::abs(f - double(i) / n), std::abs(f - double(i + 1) / n)});
    }
    CHECK(ks < 1.95 / std::sqrt(double(n)));
  }
}

TEST_CASE("trunc_normal_ keeps 16-bit values within bounds those dtypes cannot hold", "[nn][init][trunc-normal]") {
  // 0.1 and 0.3 round outwards in bfloat16 and float16 (to 0.30078 and 0.0999756): clamping before the
  // conversion let about one value in a thousand out.
  for (DType dtype : {DType::BFloat16, DType::Float16}) {
    for (auto [std, a, b] : {std::tuple{1.0, 0.1, 0.3}, std::tuple{0.02, -0.04, 0.04}}) {
      INFO(fmt::format("{} std {} [{}, {}]", dtype, std, a, b));
      Tensor w = empty({200000}, {.dtype = dtype});
      Generator gen(7);
      nn::init::trunc_normal_(w, 0, std, a, b, &gen);
      CHECK(min(w).to(DType::Float64).item<double>() >= a);
      CHECK(max(w).to(DType::Float64).item<double>() <= b);
    }
  }
  // No bfloat16 lies in [0.1002, 0.1005] (its values there are 0.10010 and 0.10059).
  Tensor w = empty({4}, {.dtype = DType::BFloat16});
  CHECK_THROWS_WITH(nn::init::trunc_normal_(w, 0, 1, 0.1002, 0.1005), Catch::Contains("no bfloat16 value lies in"));
}

TEST_CASE("trunc_normal_ follows its generator, leaves empty tensors and refuses bad arguments",
          "[nn][init][trunc-normal]") {
  Tensor a = empty({50}), b = empty({50});
  Generator g1(5), g2(5);
  nn::init::trunc_normal_(a, 0, 1, -2, 2, &g1);
  nn::init::trunc_normal_(b, 0, 1, -2, 2, &g2);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  // In place on a parameter, which stays a leaf that requires grad.
  Tensor p = zeros({4, 4}).requires_grad_();
  nn::init::trunc_normal_(p);
  CHECK(p.requires_grad());
  CHECK(p.is_leaf());
  CHECK(max(abs(p)).item<float>() > 0);
  Tensor none = empty({0, 3});
  CHECK(nn::init::trunc_normal_(none).numel() == 0);

  Tensor w = empty({3});
  CHECK_THROWS_WITH(nn::init::trunc_normal_(w, 0, -1), Catch::StartsWith("[trunc_normal_]") && Catch::Contains("-1"));
  CHECK_THROWS_WITH(nn::init::trunc_normal_(w, 0, 0), Catch::StartsWith("[trunc_normal_]"));
  CHECK_THROWS_WITH(nn::init::trunc_normal_(w, 0, 1, 2, 2),
                    Catch::StartsWith("[trunc_normal_]") && Catch::Contains("[2, 2]"));
  CHECK_THROWS_WITH(nn::init::trunc_normal_(w, 0, 1, 3, -3), Catch::StartsWith("[trunc_normal_]"));
  CHECK_THROWS_WITH(nn::init::trunc_normal_(w, 0, 1, NAN, 2), Catch::StartsWith("[trunc_normal_]"));
  Tensor i = zeros({3}, {.dtype = DType::Int64});
  CHECK_THROWS_WITH(nn::init::trunc_normal_(i), Catch::StartsWith("[trunc_normal_]") && Catch::Contains("int64"));
  CHECK_THROWS_WITH(nn::init::trunc_normal_(none, 0, 1, 1, 0), Catch::StartsWith("[trunc_normal_]"));
}
