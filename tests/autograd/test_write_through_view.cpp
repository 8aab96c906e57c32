// In-place writes through views under autograd: the base takes the write's history and views taken
// earlier are brought up to date, as PyTorch does (CopySlices, regenerated views). Every expected
// value is torch 1.13's, from the same steps in Python (float64). Before this, ember refused all of
// these; before the refusals, it gave wrong gradients.
#include <catch2/catch.hpp>

#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

#include "tests/autograd/helpers.h"

using namespace ember;
using ember::test::check_values;
using ember::test::leaf;

namespace {
Tensor f64(const std::vector<double>& values, std::vector<int64_t> shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  return from_vector(values, std::span<const int64_t>(shape), {.dtype = DType::Float64});
}
}  // namespace

TEST_CASE("an in-place op on a view of a non-leaf sends its gradient through the base") {
  SECTION("mul_ on a narrow") {  // torch: [3, 1]
    Tensor w = leaf({1, 1});
    Tensor a = w * 1;
    a.narrow(0, 0, 1).mul_(3);
    check_values(a, {3, 1});
    a.sum().backward();
    check_values(w.grad(), {3, 1});
  }
  SECTION("mul_ on a reshaped view, the base alive") {  // torch: [6, 6, 6, 6]
    Tensor w = leaf({1, 1, 1, 1});
    Tensor h = w * 2;
    h.view({2, 2}).mul_(3);
    h.sum().backward();
    check_values(w.grad(), {6, 6, 6, 6});
  }
  SECTION("fill_ and zero_ make the view's region a constant") {  // torch: [0, 1]
    Tensor w = leaf({1, 1});
    Tensor a = w * 1;
    a.narrow(0, 0, 1).fill_(0);
    CHECK(a.requires_grad());
    a.sum().backward();
    check_values(w.grad(), {0, 1});
    Tensor b = w * 1;
    b.select(0, 1).zero_();
    b.sum().backward();
    check_values(w.grad(), {1, 1});  // accumulated: [0, 1] + [1, 0]
  }
  SECTION("copy_ from a constant into a view") {  // torch: a = w*w; a[1:2].copy_([9]) gives [2, 0, 6]
    Tensor w = leaf({1, 2, 3});
    Tensor a = w * w;
    a.narrow(0, 1, 1).copy_(f64({9}));
    check_values(a, {1, 9, 9});
    a.sum().backward();
    check_values(w.grad(), {2, 0, 6});
  }
  SECTION("a view of a view, multiplied by a tensor that requires grad") {
    Tensor w = leaf({0, 1, 2, 3, 4, 5}, {2, 3});
    Tensor w2 = leaf({5, 7});
    Tensor a = w * 1;
    a.select(0, 1).narrow(0, 0, 2).mul_(w2);
    (a * a).sum().backward();
    check_values(w.grad(), {0, 2, 4, 150, 392, 10});
    check_values(w2.grad(), {90, 224});
  }
  SECTION("a row of a transposed view") {  // torch: [[0, 1, 2], [6, 4, 5]]
    Tensor w = leaf({0, 1, 2, 3, 4, 5}, {2, 3});
    Tensor a = w * 1;
    a.t().select(0, 0).mul_(2);
    (a * f64({0, 1, 2, 3, 4, 5}, {2, 3})).sum().backward();
    check_values(w.grad(), {0, 1, 2, 6, 4, 5});
  }
}

TEST_CASE("a tensor built piece by piece with copy_ into its views") {
  SECTION("two slices of zeros") {
    // (torch refuses the second copy_, its view having been taken while `out` was a leaf; the
    // gradients are those of out = cat(2 w1, 3 w2): w1 [2, 4], w2 [9, 12])
    Tensor w1 = leaf({1, 2});
    Tensor w2 = leaf({3, 4});
    Tensor out = zeros({4}, {.dtype = DType::Float64});
    Tensor first = out.narrow(0, 0, 2);
    Tensor second = out.narrow(0, 2, 2);
    first.copy_(w1 * 2);
    second.copy_(w2 * 3);
    check_values(out, {2, 4, 9, 12});
    (out * f64({1, 2, 3, 4})).sum().backward();
    check_values(w1.grad(), {2, 4});
    check_values(w2.grad(), {9, 12});
  }
  SECTION("rows in a loop") {  // torch: [4, 32, 108]
    Tensor w = leaf({1, 2, 3});
    Tensor out = zeros({3, 2}, {.dtype = DType::Float64});
    for (int64_t i = 0; i < 3; ++i) out.select(0, i).copy_(w.select(0, i) * static_cast<double>(i + 1));
    (out * out).sum().backward();
    check_values(w.grad(), {4, 32, 108});
  }
}

