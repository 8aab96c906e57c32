// cumprod, logcumsumexp, cummax, cummin and cdist against PyTorch 1.13 (tests/ops/scan_reference.json, written by
// make_scan_reference.py): values, gradients and Hessian-vector products in float64 through zeros,
// overflow-prone and infinite entries, every p and both p = 2 forms; float32 and bfloat16 values;
// gradcheck and gradgradcheck; and the calls refused with an ember::Error naming the op.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <ember/core/autocast.h>
#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

#include "tests/support/json_reference.h"

using namespace ember;
using json_ref::json;

namespace {

const json& reference() {
  static const json doc =
      json_ref::load(std::filesystem::path(__FILE__).parent_path(), "scan_reference.json", "EMBER_SCAN_REFERENCE");
  return doc;
}

CdistMode mode_of(const std::string& name) {
  if (name == "mm") return CdistMode::MatrixProduct;
  if (name == "direct") return CdistMode::Direct;
  return CdistMode::Auto;
}

Tensor scan(const std::string& op, const Tensor& x, int64_t dim) {
  return op == "cumprod" ? cumprod(x, dim) : logcumsumexp(x, dim);
}

// PyTorch's gradients where an entry is infinite come out of its formula's 0 * inf and inf - inf;
// there the values are compared and the gradients are not (see the conventions test below).
bool has_infinite_input(const json& c) {
  for (const json& v : c.at("input").at("data"))
    if (v.is_string()) return true;
  return false;
}

// cummax and cummin: the indices exactly, the values (exact copies of inputs, so compared at rtol 0
// in float64) and, for floating inputs, the gradient of (values * w).sum(). Integer and bool inputs
// keep their dtype and are compared exactly.
std::string run_extreme_case(const json& c, DType dtype, double rtol, double atol, bool derivatives) {
  const json& in = c.at("input");
  const bool floating = in.at("dtype") == "float64";
  // Integer inputs come from their exact copy: "data" holds them as float64, which rounds above 2^53.
  const Tensor x = floating ? json_ref::typed_tensor(in, dtype, true)
                            : from_vector(json_ref::ints(c.at("input_ints")), json_ref::ints(in.at("shape")),
                                          {.dtype = json_ref::typed_tensor(in).dtype()});
  const int64_t dim = c.at("dim");
  const ValuesIndices out = c.at("op") == "cummax" ? cummax(x, dim) : cummin(x, dim);
  if (out.indices.dtype() != DType::Int64 || out.values.dtype() != x.dtype())
    return fmt::format("dtypes {} and {}", out.values.dtype(), out.indices.dtype());
  // Rounded to fewer bits, two inputs may tie where they did not in float64 and move an index.
  if ((!floating || dtype == DType::Float64) && out.indices.to_vector<int64_t>() != json_ref::ints(c.at("indices")))
    return "indices differ";
  if (!floating)
    return out.values.to_vector<int64_t>() == json_ref::ints(c.at("values")) ? "" : "integer values differ";
  if (auto d = json_ref::compare_scaled(out.values, c.at("output"), rtol, atol, 1.0); !d.empty()) return "values: " + d;
  if (!derivatives) return "";
  const Tensor g = grad({sum(out.values * json_ref::typed_tensor(c.at("w"), dtype))}, {x})[0];
  if (auto d = json_ref::compare_scaled(g, c.at("grad"), rtol, atol, 1.0); !d.empty()) return "gradient: " + d;
  return "";
}

// Empty when the case's outputs (and gradients, Hessian-vector products) match within
// rtol |want| + atol max(1, max|want|) (1: the inputs' scale, for results that are 0 by cancellation).
std::string run_case(const json& c, DType dtype, double rtol, double atol, bool derivatives) {
  const std::string op = c.at("op");
  if (op == "cdist") {
    const Tensor x1 = json_ref::typed_tensor(c.at("x1"), dtype, true), x2 = json_ref::typed_tensor(c.at("x2"), dtype, true);
    const Tensor out = cdist(x1, x2, json_ref::number(c.at("p")), mode_of(c.at("mode")));
    if (out.dtype() != dtype) return fmt::format("dtype {}", out.dtype());
    if (auto d = json_ref::compare_scaled(out, c.at("output"), rtol, atol, 1.0); !d.empty()) return "output: " + d;
    if (!derivatives) return "";
    const auto g = grad({sum(out * json_ref::typed_tensor(c.at("w"), dtype))}, {x1, x2}, {}, {.allow_unused = true});
    for (int i = 0; i < 2; ++i) {
      const Tensor gi = g[i].defined() ? g[i] : zeros_like(i == 0 ? x1 : x2);
      if (auto d = json_ref::compare_scaled(gi, c.at(i == 0 ? "grad_x1" : "grad_x2"), rtol, atol, 1.0); !d.empty())
        return fmt::format("gradient of x{}: {}", i + 1, d);
    }
    return "";
  }
  const json& in = c.at("input");
  const int64_t dim = c.at("dim");
  if (op == "cummax" || op == "cummin") return run_extreme_case(c, dtype, rtol, atol, derivatives);
  if (in.at("dtype") != "float64") {  // integer and bool inputs: exact int64 results, no gradient
    const Tensor out = scan(op, json_ref::typed_tensor(in), dim);
    if (out.dtype() != DType::Int64) return fmt::format("dtype {}", out.dtype());
    const std::vector<int64_t> want = json_ref::ints(c.at("output").at("data"));
    return out.to_vector<int64_t>() == want ? "" : "integer values differ";
  }
  const Tensor x = json_ref::typed_tensor(in, dtype, true);
  const Tensor out = scan(op, x, dim);
  if (out.dtype() != dtype) return fmt::format("dtype {}", out.dtype());
  if (auto d = json_ref::compare_scaled(out, c.at("output"), rtol, atol, 1.0); !d.empty()) return "output: " + d;
  if (!derivatives || has_infinite_input(c)) return "";
  const Tensor g = grad({sum(out * json_ref::typed_tensor(c.at("w"), dtype))}, {x}, {}, {.create_graph = true})[0];
  if (auto d = json_ref::compare_scaled(g, c.at("grad"), rtol, atol, 1.0); !d.empty()) return "gradient: " + d;
  if (!c.contains("hvp")) return "";
  const auto h = grad({sum(g * json_ref::typed_tensor(c.at("v"), dtype))}, {x}, {}, {.allow_unused = true})[0];
  if (auto d = json_ref::compare_scaled(h.defined() ? h : zeros_like(x), c.at("hvp"), rtol, atol, 1.0); !d.empty())
    return "Hessian-vector product: " + d;
  return "";
}

}  // namespace

