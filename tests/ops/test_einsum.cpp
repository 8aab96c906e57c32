// einsum against PyTorch 1.13 (tests/ops/einsum_reference.json, written by make_einsum_reference.py):
// values and gradients of every reference case in float64 (and the values again in float32),
// gradcheck and gradgradcheck on the shapes einsum takes apart differently (matmul, batched with a
// broadcast ellipsis, diagonal, trace, sums, outer product, three operands, size-1 broadcasts), the
// equations PyTorch refuses and those ember refuses besides, and zero-size dims.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <ember/ember.h>
#include <ember/testing/gradcheck.h>

#include "tests/support/json_reference.h"

using namespace ember;
using Catch::Matchers::Contains;
using json_ref::json;

namespace {

const json& reference() {
  static const json doc = json_ref::load(std::filesystem::path(__FILE__).parent_path(), "einsum_reference.json",
                                         "EMBER_EINSUM_REFERENCE");
  return doc;
}

// The case's operands, floating ones in `floating` (their stored dtype otherwise), leaves that require
// grad where the case stores gradients.
std::vector<Tensor> operands_of(const json& c, DType floating = DType::Float64) {
  std::vector<Tensor> ops;
  for (const json& t : c.at("operands")) {
    const bool is_float = t.at("dtype").get<std::string>() == "float64";
    ops.push_back(json_ref::typed_tensor(t, is_float ? std::optional<DType>(floating) : std::nullopt,
                                         is_float && c.contains("w")));
  }
  return ops;
}

// The first difference from PyTorch's output or gradients, or "".
std::string check_reference_case(const json& c) {
  const std::vector<Tensor> ops = operands_of(c);
  const Tensor out = einsum(c.at("equation").get<std::string>(), ops);
  // ember keeps the operands' dtype; PyTorch does too in every stored case but "ij->i int32" (int64
  // there, from its sum).
  if (out.dtype() != ops[0].dtype()) return fmt::format("dtype {}, expected {}", out.dtype(), ops[0].dtype());
  if (std::string e = json_ref::compare(out, c.at("output")); !e.empty()) return "output: " + e;
  if (!c.contains("w")) return "";
  const std::vector<Tensor> g = json_ref::weighted_grads(out, ops, c);
  for (size_t i = 0; i < ops.size(); ++i)
    if (std::string e = json_ref::compare(g[i].defined() ? g[i] : zeros_like(ops[i]), c.at("grads")[i]); !e.empty())
      return fmt::format("gradient of operand {}: {}", i, e);
  return "";
}

Tensor random(std::initializer_list<int64_t> shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, {.dtype = DType::Float64}, &gen).requires_grad_();
}

}  // namespace

TEST_CASE("einsum matches PyTorch's values and gradients", "[einsum]") {
  const json& cases = reference().at("cases");
  REQUIRE(cases.size() >= 50);
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    CHECK(check_reference_case(c) == "");
  }
}

TEST_CASE("einsum in float32 matches PyTorch's float64 values to float32's precision", "[einsum]") {
  for (const json& c : reference().at("cases")) {
    if (c.at("output").at("dtype") != "float64") continue;
    INFO(c.at("name").get<std::string>());
    NoGradGuard no_grad;
    const Tensor out = einsum(c.at("equation").get<std::string>(), operands_of(c, DType::Float32));
    CHECK(out.dtype() == DType::Float32);
    // Each element sums at most a hundred products of unit normals: float32's roundings of those
    // stay far below 1e-5 (1 + |value|).
    CHECK(json_ref::compare(out, c.at("output"), 1e-5) == "");
  }
}

