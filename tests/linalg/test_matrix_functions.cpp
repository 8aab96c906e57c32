// linalg.vector_norm, matrix_norm, cond, matrix_rank, pinv, lstsq, matrix_power, matrix_exp,
// multi_dot, cross, vecdot and vander (ops/matrix_functions.h) against PyTorch 1.13
// (tests/linalg/function_reference.json, written by make_function_reference.py): values, gradients
// and Hessian-vector products in float64 (every ord of the norms and of cond, tolerances and
// hermitian for matrix_rank and pinv, rank-deficient and repeated singular values, tall, wide,
// batched and broadcast shapes, vector right-hand sides, empty inputs, negative powers, matrix
// exponentials from 1e-3 to 50 times a random matrix); float32 values; gradcheck and gradgradcheck;
// the identities each op must satisfy (Moore-Penrose, exp(A) exp(-A) = I, ...); linalg::norm's
// dispatch to the vector and matrix norms; and the calls refused with an ember::Error naming the op.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <ember/core/autocast.h>
#include <ember/ops/decompositions.h>
#include <ember/ops/matrix_functions.h>
#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

#include "tests/support/reference_case.h"

using namespace ember;
using json_ref::json;

namespace {

const json& reference() {
  static const json doc = json_ref::load(std::filesystem::path(__FILE__).parent_path(), "function_reference.json",
                                         "EMBER_FUNCTION_REFERENCE");
  return doc;
}

const TensorOptions f64{.dtype = DType::Float64};

bool flag(const json& kwargs, const char* key, bool otherwise) {
  return kwargs.contains(key) && !kwargs.at(key).is_null() ? kwargs.at(key).get<bool>() : otherwise;
}

std::optional<double> optional_number(const json& kwargs, const char* key) {
  if (!kwargs.contains(key) || kwargs.at(key).is_null()) return std::nullopt;
  return json_ref::number(kwargs.at(key));
}

bool is_kind(const json& ord) { return ord.is_string() && (ord == "fro" || ord == "nuc"); }

linalg::MatrixNormKind kind_of(const json& ord) {
  return ord == "nuc" ? linalg::MatrixNormKind::Nuclear : linalg::MatrixNormKind::Frobenius;
}

linalg::RankTolerance tolerance_of(const json& kwargs) {
  return {.atol = optional_number(kwargs, "atol"), .rtol = optional_number(kwargs, "rtol"),
          .hermitian = flag(kwargs, "hermitian", false)};
}

// The names of a case's inputs in the op's argument order.
std::vector<std::string> input_keys(const json& c) {
  const std::string op = c.at("op");
  if (op == "lstsq") return {"A", "B"};
  if (op == "cross") return {"a", "b"};
  if (op == "vecdot") return {"x", "y"};
  if (op == "vector_norm" || op == "vander") return {"x"};
  if (op == "multi_dot") {
    std::vector<std::string> keys;
    for (size_t i = 0; i < c.at("inputs").size(); ++i) keys.push_back("M" + std::to_string(i));
    return keys;
  }
  return {"A"};
}

// The op of a case on its inputs, with the case's keyword arguments.
std::vector<Tensor> run_op(const std::string& op, const std::vector<Tensor>& x, const json& kw) {
  if (op == "vector_norm") {
    std::vector<int64_t> dims;
    if (kw.contains("dim") && !kw.at("dim").is_null()) dims = kw.at("dim").get<std::vector<int64_t>>();
    return {linalg::vector_norm(x[0], json_ref::number(kw.at("ord")), dims, flag(kw, "keepdim", false))};
  }
  if (op == "matrix_norm") {
    const json& ord = kw.at("ord");
    const bool keepdim = flag(kw, "keepdim", false);
    return {is_kind(ord) ? linalg::matrix_norm(x[0], kind_of(ord), keepdim)
                         : linalg::matrix_norm(x[0], json_ref::number(ord), keepdim)};
  }
  if (op == "cond") {
    const json& ord = kw.at("ord");
    if (ord.is_null()) return {linalg::cond(x[0])};
    return {is_kind(ord) ? linalg::cond(x[0], kind_of(ord)) : linalg::cond(x[0], json_ref::number(ord))};
  }
  if (op == "matrix_rank") return {linalg::matrix_rank(x[0], tolerance_of(kw))};
  if (op == "pinv") return {linalg::pinv(x[0], tolerance_of(kw))};
  if (op == "lstsq") {
    const linalg::LstsqResult r = linalg::lstsq(x[0], x[1], optional_number(kw, "rcond"));
    return {r.solution, r.residuals, r.rank, r.singular_values};
  }
  if (op == "matrix_power") return {linalg::matrix_power(x[0], kw.at("n").get<int64_t>())};
  if (op == "matrix_exp") return {linalg::matrix_exp(x[0])};
  if (op == "multi_dot") return {linalg::multi_dot(std::span<const Tensor>(x.data(), x.size()))};
  if (op == "cross") return {linalg::cross(x[0], x[1], kw.contains("dim") ? kw.at("dim").get<int64_t>() : -1)};
  if (op == "vecdot") return {linalg::vecdot(x[0], x[1], kw.contains("dim") ? kw.at("dim").get<int64_t>() : -1)};
  if (op == "vander") {
    std::optional<int64_t> n;
    if (kw.contains("n") && !kw.at("n").is_null()) n = kw.at("n").get<int64_t>();
    return {linalg::vander(x[0], n)};
  }
  FAIL("unknown op " << op);
  return {};
}

// One output against PyTorch's: |got - want| <= rtol |want| + atol max(1, max|want|), int64 outputs
// exactly. lstsq's residuals (output 1): an empty tensor where PyTorch's is empty (otherwise its shape,
// [..., 1] for a vector B, as the header says).
std::string compare_output(const json& c, size_t i, const Tensor& got, DType dtype, double rtol, double atol) {
  const json& want = c.at("outputs")[i];
  if (want.value("dtype", "float64") == "int64") return json_ref::compare_ints(got, want);
  if (!got.defined()) return "undefined tensor";
  if (got.dtype() != dtype) return fmt::format("dtype {}, expected {}", got.dtype(), dtype);
  if (c.at("op") == "lstsq" && i == 1 && json_ref::values(want).empty())
    return got.numel() == 0 ? "" : fmt::format("shape {}, expected an empty tensor", shape_str(got.shape()));
  return json_ref::compare_scaled(got, want, rtol, atol, 1.0);
}

// The case against PyTorch's values and derivatives (json_ref::run_case) with this file's ops.
std::string run_case(const json& c, DType dtype, double rtol, double atol, bool derivatives) {
  return json_ref::run_case(
      c, dtype, rtol, atol, derivatives, input_keys(c),
      [&](const std::vector<Tensor>& x) { return run_op(c.at("op"), x, c.at("kwargs")); },
      [&](size_t i, const Tensor& got) { return compare_output(c, i, got, dtype, rtol, atol); });
}

// The largest |entry| of a - b, shapes equal (0 for empty tensors).
double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = contiguous(cast(a, DType::Float64)).to_vector<double>();
  const std::vector<double> y = contiguous(cast(b, DType::Float64)).to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

double max_abs(const Tensor& a) { return a.numel() ? max(abs(a)).item<double>() : 0.0; }

Tensor identity_like(const Tensor& square) {
  return expand(eye(square.size(-1), std::nullopt, {.dtype = square.dtype()}), square.shape());
}

Tensor diag_of(const std::vector<double>& d) {
  const int64_t n = static_cast<int64_t>(d.size());
  return eye(n, std::nullopt, f64) * unsqueeze(from_vector(d), -2);
}

}  // namespace

