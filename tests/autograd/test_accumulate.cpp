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

// AccumulateGrad keeps the first gradient without copying it when nothing else holds it. Each case
// below gives it a gradient that something else does hold, and checks .grad is a copy: changing
// .grad in place must leave the other holder as it was.
TEST_CASE("a first gradient shared with anything else is copied into .grad", "[autograd][accumulate]") {
  SECTION("the same gradient flows to two leaves") {
    Tensor a = f64({1, 2}).requires_grad_(), b = f64({3, 4}).requires_grad_();
    (a + b).sum().backward();
    a.grad().add_(f64({10, 10}));
    CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 1});
  }
  SECTION("the gradient the user passes to backward on a leaf") {
    Tensor w = f64({1, 2}).requires_grad_();
    Tensor given = f64({5, 6});
    w.backward(given);
    w.grad().add_(f64({1, 1}));
    CHECK(given.to_vector<double>() == std::vector<double>{5, 6});
  }
  SECTION("a gradient a leaf hook keeps") {
    Tensor w = f64({1, 2}).requires_grad_();
    Tensor seen;
    w.register_hook([&](const Tensor& g) {
      seen = g;
      return g;
    });
    (w * 3.0).sum().backward();
    w.grad().add_(f64({1, 1}));
    CHECK(seen.to_vector<double>() == std::vector<double>{3, 3});
    CHECK(w.grad().to_vector<double>() == std::vector<double>{4, 4});
  }
  SECTION("a gradient that views a non-leaf's retained gradient") {
    // h's gradient is kept as h.grad; x's is the reshape of it: a view of the same storage.
    Tensor x = f64({1, 2, 3, 4}).reshape({2, 2}).requires_grad_();
    Tensor h = x.reshape({4});
    h.retain_grad();
    (h * 2.0).sum().backward();
    x.grad().add_(f64({10, 10, 10, 10}).reshape({2, 2}));
    CHECK(h.grad().to_vector<double>() == std::vector<double>{2, 2, 2, 2});
    CHECK(x.grad().to_vector<double>() == std::vector<double>{12, 12, 12, 12});
  }
  SECTION("a gradient in memory the user owns") {
    // A hook hands AccumulateGrad a tensor wrapping the user's buffer, which nothing else holds.
    std::vector<double> buffer = {7, 8};
    Tensor w = f64({1, 2}).requires_grad_();
    w.register_hook([&](const Tensor&) {
      return from_blob(buffer.data(), std::vector<int64_t>{2}, DType::Float64);
    });
    (w * 3.0).sum().backward();
    w.grad().add_(f64({1, 1}));
    CHECK(buffer == std::vector<double>{7, 8});
    CHECK(w.grad().to_vector<double>() == std::vector<double>{8, 9});
  }
  SECTION("a gradient that is a slice of a larger buffer") {
    // cat's backward gives each input a narrow view of one gradient; the last leaf to receive its
    // view is the storage's only holder, but keeping the view would keep the whole buffer alive.
    Tensor a = randn({1000}).requires_grad_(), b = randn({1000}).requires_grad_(), c = randn({4}).requires_grad_();
    (cat({a, b, c}, 0) * 2.0).sum().backward();
    for (const Tensor* leaf : {&a, &b, &c}) {
      INFO("leaf of " << leaf->numel());
      CHECK(static_cast<size_t>(leaf->grad().numel()) * leaf->grad().element_size() == leaf->grad().storage()->nbytes());
    }
  }
  SECTION("gradients that view one storage") {
    // The sum's gradient g flows through two unsqueeze backwards, each a view of g's storage: one to
    // x (through a reshape), one to z. At most one of them may keep that storage.
    Tensor x = f64({1, 2, 3, 4}).reshape({2, 2}).requires_grad_(), z = f64({5, 6, 7, 8}).requires_grad_();
    Tensor y = x.reshape({4}).unsqueeze(0) + z.unsqueeze(0);
    (y * 1.0).sum().backward();
    x.grad().add_(f64({10, 10, 10, 10}).reshape({2, 2}));
    z.grad().add_(f64({100, 100, 100, 100}));
    CHECK(x.grad().to_vector<double>() == std::vector<double>{11, 11, 11, 11});
    CHECK(z.grad().to_vector<double>() == std::vector<double>{101, 101, 101, 101});
  }
}

