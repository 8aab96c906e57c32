// In-place ops: the storage version counter, shared by views, and gradients through in-place
// changes of non-leaf tensors (the tensor takes the history of the op that overwrote it).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <ember/optim/optim.h>

#include "tests/autograd/helpers.h"

using namespace ember;
using ember::test::check_values;
using ember::test::leaf;

namespace {

struct InPlaceMethod {
  const char* name;  // the method's name as declared in core/tensor.h
  std::function<void(Tensor&)> call;
};

// Every in-place Tensor method that writes the data, one entry per overload. The guard below
// compares this table with core/tensor.h, so a new in-place method cannot be left out.
const std::vector<InPlaceMethod>& in_place_methods() {
  static const std::vector<InPlaceMethod> methods = {
      {"add_", [](Tensor& t) { t.add_(ones({4}), 2); }},
      {"add_", [](Tensor& t) { t.add_(1); }},
      {"sub_", [](Tensor& t) { t.sub_(ones({4})); }},
      {"mul_", [](Tensor& t) { t.mul_(full({4}, 2.0)); }},
      {"mul_", [](Tensor& t) { t.mul_(2); }},
      {"div_", [](Tensor& t) { t.div_(full({4}, 2.0)); }},
      {"div_", [](Tensor& t) { t.div_(2); }},
      {"floor_divide_", [](Tensor& t) { t.floor_divide_(full({4}, 2.0)); }},
      {"floor_divide_", [](Tensor& t) { t.floor_divide_(2); }},
      {"remainder_", [](Tensor& t) { t.remainder_(full({4}, 2.0)); }},
      {"remainder_", [](Tensor& t) { t.remainder_(2); }},
      {"copy_", [](Tensor& t) { t.copy_(full({4}, 7.0)); }},
      {"fill_", [](Tensor& t) { t.fill_(3); }},
      {"zero_", [](Tensor& t) { t.zero_(); }},
      {"clamp_", [](Tensor& t) { t.clamp_(-1, 1); }},
      {"uniform_", [](Tensor& t) { t.uniform_(-1, 1); }},
      {"normal_", [](Tensor& t) { t.normal_(0, 1); }},
  };
  return methods;
}

// In-place methods that change only autograd's flags, not the data: no version bump.
const std::multiset<std::string> kFlagOnlyMethods = {"requires_grad_", "detach_"};

}  // namespace

TEST_CASE("the in-place table lists every in-place method of Tensor") {
  // __FILE__ as the compiler saw it: relative to the build's tests folder, CTest's working
  // directory (as for the other tests that read files from the source tree).
  const std::filesystem::path header =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "core" / "tensor.h";
  std::ifstream in(header);
  REQUIRE(in.good());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Declarations of the form "Tensor& name_(", one per overload.
  const std::regex declaration(R"(Tensor&\s+([a-z_0-9]+_)\s*\()");
  std::multiset<std::string> declared;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), declaration); it != std::sregex_iterator(); ++it)
    declared.insert((*it)[1].str());
  std::multiset<std::string> listed(kFlagOnlyMethods);
  for (const InPlaceMethod& method : in_place_methods()) listed.insert(method.name);
  CHECK(declared == listed);
  CHECK(declared.size() == in_place_methods().size() + kFlagOnlyMethods.size());
}

TEST_CASE("each in-place op bumps the storage version by one") {
  for (const InPlaceMethod& method : in_place_methods()) {
    INFO(method.name);
    Tensor t = full({4}, 5.0);
    const uint32_t before = t.storage()->version();
    method.call(t);
    CHECK(t.storage()->version() == before + 1);
  }
  // An out-of-place op does not.
  Tensor t = zeros({4});
  const uint32_t before = t.storage()->version();
  Tensor u = t + 1;
  CHECK(t.storage()->version() == before);
  (void)u;
}

TEST_CASE("views and detached tensors share the version counter") {
  Tensor t = zeros({2, 3});
  Tensor row = t[1];
  Tensor flat = t.view({6});
  Tensor col = t.transpose(0, 1);
  Tensor d = t.detach();
  for (const Tensor* v : {&row, &flat, &col, &d}) CHECK(v->storage() == t.storage());
  const uint32_t v0 = t.storage()->version();
  row.fill_(5);
  CHECK(t.storage()->version() == v0 + 1);
  CHECK(flat.storage()->version() == v0 + 1);
  check_values(t, {0, 0, 0, 5, 5, 5});
  d.add_(1);
  CHECK(t.storage()->version() == v0 + 2);
  col.mul_(2);
  CHECK(row.storage()->version() == v0 + 3);
  check_values(t, {2, 2, 2, 12, 12, 12});
}

TEST_CASE("a modified view invalidates what was saved from its base") {
  Tensor x = leaf({1, 2, 3, 4});
  Tensor a = x * 1;  // a non-leaf
  Tensor b = a * a;  // saves a
  {
    NoGradGuard no_grad;
    a.detach().narrow(0, 1, 2).zero_();
  }
  CHECK_THROWS_WITH(b.sum().backward(), Catch::Contains("saved by 'mul'"));
}