TEST_CASE("a view taken before its base changed in place gets the base's new history") {
  SECTION("the base multiplied in place") {  // torch: [3, 0]
    Tensor w = leaf({1, 1});
    Tensor a = w * 1;
    Tensor v = a.narrow(0, 0, 1);
    a.mul_(3);
    v.sum().backward();
    check_values(w.grad(), {3, 0});
  }
  SECTION("a sibling view written in place") {  // torch: [0, 80, 200, 40]
    Tensor w = leaf({1, 2, 3, 4});
    Tensor a = w * 2;
    Tensor v1 = a.narrow(0, 0, 2);
    Tensor v2 = a.narrow(0, 1, 2);
    v1.mul_(w.narrow(0, 2, 2));
    (v2 * f64({10, 100})).sum().backward();
    check_values(w.grad(), {0, 80, 200, 40});
  }
  SECTION("through a view of the stale view, split, unbind and as an in-place source") {
    // Each returns a view of `base` taken before base changed history in place.
    auto stale_row = [](Tensor& x, Tensor& base) {
      x = leaf({1, 1, 1, 1}, {2, 2});
      base = zeros({2, 2}, {.dtype = DType::Float64});
      Tensor row = base.select(0, 0);
      base.add_(x * 3);
      return row;
    };
    Tensor x, base;
    stale_row(x, base).narrow(0, 0, 1).sum().backward();  // torch: [[3, 0], [0, 0]]
    check_values(x.grad(), {3, 0, 0, 0});
    Tensor t = zeros({2}, {.dtype = DType::Float64});
    t.add_(stale_row(x, base));
    (t * f64({1, 2})).sum().backward();  // torch: [[3, 6], [0, 0]], and the same for copy_
    check_values(x.grad(), {3, 6, 0, 0});
    Tensor c = zeros({2}, {.dtype = DType::Float64});
    c.copy_(stale_row(x, base));
    (c * f64({1, 2})).sum().backward();
    check_values(x.grad(), {3, 6, 0, 0});

    auto stale_pair = [](Tensor& w, Tensor& base) {
      w = leaf({1, 1, 1, 1});
      base = w * 1;
      Tensor v = base.narrow(0, 0, 2);
      base.mul_(3);
      return v;
    };
    Tensor w;
    std::vector<Tensor> pieces = split(stale_pair(w, base), 1, 0);
    (pieces[0] * 5 + pieces[1]).sum().backward();  // torch: [15, 3, 0, 0]
    check_values(w.grad(), {15, 3, 0, 0});
    (unbind(stale_pair(w, base), 0)[1] * 7).backward();  // torch: [0, 21, 0, 0]
    check_values(w.grad(), {0, 21, 0, 0});
  }
  SECTION("a stale view whose base is gone is refused") {
    // ember keeps a view's base weakly (a strong one would let a saved view own its base's graph),
    // so with the base gone there is no current history to give the view.
    Tensor w = leaf({1, 1, 1});
    Tensor v;
    {
      Tensor a = w * 1;
      v = a.narrow(0, 0, 2);
      a.mul_(3);
    }
    CHECK_THROWS_WITH(v.sum(), Catch::StartsWith("[sum]") && Catch::Contains("take the view again"));
    CHECK_THROWS_WITH(v.backward(ones({2}, {.dtype = DType::Float64})), Catch::StartsWith("[backward]"));
    CHECK_THROWS_WITH(split(v, 1, 0), Catch::StartsWith("[split]"));
    CHECK_THROWS_WITH(v.narrow(0, 0, 1), Catch::StartsWith("[narrow]"));
    // A view of it taken without autograd has the stale view as its base, and is as stale.
    Tensor of_stale;
    {
      NoGradGuard no_grad;
      of_stale = v.narrow(0, 0, 1);
    }
    CHECK_THROWS_WITH(of_stale * 2, Catch::StartsWith("[mul]") && Catch::Contains("take the view again"));

    // The same with a buffer that needed no gradient when the views were taken: the view of the
    // stale view must not be refreshed from it as a constant (its values came from x).
    Tensor x = leaf({1, 1, 1});
    Tensor row;
    {
      Tensor buf = zeros({3}, {.dtype = DType::Float64});
      row = buf.narrow(0, 0, 2);
      buf.add_(x * 3);
    }
    Tensor of_row = row.narrow(0, 0, 1);
    CHECK_THROWS_WITH(of_row * 2, Catch::StartsWith("[mul]") && Catch::Contains("take the view again"));
  }
  SECTION("a base made a constant makes its older views constants") {
    Tensor w = leaf({1, 1});
    Tensor b = w * 2;
    Tensor before_fill = b.narrow(0, 1, 1);
    b.fill_(5);
    // (torch keeps a zero gradient through the view; ember drops the history: no gradient at all)
    CHECK_FALSE((before_fill * 2).requires_grad());
    Tensor c = w * 1;
    Tensor before_uniform = c.narrow(0, 0, 1);
    c.uniform_(5, 6);
    CHECK_FALSE(before_uniform.sum().requires_grad());
  }
}