TEST_CASE("a first gradient nothing else holds becomes .grad without a copy", "[autograd][accumulate]") {
  // The hook sees the gradient AccumulateGrad receives and keeps only its address.
  Tensor w = randn({1000}).requires_grad_();
  const void* received = nullptr;
  w.register_hook([&](const Tensor& g) {
    received = g.data_ptr();
    return g;
  });
  (w * 3.0).sum().backward();
  REQUIRE(received != nullptr);
  CHECK(w.grad().data_ptr() == received);
  CHECK(w.grad().to_vector<float>()[123] == 3.0f);
}

TEST_CASE("a linear layer's weight gets a contiguous .grad equal to g^T x", "[autograd][accumulate]") {
  // linear multiplies by weight.mT(); matmul's backward writes that operand's gradient in the
  // transposed layout, so the weight's gradient arrives contiguous (and is kept without a copy).
  Generator gen(3);
  Tensor x = randn({5, 7}, {.dtype = DType::Float64}, &gen), g = randn({5, 4}, {.dtype = DType::Float64}, &gen);
  Tensor w = randn({4, 7}, {.dtype = DType::Float64}, &gen).requires_grad_();
  const void* received = nullptr;
  w.register_hook([&](const Tensor& grad) {
    received = grad.data_ptr();
    return grad;
  });
  linear(x, w, std::nullopt).backward(g);
  REQUIRE(w.grad().is_contiguous());
  CHECK(w.grad().data_ptr() == received);  // arrived contiguous, so kept as it came
  const std::vector<double> got = w.grad().to_vector<double>(), xs = x.to_vector<double>(), gs = g.to_vector<double>();
  for (int o = 0; o < 4; ++o)
    for (int i = 0; i < 7; ++i) {
      double want = 0;
      for (int r = 0; r < 5; ++r) want += gs[r * 4 + o] * xs[r * 7 + i];
      CHECK(got[o * 7 + i] == Approx(want).epsilon(1e-14).margin(1e-14));
    }
}

// Found by a red-team review: a leaf frozen between forward and backward still received .grad, so an
// optimizer stepped the parameter the user had just frozen. PyTorch leaves its .grad alone.
TEST_CASE("a leaf that stopped requiring grad before backward gets no .grad", "[autograd][accumulate]") {
  Tensor x = from_vector(std::vector<double>{1, 2}).requires_grad_();
  Tensor w = from_vector(std::vector<double>{3, 4}).requires_grad_();
  Tensor y = sum(x * w);
  x.requires_grad_(false);
  y.backward();
  CHECK_FALSE(x.grad().defined());
  REQUIRE(w.grad().defined());  // the other leaf still gets its gradient, x = [1, 2]
  CHECK(w.grad().to_vector<double>() == std::vector<double>{1, 2});
  // detach_() freezes a leaf the same way.
  Tensor u = from_vector(std::vector<double>{5}).requires_grad_();
  Tensor z = u * 2;
  u.detach_();
  z.backward();
  CHECK_FALSE(u.grad().defined());
}

// Found by a red-team review: under create_graph a retained non-leaf grad was stored detached, so it
// could not be differentiated again (PyTorch keeps it in the graph, as a leaf's .grad).
TEST_CASE("a retained non-leaf grad keeps its history under create_graph", "[autograd][accumulate]") {
  Tensor x = f64({1, 2, 3});
  x.requires_grad_();
  Tensor y = x * 2;
  y.retain_grad();
  sum(y * y).backward({}, true, /*create_graph=*/true);  // y.grad = 2y = 4x
  REQUIRE(y.grad().defined());
  CHECK(y.grad().to_vector<double>() == std::vector<double>{4, 8, 12});
  REQUIRE(y.grad().requires_grad());
  const Tensor d = grad({sum(y.grad())}, {x})[0];  // d(sum 4x)/dx
  CHECK(d.to_vector<double>() == std::vector<double>{4, 4, 4});
  // y.grad's graph saved y (d(y*y)/dy = 2y), and x.grad's ends in x's AccumulateGrad: the cycles of
  // docs/autograd.md, broken here as a user must (LeakSanitizer reports them otherwise).
  y.zero_grad();
  x.zero_grad();
}
