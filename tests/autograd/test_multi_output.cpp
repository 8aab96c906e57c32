// Primitives with several outputs: one gradient slot per output, an undefined gradient for an output
// nobody used, saved outputs re-attached to the right slot, and higher orders through them.
#include <catch2/catch.hpp>

#include <cmath>

#include <ember/ops/op.h>
#include "tests/autograd/helpers.h"
#include <ember/testing/gradcheck.h>

using namespace ember;
using ember::test::check_values;
using ember::test::leaf;

namespace {

int sincos_backward_calls = 0;

// {sin x, cos x} as one primitive whose backward reads both of its own saved outputs:
// d/dx (g0 sin x + g1 cos x) = g0 cos x - g1 sin x.
struct SinCos {
  static constexpr const char* name = "sincos";
  std::array<Tensor, 2> forward(Ctx& ctx, const Tensor& x) {
    Tensor s = sin(x), c = cos(x);
    ctx.save_output(s, 0);
    ctx.save_output(c, 1);
    return {s, c};
  }
  Grads backward(Ctx& ctx, const std::array<Tensor, 2>& grads) {
    ++sincos_backward_calls;
    Tensor s = ctx.saved(0), c = ctx.saved(1);
    Tensor g;
    if (grads[0].defined()) g = grads[0] * c;
    if (grads[1].defined()) g = g.defined() ? g - grads[1] * s : neg(grads[1] * s);
    return {g};
  }
};

std::array<Tensor, 2> sincos(const Tensor& x) { return apply(SinCos{}, x); }

}  // namespace

TEST_CASE("a two-output primitive gives each output its own gradient slot", "[autograd][multi_output]") {
  const std::vector<double> xs = {-1.3, 0.2, 0.9, 2.5};
  Tensor x = leaf(xs);
  auto [s, c] = sincos(x);
  REQUIRE(s.grad_fn() == c.grad_fn());  // one node
  CHECK(s.impl()->output_nr == 0);
  CHECK(c.impl()->output_nr == 1);
  (2 * s + 3 * c).sum().backward();
  std::vector<double> expected;
  for (double v : xs) expected.push_back(2 * std::cos(v) - 3 * std::sin(v));
  check_values(x.grad(), expected);
}

TEST_CASE("an output nobody used arrives as an undefined gradient", "[autograd][multi_output]") {
  Tensor x = leaf({0.3, -0.7});
  sincos_backward_calls = 0;
  auto [s, c] = sincos(x);
  c.sum().backward();  // only output 1 used: grads[0] undefined, and backward must not trip on it
  CHECK(sincos_backward_calls == 1);
  check_values(x.grad(), {-std::sin(0.3), -std::sin(-0.7)});
  Tensor y = leaf({0.5});
  sincos_backward_calls = 0;
  s = sincos(y)[0];
  s.sum().backward();
  CHECK(sincos_backward_calls == 1);
  check_values(y.grad(), {std::cos(0.5)});
}

TEST_CASE("a two-output primitive passes gradcheck and gradgradcheck through each output",
          "[autograd][multi_output][gradcheck]") {
  Tensor x = leaf({-1.1, 0.4, 1.7, 2.2, -0.3, 0.8}, {2, 3});
  const std::vector<testing::Fn> fns = {
      [](const std::vector<Tensor>& in) { return sincos(in[0])[0]; },
      [](const std::vector<Tensor>& in) { return sincos(in[0])[1]; },
      [](const std::vector<Tensor>& in) {
        auto [s, c] = sincos(in[0]);
        return s * c + c;
      },
  };
  for (size_t i = 0; i < fns.size(); ++i) {
    INFO("function " << i);
    CHECK(testing::gradcheck(fns[i], {x}) == "");
    CHECK(testing::gradgradcheck(fns[i], {x}) == "");
  }
}

