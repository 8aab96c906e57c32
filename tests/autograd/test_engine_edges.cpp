// The engine at the edges of its contract, each case checked against PyTorch 1.13 doing the same:
// a hook that registers a hook (it crashed: the vector reallocated under the loop), two threads
// sharing a leaf (updates were lost, accumulators duplicated), a user's op whose backward returns a
// gradient of the wrong shape or count (kernels downstream read past its end) or whose forward hands
// back its input (the input stopped being a leaf), hooks on nodes grad() skips, requires_grad_ on a
// non-leaf, and anomaly mode on an attention mask of -inf.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <functional>
#include <thread>
#include <vector>

#include "tests/autograd/helpers.h"

#include <ember/ops/op.h>
#include <ember/ops/ops.h>

using namespace ember;
using Catch::Contains;
using ember::test::check_values;
using ember::test::leaf;

namespace {

// A user's op whose backward returns a fixed tensor, whatever the input's shape.
struct FixedGradient {
  static constexpr const char* name = "fixed_gradient";
  Tensor gradient;
  Tensor forward(Ctx&, const Tensor& a) { return a * 1.0; }
  Grads backward(Ctx&, const Tensor&) { return {gradient}; }
};

// A user's op whose backward returns the wrong number of gradients.
struct TwoGradients {
  static constexpr const char* name = "two_gradients";
  Tensor forward(Ctx&, const Tensor& a) { return a * 1.0; }
  Grads backward(Ctx&, const Tensor& g) { return {g, g}; }
};

// A user's op with a no-op branch: scale 1 hands back the input itself.
struct MaybeScale {
  static constexpr const char* name = "maybe_scale";
  double scale;
  Tensor forward(Ctx&, const Tensor& a) { return scale == 1 ? a : a * scale; }
  Grads backward(Ctx&, const Tensor& g) { return {g * scale}; }
};

}  // namespace

TEST_CASE("a hook may register hooks: they run from the next pass on", "[autograd][hooks]") {
  // torch: x.grad is 6 after the first pass (y's hook doubles 3), the hooks added during it do not run.
  Tensor x = leaf({1, 2});
  Tensor y = x * 3;
  int calls = 0;
  std::function<Tensor(const Tensor&)> doubling = [&](const Tensor& g) {
    ++calls;
    y.register_hook(doubling);
    return g * 2;
  };
  y.register_hook(doubling);
  (y * 1).sum().backward({}, true);
  CHECK(calls == 1);
  check_values(x.grad(), {6, 6});
  x.zero_grad();
  (y * 1).sum().backward();  // two hooks now: 3 * 2 * 2
  CHECK(calls == 3);
  check_values(x.grad(), {12, 12});

  // On a leaf: 1 doubled once (torch: 2).
  Tensor w = leaf({1, 2});
  int leaf_calls = 0;
  std::function<Tensor(const Tensor&)> leaf_doubling = [&](const Tensor& g) {
    ++leaf_calls;
    for (int i = 0; i < 1000; ++i) w.register_hook([](const Tensor&) { return Tensor(); });  // reallocates
    return g * 2;
  };
  w.register_hook(leaf_doubling);
  (w * 1).sum().backward();
  CHECK(leaf_calls == 1);
  check_values(w.grad(), {2, 2});
}