TEST_CASE("in-place ops on a non-leaf give correct gradients") {
  Tensor x = leaf({1, -2, 0.5});
  Tensor y = x * 2;
  y.add_(1);
  y.mul_(3);  // y = 3 (2x + 1)
  check_values(y, {9, -9, 6});
  CHECK(std::string(y.grad_fn()->name()) == "mul");
  y.sum().backward();
  check_values(x.grad(), {6, 6, 6});
}

TEST_CASE("in-place multiplication by a tensor that requires grad") {
  Tensor x = leaf({1, 2});
  Tensor w = leaf({3, -4});
  Tensor y = x * 1;
  y.mul_(w);  // y = x w
  y.mul_(y.detach().clone());  // y = x w * c with c = x w a constant
  y.sum().backward();
  // d/dx = w * (x w), d/dw = x * (x w)
  check_values(x.grad(), {3 * 3, -4 * -8});
  check_values(w.grad(), {1 * 3, 2 * -8});
}

TEST_CASE("in-place on an output that its op saved makes backward through that op an error") {
  // exp saves its output e (sharing e's storage); e.mul_(2) overwrites that storage. Backward through
  // exp must then fail rather than use 2 e^x as e^x, both from a graph built before the change ...
  Tensor x = leaf({0.5});
  Tensor e = exp(x);
  Tensor s = e.sum();
  e.mul_(2);
  CHECK_THROWS_WITH(s.backward(), Catch::Contains("saved by 'exp'"));
  // ... and from e's new history, which also runs through exp (as in PyTorch).
  Tensor x2 = leaf({0.5});
  Tensor e2 = exp(x2);
  e2.mul_(2);
  CHECK_THROWS_WITH(e2.sum().backward(), Catch::Contains("saved by 'exp'"));
  // An op that saves nothing of its output (mul by a constant saves its inputs) is fine.
  Tensor x3 = leaf({0.5});
  Tensor m = x3 * 3;
  m.mul_(2);
  m.sum().backward();
  check_values(x3.grad(), {6});
}

TEST_CASE("copy_ from a tensor that requires grad sends the gradient to the source") {
  Tensor x = leaf({1, 2, 3});
  Tensor t = zeros({3}, {.dtype = DType::Float64});
  t.copy_(x * 2);
  CHECK(t.requires_grad());
  check_values(t, {2, 4, 6});
  (t * t).sum().backward();  // d/dx (2x)^2 = 8x
  check_values(x.grad(), {8, 16, 24});
}

TEST_CASE("fill_ on a non-leaf makes it a constant") {
  Tensor x = leaf({1, 2});
  Tensor y = x * 2;
  y.fill_(5);
  CHECK_FALSE(y.requires_grad());
  (x * y).sum().backward();
  check_values(x.grad(), {5, 5});
}

TEST_CASE("views of parameters survive optimizer steps (no_grad updates keep their graph valid)") {
  // A transposed weight kept across steps: the update changes the values, not the graph (the view
  // still reads the leaf), so using it after a step is correct and allowed.
  Tensor weight = leaf({1, 2, 3, 4}, {2, 2});
  const Tensor weight_t = weight.t();
  optim::SGD sgd({weight}, {.lr = 0.5});
  for (int step = 0; step < 2; ++step) {
    sgd.zero_grad();
    weight_t.sum().backward();
    sgd.step();
  }
  check_values(weight, {0, 1, 2, 3});
  check_values(weight_t, {0, 2, 1, 3});
}

TEST_CASE("uniform_ and normal_ make a non-leaf a constant, as fill_ does") {
  // torch: a.normal_(); (a * a).sum().backward() gives w.grad [0, 0]; ember kept the old graph.
  Tensor w = leaf({1, 2});
  Tensor a = w * 1;
  a.normal_();
  CHECK_FALSE(a.requires_grad());
  Tensor b = w * 1;
  b.uniform_(5, 6);
  CHECK_FALSE(b.requires_grad());
  (w * a.detach()).sum().backward();  // w's own graph is untouched
  CHECK(w.grad().defined());
}

TEST_CASE("a product saves only the operands its wanted gradients read, as in PyTorch") {
  // x * c with c constant needs c for x's gradient and never x: changing x in place afterwards is
  // not an error (torch: w.grad [3, 4], from y = h_old * c). It was, as mul saved both operands.
  Tensor w = leaf({1, 1});
  Tensor c = from_vector(std::vector<double>{3, 4}, std::vector<int64_t>{2}, {.dtype = DType::Float64});
  Tensor h = w * 1;
  Tensor y = h * c;
  h.mul_(2);
  y.sum().backward();
  check_values(w.grad(), {3, 4});
  // The same for a slice of a buffer written later elsewhere (torch: [6, 0]).
  Tensor u = leaf({1, 2});
  Tensor buf = zeros({3}, {.dtype = DType::Float64});
  buf.narrow(0, 0, 2).copy_(u * 2);
  Tensor first = buf.narrow(0, 0, 1) * 3;
  buf.narrow(0, 2, 1).fill_(5);
  first.sum().backward();
  check_values(u.grad(), {6, 0});
  // Division keeps b for a's gradient: b changed in place is still an error.
  Tensor v = leaf({2, 4});
  Tensor d = v * 1;
  Tensor q = ones({2}, {.dtype = DType::Float64}) / d;
  d.mul_(2);
  CHECK_THROWS_WITH(q.sum().backward(), Catch::Contains("modified by an in-place operation"));
}
