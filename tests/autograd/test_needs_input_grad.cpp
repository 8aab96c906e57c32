// Ctx::needs_input_grad: a backward learns which of its inputs' gradients this run wants. An input
// that needs no gradient is never wanted; grad(outputs, inputs) wants only the inputs that lead to a
// requested one; backward() wants every input that requires grad. The ops that skip work on it
// (matmul, conv2d) still give the gradients that are wanted.
#include <catch2/catch.hpp>

#include <vector>

#include <ember/ops/op.h>
#include <ember/ops/ops.h>

using namespace ember;

namespace {

std::vector<std::vector<bool>> wanted_log;  // one entry per backward call of Product

// a * b, elementwise, recording which gradients each backward was asked for
struct Product {
  static constexpr const char* name = "product";
  Tensor forward(Ctx& ctx, const Tensor& a, const Tensor& b) {
    ctx.save(a, b);
    return a * b;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    wanted_log.push_back({ctx.needs_input_grad(0), ctx.needs_input_grad(1)});
    auto [a, b] = ctx.saved<2>();
    return {ctx.needs_input_grad(0) ? g * b : Tensor(), ctx.needs_input_grad(1) ? g * a : Tensor()};
  }
};

Tensor product(const Tensor& a, const Tensor& b) { return apply(Product{}, a, b); }

Tensor leaf(std::initializer_list<double> values, bool requires_grad = true) {
  Tensor t = from_vector(std::vector<double>(values));
  if (requires_grad) t.requires_grad_();
  return t;
}

std::vector<bool> last_wanted() {
  REQUIRE(wanted_log.size() == 1);
  return wanted_log.back();
}

}  // namespace

TEST_CASE("needs_input_grad: what backward() and grad() ask of a node", "[autograd][needs_input_grad]") {
  const Tensor a = leaf({1, 2}), b = leaf({3, 4}), constant = leaf({5, 6}, false);
  SECTION("backward() wants every input that requires grad") {
    wanted_log.clear();
    sum(product(a, b)).backward();
    CHECK(last_wanted() == std::vector<bool>{true, true});
    CHECK(a.grad().to_vector<double>() == std::vector<double>{3, 4});
    CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 2});
  }
  SECTION("an input that needs no gradient is not wanted") {
    wanted_log.clear();
    sum(product(constant, b)).backward();
    CHECK(last_wanted() == std::vector<bool>{false, true});
    CHECK(b.grad().to_vector<double>() == std::vector<double>{5, 6});
  }
  SECTION("grad() wants only the inputs behind a requested one") {
    wanted_log.clear();
    const Tensor y = sum(product(a, b));
    const std::vector<Tensor> ga = grad({y}, {a}, {}, {.retain_graph = true});
    CHECK(last_wanted() == std::vector<bool>{true, false});
    CHECK(ga[0].to_vector<double>() == std::vector<double>{3, 4});
    wanted_log.clear();
    const std::vector<Tensor> gb = grad({y}, {b}, {}, {.retain_graph = true});
    CHECK(last_wanted() == std::vector<bool>{false, true});
    CHECK(gb[0].to_vector<double>() == std::vector<double>{1, 2});
    // b reached through another op: still behind the request
    wanted_log.clear();
    const Tensor b2 = b * 2.0;
    const std::vector<Tensor> g2 = grad({sum(product(a, b2))}, {b});
    CHECK(last_wanted() == std::vector<bool>{false, true});
    CHECK(g2[0].to_vector<double>() == std::vector<double>{2, 4});
  }
  SECTION("a requested non-leaf input is wanted; the node behind it does not run") {
    wanted_log.clear();
    const Tensor mid = product(a, b);  // the node behind the request
    const std::vector<Tensor> g = grad({sum(product(mid, a))}, {mid});
    // the outer product wants mid and not a; the inner one, behind the request, does not run
    CHECK(last_wanted() == std::vector<bool>{true, false});
    CHECK(g[0].to_vector<double>() == std::vector<double>{1, 2});
  }
}

TEST_CASE("matmul and conv2d skip unwanted gradients and keep the wanted ones", "[autograd][needs_input_grad]") {
  Generator gen(3);
  for (DType dtype : {DType::Float64, DType::Float32}) {
    const Tensor x = randn({2, 3, 6, 6}, {.dtype = dtype}, &gen).requires_grad_();
    const Tensor w = randn({4, 3, 3, 3}, {.dtype = dtype}, &gen).requires_grad_();
    const Tensor bias = randn({4}, {.dtype = dtype}, &gen).requires_grad_();
    const Tensor m = randn({4 * 4 * 4, 5}, {.dtype = dtype}, &gen).requires_grad_();
    auto loss = [&]() -> Tensor { return sum(square(matmul(reshape(conv2d(x, w, bias), std::vector<int64_t>{2, 64}), m))); };
    const std::vector<Tensor> all = grad(std::vector<Tensor>{loss()}, {x, w, bias, m});
    for (size_t i = 0; i < 4; ++i) {
      INFO(fmt::format("{}, input {} alone", dtype, i));
      const std::vector<Tensor> one = grad(std::vector<Tensor>{loss()}, {std::vector<Tensor>{x, w, bias, m}[i]});
      CHECK(max(abs(one[0] - all[i])).item<double>() == 0.0);  // the same sums either way
    }
    // the gradient penalty's pattern: grad with create_graph of the input alone, then through it to
    // the weights; the same second-order gradients as when the first grad() asked for everything
    const Tensor gx = grad(std::vector<Tensor>{loss()}, {x}, {}, {.create_graph = true})[0];
    const std::vector<Tensor> second = grad({sum(square(gx))}, {w, m});
    const Tensor gx_all = grad(std::vector<Tensor>{loss()}, {x, w, bias, m}, {}, {.create_graph = true})[0];
    const std::vector<Tensor> want = grad({sum(square(gx_all))}, {w, m});
    for (size_t i = 0; i < 2; ++i) {
      INFO(fmt::format("{}, second-order gradient {}", dtype, i));
      REQUIRE(second[i].defined());
      CHECK(max(abs(want[i])).item<double>() > 0);
      CHECK(max(abs(second[i] - want[i])).item<double>() == 0.0);
    }
  }
}

TEST_CASE("conv_transpose2d gives each gradient alone as it gives them all", "[autograd][needs_input_grad]") {
  Generator gen(4);
  for (DType dtype : {DType::Float64, DType::Float32}) {
    const Tensor x = randn({2, 16, 4, 4}, {.dtype = dtype}, &gen).requires_grad_();
    const Tensor w = randn({16, 16, 4, 4}, {.dtype = dtype}, &gen).requires_grad_();
    const Tensor bias = randn({16}, {.dtype = dtype}, &gen).requires_grad_();
    auto loss = [&]() -> Tensor { return sum(square(conv_transpose2d(x, w, bias, 2, 1))); };
    const std::vector<Tensor> all = grad(std::vector<Tensor>{loss()}, {x, w, bias});
    for (size_t i = 0; i < 3; ++i) {
      INFO(fmt::format("{}, input {} alone", dtype, i));
      const std::vector<Tensor> one = grad(std::vector<Tensor>{loss()}, {std::vector<Tensor>{x, w, bias}[i]});
      CHECK(max(abs(all[i])).item<double>() > 0);
      CHECK(max(abs(one[0] - all[i])).item<double>() == 0.0);
    }
  }
}