TEST_CASE("linalg matrix functions give PyTorch 1.13's values and derivatives in float64", "[linalg][functions]") {
  const json& cases = reference().at("cases");
  REQUIRE(cases.size() >= 180);
  std::map<std::string, int> seen;
  for (const json& c : cases) {
    INFO(c.at("op").get<std::string>() << ": " << c.at("name").get<std::string>());
    ++seen[c.at("op").get<std::string>()];
    // 1e-12 of max(1, the largest entry) plus 1e-12 relative, for values, gradients and
    // Hessian-vector products alike: the inputs are small and well-conditioned (perturbing them by
    // 1e-13 relative moves no stored quantity by more than 1e-15 of its scale per 1e-16, and the
    // rank-deficient ones were perturbed within their rank), so two correct float64 implementations
    // agree far inside this. Where PyTorch's own error came near it (matrix_exp at small norms, the
    // Hessian of pinv at a singular value of 0.01), the case stores exact values ("exact": mpmath).
    const double tol = c.at("tol").get<double>();
    CHECK(run_case(c, DType::Float64, tol, tol, true) == "");
  }
  CHECK(seen.size() == 12);
  for (const char* op : {"vector_norm", "matrix_norm", "cond", "matrix_rank", "pinv", "lstsq", "matrix_power",
                         "matrix_exp", "multi_dot", "cross", "vecdot", "vander"}) {
    INFO(op);
    CHECK(seen[op] >= 5);
  }
}

// float32 rounds each input (6e-8 relative) and computes in float32 where ember does (matmul, the
// reductions) or in float64 then rounds (the factorisations): the error is that rounding times the
// condition (below 100 for the inputs chosen) plus a few float32 roundings per entry.
TEST_CASE("linalg matrix functions in float32 follow the float64 values", "[linalg][functions]") {
  const std::set<std::pair<std::string, std::string>> chosen = {
      {"vector_norm", "every dim, ord 2"},
      {"vector_norm", "every dim, ord 1"},
      {"vector_norm", "every dim, ord 3"},
      {"vector_norm", "every dim, ord 0.5"},
      {"vector_norm", "every dim, ord -1"},
      {"vector_norm", "every dim, ord inf"},
      {"vector_norm", "every dim, ord -inf"},
      {"vector_norm", "ord 0 counts the non-zero entries"},
      {"vector_norm", "ord 3 along dims (0, 2), keepdim"},
      {"matrix_norm", "square, ord fro"},
      {"matrix_norm", "square, ord nuc"},
      {"matrix_norm", "square, ord 1"},
      {"matrix_norm", "square, ord -1"},
      {"matrix_norm", "square, ord 2"},
      {"matrix_norm", "square, ord -2"},
      {"matrix_norm", "square, ord inf"},
      {"matrix_norm", "square, ord -inf"},
      {"matrix_norm", "batched wide, ord nuc, keepdim"},
      {"cond", "square, ord 2"},
      {"cond", "square, ord 1"},
      {"cond", "square, ord fro"},
      {"cond", "tall, ord 2"},
      {"matrix_rank", "full rank tall"},
      {"matrix_rank", "graded, atol 1 (rtol then 0)"},
      {"matrix_rank", "graded, rtol 0.05"},
      {"matrix_rank", "hermitian, eigenvalues -3, 1, 0.1 with atol 0.5"},
      {"pinv", "square"},
      {"pinv", "tall"},
      {"pinv", "batched tall"},
      {"pinv", "2 x identity (every singular value repeated)"},
      {"pinv", "hermitian, indefinite"},
      {"lstsq", "tall, matrix B"},
      {"lstsq", "wide (least norm)"},
      {"lstsq", "batched tall"},
      {"matrix_power", "n = 3"},
      {"matrix_power", "n = -3"},
      {"matrix_power", "batched, n = 3"},
      {"matrix_exp", "scaled by 1"},
      {"matrix_exp", "batched, norms far apart"},
      {"matrix_exp", "nilpotent (strictly upper triangular)"},
      {"multi_dot", "four matrices"},
      {"multi_dot", "first and last 1-D: a scalar"},
      {"cross", "broadcast"},
      {"vecdot", "broadcast"},
      {"vander", "batched"},
      {"vander", "x with 0 (gradient j x^(j-1) there)"},
  };
  size_t ran = 0;
  for (const json& c : reference().at("cases")) {
    if (!chosen.count({c.at("op").get<std::string>(), c.at("name").get<std::string>()})) continue;
    INFO(c.at("op").get<std::string>() << ": " << c.at("name").get<std::string>());
    ++ran;
    CHECK(run_case(c, DType::Float32, 1e-4, 1e-4, false) == "");
  }
  CHECK(ran == chosen.size());
}