TEST_CASE("max and min along a dim return named values and indices", "[autograd][multi_output][max]") {
  Tensor x = leaf({1, 5, 3, 7, 2, 7}, {2, 3});
  auto r = max(x, 1);
  check_values(r.values, {5, 7});
  CHECK(r.indices.dtype() == DType::Int64);
  CHECK(r.indices.to_vector<int64_t>() == std::vector<int64_t>{1, 0});  // the first of tied maxima
  CHECK(r.values.requires_grad());
  CHECK_FALSE(r.indices.requires_grad());
  auto [values, indices] = min(x, 0, true);
  CHECK(values.shape() == Shape{1, 3});
  check_values(values, {1, 2, 3});
  CHECK(indices.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 0});
  // The gradient goes to the element the value came from, not split among ties (7 appears twice in
  // row 1, but only index 0 of that row receives it).
  r.values.sum().backward();
  check_values(x.grad(), {0, 1, 0, 1, 0, 0});
}

TEST_CASE("max along a dim is a multi-output primitive: gradcheck and gradgradcheck",
          "[autograd][multi_output][max][gradcheck]") {
  Tensor x = leaf({0.1, 2.3, -1.2, 0.7, 1.9, -0.4, 3.1, 0.5, -2.2, 1.1, 0.0, 2.8}, {3, 4});
  for (int64_t dim : {0, 1, -1}) {
    for (bool keepdim : {false, true}) {
      INFO("dim " << dim << " keepdim " << keepdim);
      testing::Fn f = [dim, keepdim](const std::vector<Tensor>& in) {
        auto [v, i] = max(in[0], dim, keepdim);
        return v * v;
      };
      CHECK(testing::gradcheck(f, {x}) == "");
      CHECK(testing::gradgradcheck(f, {x}) == "");
    }
  }
  testing::Fn fmin = [](const std::vector<Tensor>& in) { return min(in[0], 1).values; };
  CHECK(testing::gradcheck(fmin, {x}) == "");
  CHECK(testing::gradgradcheck(fmin, {x}) == "");
}

TEST_CASE("max along a dim: the graph has one node named max with two outputs", "[autograd][multi_output][max]") {
  Tensor x = leaf({1, 2, 3, 4}, {2, 2});
  auto [v, i] = max(x, 0);
  REQUIRE(v.grad_fn());
  CHECK(std::string(v.grad_fn()->name()) == "max");
  CHECK(v.grad_fn()->outputs.size() == 2);
  auto [v2, i2] = min(x, 0);
  CHECK(std::string(v2.grad_fn()->name()) == "min");
}

TEST_CASE("max along a dim of a 0-dim tensor, and errors", "[autograd][multi_output][max]") {
  Tensor s = leaf({2.5}).reshape({});
  auto [v, i] = max(s, 0);
  CHECK(v.dim() == 0);
  CHECK(v.item<double>() == 2.5);
  CHECK(i.item<int64_t>() == 0);
  CHECK_THROWS_WITH(max(zeros({2, 0}), 1), Catch::Contains("[max]") && Catch::Contains("size 0"));
  CHECK_THROWS_WITH(max(zeros({2, 3}), 2), Catch::Contains("[max]"));
  CHECK_THROWS_WITH(min(Tensor(), 0), Catch::Contains("[min]") && Catch::Contains("undefined"));
}

TEST_CASE("unbind is one node with an output per slice, whose backward stacks the gradients",
          "[autograd][multi_output][unbind]") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  const std::vector<Tensor> cols = unbind(x, 1);
  REQUIRE(cols.size() == 3);
  REQUIRE(cols[0].grad_fn());
  CHECK(std::string(cols[0].grad_fn()->name()) == "unbind");
  CHECK(cols[0].grad_fn() == cols[2].grad_fn());  // one node for all slices, not one select each
  CHECK(cols[0].grad_fn()->outputs.size() == 3);
  check_values(cols[1], {2, 5});
  // Slice 1 unused: its gradient is zero; slice 2 used twice: its gradients add up.
  const Tensor loss = sum(cols[0] * 2.0) + sum(cols[2] * cols[2]);
  const auto g = grad({loss}, {x});
  check_values(g[0], {2, 0, 6, 2, 0, 12});
  // Without grad mode, or for an input that needs none, the slices are plain views.
  {
    NoGradGuard no_grad;
    CHECK_FALSE(unbind(x, 0)[0].grad_fn());
  }
  CHECK_FALSE(unbind(zeros({2, 2}), 0)[0].grad_fn());
  CHECK(unbind(zeros({0, 2}), 0).empty());
  CHECK_THROWS_WITH(unbind(zeros({}), 0), Catch::Contains("[unbind]") && Catch::Contains("0-dimensional"));
  CHECK_THROWS_WITH(unbind(Tensor(), 0), Catch::Contains("[unbind]") && Catch::Contains("undefined"));
}