TEST_CASE("gradients through a write through a view are checked numerically, to second order") {
  // torch: for x = [1, 2, 3], a = x * x; a[0:2].mul_(x[1:3]); y = (a * a).sum():
  // dy/dx = [16, 292, 204], and the Hessian times [1, -1, 2] is [32, -34, 88].
  Tensor x = leaf({1, 2, 3});
  Tensor a = x * x;
  a.narrow(0, 0, 2).mul_(x.narrow(0, 1, 2));
  const Tensor y = (a * a).sum();
  const Tensor g = ember::grad({y}, {x}, {}, {.create_graph = true})[0];
  check_values(g, {16, 292, 204});
  (g * f64({1, -1, 2})).sum().backward();
  check_values(x.grad(), {32, -34, 88});

  const testing::Fn write_rows = [](const std::vector<Tensor>& in) {
    Tensor a = in[0] * in[0];
    a.narrow(0, 1, 2).select(1, 0).mul_(in[1]);
    a.select(0, 0).copy_(in[1].narrow(0, 0, 1).expand({3}) * 2);
    a.narrow(1, 2, 1).fill_(0.5);
    return sin(a);
  };
  const std::vector<Tensor> inputs = {leaf({0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}, {3, 3}), leaf({1.5, -0.5})};
  CHECK(testing::gradcheck(write_rows, inputs) == "");
  CHECK(testing::gradgradcheck(write_rows, inputs) == "");
}

TEST_CASE("writes through views that cannot be recorded are refused before anything is written") {
  SECTION("a view of a leaf that requires grad") {  // torch: "a view of a leaf Variable that requires grad"
    Tensor w = leaf({1, 1});
    CHECK_THROWS_WITH(w.narrow(0, 0, 1).mul_(3), Catch::StartsWith("[mul_]") && Catch::Contains("leaf"));
    CHECK_THROWS_WITH(w.select(0, 0).fill_(7), Catch::StartsWith("[fill_]") && Catch::Contains("leaf"));
    check_values(w, {1, 1});
  }
  SECTION("a view taken under NoGradGuard of a tensor that requires grad") {  // torch refuses too
    Tensor w = leaf({1, 1});
    Tensor a = w * 1;
    Tensor v;
    {
      NoGradGuard no_grad;
      v = a.narrow(0, 0, 1);
    }
    CHECK_THROWS_WITH(v.mul_(2), Catch::StartsWith("[mul_]") && Catch::Contains("NoGradGuard"));
    CHECK_THROWS_WITH(v.add_(1), Catch::StartsWith("[add_]") && Catch::Contains("NoGradGuard"));
    check_values(a, {1, 1});
  }
  SECTION("detach_ on a view whose base is alive") {  // torch: "Can't detach views in-place"
    Tensor w = leaf({1, 1});
    Tensor a = w * 1;
    Tensor v = a.narrow(0, 0, 1);
    CHECK_THROWS_WITH(v.detach_(), Catch::StartsWith("[detach_]") && Catch::Contains("detach()"));
    CHECK(v.requires_grad());
    Tensor own = (w * 1).narrow(0, 0, 1);  // its base is gone: nothing to keep consistent
    own.detach_();
    CHECK_FALSE(own.requires_grad());
  }
  SECTION("a base saved for backward") {  // torch: "modified by an inplace operation"
    Tensor w = leaf({1, 2});
    Tensor a = w * 1;
    Tensor y = a * a;
    a.narrow(0, 0, 1).mul_(2);
    CHECK_THROWS_WITH(y.sum().backward(), Catch::Contains("modified by an in-place operation"));
  }
  SECTION("a view whose base is gone, sharing memory with another view") {
    Tensor w = leaf({1, 1, 1, 1});
    Tensor v1, v2;
    {
      Tensor a = w * 1;
      v1 = a.narrow(0, 0, 2);
      v2 = a.narrow(0, 1, 2);
    }
    CHECK_THROWS_WITH(v1.mul_(2), Catch::StartsWith("[mul_]") && Catch::Contains("still shares"));
  }
  SECTION("without autograd in play, views are written as before") {
    Tensor w = leaf({1, 1});
    Tensor a = w * 1;
    {
      NoGradGuard no_grad;
      a.narrow(0, 0, 1).mul_(3);
    }
    check_values(a, {3, 1});
    Tensor plain = ones({3});
    plain.narrow(0, 1, 1).mul_(5);
    check_values(plain, {1, 5, 1});
    CHECK_FALSE(plain.requires_grad());
  }
}