TEST_CASE("linalg matrix functions pass gradcheck and gradgradcheck in float64", "[linalg][functions][gradcheck]") {
  using ember::testing::gradcheck;
  using ember::testing::gradgradcheck;
  using Inputs = std::vector<Tensor>;
  Generator gen(20261205);
  const auto leaf = [](const Tensor& t) { return t.detach().clone().requires_grad_(); };
  const auto random = [&](std::vector<int64_t> shape) { return leaf(randn(shape, f64, &gen)); };
  // Random matrices with n added to the diagonal: far from singular under any finite-difference step.
  const auto nonsingular = [&](std::vector<int64_t> shape) {
    return leaf(randn(shape, f64, &gen) + eye(shape.back(), std::nullopt, f64) * static_cast<double>(shape.back()));
  };
  const Tensor orthogonal = leaf(linalg::qr(randn({3, 3}, f64, &gen)).Q);
  const Tensor orthonormal_columns = leaf(linalg::qr(randn({4, 2}, f64, &gen)).Q * 3.0);
  const auto sym = [](const Tensor& x) { return (x + x.mT()) * 0.5; };
  const auto flat = [](const Tensor& x) { return reshape(x, std::vector<int64_t>{-1}); };
  struct Case {
    std::string name;
    ember::testing::Fn fn;
    Inputs inputs;
  };
  const std::vector<Case> cases = {
      {"vector_norm ord 2", [](const Inputs& x) { return linalg::vector_norm(x[0]); }, {random({3, 4})}},
      {"vector_norm ord 3 along dim 1", [](const Inputs& x) { return linalg::vector_norm(x[0], 3, {1}); },
       {random({3, 4})}},
      {"vector_norm ord 0.5", [](const Inputs& x) { return linalg::vector_norm(x[0], 0.5, {-1}); }, {random({2, 4})}},
      {"vector_norm ord -1", [](const Inputs& x) { return linalg::vector_norm(x[0], -1, {0}, true); },
       {random({3, 2})}},
      {"vector_norm ord inf", [](const Inputs& x) { return linalg::vector_norm(x[0], INFINITY, {-1}); },
       {random({2, 5})}},
      {"matrix_norm nuc", [](const Inputs& x) { return linalg::matrix_norm(x[0], linalg::MatrixNormKind::Nuclear); },
       {random({2, 4, 3})}},
      {"matrix_norm fro", [](const Inputs& x) { return linalg::matrix_norm(x[0]); }, {random({3, 2})}},
      {"matrix_norm 2", [](const Inputs& x) { return linalg::matrix_norm(x[0], 2.0); }, {random({3, 3})}},
      {"matrix_norm -2", [](const Inputs& x) { return linalg::matrix_norm(x[0], -2.0); }, {random({2, 4})}},
      {"matrix_norm 1", [](const Inputs& x) { return linalg::matrix_norm(x[0], 1.0); }, {random({2, 3, 3})}},
      {"matrix_norm -1", [](const Inputs& x) { return linalg::matrix_norm(x[0], -1.0); }, {random({3, 4})}},
      {"matrix_norm inf", [](const Inputs& x) { return linalg::matrix_norm(x[0], INFINITY, true); }, {random({4, 3})}},
      {"matrix_norm -inf", [](const Inputs& x) { return linalg::matrix_norm(x[0], -INFINITY); }, {random({3, 3})}},
      {"cond 2", [](const Inputs& x) { return linalg::cond(x[0]); }, {nonsingular({3, 3})}},
      {"cond -2 tall", [](const Inputs& x) { return linalg::cond(x[0], -2.0); }, {random({4, 2})}},
      {"cond 1", [](const Inputs& x) { return linalg::cond(x[0], 1.0); }, {nonsingular({2, 3, 3})}},
      {"cond inf", [](const Inputs& x) { return linalg::cond(x[0], INFINITY); }, {nonsingular({3, 3})}},
      {"cond fro", [](const Inputs& x) { return linalg::cond(x[0], linalg::MatrixNormKind::Frobenius); },
       {nonsingular({3, 3})}},
      {"cond nuc", [](const Inputs& x) { return linalg::cond(x[0], linalg::MatrixNormKind::Nuclear); },
       {nonsingular({3, 3})}},
      {"pinv square", [](const Inputs& x) { return linalg::pinv(x[0]); }, {random({3, 3})}},
      {"pinv tall batched", [](const Inputs& x) { return linalg::pinv(x[0]); }, {random({2, 4, 3})}},
      {"pinv wide", [](const Inputs& x) { return linalg::pinv(x[0]); }, {random({2, 4})}},
      {"pinv at 2 I (repeated singular values)", [](const Inputs& x) { return linalg::pinv(x[0]); },
       {leaf(eye(3, std::nullopt, f64) * 2.0)}},
      {"pinv at an orthogonal matrix", [](const Inputs& x) { return linalg::pinv(x[0]); }, {orthogonal}},
      {"pinv at 3 x orthonormal columns", [](const Inputs& x) { return linalg::pinv(x[0]); }, {orthonormal_columns}},
      {"pinv hermitian", [&](const Inputs& x) { return linalg::pinv(sym(x[0]), {.hermitian = true}); },
       {random({4, 4})}},
      {"pinv hermitian at 2 I", [&](const Inputs& x) { return linalg::pinv(sym(x[0]), {.hermitian = true}); },
       {leaf(eye(3, std::nullopt, f64) * 2.0)}},
      {"lstsq tall, in A and B", [](const Inputs& x) { return linalg::lstsq(x[0], x[1]).solution; },
       {random({4, 3}), random({4, 2})}},
      {"lstsq wide, in A and B", [](const Inputs& x) { return linalg::lstsq(x[0], x[1]).solution; },
       {random({2, 4}), random({2, 2})}},
      {"lstsq vector b, batched", [](const Inputs& x) { return linalg::lstsq(x[0], x[1]).solution; },
       {random({2, 4, 2}), random({2, 4})}},
      {"matrix_power 3", [](const Inputs& x) { return linalg::matrix_power(x[0], 3); }, {random({3, 3})}},
      {"matrix_power 5 batched", [](const Inputs& x) { return linalg::matrix_power(x[0], 5); },
       {leaf(randn({2, 2, 2}, f64, &gen) * 0.5)}},
      {"matrix_power -1", [](const Inputs& x) { return linalg::matrix_power(x[0], -1); }, {nonsingular({3, 3})}},
      {"matrix_power -3", [](const Inputs& x) { return linalg::matrix_power(x[0], -3); },
       {leaf(randn({3, 3}, f64, &gen) * 0.3 + eye(3, std::nullopt, f64))}},
      {"matrix_exp", [](const Inputs& x) { return linalg::matrix_exp(x[0]); }, {random({3, 3})}},
      {"matrix_exp small norm", [](const Inputs& x) { return linalg::matrix_exp(x[0]); },
       {leaf(randn({3, 3}, f64, &gen) * 0.01)}},
      {"matrix_exp norm near 10, batched", [](const Inputs& x) { return linalg::matrix_exp(x[0]); },
       {leaf(randn({2, 2, 2}, f64, &gen) * 4.0)}},
      {"multi_dot 3", [](const Inputs& x) { return linalg::multi_dot({x[0], x[1], x[2]}); },
       {random({2, 3}), random({3, 4}), random({4, 2})}},
      {"multi_dot 4", [](const Inputs& x) { return linalg::multi_dot({x[0], x[1], x[2], x[3]}); },
       {random({3, 4}), random({4, 1}), random({1, 3}), random({3, 2})}},
      {"multi_dot first and last 1-D", [](const Inputs& x) { return linalg::multi_dot({x[0], x[1], x[2]}); },
       {random({3}), random({3, 2}), random({2})}},
      {"cross", [](const Inputs& x) { return linalg::cross(x[0], x[1]); }, {random({2, 3}), random({2, 3})}},
      {"cross dim 0 broadcast", [](const Inputs& x) { return linalg::cross(x[0], x[1], 0); },
       {random({3, 1, 2}), random({3, 2, 1})}},
      {"vecdot broadcast", [](const Inputs& x) { return linalg::vecdot(x[0], x[1]); }, {random({2, 1, 3}), random({4, 3})}},
      {"vander at x with 0", [](const Inputs& x) { return linalg::vander(x[0], 4); },
       {leaf(from_vector<double>({0.0, 1.5, -0.7}))}},
      {"vander batched", [](const Inputs& x) { return linalg::vander(x[0]); }, {random({2, 3})}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(gradcheck(c.fn, c.inputs) == "");
    CHECK(gradgradcheck(c.fn, c.inputs) == "");
  }
  // lstsq's solution in A and B together, flattened into one output.
  const Inputs ab = {random({3, 2}), random({3, 2})};
  const auto both = [&](const Inputs& x) { return cat({flat(linalg::lstsq(x[0], x[1]).solution), flat(linalg::pinv(x[0]))}); };
  CHECK(gradcheck(both, ab) == "");
  CHECK(gradgradcheck(both, ab) == "");
}

TEST_CASE("pinv satisfies the Moore-Penrose conditions", "[linalg][functions]") {
  Generator gen(31);
  const Tensor low_rank = matmul(randn({4, 2}, f64, &gen), randn({2, 4}, f64, &gen));
  const Tensor sym_low_rank = matmul(low_rank, low_rank.mT());
  const Tensor indefinite = [&] {
    const Tensor m = randn({4, 4}, f64, &gen);
    return m + m.mT();
  }();
  struct Case {
    const char* name;
    Tensor a;
    bool hermitian;
  };
  const std::vector<Case> cases = {
      {"tall", randn({5, 3}, f64, &gen), false},
      {"wide", randn({3, 5}, f64, &gen), false},
      {"square", randn({4, 4}, f64, &gen), false},
      {"batched", randn({2, 3, 4}, f64, &gen), false},
      {"rank 2 of 4 x 4", low_rank, false},
      {"rank 2 of 5 x 3", matmul(randn({5, 2}, f64, &gen), randn({2, 3}, f64, &gen)), false},
      {"2 I", eye(3, std::nullopt, f64) * 2.0, false},
      {"hermitian indefinite", indefinite, true},
      {"hermitian positive semidefinite rank 2", sym_low_rank, true},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const Tensor p = linalg::pinv(c.a, {.hermitian = c.hermitian});
    CHECK(p.shape() == c.a.mT().shape());
    const Tensor ap = matmul(c.a, p), pa = matmul(p, c.a);
    CHECK(max_abs_diff(matmul(ap, c.a), c.a) < 1e-12);
    CHECK(max_abs_diff(matmul(pa, p), p) < 1e-12);
    CHECK(max_abs_diff(ap, ap.mT()) < 1e-12);
    CHECK(max_abs_diff(pa, pa.mT()) < 1e-12);
  }
  // pinv of a nonsingular matrix is its inverse; of a zero matrix, zero.
  const Tensor a = randn({3, 3}, f64, &gen) + eye(3, std::nullopt, f64) * 3.0;
  CHECK(max_abs_diff(linalg::pinv(a), linalg::inv(a)) < 1e-13);
  CHECK(max_abs(linalg::pinv(zeros({2, 3}, f64))) == 0.0);
}

TEST_CASE("matrix_exp identities: exp(A) exp(-A) = I and diagonal and commuting and nilpotent matrices", "[linalg][functions]") {
  Generator gen(41);
  for (double scale : {1e-3, 0.1, 1.0, 3.0}) {
    INFO("scale " << scale);
    const Tensor a = randn({2, 4, 4}, f64, &gen) * scale;
    const Tensor product = matmul(linalg::matrix_exp(a), linalg::matrix_exp(-a));
    // exp(A) and exp(-A) have norms up to e^(|A|): the product is that times the rounding
    const double bound = 1e-13 * std::max(1.0, max_abs(linalg::matrix_exp(a)) * max_abs(linalg::matrix_exp(-a)));
    CHECK(max_abs_diff(product, identity_like(product)) < bound);
  }
  SECTION("a diagonal matrix: exp of its entries") {
    // The method's error bound is normwise (relative to |exp(A)|, here e^12), not per entry: a
    // diagonal A is evaluated entry by entry, r(x) at x = d_i / 2^s then squared s = 2 times, and for
    // x = -5 the Pade numerator p(-5) cancels terms e^5 = 150 times larger than itself. So the entry
    // exp(-20) may be off by about u e^5 2^s = 7e-14 relative: 1e-13 here (PyTorch 1.13's result is
    // off by 1.1e-14 relative at d = 0.25). Off the diagonal, exact zeros.
    const std::vector<double> d = {-20.0, -1.5, 0.0, 0.25, 3.0, 12.0};
    const double tol = 1e-13;
    const std::vector<double> g = linalg::matrix_exp(diag_of(d)).to_vector<double>();
    const int64_t n = static_cast<int64_t>(d.size());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        INFO(fmt::format("entry {}, {}: got {:.17g}, exp(d) {:.17g}", i, j, g[i * n + j], std::exp(d[i])));
        if (i == j) CHECK(std::abs(g[i * n + j] / std::exp(d[i]) - 1) <= tol);
        else CHECK(g[i * n + j] == 0.0);
      }
  }
  SECTION("A and B commute (B a polynomial in A): exp(A + B) = exp(A) exp(B)") {
    const Tensor a = randn({3, 3}, f64, &gen);
    const Tensor b = matmul(a, a) * 0.3 - a * 0.5 + eye(3, std::nullopt, f64) * 0.2;
    REQUIRE(max_abs_diff(matmul(a, b), matmul(b, a)) < 1e-14);
    const Tensor want = linalg::matrix_exp(a + b);
    CHECK(max_abs_diff(matmul(linalg::matrix_exp(a), linalg::matrix_exp(b)), want) < 1e-12 * std::max(1.0, max_abs(want)));
  }
  SECTION("a nilpotent matrix: the series ends, exp(N) = I + N + N^2 / 2 + N^3 / 6") {
    const Tensor n = triu(randn({4, 4}, f64, &gen), 1);
    const Tensor n2 = matmul(n, n);
    const Tensor want = eye(4, std::nullopt, f64) + n + n2 * 0.5 + matmul(n2, n) * (1.0 / 6);
    CHECK(max_abs_diff(linalg::matrix_exp(n), want) < 1e-14 * std::max(1.0, max_abs(want)));
  }
  SECTION("a rotation generator: exp of a skew-symmetric matrix is orthogonal") {
    const Tensor m = randn({5, 5}, f64, &gen) * 2.0;
    const Tensor q = linalg::matrix_exp(m - m.mT());
    CHECK(max_abs_diff(matmul(q, q.mT()), identity_like(q)) < 1e-13);
  }
  SECTION("each matrix of a batch has its own scaling: a small one next to a huge one stays exact") {
    // Found by a red-team review: with the batch's one scaling (that of its largest norm) exp(1e-3 I)
    // next to a nilpotent matrix of norm 1e15 came out as I: 1e-3 / 2^48, squared 48 times.
    const Tensor nilpotent = from_vector(std::vector<double>{0, 1e15, 0, 0}, {2, 2});
    const Tensor small = eye(2, std::nullopt, f64) * 1e-3;
    const Tensor batched = linalg::matrix_exp(stack({small, nilpotent, small * 3000.0}));
    const auto got = batched.to_vector<double>();
    const std::vector<double> want = {std::exp(1e-3), 0, 0, std::exp(1e-3), 1, 1e15, 0, 1, std::exp(3.0), 0, 0, std::exp(3.0)};
    for (size_t i = 0; i < want.size(); ++i) {
      INFO("entry " << i << ": " << got[i] << " against " << want[i]);
      CHECK(std::abs(got[i] - want[i]) <= 1e-14 * std::abs(want[i]));
    }
    // Gradients through the per-matrix squarings, of first and second order.
    const std::vector<Tensor> inputs{stack({randn({3, 3}, f64, &gen) * 0.01, randn({3, 3}, f64, &gen) * 8.0})
                                         .requires_grad_()};
    auto f = [](const std::vector<Tensor>& x) { return linalg::matrix_exp(x[0]); };
    CHECK(testing::gradcheck(f, inputs) == "");
    CHECK(testing::gradgradcheck(f, inputs) == "");
  }
  SECTION("a batch of a small and a large matrix: each as exact as alone") {
    const Tensor small = randn({3, 3}, f64, &gen) * 1e-3, large = randn({3, 3}, f64, &gen) * 8.0;
    const Tensor batched = linalg::matrix_exp(stack({small, large}));
    CHECK(max_abs_diff(select(batched, 0, 0), linalg::matrix_exp(small)) < 1e-14);
    const Tensor e_large = linalg::matrix_exp(large);
    CHECK(max_abs_diff(select(batched, 0, 1), e_large) < 1e-13 * std::max(1.0, max_abs(e_large)));
  }
}

