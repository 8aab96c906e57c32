// backward() and grad(): accumulation, shared inputs, non-leaf gradients, grad mode, detach, hooks,
// retain_grad, and freeing saved tensors after backward.
#include <catch2/catch.hpp>

#include <cmath>

#include "tests/autograd/helpers.h"

using namespace ember;
using ember::test::check_values;
using ember::test::leaf;

TEST_CASE("backward accumulates into .grad across calls") {
  Tensor x = leaf({1, 2, 3});
  CHECK_FALSE(x.grad().defined());
  (x * x).sum().backward();  // d/dx sum x^2 = 2x
  check_values(x.grad(), {2, 4, 6});
  (x * 3).sum().backward();  // + 3
  check_values(x.grad(), {5, 7, 9});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  (x * 3).sum().backward();
  check_values(x.grad(), {3, 3, 3});
}

TEST_CASE("the first accumulated gradient is a copy, not an alias of the graph's tensor") {
  // The grad of a + b reaches both leaves as the same tensor; changing one .grad must not change the other.
  Tensor a = leaf({1, 2});
  Tensor b = leaf({3, 4});
  (a + b).sum().backward();
  check_values(a.grad(), {1, 1});
  check_values(b.grad(), {1, 1});
  CHECK(a.grad().storage() != b.grad().storage());
  a.grad().mul_(5);
  check_values(b.grad(), {1, 1});
}

TEST_CASE("an input used twice receives the sum of both gradients") {
  Tensor x = leaf({-1.5, 0.5, 2});
  (x * x).sum().backward();
  check_values(x.grad(), {-3, 1, 4});

  // Two different branches: d/dx (e^x + 3x) = e^x + 3.
  Tensor y = leaf({-1.5, 0.5, 2});
  (exp(y) + y * 3).sum().backward();
  check_values(y.grad(), {std::exp(-1.5) + 3, std::exp(0.5) + 3, std::exp(2.0) + 3});
}

TEST_CASE("grad() returns gradients without touching .grad") {
  Tensor x = leaf({1, 2, 3});
  Tensor w = leaf({4, 5, 6});
  Tensor loss = (x * w).sum();
  std::vector<Tensor> g = grad({loss}, {x, w});
  REQUIRE(g.size() == 2);
  check_values(g[0], {4, 5, 6});  // d/dx = w
  check_values(g[1], {1, 2, 3});  // d/dw = x
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(w.grad().defined());
  // Without create_graph the results are plain values.
  CHECK_FALSE(g[0].requires_grad());
  CHECK_FALSE(g[1].requires_grad());
}

TEST_CASE("grad() with grad_outputs weights a non-scalar output") {
  Tensor x = leaf({1, 2, 3});
  Tensor y = x * x;  // dy_i/dx_i = 2 x_i
  Tensor v = from_vector<double>({1, -1, 0.5});
  std::vector<Tensor> g = grad({y}, {x}, {v});
  check_values(g[0], {2, -4, 3});
}

TEST_CASE("grad() with create_graph returns differentiable gradients; retain_graph keeps the graph") {
  Tensor x = leaf({2});
  Tensor y = (x * x * x).sum();  // y = x^3
  std::vector<Tensor> g = grad({y}, {x}, {}, {.create_graph = true});
  CHECK(g[0].requires_grad());
  check_values(g[0], {12});  // 3 x^2
  // The graph of y is still there (create_graph implies retain_graph): a second grad works.
  std::vector<Tensor> again = grad({y}, {x}, {}, {.retain_graph = true});
  check_values(again[0], {12});
  std::vector<Tensor> again2 = grad({y}, {x});
  check_values(again2[0], {12});
  CHECK_THROWS_WITH(grad({y}, {x}), Catch::Contains("second time"));
}