TEST_CASE("backward passes on two threads sharing a leaf lose no update", "[autograd][threads]") {
  constexpr int kSteps = 400;
  Tensor x = ones({256}, {.dtype = DType::Float64}).requires_grad_();
  auto work = [&] {
    for (int i = 0; i < kSteps; ++i) (x * 1.0).sum().backward();
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  check_values(x.grad(), std::vector<double>(256, 2.0 * kSteps));
  // grad() on two threads: each finds the leaf in its own graph (two accumulators for one leaf made
  // the capture miss: "input 0 was not used").
  std::atomic<int> failures{0};
  auto ask = [&] {
    for (int i = 0; i < kSteps; ++i) {
      try {
        const Tensor g = grad({(x * 2.0).sum()}, {x})[0];
        if (g.to_vector<double>()[0] != 2.0) ++failures;
      } catch (const Error&) {
        ++failures;
      }
    }
  };
  std::thread c(ask), d(ask);
  c.join();
  d.join();
  CHECK(failures == 0);
}

TEST_CASE("a backward's gradient must fit its input: broadcast ones are summed, others refused",
          "[autograd][errors]") {
  // torch: "Function ... returned an invalid gradient at index 0 - got [1] but expected shape
  // compatible with [4, 64]". ember's softmax backward read past a [1] gradient's end.
  Tensor x = ones({4, 64}, {.dtype = DType::Float64}).requires_grad_();
  const Tensor bad = apply(FixedGradient{ones({3}, {.dtype = DType::Float64})}, softmax(x, 1));
  CHECK_THROWS_WITH(bad.sum().backward(),
                    Contains("[autograd] the backward of 'fixed_gradient' returned a gradient of shape [3] for input 0 "
                             "of shape [4, 64]"));
  // A gradient broadcast from the input's shape is summed back to it, as PyTorch does: [2, 3] for [3].
  Tensor v = leaf({1, 2, 3});
  apply(FixedGradient{ones({2, 3}, {.dtype = DType::Float64})}, v).sum().backward();
  check_values(v.grad(), {2, 2, 2});
  // A wrong number of gradients names the op and the counts (it was an internal assertion).
  Tensor u = leaf({1, 2});
  CHECK_THROWS_WITH(apply(TwoGradients{}, u).sum().backward(),
                    Contains("[autograd] the backward of 'two_gradients' returned 2 gradients for its 1 inputs"));
}

TEST_CASE("a forward that hands back its input gives an alias, and the input stays a leaf", "[autograd]") {
  Tensor w = leaf({1, 2});
  for (int step = 0; step < 3; ++step) {
    Tensor out = apply(MaybeScale{1.0}, w);
    CHECK(out.impl() != w.impl());
    CHECK(out.grad_fn() != nullptr);
    (out * out).sum().backward();
  }
  CHECK(w.is_leaf());
  CHECK(w.grad_fn() == nullptr);
  check_values(w.grad(), {6, 12});  // 3 steps of d(w^2)/dw = 2w
  CHECK_NOTHROW(w.requires_grad_(false));  // (a non-leaf refused this)
}

TEST_CASE("grad() runs no hook on a node it does not need", "[autograd][hooks]") {
  // torch: the hook on b never runs and b.grad stays undefined when only x's gradient is asked for.
  Tensor x = leaf({1});
  Tensor w = leaf({1});
  Tensor a = x * 2, b = w * 3;
  b.retain_grad();
  int calls = 0;
  b.register_hook([&](const Tensor&) {
    ++calls;
    return Tensor();
  });
  const Tensor gx = grad({cat({a, b}).sum()}, {x})[0];
  check_values(gx, {2});
  CHECK(calls == 0);
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("requires_grad_(true) on a non-leaf is a no-op; (false) is refused", "[autograd]") {
  Tensor x = leaf({1, 2});
  Tensor y = x * 2;
  CHECK_NOTHROW(y.requires_grad_(true));
  CHECK(y.requires_grad());
  CHECK_THROWS_WITH(y.requires_grad_(false), Contains("[requires_grad_] only leaf tensors"));
}

TEST_CASE("anomaly mode lets infinities through the forward and still names a NaN", "[autograd][anomaly]") {
  DetectAnomalyGuard anomaly;
  // A causal mask of -inf before a softmax: a program PyTorch's anomaly mode accepts.
  Tensor scores = ones({3, 3}, {.dtype = DType::Float64}).requires_grad_();
  const Tensor mask = triu(ones({3, 3}, {.dtype = DType::Bool}), 1);
  Tensor p;
  REQUIRE_NOTHROW(p = softmax(masked_fill(scores, mask, -INFINITY), 1));
  CHECK_NOTHROW(p.sum().backward());
  CHECK_THROWS_WITH(zeros({2}) / zeros({2}), Contains("[anomaly] the forward of 'div' produced NaN"));
}
