// A hook's replacement gradient must match the gradient it replaces in shape, dtype and device; the
// error names the hook's tensor.
#include <catch2/catch.hpp>

#include "tests/autograd/helpers.h"

using namespace ember;
using ember::test::leaf;

TEST_CASE("a leaf hook returning a gradient of the wrong shape is an error", "[autograd][hooks]") {
  Tensor w = leaf({1, 2, 3});
  w.set_name("w");
  w.register_hook([](const Tensor&) { return zeros({5, 5}, {.dtype = DType::Float64}); });
  Tensor y = (w * 2).sum();
  CHECK_THROWS_WITH(y.backward(), Catch::Contains("[hook]") && Catch::Contains("'w'") &&
                                      Catch::Contains("[5, 5]") && Catch::Contains("[3]"));
  CHECK_FALSE(w.grad().defined());  // nothing landed
}

TEST_CASE("a leaf hook returning the wrong dtype is an error, in backward and in grad()", "[autograd][hooks]") {
  Tensor w = leaf({1, 2, 3});
  w.register_hook([](const Tensor& g) { return g.to(DType::Float32); });
  CHECK_THROWS_WITH((w * w).sum().backward(), Catch::Contains("[hook]") && Catch::Contains("float32") &&
                                                  Catch::Contains("float64"));
  Tensor v = leaf({1, 2});
  v.register_hook([](const Tensor&) { return zeros({3}, {.dtype = DType::Float64}); });
  CHECK_THROWS_WITH(grad({(v * v).sum()}, {v}), Catch::Contains("[hook]") && Catch::Contains("[3]"));
}

TEST_CASE("a hook on a non-leaf returning the wrong shape is an error naming its op", "[autograd][hooks]") {
  Tensor w = leaf({1, 2, 3});
  Tensor h = w * 3;
  h.register_hook([](const Tensor&) { return ones({2}, {.dtype = DType::Float64}); });
  CHECK_THROWS_WITH(h.sum().backward(), Catch::Contains("[hook]") && Catch::Contains("'mul'") && Catch::Contains("[2]"));
}

TEST_CASE("a hook that returns a matching replacement still replaces the gradient", "[autograd][hooks]") {
  Tensor w = leaf({1, 2, 3});
  w.register_hook([](const Tensor& g) { return g * 10; });
  (w * 2).sum().backward();
  ember::test::check_values(w.grad(), {20, 20, 20});
}
