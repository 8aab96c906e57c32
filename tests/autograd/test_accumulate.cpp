// Gradients that flow through a dtype cast, and .grad accumulated over several backward passes:
// under create_graph (the sum keeps its history), and for a non-leaf that retains its grad. The
// expected values are the derivatives worked out by hand.
#include <catch2/catch.hpp>
#include <vector>

#include <ember/core/functional.h>
#include <ember/ops/ops.h>

using namespace ember;

namespace {
Tensor f64(const std::vector<double>& v) {
  return from_vector(v, {static_cast<int64_t>(v.size())});
}
}  // namespace

TEST_CASE("a gradient through a cast comes back in the input's dtype", "[autograd][cast]") {
  Tensor x = from_vector(std::vector<float>{1, 2}, {2});
  x.requires_grad_();
  // d/dx sum(double(x) * [3, 4]) = [3, 4], as float32.
  (cast(x, DType::Float64) * f64({3, 4})).sum().backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == DType::Float32);
  CHECK(x.grad().to_vector<float>() == std::vector<float>{3, 4});

  // From float16 up to float32 and back down: d/dh sum(float(h)^2) = 2h.
  Tensor h = cast(f64({0.5, -3}), DType::Float16);
  h.requires_grad_();
  square(cast(h, DType::Float32)).sum().backward();
  CHECK(h.grad().dtype() == DType::Float16);
  CHECK(h.grad().to_vector<float>() == std::vector<float>{1, -6});
}

TEST_CASE("create_graph backward passes add up in .grad and keep the sum differentiable",
          "[autograd][accumulate]") {
  Tensor x = f64({1, 2});
  x.requires_grad_();
  (x * x * x).sum().backward({}, false, true);  // .grad = 3x^2
  (x * x).sum().backward({}, false, true);      // .grad += 2x
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 16});
  REQUIRE(x.grad().requires_grad());
  // d/dx sum(3x^2 + 2x) = 6x + 2.
  const std::vector<Tensor> second = grad({x.grad().sum()}, {x});
  CHECK(second[0].to_vector<double>() == std::vector<double>{8, 14});
  // .grad's graph ends in x's AccumulateGrad, which holds x: the cycle of docs/autograd.md, broken
  // here as a user must (LeakSanitizer reports it otherwise).
  x.zero_grad();
}

TEST_CASE("a non-leaf that retains its grad accumulates it over two backward passes",
          "[autograd][accumulate]") {
  Tensor x = f64({1, 2, 3});
  x.requires_grad_();
  Tensor y = x * 2;
  y.retain_grad();
  Tensor loss = (y * y).sum();  // d loss / dy = 2y = 4x
  loss.backward({}, true);
  CHECK(y.grad().to_vector<double>() == std::vector<double>{4, 8, 12});
  loss.backward();
  CHECK(y.grad().to_vector<double>() == std::vector<double>{8, 16, 24});
  // And the leaf: d loss / dx = 8x per pass.
  CHECK(x.grad().to_vector<double>() == std::vector<double>{16, 32, 48});
}

TEST_CASE("hvp of a function that does not depend on its inputs differentiably is zero",
          "[autograd][functional]") {
  using namespace ember::autograd::functional;
  const Tensor x = f64({1, 2}), v = f64({1, 1});
  // The output is computed from a detached copy: no gradient reaches x, so H v = 0.
  const HvpResult r =
      hvp([](const std::vector<Tensor>& in) { return square(in[0].detach()).sum(); }, {x}, {v});
  CHECK(r.output.item<double>() == 5);
  REQUIRE(r.hvp.size() == 1);
  CHECK(r.hvp[0].shape() == Shape{2});
  CHECK(r.hvp[0].to_vector<double>() == std::vector<double>{0, 0});
}