TEST_CASE("einsum passes gradcheck and gradgradcheck", "[einsum]") {
  struct Check {
    const char* equation;
    std::vector<Tensor> inputs;
  };
  const std::vector<Check> checks = {
      {"ij,jk->ik", {random({2, 3}, 1), random({3, 4}, 2)}},
      {"...ij,...jk->...ik", {random({2, 1, 2, 3}, 3), random({3, 3, 2}, 4)}},
      {"bij,bkj->bik", {random({2, 3, 2}, 5), random({2, 2, 2}, 6)}},
      {"ii->i", {random({3, 3}, 7)}},
      {"ii", {random({3, 3}, 8)}},
      {"iij->ji", {random({2, 2, 3}, 9)}},
      {"ij->", {random({2, 3}, 10)}},
      {"ij->j", {random({2, 3}, 11)}},
      {"i,j->ij", {random({3}, 12), random({2}, 13)}},
      {"ij,jk,kl->il", {random({2, 3}, 14), random({3, 2}, 15), random({2, 2}, 16)}},
      {"bn,anm,bm->ba", {random({2, 3}, 17), random({2, 3, 2}, 18), random({2, 2}, 19)}},
      {"ij,jk->ik", {random({2, 1}, 20), random({3, 2}, 21)}},  // a size-1 j broadcast and summed
      {"i,i->i", {random({1}, 22), random({3}, 23)}},
      {"ii,ij->j", {random({2, 2}, 24), random({2, 3}, 25)}},  // the same leaf's diagonal and rows
  };
  for (const Check& c : checks) {
    INFO(c.equation);
    const std::string eq = c.equation;
    auto f = [eq](const std::vector<Tensor>& x) { return einsum(eq, x); };
    CHECK(testing::gradcheck(f, c.inputs) == "");
    CHECK(testing::gradgradcheck(f, c.inputs) == "");
  }
  SECTION("one tensor as both operands") {
    auto f = [](const std::vector<Tensor>& x) { return einsum("ij,kj->ik", {x[0], x[0]}); };
    CHECK(testing::gradcheck(f, {random({3, 2}, 26)}) == "");
    CHECK(testing::gradgradcheck(f, {random({3, 2}, 27)}) == "");
  }
}

TEST_CASE("einsum refuses what PyTorch refuses, naming einsum, the equation and the shapes", "[einsum]") {
  const json& errors = reference().at("errors");
  REQUIRE(errors.size() >= 20);
  for (const json& e : errors) {
    const std::string eq = e.at("equation").get<std::string>();
    std::vector<Tensor> ops;
    for (const json& s : e.at("shapes")) {
      const std::vector<int64_t> shape = json_ref::ints(s);
      ops.push_back(zeros(shape, {.dtype = DType::Float64}));
    }
    INFO(eq);
    CHECK_THROWS_AS(einsum(eq, ops), Error);
    CHECK_THROWS_WITH(einsum(eq, ops), Contains("[einsum]") && Contains("\"" + eq + "\"") &&
                                           Contains(shape_str(ops[0].shape()) + " float64 cpu"));
  }
}

TEST_CASE("einsum refuses mixed dtypes, bool, undefined tensors and no operands", "[einsum]") {
  const Tensor a = ones({2, 3}, {.dtype = DType::Float64});
  const Tensor v32 = ones({3}, {.dtype = DType::Float32});
  const Tensor bools = ones({2, 3}, {.dtype = DType::Bool});
  struct Bad {
    const char* equation;
    std::vector<Tensor> operands;
    const char* says;
  };
  const std::vector<Bad> bad = {
      // PyTorch promotes here (its path is a multiplication) but not in "ij,j->i" (a bmm); ember never does
      {"ij,j->ij", {a, v32}, "one dtype"},
      {"ij,j->i", {a, v32}, "[3] float32 cpu"},
      {"ij->i", {bools}, "bool"},
      {"ij,jk->ik", {bools, ones({3, 2}, {.dtype = DType::Bool})}, "bool"},
      {"ij,jk->ik", {a, Tensor()}, "operand 1 is an undefined tensor"},
      {"ij", {Tensor()}, "undefined"},
      {"", {}, "at least one operand"},
      {"ij->i", {}, "at least one operand"},
      // a byte that is no letter, and an error before any operand is looked at in detail
      {"i\x01j", {a}, "byte 0x01"},
      {"ij->i", {a, a}, "1 input term(s) for 2 operand(s)"},
  };
  for (const Bad& b : bad) {
    INFO(b.equation);
    CHECK_THROWS_WITH(einsum(b.equation, b.operands), Contains("[einsum]") && Contains(b.says));
  }
  // the broadcast sizes and the subscript they belong to
  CHECK_THROWS_WITH(einsum("ij,jk->ik", {a, ones({4, 2}, {.dtype = DType::Float64})}),
                    Contains("subscript j has size 4 in operand 1 but 3"));
  CHECK_THROWS_WITH(einsum("ii", {a}), Contains("subscript i is repeated in operand 0 with sizes 2 and 3"));
  CHECK_THROWS_WITH(einsum("ij->k", {a}), Contains("output subscript k appears in no input term"));
  CHECK_THROWS_WITH(einsum("...i,...i", {ones({2, 3}), ones({4, 3})}), Contains("ellipsis dim 0 has size 4"));
}