TEST_CASE("grad() with respect to a non-leaf intermediate") {
  Tensor x = leaf({1, -2});
  Tensor h = x * 3;
  Tensor y = (h * h).sum();
  std::vector<Tensor> g = grad({y}, {h}, {}, {.retain_graph = true});
  check_values(g[0], {6, -12});  // dy/dh = 2h = 6x
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(h.grad().defined());
  // Both at once: the intermediate and the leaf.
  std::vector<Tensor> both = grad({y}, {h, x});
  check_values(both[0], {6, -12});
  check_values(both[1], {18, -36});  // dy/dx = 2h * 3 = 18x
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("grad() of an unused input: an error naming it, or undefined with allow_unused") {
  Tensor x = leaf({1, 2});
  Tensor z = leaf({1, 2, 3, 4}, {2, 2});
  Tensor y = (x * 2).sum();
  CHECK_THROWS_WITH(grad({y}, {x, z}, {}, {.retain_graph = true}),
                    Catch::Contains("[grad]") && Catch::Contains("input 1") && Catch::Contains("[2, 2]") &&
                        Catch::Contains("allow_unused"));
  std::vector<Tensor> g = grad({y}, {x, z}, {}, {.allow_unused = true});
  check_values(g[0], {2, 2});
  CHECK_FALSE(g[1].defined());
}

TEST_CASE("grad() of an input that does not require grad is an error") {
  Tensor x = leaf({1, 2});
  Tensor c = from_vector<double>({1, 2});
  Tensor y = (x * c).sum();
  CHECK_THROWS_WITH(grad({y}, {c}), Catch::Contains("[grad]") && Catch::Contains("does not require grad"));
}

TEST_CASE("backward of a tensor that does not require grad is an error") {
  Tensor c = from_vector<double>({1, 2});
  CHECK_THROWS_WITH(c.sum().backward(), Catch::Contains("[backward]") && Catch::Contains("does not require grad"));
}

TEST_CASE("NoGradGuard stops recording and restores the previous mode") {
  Tensor x = leaf({1, 2});
  REQUIRE(GradMode::is_enabled());
  {
    NoGradGuard no_grad;
    CHECK_FALSE(GradMode::is_enabled());
    Tensor y = x * 2;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    check_values(y, {2, 4});
    {
      EnableGradGuard enable;
      Tensor z = x * 2;
      CHECK(z.requires_grad());
      CHECK(z.grad_fn() != nullptr);
    }
    CHECK_FALSE(GradMode::is_enabled());
  }
  CHECK(GradMode::is_enabled());
  Tensor y = x * 2;
  CHECK(y.requires_grad());
  CHECK(std::string(y.grad_fn()->name()) == "mul");
}

TEST_CASE("detach() shares storage but cuts the graph") {
  Tensor x = leaf({1, 2, 3});
  Tensor d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.storage() == x.storage());
  // The detached factor is a constant: d/dx (x * stop(x)) = x, not 2x.
  (x * d).sum().backward();
  check_values(x.grad(), {1, 2, 3});

  // detach_() cuts a non-leaf's history in place.
  Tensor h = x * 2;
  REQUIRE_FALSE(h.is_leaf());
  h.detach_();
  CHECK(h.is_leaf());
  CHECK_FALSE(h.requires_grad());
}

TEST_CASE("a hook on a leaf can replace its gradient") {
  Tensor x = leaf({1, 2});
  int calls = 0;
  x.register_hook([&](const Tensor& g) {
    ++calls;
    return g * 2;
  });
  (x * 3).sum().backward();
  CHECK(calls == 1);
  check_values(x.grad(), {6, 6});
}

