// Under create_graph, a gradient from inputs that require grad stays in the graph even when it does
// not depend on them (piecewise-linear ops: relu, leaky_relu, max and average pooling; linear ops):
// its second derivative is zero, as in PyTorch, not an error.
#include <catch2/catch.hpp>

#include <functional>

#include "tests/autograd/helpers.h"

using namespace ember;

namespace {

// Hessian-vector product of sum(f(x)) along v, by double backward.
Tensor hvp(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& v) {
  Tensor g = grad({f(x).sum()}, {x}, {}, {.create_graph = true})[0];
  REQUIRE(g.requires_grad());
  return grad({(g * v).sum()}, {x})[0];
}

}  // namespace

TEST_CASE("Hessian-vector products through piecewise-linear ops are zero", "[autograd][create_graph]") {
  Tensor x = randn({2, 3, 4, 4}, {.dtype = DType::Float64}).requires_grad_();
  Tensor v = randn({2, 3, 4, 4}, {.dtype = DType::Float64});
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> fns = {
      {"relu", [](const Tensor& t) { return relu(t); }},
      {"leaky_relu", [](const Tensor& t) { return leaky_relu(t, 0.1); }},
      {"max_pool2d", [](const Tensor& t) { return max_pool2d(t, {2, 2}); }},
      {"avg_pool2d", [](const Tensor& t) { return avg_pool2d(t, {2, 2}); }},
      {"linear: 3x - 1", [](const Tensor& t) { return t * 3 - 1; }},
  };
  for (const auto& [name, f] : fns) {
    INFO(name);
    Tensor h = hvp(f, x, v);
    REQUIRE(h.defined());
    CHECK(h.shape() == x.shape());
    CHECK(sum(abs(h)).item<double>() == 0.0);
  }
}

TEST_CASE("a piecewise-linear op inside a smooth function keeps the smooth part's curvature",
          "[autograd][create_graph]") {
  // f(x) = sum(relu(x)^2): f'' = 2 where x > 0, 0 elsewhere.
  Tensor x = ember::test::leaf({-1.5, 0.5, 2.0, -0.2});
  Tensor g = grad({square(relu(x)).sum()}, {x}, {}, {.create_graph = true})[0];
  Tensor h = grad({g.sum()}, {x})[0];
  ember::test::check_values(h, {0, 2, 2, 0});
}

TEST_CASE("backward with create_graph leaves .grad in the graph for a piecewise-linear op",
          "[autograd][create_graph]") {
  Tensor x = ember::test::leaf({-1.0, 2.0});
  relu(x).sum().backward({}, false, true);
  REQUIRE(x.grad().requires_grad());
  Tensor h = grad({x.grad().sum()}, {x})[0];
  ember::test::check_values(h, {0, 0});
  x.zero_grad();  // breaks the x -> .grad -> graph -> x cycle
}

TEST_CASE("without create_graph, gradients are plain tensors", "[autograd][create_graph]") {
  Tensor x = ember::test::leaf({-1.0, 2.0});
  Tensor g = grad({relu(x).sum()}, {x})[0];
  CHECK_FALSE(g.requires_grad());
}