TEST_CASE("matrix_power agrees with repeated multiplication and with inv", "[linalg][functions]") {
  Generator gen(43);
  const Tensor a = randn({2, 3, 3}, f64, &gen) * 0.7 + eye(3, std::nullopt, f64);
  Tensor product = a;
  for (int k = 2; k <= 7; ++k) {
    product = matmul(product, a);
    INFO("n = " << k);
    CHECK(max_abs_diff(linalg::matrix_power(a, k), product) < 1e-13 * std::max(1.0, max_abs(product)));
  }
  const Tensor a5 = matmul(matmul(matmul(matmul(a, a), a), a), a);
  CHECK(max_abs_diff(linalg::matrix_power(a, 5), a5) < 1e-13 * std::max(1.0, max_abs(a5)));
  CHECK(max_abs_diff(linalg::matrix_power(a, 0), identity_like(a)) == 0.0);
  CHECK(max_abs_diff(linalg::matrix_power(a, 1), a) == 0.0);
  CHECK(max_abs_diff(linalg::matrix_power(a, -1), linalg::inv(a)) < 1e-13);
  const Tensor round_trip = matmul(linalg::matrix_power(a, -3), linalg::matrix_power(a, 3));
  CHECK(max_abs_diff(round_trip, identity_like(round_trip)) < 1e-12);
  // n = 0 of a singular matrix is the identity (no inverse is taken); 0 x 0 stays 0 x 0
  CHECK(max_abs_diff(linalg::matrix_power(zeros({2, 2}, f64), 0), eye(2, std::nullopt, f64)) == 0.0);
  CHECK(linalg::matrix_power(zeros({0, 0}, f64), 3).shape() == Shape{0, 0});
}