TEST_CASE("a hook on a leaf also applies to grad()") {
  Tensor x = leaf({1, 2});
  x.register_hook([](const Tensor& g) { return g * 2; });
  std::vector<Tensor> g = grad({(x * 3).sum()}, {x});
  check_values(g[0], {6, 6});
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("a hook on a non-leaf sees its gradient and can replace it") {
  Tensor x = leaf({1, -2});
  Tensor h = x * 3;
  Tensor seen;
  h.register_hook([&](const Tensor& g) {
    seen = g.detach().clone();
    return g * 2;
  });
  (h * h).sum().backward();
  check_values(seen, {6, -12});        // dL/dh = 2h
  check_values(x.grad(), {36, -72});   // (2 * 2h) * 3 = 36x
  CHECK_FALSE(h.grad().defined());     // a non-leaf keeps no .grad without retain_grad
}

TEST_CASE("a hook returning an undefined tensor leaves the gradient unchanged") {
  Tensor x = leaf({1, 2});
  Tensor h = x * 3;
  int calls = 0;
  h.register_hook([&](const Tensor&) {
    ++calls;
    return Tensor();
  });
  h.sum().backward();
  CHECK(calls == 1);
  check_values(x.grad(), {3, 3});
}

TEST_CASE("register_hook on a tensor that does not require grad is an error") {
  Tensor c = from_vector<double>({1, 2});
  CHECK_THROWS_WITH(c.register_hook([](const Tensor& g) { return g; }),
                    Catch::Contains("[register_hook]"));
}

TEST_CASE("retain_grad keeps a non-leaf's gradient") {
  Tensor x = leaf({1, -2});
  Tensor h = x * 3;
  Tensor k = x * 4;  // no retain_grad
  h.retain_grad();
  (h * h + k).sum().backward();
  check_values(h.grad(), {6, -12});  // 2h
  CHECK_FALSE(k.grad().defined());
  check_values(x.grad(), {18 + 4, -36 + 4});
  CHECK_FALSE(h.grad().requires_grad());
}

TEST_CASE("backward twice through a freed graph is an error; retain_graph keeps it") {
  SECTION("without retain_graph") {
    Tensor x = leaf({0.5, 1});
    Tensor y = exp(x).sum();  // exp saves its output for backward
    y.backward();
    CHECK_THROWS_WITH(y.backward(), Catch::Contains("second time") && Catch::Contains("retain_graph") &&
                                        Catch::Contains("'exp'"));
  }
  SECTION("with retain_graph") {
    Tensor x = leaf({0.5, 1});
    Tensor y = exp(x).sum();
    y.backward(Tensor(), /*retain_graph=*/true);
    check_values(x.grad(), {std::exp(0.5), std::exp(1.0)});
    y.backward();
    check_values(x.grad(), {2 * std::exp(0.5), 2 * std::exp(1.0)});
    CHECK_THROWS_WITH(y.backward(), Catch::Contains("second time"));
  }
  SECTION("saved tensors are dropped after backward") {
    Tensor x = leaf({0.5, 1});
    Tensor e = exp(x);
    REQUIRE(e.grad_fn() != nullptr);
    Node& node = *e.grad_fn();
    REQUIRE(node.saved.size() == 1);
    CHECK(node.saved[0].raw().defined());
    CHECK_FALSE(node.saved_released());
    e.sum().backward(Tensor(), /*retain_graph=*/true);
    CHECK(node.saved[0].raw().defined());
    e.sum().backward();
    CHECK(node.saved_released());
    CHECK_FALSE(node.saved[0].raw().defined());
  }
}

TEST_CASE("backward with create_graph makes .grad differentiable") {
  Tensor x = leaf({2});
  (x * x * x).sum().backward(Tensor(), false, /*create_graph=*/true);
  Tensor g = x.grad();
  check_values(g, {12});  // 3x^2
  REQUIRE(g.requires_grad());
  std::vector<Tensor> gg = grad({g.sum()}, {x});
  check_values(gg[0], {12});  // 6x
  // x.grad's graph ends in x's AccumulateGrad, which owns x: a reference cycle (as in PyTorch, which
  // warns about it). Resetting .grad breaks it; without this LeakSanitizer reports the graph.
  x.zero_grad();
}