TEST_CASE("cumprod, logcumsumexp, cummax, cummin and cdist give PyTorch 1.13's values and derivatives in float64",
          "[ops][scans][cdist]") {
  const json& cases = reference().at("cases");
  REQUIRE(cases.size() >= 76);
  std::set<std::string> seen;
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    seen.insert(c.at("op").get<std::string>());
    // A few ulps of the largest term: the matrix-product cdist cancels |a|^2 + |b|^2 against 2 a.b.
    CHECK(run_case(c, DType::Float64, 1e-12, 1e-14, true) == "");
  }
  CHECK(seen == std::set<std::string>{"cumprod", "logcumsumexp", "cummax", "cummin", "cdist"});
}

// float32 and bfloat16 round each input first (the stored values are float64 draws), then compute;
// within a relative 1e-5 (float32) and 2e-2 (bfloat16: 8 bits) of the float64 result plus the
// same of its largest value, over products and sums of at most 26 terms.
TEST_CASE("cumprod, logcumsumexp and cdist in float32 and bfloat16 follow the float64 values",
          "[ops][scans][cdist]") {
  for (const json& c : reference().at("cases")) {
    INFO(c.at("name").get<std::string>());
    if (c.at("op") != "cdist" && c.at("input").at("dtype") != "float64") continue;
    CHECK(run_case(c, DType::Float32, 2e-5, 2e-5, false) == "");
    if (c.at("name").get<std::string>().find("large") != std::string::npos) continue;  // 1000 in 8 bits
    CHECK(run_case(c, DType::BFloat16, 3e-2, 3e-2, false) == "");
  }
}