TEST_CASE("einsum on zero-size dims gives zeros and zero gradients", "[einsum]") {
  const Tensor a = zeros({2, 0}, {.dtype = DType::Float64}).requires_grad_();
  const Tensor b = zeros({0, 4}, {.dtype = DType::Float64}).requires_grad_();
  const Tensor out = einsum("ij,jk->ik", {a, b});
  REQUIRE(out.shape() == Shape{2, 4});
  for (double v : out.to_vector<double>()) CHECK(v == 0);
  const std::vector<Tensor> g = grad({sum(out * 3.0)}, {a, b});
  CHECK(g[0].shape() == Shape{2, 0});
  CHECK(g[1].shape() == Shape{0, 4});
  // the sum over an empty dim, a 0x0 trace, and an empty output
  CHECK(einsum("ij->i", {a}).to_vector<double>() == std::vector<double>{0, 0});
  CHECK(einsum("ii", {zeros({0, 0}, {.dtype = DType::Float64})}).item<double>() == 0);
  CHECK(einsum("ij,jk->ki", {zeros({0, 3}), ones({3, 5})}).shape() == Shape{5, 0});
}

TEST_CASE("einsum's result is a new tensor, and integers keep their dtype", "[einsum]") {
  const Tensor a = arange(6, {.dtype = DType::Int32}).reshape({2, 3});
  const Tensor same = einsum("ij->ij", {a});
  CHECK_FALSE(same.is_same(a));
  CHECK(same.to_vector<int32_t>() == a.to_vector<int32_t>());
  // PyTorch 1.13 gives int64 here (its path is a sum) but int32 for "ij,jk->ik" (a bmm); ember keeps
  // the operands' dtype in both. The values are PyTorch's: [0+1+2, 3+4+5].
  const Tensor rows = einsum("ij->i", {a});
  CHECK(rows.dtype() == DType::Int32);
  CHECK(rows.to_vector<int32_t>() == std::vector<int32_t>{3, 12});
}

TEST_CASE("einsum on CUDA matches the CPU", "[einsum][cuda]") {
  if (!cuda::is_available()) {
    WARN("no CUDA device: einsum was not run on CUDA");
    return;
  }
  for (const json& c : reference().at("cases")) {
    INFO(c.at("name").get<std::string>());
    std::vector<Tensor> cpu_ops = operands_of(c), gpu_ops;
    for (const Tensor& t : cpu_ops)
      gpu_ops.push_back(to_device(t.detach(), Device::cuda(0)).requires_grad_(t.requires_grad()));
    const Tensor out = einsum(c.at("equation").get<std::string>(), gpu_ops);
    CHECK(out.device() == Device::cuda(0));
    CHECK(json_ref::compare(out.cpu(), c.at("output")) == "");
    if (!c.contains("w")) continue;
    const std::vector<Tensor> g = grad({sum(out * to_device(json_ref::tensor(c.at("w")), Device::cuda(0)))}, gpu_ops,
                                       {}, {.allow_unused = true});
    for (size_t i = 0; i < g.size(); ++i)
      CHECK(json_ref::compare(g[i].defined() ? g[i].cpu() : zeros_like(cpu_ops[i]), c.at("grads")[i]) == "");
  }
  CHECK_THROWS_WITH(einsum("ij,jk", {ones({2, 3}), ones({3, 2}, {.device = Device::cuda(0)})}),
                    Contains("[einsum] expected every operand on one device") && Contains("cuda:0"));
}