TEST_CASE("lstsq identities: residuals are |A X - B|^2 and X is pinv(A) B with gelsd's rank and singular values", "[linalg][functions]") {
  Generator gen(47);
  SECTION("tall full rank: residuals per column") {
    const Tensor a = randn({2, 6, 3}, f64, &gen), b = randn({2, 6, 2}, f64, &gen);
    const linalg::LstsqResult r = linalg::lstsq(a, b);
    const Tensor want = sum(square(matmul(a, r.solution) - b), {-2});
    REQUIRE(r.residuals.shape() == want.shape());
    CHECK(max_abs_diff(r.residuals, want) < 1e-12 * std::max(1.0, max_abs(want)));
    CHECK(max_abs_diff(r.solution, matmul(linalg::pinv(a), b)) < 1e-12);
    CHECK(r.rank.dtype() == DType::Int64);
    CHECK(r.rank.to_vector<int64_t>() == std::vector<int64_t>{3, 3});
    CHECK(max_abs_diff(r.singular_values, linalg::svdvals(a)) < 1e-13);
    // the normal equations: A^T (A X - B) = 0
    CHECK(max_abs(matmul(a.mT(), matmul(a, r.solution) - b)) < 1e-12);
  }
  SECTION("singular values: pinv's own (no history) without a gradient, svdvals' with one") {
    const Tensor a = randn({6, 3}, f64, &gen), b = randn({6, 2}, f64, &gen);
    CHECK_FALSE(linalg::lstsq(a, b).singular_values.requires_grad());
    const Tensor leaf = a.detach().clone().requires_grad_();
    const linalg::LstsqResult r = linalg::lstsq(leaf, b);
    REQUIRE(r.singular_values.requires_grad());
    const Tensor got = grad({sum(r.singular_values)}, {leaf})[0];
    // d(sum s)/dA = U V^T
    const linalg::SVDResult usv = linalg::svd(a, /*full_matrices=*/false);
    CHECK(max_abs_diff(got, matmul(usv.U, usv.Vh)) < 1e-12);
    CHECK(max_abs_diff(r.singular_values.detach(), linalg::lstsq(a, b).singular_values) < 1e-13);
  }
  SECTION("a vector b: residuals [1] (PyTorch's [..., 1]), X [..., n]") {
    const Tensor a = randn({5, 2}, f64, &gen), b = randn({5}, f64, &gen);
    const linalg::LstsqResult r = linalg::lstsq(a, b);
    CHECK(r.solution.shape() == Shape{2});
    const Tensor want = sum(square(matmul(a, r.solution) - b));
    CHECK(r.residuals.shape() == Shape{1});
    CHECK(std::abs(r.residuals.item<double>() - want.item<double>()) < 1e-12 * std::max(1.0, want.item<double>()));
  }
  SECTION("rank-deficient and wide: no residuals, the least-norm X") {
    const Tensor deficient = matmul(randn({5, 2}, f64, &gen), randn({2, 4}, f64, &gen));
    const Tensor wide = randn({2, 4}, f64, &gen);
    for (const Tensor& a : {deficient, wide}) {
      const Tensor b = randn({a.size(0), 3}, f64, &gen);
      const linalg::LstsqResult r = linalg::lstsq(a, b);
      CHECK(r.residuals.numel() == 0);
      CHECK(r.rank.item<int64_t>() == 2);
      CHECK(max_abs_diff(r.solution, matmul(linalg::pinv(a), b)) < 1e-12);
    }
  }
  SECTION("rcond cuts singular values at or below rcond times the largest") {
    // orthogonal columns of norms 4, 2 and 1: singular values exactly those
    const Tensor a = from_vector<double>({0, 2, 0, 4, 0, 0, 0, 0, 1, 0, 0, 0}, {4, 3});
    const Tensor b = randn({4, 1}, f64, &gen);
    CHECK(linalg::lstsq(a, b, 0.25).rank.item<int64_t>() == 2);   // 1 = 0.25 * 4 does not count
    CHECK(linalg::lstsq(a, b, 0.2499).rank.item<int64_t>() == 3);
    CHECK(linalg::lstsq(a, b, 0.6).rank.item<int64_t>() == 1);
    // with the cut, X is the pseudo-inverse's with that singular value dropped: its row is zero
    CHECK(linalg::lstsq(a, b, 0.25).solution.to_vector<double>()[2] == 0.0);
  }
}