TEST_CASE("cumprod, logcumsumexp and cdist refuse what PyTorch refuses, naming the op", "[ops][scans][cdist]") {
  for (const json& r : reference().at("refused")) {
    const std::string name = r.at("name");
    INFO(name << " (PyTorch: " << r.at("message").get<std::string>() << ")");
    const auto shape_of = [&](const char* key) { return json_ref::ints(r.at(key)); };
    if (name.rfind("cdist", 0) == 0) {
      const DType dtype = name.find("int64") != std::string::npos ? DType::Int64 : DType::Float32;
      const Tensor x1 = ones(shape_of("x1"), {.dtype = dtype}), x2 = ones(shape_of("x2"), {.dtype = dtype});
      const double p = r.contains("p") ? json_ref::number(r.at("p")) : 2.0;
      CHECK_THROWS_WITH(cdist(x1, x2, p), Catch::Contains("cdist"));
    } else if (name.rfind("cummax", 0) == 0) {
      CHECK_THROWS_WITH(cummax(ones(shape_of("x")), 2), Catch::Contains("cummax"));
    } else if (name.rfind("cummin", 0) == 0) {
      CHECK_THROWS_WITH(cummin(ones(shape_of("x")), -3), Catch::Contains("cummin"));
    } else if (name.rfind("logcumsumexp", 0) == 0) {
      CHECK_THROWS_WITH(logcumsumexp(ones(shape_of("x"), {.dtype = DType::Int64}), 0), Catch::Contains("logcumsumexp"));
    } else {
      CHECK_THROWS_WITH(cumprod(ones(shape_of("x")), 2), Catch::Contains("cumprod"));
    }
  }
  CHECK_THROWS_WITH(cdist(ones({3, 2}), ones({2, 2}, {.dtype = DType::Float64})), Catch::Contains("same dtype"));
  CHECK_THROWS_WITH(cdist(ones({3, 2}), ones({2, 2}), NAN), Catch::Contains("cdist"));
  CHECK_THROWS_WITH(cdist(Tensor(), ones({2, 2})), Catch::Contains("cdist"));
  CHECK_THROWS_WITH(cumprod(Tensor(), 0), Catch::Contains("cumprod"));
  CHECK_THROWS_WITH(cummax(Tensor(), 0), Catch::Contains("cummax"));
  CHECK_THROWS_WITH(cummin(Tensor(), 0), Catch::Contains("cummin"));
  CHECK_THROWS_WITH(logcumsumexp(ones({2}), -2), Catch::Contains("logcumsumexp"));
}

TEST_CASE("cumprod, logcumsumexp: the conventions spelled out", "[ops][scans]") {
  const TensorOptions f64{.dtype = DType::Float64};
  SECTION("cumprod's gradient at a zero is the product of the others, not y / x") {
    Tensor x = from_vector<double>({2, 0, 3}, {3}).requires_grad_();
    // y = (2, 0, 0); d(y0 + y1 + y2)/dx = (1 + 0 + 0, 2 + 2*3, 0 + 0) = (1, 8, 0)
    CHECK(grad({sum(cumprod(x, 0))}, {x})[0].to_vector<double>() == std::vector<double>{1, 8, 0});
  }
  SECTION("logcumsumexp neither overflows nor underflows where log(cumsum(exp(x))) does") {
    const std::vector<double> y = logcumsumexp(from_vector<double>({1000, 1000}, {2}), 0).to_vector<double>();
    CHECK(y[0] == 1000.0);
    CHECK(y[1] == Approx(1000.0 + std::log(2.0)).epsilon(1e-15));
    const Tensor tiny = from_vector<double>({-1000, -1000}, {2});
    CHECK(logcumsumexp(tiny, 0).to_vector<double>()[1] == Approx(-1000.0 + std::log(2.0)).epsilon(1e-15));
  }
  SECTION("logcumsumexp of -inf entries stays -inf until a finite one, and +inf stays +inf") {
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<double> y = logcumsumexp(from_vector<double>({-inf, -inf, 0, inf, 1}, {5}), 0).to_vector<double>();
    CHECK(y == std::vector<double>{-inf, -inf, 0, inf, inf});
  }
  SECTION("an integer cumprod wraps around on overflow, as PyTorch's (no undefined behaviour)") {
    const Tensor big = from_vector<int64_t>({int64_t(1) << 62, 4}, {2});
    CHECK(cumprod(big, 0).to_vector<int64_t>()[1] == 0);  // 2^64 wraps to 0
  }
  SECTION("the cumulative ops under autograd give gradients in the input's dtype") {
    Tensor x = ones({2, 3}, f64).requires_grad_();
    CHECK(grad({sum(logcumsumexp(x, 1))}, {x})[0].dtype() == DType::Float64);
  }
}