// Cases a review found after the first version of the writes through views; expected values are
// torch 1.13's unless said otherwise.
TEST_CASE("a copy_ or a product written into a view does not save the memory it overwrites") {
  SECTION("copy_ between two slices of one tensor") {  // torch: [0, 0, 101, 1010]
    Tensor w = leaf({1, 2, 3, 4});
    Tensor x = w * 1;
    x.narrow(0, 0, 2).copy_(x.narrow(0, 2, 2));
    check_values(x, {3, 4, 3, 4});
    (x * f64({1, 10, 100, 1000})).sum().backward();
    check_values(w.grad(), {0, 0, 101, 1010});
  }
  SECTION("copy_ out of a slice that is then overwritten") {  // torch: [0, 0, 7, 18]
    Tensor w = leaf({1, 2, 3, 4});
    Tensor x = w * 1;
    Tensor y = zeros({2}, {.dtype = DType::Float64});
    y.copy_(x.narrow(0, 2, 2));
    x.narrow(0, 0, 2).fill_(0);
    ((y * f64({1, 10})).sum() + (x * x).sum()).backward();
    check_values(w.grad(), {0, 0, 7, 18});
  }
  SECTION("mul_ and div_ of a constant buffer by a tensor that requires grad") {
    Tensor w = leaf({2, 3});
    Tensor b = f64({5, 7, 9});
    b.narrow(0, 0, 2).mul_(w);
    b.sum().backward();
    check_values(w.grad(), {5, 7});  // torch: [5, 7]
    Tensor u = leaf({2, 4});
    Tensor c = f64({5, 2, 9});
    c.narrow(0, 0, 2).div_(u);
    c.sum().backward();
    check_values(u.grad(), {-1.25, -0.125});  // torch: [-1.25, -0.125]
    Tensor d = f64({5, 7});  // not a view: the same save had the same fault
    d.mul_(w);
    d.sum().backward();
    check_values(w.grad(), {10, 14});  // accumulated: [5, 7] twice
  }
}

TEST_CASE("a view taken under NoGradGuard is refused once its base changed history in place") {
  // torch: "A view was created in no_grad mode and its base or another view of its base has been
  // modified inplace with grad mode enabled"
  Tensor w = leaf({1, 2});
  Tensor a = w * 1;
  Tensor v;
  {
    NoGradGuard no_grad;
    v = a.narrow(0, 0, 1);
  }
  CHECK_FALSE((v * 3).requires_grad());  // a constant while its base is unchanged
  a.mul_(2);
  CHECK_FALSE(v.requires_grad());  // (it did not silently gain the base's gradient)
  CHECK_THROWS_WITH(v * 3, Catch::StartsWith("[mul]") && Catch::Contains("NoGradGuard"));
  check_values(v.detach() * 3, {6});
  // A slice of it, taken with gradients on, is as much a constant: it gained the base's gradient
  // (x.grad [6, 0, 0, 0]; torch refuses it as "created in no_grad mode").
  Tensor x = leaf({1, 1, 1, 1});
  Tensor b = x * 1;
  Tensor half;
  {
    NoGradGuard no_grad;
    half = b.slice(0, 0, 2);
  }
  b.mul_(2);
  Tensor quarter = half.slice(0, 0, 1);
  CHECK_FALSE(quarter.requires_grad());
  CHECK_THROWS_WITH(quarter * 3, Catch::StartsWith("[mul]") && Catch::Contains("NoGradGuard"));
}

TEST_CASE("hooks, retain_grad and flags of a stale view see its base's current history") {
  SECTION("a hook registered on a stale view fires") {  // torch: [500, 0]
    Tensor w = leaf({1, 2});
    Tensor a = w * 1;
    Tensor v = a.narrow(0, 0, 1);
    a.narrow(0, 1, 1).mul_(2);
    v.register_hook([](const Tensor& g) { return g * 100; });
    (v * 5).sum().backward();
    check_values(w.grad(), {500, 0});
  }
  SECTION("a view of a constant buffer that gained a history") {
    Tensor w = leaf({1});
    Tensor b = zeros({2}, {.dtype = DType::Float64});
    Tensor v = b.narrow(0, 1, 1);
    b.narrow(0, 0, 1).copy_(w * 3);
    CHECK(v.requires_grad());  // torch: True, and is_leaf False
    CHECK_FALSE(v.is_leaf());
    v.retain_grad();
    (v * 5 + b * 2).sum().backward();
    check_values(v.grad(), {10});  // torch: [10] (v * 5 is broadcast against b's two elements)
    check_values(w.grad(), {6});   // torch: [6]
  }
}
