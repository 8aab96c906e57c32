// The engine and Node destruction are iterative: a graph of 100,000 nodes must neither overflow the
// stack when walked backwards nor when it is destroyed (a chain of shared_ptr<Node> destructors
// would recurse once per node).
#include <catch2/catch.hpp>

#include <cmath>

#include "tests/autograd/helpers.h"

using namespace ember;
using ember::test::check_values;
using ember::test::leaf;

namespace {
constexpr int kSteps = 100000;
}

TEST_CASE("backward through a chain of 100,000 adds") {
  Tensor x = leaf({0.5});
  Tensor y = x;
  for (int i = 0; i < kSteps; ++i) y = y + x;  // y = (kSteps + 1) x
  y.backward();
  check_values(x.grad(), {kSteps + 1.0});
}

TEST_CASE("backward through a chain of 100,000 muls") {
  Tensor x = leaf({1.0});
  Tensor y = x;
  for (int i = 0; i < kSteps; ++i) y = y * 1.0001;  // each mul saves its input, which owns the previous node
  y.backward();
  check_values(x.grad(), {std::pow(1.0001, kSteps)}, 1e-9);
}

TEST_CASE("grad() through a chain of 100,000 unary ops") {
  Tensor x = leaf({0.3});
  Tensor y = x;
  for (int i = 0; i < kSteps; ++i) y = neg(y);  // an even number of negations: y = x
  std::vector<Tensor> g = grad({y}, {x});
  check_values(g[0], {1});
}

TEST_CASE("a graph of 100,000 nodes is destroyed without backward") {
  Tensor x = leaf({1.0});
  {
    Tensor y = x;
    for (int i = 0; i < kSteps; ++i) y = y * 1.0001;
    REQUIRE(y.grad_fn() != nullptr);
  }  // y, and with it the whole chain, goes here
  {
    Tensor y = x;
    for (int i = 0; i < kSteps; ++i) y = tanh(y) + x;  // a wider graph: several edges per step
  }
  // The leaf is unharmed and can still be differentiated.
  (x * 2).backward();
  check_values(x.grad(), {2});
}