TEST_CASE("norms and cond and rank agree with their definitions", "[linalg][functions]") {
  Generator gen(53);
  const Tensor a = randn({2, 3, 4}, f64, &gen);
  const Tensor s = linalg::svdvals(a);
  const double scale = std::max(1.0, max_abs(s));
  CHECK(max_abs_diff(linalg::matrix_norm(a, linalg::MatrixNormKind::Nuclear), sum(s, {-1})) < 1e-13 * scale);
  CHECK(max_abs_diff(linalg::matrix_norm(a, 2.0), select(s, -1, 0)) < 1e-13 * scale);
  CHECK(max_abs_diff(linalg::matrix_norm(a, -2.0), select(s, -1, 2)) < 1e-13 * scale);
  CHECK(max_abs_diff(linalg::matrix_norm(a), sqrt(sum(square(a), {-2, -1}))) < 1e-13 * scale);
  CHECK(max_abs_diff(linalg::matrix_norm(a), linalg::vector_norm(a, 2, {-2, -1})) < 1e-13 * scale);
  CHECK(max_abs_diff(linalg::matrix_norm(a, 1.0), amax(sum(abs(a), {-2}), {-1})) < 1e-13 * scale);
  CHECK(max_abs_diff(linalg::matrix_norm(a, -INFINITY), amin(sum(abs(a), {-1}), {-1})) < 1e-13 * scale);
  CHECK(linalg::matrix_norm(a, 1.0, true).shape() == Shape{2, 1, 1});
  CHECK(max_abs_diff(linalg::cond(a), select(s, -1, 0) / select(s, -1, 2)) < 1e-12);
  CHECK(max_abs_diff(linalg::cond(a, -2.0), select(s, -1, 2) / select(s, -1, 0)) < 1e-13);
  const Tensor sq = randn({3, 3}, f64, &gen);
  CHECK(std::abs(linalg::cond(sq, 1.0).item<double>() -
                 (linalg::matrix_norm(sq, 1.0) * linalg::matrix_norm(linalg::inv(sq), 1.0)).item<double>()) <
        1e-12 * linalg::cond(sq, 1.0).item<double>());
  const Tensor x = randn({7}, f64, &gen);
  CHECK(std::abs(linalg::vector_norm(x).item<double>() - std::sqrt(sum(square(x)).item<double>())) < 1e-14);
  CHECK(linalg::vector_norm(x, 0).item<double>() == 7.0);
  CHECK(linalg::vector_norm(x, INFINITY).item<double>() == max(abs(x)).item<double>());
  // the gradient of a zero norm is 0, not NaN (every ord)
  for (double ord : {2.0, 1.0, 3.0, 0.5, double(INFINITY)}) {
    INFO("ord " << ord);
    const Tensor z = zeros({3}, f64).requires_grad_();
    const Tensor g = grad({linalg::vector_norm(z, ord)}, {z}, {}, {.allow_unused = true})[0];
    CHECK((!g.defined() || max_abs(g) == 0.0));
  }
  // rank agrees with lstsq's and with the number of singular values above the default tolerance
  const Tensor r2 = matmul(randn({2, 5, 2}, f64, &gen), randn({2, 2, 4}, f64, &gen));
  CHECK(linalg::matrix_rank(r2).to_vector<int64_t>() == std::vector<int64_t>{2, 2});
  CHECK(linalg::matrix_rank(r2).dtype() == DType::Int64);
  CHECK(linalg::lstsq(r2, randn({2, 5, 1}, f64, &gen)).rank.to_vector<int64_t>() == std::vector<int64_t>{2, 2});
  CHECK(linalg::matrix_rank(eye(4, std::nullopt, f64)).item<int64_t>() == 4);
  CHECK(linalg::matrix_rank(eye(4, std::nullopt, f64), {.atol = 1.0}).item<int64_t>() == 0);  // s > atol, strictly
}

TEST_CASE("multi_dot and cross and vecdot and vander agree with their definitions", "[linalg][functions]") {
  Generator gen(59);
  const Tensor a = randn({4, 6}, f64, &gen), b = randn({6, 2}, f64, &gen), c = randn({2, 5}, f64, &gen),
               d = randn({5, 3}, f64, &gen);
  const Tensor chain = matmul(matmul(matmul(a, b), c), d);
  CHECK(max_abs_diff(linalg::multi_dot({a, b, c, d}), chain) < 1e-12 * std::max(1.0, max_abs(chain)));
  const Tensor row = randn({4}, f64, &gen), col = randn({3}, f64, &gen);
  const Tensor scalar = linalg::multi_dot({row, a, b, c, d, col});
  CHECK(scalar.dim() == 0);
  CHECK(std::abs(scalar.item<double>() - sum(matmul(row, chain) * col).item<double>()) < 1e-12 * std::max(1.0, max_abs(chain)));
  CHECK(linalg::multi_dot({row, a, b}).shape() == Shape{2});
  CHECK(linalg::multi_dot({a, b, c, d, col}).shape() == Shape{4});

  const Tensor u = randn({5, 3}, f64, &gen), v = randn({5, 3}, f64, &gen);
  const Tensor w = linalg::cross(u, v);
  CHECK(max_abs(sum(w * u, {-1})) < 1e-14);  // orthogonal to both
  CHECK(max_abs(sum(w * v, {-1})) < 1e-14);
  CHECK(max_abs_diff(linalg::cross(v, u), -w) == 0.0);  // anticommutative
  const Tensor e = eye(3, std::nullopt, f64);
  CHECK(max_abs_diff(linalg::cross(select(e, 0, 0), select(e, 0, 1)), select(e, 0, 2)) == 0.0);  // x cross y = z
  CHECK(max_abs_diff(linalg::cross(u.mT(), v.mT(), 0), w.mT()) == 0.0);

  CHECK(max_abs_diff(linalg::vecdot(u, v), sum(u * v, {-1})) < 1e-14);
  CHECK(max_abs_diff(linalg::vecdot(u, v, 0), sum(u * v, {0})) < 1e-14);

  const Tensor x = from_vector<double>({0.0, -2.0, 0.5, 3.0});
  const std::vector<double> got = linalg::vander(x, 5).to_vector<double>();
  const std::vector<double> xs = x.to_vector<double>();
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < 5; ++j) {
      INFO("entry " << i << ", " << j);
      CHECK(got[i * 5 + j] == std::pow(xs[i], static_cast<double>(j)));  // small integers and halves: exact
    }
  CHECK(linalg::vander(x).shape() == Shape{4, 4});
  CHECK(linalg::vander(randn({2, 3, 4}, f64, &gen), 2).shape() == Shape{2, 3, 4, 2});
}

TEST_CASE("under autocast the linalg matrix functions run in float32", "[linalg][functions][autocast]") {
  const Tensor half = cast(from_vector<double>({2, 1, 0.5, 3}, {2, 2}), DType::Float16);
  const Tensor half_b = cast(from_vector<double>({1, -1}, {2, 1}), DType::Float16);
  autocast scope(DType::Float16);
  struct Call {
    const char* op;
    std::function<Tensor()> call;
  };
  const std::vector<Call> calls = {
      {"linalg.matrix_norm", [&] { return linalg::matrix_norm(half, linalg::MatrixNormKind::Nuclear); }},
      {"linalg.matrix_norm", [&] { return linalg::matrix_norm(half, 2.0); }},
      {"linalg.cond", [&] { return linalg::cond(half); }},
      {"linalg.pinv", [&] { return linalg::pinv(half); }},
      {"linalg.lstsq", [&] { return linalg::lstsq(half, half_b).solution; }},
      {"linalg.matrix_power", [&] { return linalg::matrix_power(half, -2); }},
      {"linalg.matrix_exp", [&] { return linalg::matrix_exp(half); }},
  };
  for (const Call& c : calls) {
    INFO(c.op);
    CHECK(c.call().dtype() == DType::Float32);
  }
  CHECK(linalg::matrix_rank(half).item<int64_t>() == 2);
}