TEST_CASE("cdist: the two p = 2 forms agree, and coincident points have gradient 0 directly", "[ops][cdist]") {
  Generator gen(20241204);
  const TensorOptions f64{.dtype = DType::Float64};
  const Tensor a = randn({2, 30, 5}, f64, &gen), b = randn({2, 7, 5}, f64, &gen);
  const Tensor direct = cdist(a, b, 2, CdistMode::Direct), product = cdist(a, b, 2, CdistMode::MatrixProduct);
  CHECK(max(abs(direct - product)).item<double>() < 1e-12);
  {
    // Under autocast cdist runs in float32, its matrix product included (not matmul's 16 bits).
    ember::autocast scope(DType::BFloat16);
    const Tensor a32 = cast(a, DType::Float32), b32 = cast(b, DType::Float32);
    const Tensor in_float32 = cdist(a32, b32, 2, CdistMode::MatrixProduct);
    CHECK(in_float32.dtype() == DType::Float32);
    CHECK(max(abs(cast(in_float32, DType::Float64) - product)).item<double>() < 1e-5);
  }
  Tensor x = from_vector<double>({1, 2, 3, 4}, {2, 2}).requires_grad_();
  const Tensor g = grad({sum(cdist(x, x.detach(), 2, CdistMode::Direct))}, {x})[0];
  // each row is at distance 0 from itself (gradient 0) and 2 sqrt 2 from the other
  const double s = 1 / std::sqrt(2.0);
  CHECK(max(abs(g - from_vector<double>({-s, -s, s, s}, {2, 2}))).item<double>() < 1e-15);
}

TEST_CASE("cumprod, logcumsumexp and cdist pass gradcheck and gradgradcheck", "[ops][scans][cdist][gradcheck]") {
  using ember::testing::gradcheck;
  using ember::testing::gradgradcheck;
  Generator gen(20241205);
  const TensorOptions f64{.dtype = DType::Float64};
  auto leaf = [](const Tensor& t) { return t.detach().clone().requires_grad_(); };
  struct Case {
    std::string name;
    ember::testing::Fn fn;
    std::vector<Tensor> inputs;
  };
  const Tensor with_zero = from_vector<double>({1.5, -0.5, 0, 2, 0.7, 0, -1.2}, {7});
  std::vector<Case> cases = {
      {"cumprod rows", [](const std::vector<Tensor>& x) { return cumprod(x[0], 1); }, {leaf(randn({3, 4}, f64, &gen))}},
      {"cumprod columns", [](const std::vector<Tensor>& x) { return cumprod(x[0], 0); }, {leaf(randn({4, 3}, f64, &gen))}},
      // finite differences move the zero to +-h, where the gradient is continuous
      {"cumprod through zeros", [](const std::vector<Tensor>& x) { return cumprod(x[0], 0); }, {leaf(with_zero)}},
      {"logcumsumexp", [](const std::vector<Tensor>& x) { return logcumsumexp(x[0], 1); }, {leaf(randn({3, 5}, f64, &gen))}},
      {"logcumsumexp large", [](const std::vector<Tensor>& x) { return logcumsumexp(x[0] + 500.0, 0); },
       {leaf(randn({6}, f64, &gen))}},
  };
  // Distinct values: a finite difference must not move the running extreme to another element.
  cases.push_back({"cummax", [](const std::vector<Tensor>& x) { return cummax(x[0], 1).values; },
                   {leaf(randn({3, 6}, f64, &gen))}});
  cases.push_back({"cummin", [](const std::vector<Tensor>& x) { return cummin(x[0], 0).values; },
                   {leaf(randn({5, 2}, f64, &gen))}});
  for (double p : {2.0, 1.0, 3.0, 0.5, std::numeric_limits<double>::infinity()})
    cases.push_back({fmt::format("cdist p={}", p),
                     [p](const std::vector<Tensor>& x) { return cdist(x[0], x[1], p, CdistMode::Direct); },
                     {leaf(randn({2, 3, 4}, f64, &gen)), leaf(randn({2, 5, 4}, f64, &gen))}});
  cases.push_back({"cdist matrix product",
                   [](const std::vector<Tensor>& x) { return cdist(x[0], x[1], 2, CdistMode::MatrixProduct); },
                   {leaf(randn({4, 3}, f64, &gen)), leaf(randn({5, 3}, f64, &gen))}});
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(gradcheck(c.fn, c.inputs) == "");
    CHECK(gradgradcheck(c.fn, c.inputs) == "");
  }
}