TEST_CASE("split and chunk are one node whose backward concatenates the pieces' gradients",
          "[autograd][multi_output][split]") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  const std::vector<Tensor> parts = split_with_sizes(x, std::vector<int64_t>{1, 2, 1}, 1);
  REQUIRE(parts.size() == 3);
  REQUIRE(parts[0].grad_fn());
  CHECK(std::string(parts[0].grad_fn()->name()) == "split");
  CHECK(parts[0].grad_fn() == parts[2].grad_fn());
  check_values(parts[1], {2, 3, 6, 7});
  // Piece 1 unused: zero gradient; piece 2 used twice: its gradients add up.
  const Tensor loss = sum(parts[0] * 3.0) + sum(parts[2] * parts[2]);
  check_values(grad({loss}, {x})[0], {3, 0, 0, 8, 3, 0, 0, 16});
  CHECK(std::string(chunk(x, 2, 0)[1].grad_fn()->name()) == "split");
  // One piece covering all of x: a view with the split node as history; x stays a leaf.
  const auto whole = chunk(x, 1, 0);
  REQUIRE(whole.size() == 1);
  CHECK(whole[0].impl() != x.impl());
  CHECK(std::string(whole[0].grad_fn()->name()) == "split");
  CHECK(x.is_leaf());
  CHECK_FALSE(x.grad_fn());
  check_values(grad({sum(whole[0] * 2.0)}, {x})[0], {2, 2, 2, 2, 2, 2, 2, 2});
  {
    NoGradGuard no_grad;
    CHECK_FALSE(chunk(x, 2, 1)[0].grad_fn());
  }
  Generator gen(4);
  const Tensor y = randn({3, 6}, {.dtype = DType::Float64}, &gen).requires_grad_();
  testing::Fn f = [](const std::vector<Tensor>& in) {
    const auto p = chunk(in[0], 3, 1);
    return p[0] * p[2] + sin(p[1]);
  };
  CHECK(testing::gradcheck(f, {y}) == "");
  CHECK(testing::gradgradcheck(f, {y}) == "");
}

TEST_CASE("unbind: gradcheck and gradgradcheck through a loop over its slices", "[autograd][multi_output][unbind]") {
  Generator gen(3);
  const Tensor x = randn({4, 5}, {.dtype = DType::Float64}, &gen).requires_grad_();
  testing::Fn recurrence = [](const std::vector<Tensor>& in) {  // h = h * x_t + x_t, as a scan would
    const std::vector<Tensor> rows = unbind(in[0], 0);
    Tensor h = rows[0];
    for (size_t t = 1; t < rows.size(); ++t) h = h * rows[t] + rows[t];
    return h;
  };
  CHECK(testing::gradcheck(recurrence, {x}) == "");
  CHECK(testing::gradgradcheck(recurrence, {x}) == "");
}

TEST_CASE("unbind along a negative dim, and a hook on one slice", "[autograd][multi_output][unbind]") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  const std::vector<Tensor> cols = unbind(x, -1);
  REQUIRE(cols.size() == 3);
  check_values(cols[2], {3, 6});
  int calls = 0;
  cols[1].register_hook([&calls](const Tensor& g) {
    ++calls;
    return g * 10.0;
  });
  const auto g = grad({sum(cols[0]) + sum(cols[1])}, {x});
  CHECK(calls == 1);
  check_values(g[0], {1, 10, 0, 1, 10, 0});
}