TEST_CASE("linalg matrix functions refuse bad inputs with an error naming the op", "[linalg][functions][errors]") {
  const Tensor m3 = eye(3, std::nullopt, f64), b3 = ones({3, 2}, f64);
  const Tensor ints = ones({3, 3}, {.dtype = DType::Int64}), halves = ones({3, 3}, {.dtype = DType::Float16});
  const Tensor vector3 = ones({3}, f64), wide = ones({3, 4}, f64), scalar = ones({}, f64);
  const Tensor singular = from_vector<double>({1, 2, 2, 4}, {2, 2});
  const Tensor v2 = ones({4, 2}, f64), v3 = ones({4, 3}, f64);
  struct Refusal {
    const char* what;
    const char* op;
    std::function<void()> call;
  };
  // PyTorch 1.13 refuses each of these too (RuntimeError), but where noted.
  const std::vector<Refusal> refusals = {
      {"undefined x", "linalg.vector_norm", [&] { linalg::vector_norm(Tensor()); }},
      {"int64 x", "linalg.vector_norm", [&] { linalg::vector_norm(ints); }},
      {"dim out of range", "linalg.vector_norm", [&] { linalg::vector_norm(m3, 2, {2}); }},
      {"a dim twice", "linalg.vector_norm", [&] { linalg::vector_norm(m3, 2, {0, 0}); }},
      {"ord inf of an empty tensor (no identity)", "linalg.vector_norm",
       [&] { linalg::vector_norm(zeros({0}, f64), INFINITY); }},
      {"ord 3", "linalg.matrix_norm", [&] { linalg::matrix_norm(m3, 3.0); }},
      {"ord 0.5", "linalg.matrix_norm", [&] { linalg::matrix_norm(m3, 0.5); }},
      {"ord 0", "linalg.matrix_norm", [&] { linalg::matrix_norm(m3, 0.0); }},
      {"1-D A", "linalg.matrix_norm", [&] { linalg::matrix_norm(vector3); }},
      {"int64 A", "linalg.matrix_norm", [&] { linalg::matrix_norm(ints, 1.0); }},
      {"undefined A", "linalg.matrix_norm", [&] { linalg::matrix_norm(Tensor()); }},
      {"ord 2 of a 0 x 0 matrix (no largest singular value)", "linalg.matrix_norm",
       [&] { linalg::matrix_norm(zeros({0, 0}, f64), 2.0); }},
      {"ord 3", "linalg.cond", [&] { linalg::cond(m3, 3.0); }},
      {"ord 1 of a non-square A", "linalg.cond", [&] { linalg::cond(wide, 1.0); }},
      {"Frobenius of a non-square A", "linalg.cond", [&] { linalg::cond(wide, linalg::MatrixNormKind::Frobenius); }},
      {"1-D A", "linalg.cond", [&] { linalg::cond(vector3); }},
      {"int64 A", "linalg.cond", [&] { linalg::cond(ints); }},
      {"1-D A", "linalg.matrix_rank", [&] { linalg::matrix_rank(vector3); }},
      {"int64 A", "linalg.matrix_rank", [&] { linalg::matrix_rank(ints); }},
      {"hermitian and not square", "linalg.matrix_rank", [&] { linalg::matrix_rank(wide, {.hermitian = true}); }},
      {"1-D A", "linalg.pinv", [&] { linalg::pinv(vector3); }},
      {"int64 A", "linalg.pinv", [&] { linalg::pinv(ints); }},
      {"hermitian and not square", "linalg.pinv", [&] { linalg::pinv(wide, {.hermitian = true}); }},
      {"undefined A", "linalg.pinv", [&] { linalg::pinv(Tensor()); }},
      {"1-D A", "linalg.lstsq", [&] { linalg::lstsq(vector3, vector3); }},
      {"0-D B", "linalg.lstsq", [&] { linalg::lstsq(m3, scalar); }},
      {"B's rows are not A's m", "linalg.lstsq", [&] { linalg::lstsq(m3, ones({4, 2}, f64)); }},
      {"a vector b of the wrong size", "linalg.lstsq", [&] { linalg::lstsq(wide, ones({4}, f64)); }},
      {"A float64, B float32", "linalg.lstsq", [&] { linalg::lstsq(m3, cast(b3, DType::Float32)); }},
      {"int64 A and B", "linalg.lstsq", [&] { linalg::lstsq(ints, ones({3, 2}, {.dtype = DType::Int64})); }},
      {"batch dims [2] and [3]", "linalg.lstsq", [&] { linalg::lstsq(ones({2, 3, 3}, f64), ones({3, 3, 2}, f64)); }},
      {"undefined B", "linalg.lstsq", [&] { linalg::lstsq(m3, Tensor()); }},
      {"non-square A", "linalg.matrix_power", [&] { linalg::matrix_power(wide, 2); }},
      {"1-D A", "linalg.matrix_power", [&] { linalg::matrix_power(vector3, 2); }},
      {"negative n of a singular A", "linalg.matrix_power", [&] { linalg::matrix_power(singular, -1); }},
      {"int64 A", "linalg.matrix_power", [&] { linalg::matrix_power(ints, 2); }},
      {"non-square A", "linalg.matrix_exp", [&] { linalg::matrix_exp(wide); }},
      {"1-D A", "linalg.matrix_exp", [&] { linalg::matrix_exp(vector3); }},
      {"int64 A", "linalg.matrix_exp", [&] { linalg::matrix_exp(ints); }},
      {"undefined A", "linalg.matrix_exp", [&] { linalg::matrix_exp(Tensor()); }},
      {"one matrix", "linalg.multi_dot", [&] { linalg::multi_dot({m3}); }},
      {"no matrices", "linalg.multi_dot", [&] { linalg::multi_dot(std::span<const Tensor>()); }},
      {"a 3-D operand", "linalg.multi_dot", [&] { linalg::multi_dot({m3, ones({2, 3, 3}, f64)}); }},
      {"a 1-D operand in the middle", "linalg.multi_dot", [&] { linalg::multi_dot({m3, vector3, ones({1, 3}, f64)}); }},
      {"a 0-D operand", "linalg.multi_dot", [&] { linalg::multi_dot({scalar, m3}); }},
      {"inner sizes 3 and 4", "linalg.multi_dot", [&] { linalg::multi_dot({m3, ones({4, 2}, f64)}); }},
      {"inner sizes 2 and 3 in the middle", "linalg.multi_dot", [&] { linalg::multi_dot({m3, b3, b3}); }},
      {"float64 and float32 operands", "linalg.multi_dot",
       [&] { linalg::multi_dot({m3, cast(b3, DType::Float32)}); }},
      {"an undefined operand", "linalg.multi_dot", [&] { linalg::multi_dot({m3, Tensor()}); }},
      {"dim of size 2", "linalg.cross", [&] { linalg::cross(v2, v2); }},
      {"sizes 3 and 2 along dim", "linalg.cross", [&] { linalg::cross(v3, v2); }},
      {"dim 0 of size 4", "linalg.cross", [&] { linalg::cross(v3, v3, 0); }},
      {"batch dims that do not broadcast", "linalg.cross", [&] { linalg::cross(ones({2, 3}, f64), ones({4, 3}, f64)); }},
      {"dim out of range", "linalg.cross", [&] { linalg::cross(v3, v3, 2); }},
      {"0-D tensors", "linalg.cross", [&] { linalg::cross(scalar, scalar); }},
      {"sizes 3 and 4 along dim", "linalg.vecdot", [&] { linalg::vecdot(v3, ones({4, 4}, f64)); }},
      {"dim out of range", "linalg.vecdot", [&] { linalg::vecdot(v3, v3, 3); }},
      {"0-D x", "linalg.vander", [&] { linalg::vander(scalar); }},
      {"negative n", "linalg.vander", [&] { linalg::vander(vector3, -1); }},
      {"undefined x", "linalg.vander", [&] { linalg::vander(Tensor()); }},
  };
  for (const Refusal& r : refusals) {
    INFO(r.op << ": " << r.what);
    CHECK_THROWS_AS(r.call(), ember::Error);
    CHECK_THROWS_WITH(r.call(), Catch::Contains(r.op));
  }
  // 16-bit matrices outside autocast: refused by the ops autocast runs in float32, pointing to it
  // (PyTorch has no half SVD, LU or eigh on the CPU).
  const std::vector<std::pair<const char*, std::function<void()>>> half_calls = {
      {"linalg.matrix_norm", [&] { linalg::matrix_norm(halves, linalg::MatrixNormKind::Nuclear); }},
      {"linalg.matrix_norm", [&] { linalg::matrix_norm(halves, 2.0); }},
      {"linalg.cond", [&] { linalg::cond(halves); }},
      {"linalg.cond", [&] { linalg::cond(halves, 1.0); }},
      {"linalg.matrix_rank", [&] { linalg::matrix_rank(halves); }},
      {"linalg.pinv", [&] { linalg::pinv(halves); }},
      {"linalg.lstsq", [&] { linalg::lstsq(halves, halves); }},
      {"linalg.matrix_power", [&] { linalg::matrix_power(halves, 2); }},
      {"linalg.matrix_exp", [&] { linalg::matrix_exp(halves); }},
  };
  for (const auto& [op, call] : half_calls) {
    INFO(op << " of float16");
    CHECK_THROWS_AS(call(), ember::Error);
    CHECK_THROWS_WITH(call(), Catch::Contains(op) && Catch::Contains("autocast"));
  }
}

