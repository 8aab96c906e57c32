#include <catch2/catch.hpp>

#include <ember/testing/gradcheck.h>

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::gradgradcheck;

TEST_CASE("gradcheck accepts a correct gradient and rejects a wrong one") {
  Tensor x = randn({3, 4}, {.dtype = DType::Float64}).requires_grad_();
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return tanh(in[0]) * in[0]; }, {x}) == "");
  CHECK(gradgradcheck([](const std::vector<Tensor>& in) { return tanh(in[0]) * in[0]; }, {x}) == "");
  // A function whose backward is deliberately wrong: detach hides a dependency from backward.
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0].detach(); }, {x}) != "");
}