TEST_CASE("linalg::norm dispatches to the vector or matrix norm as torch.linalg.norm", "[linalg][functions]") {
  // x = [[1, -2], [3, 4]]: Frobenius sqrt(30); column sums 4 and 6; row sums 3 and 7.
  const Tensor x = from_vector<double>({1, -2, 3, 4}, {2, 2});
  const auto value = [](const Tensor& t) { return t.item<double>(); };
  CHECK(std::abs(value(linalg::norm(x)) - std::sqrt(30.0)) < 1e-15);                // every entry, 2-norm
  CHECK(value(linalg::norm(x, 1.0)) == 6.0);                                         // 2-D, no dims: matrix 1-norm
  CHECK(value(linalg::norm(x, INFINITY)) == 7.0);                                    // matrix inf-norm
  CHECK(value(linalg::norm(x, 1.0, {1, 0})) == 7.0);                                 // rows and columns swapped
  CHECK(value(linalg::norm(x, -1.0, {-2, -1})) == 4.0);
  CHECK(linalg::norm(x, 1.0, {1}).to_vector<double>() == std::vector<double>{3.0, 7.0});  // one dim: vector 1-norms
  CHECK(linalg::norm(x, std::nullopt, {0}).to_vector<double>() == std::vector<double>{std::sqrt(10.0), std::sqrt(20.0)});
  CHECK(value(linalg::norm(from_vector<double>({3, -4}, {2}), 1.0)) == 7.0);          // 1-D, no dims: vector
  // Against the vector and matrix norms (checked against PyTorch elsewhere) on a 3-D tensor.
  Generator gen(61);
  const Tensor t = randn({3, 4, 5}, f64, &gen);
  const std::vector<int64_t> to_end = {1, 0, 2};  // dims 0 and 2 as the matrix, dim 1 as the batch
  const Tensor moved = permute(t, to_end);
  CHECK(max_abs_diff(linalg::norm(t, std::nullopt, {0, 2}), linalg::matrix_norm(moved)) < 1e-14);
  CHECK(max_abs_diff(linalg::norm(t, 2.0, {0, 2}), linalg::matrix_norm(moved, 2.0)) < 1e-13);
  CHECK(max_abs_diff(linalg::norm(t, linalg::MatrixNormKind::Nuclear, {0, 2}),
                     linalg::matrix_norm(moved, linalg::MatrixNormKind::Nuclear)) < 1e-13);
  CHECK(max_abs_diff(linalg::norm(t, INFINITY, {2, 0}), linalg::matrix_norm(moved.mT(), INFINITY)) < 1e-14);
  CHECK(max_abs_diff(linalg::norm(t), linalg::vector_norm(t.reshape({-1}))) < 1e-14);
  CHECK(max_abs_diff(linalg::norm(t, 3.0, {1}), linalg::vector_norm(t, 3.0, {1})) < 1e-14);
  // keepdim leaves size-1 dims where the reduced ones were, in either order of dims.
  CHECK(linalg::norm(t, 1.0, {2, 0}, true).shape() == Shape{1, 4, 1});
  CHECK(linalg::norm(t, linalg::MatrixNormKind::Frobenius, {0, 1}, true).shape() == Shape{1, 1, 5});
  CHECK(linalg::norm(t, std::nullopt, {1}, true).shape() == Shape{3, 1, 5});
  // Gradients of the dispatched norms, first and second order.
  const Tensor leaf = t.detach().clone().requires_grad_();
  CHECK(ember::testing::gradcheck([](const std::vector<Tensor>& in) { return linalg::norm(in[0], std::nullopt, {0, 2}); },
                                  {leaf}) == "");
  CHECK(ember::testing::gradgradcheck(
            [](const std::vector<Tensor>& in) { return linalg::norm(in[0], linalg::MatrixNormKind::Nuclear, {2, 0}); },
            {leaf}) == "");
  // Refusals, each naming linalg.norm.
  const auto refused = [](const std::function<void()>& call) {
    try {
      call();
    } catch (const ember::Error& e) {
      return std::string(e.what()).find("linalg.norm") != std::string::npos;
    }
    return false;
  };
  CHECK(refused([&] { linalg::norm(t, 2.0); }));                       // an order, 3-D, no dims
  CHECK(refused([&] { linalg::norm(t, 2.0, {0, 1, 2}); }));            // three dims
  CHECK(refused([&] { linalg::norm(t, 2.0, {1, 1}); }));               // a repeated dim
  CHECK(refused([&] { linalg::norm(t, 2.0, {0, 3}); }));               // out of range
  CHECK(refused([&] { linalg::norm(t, linalg::MatrixNormKind::Nuclear, {1}); }));  // a matrix norm, one dim
  CHECK(refused([&] { linalg::norm(t, linalg::MatrixNormKind::Frobenius); }));     // ... of a 3-D x, no dims
  CHECK(refused([&] { linalg::norm(Tensor()); }));
}
