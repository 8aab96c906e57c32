// linalg.lu_factor, lu_factor_ex, lu, lu_unpack, lu_solve, solve_ex, inv_ex (ops/lu.h), cholesky_ex
// (ops/decompositions.h), householder_product, tensorinv and tensorsolve (ops/matrix_functions.h)
// against PyTorch 1.13 (tests/linalg/lu_reference.json, written by make_lu_reference.py): values,
// gradients and Hessian-vector products in float64 (square, tall, wide, batched and broadcast shapes,
// left and right and adjoint solves, matrices that need a swap, exact zero pivots, matrices that are
// not positive definite, reflectors from geqrf); float32 values; gradcheck and gradgradcheck; the
// identities each op must satisfy (P L U = A, lu_unpack(lu_factor(A)) = lu(A), lu_solve = solve,
// orthonormal Householder products, tensordot back to B or to the identity); pivot = false, which
// PyTorch refuses on the CPU and ember supports; the "_ex" ops' info; and the calls refused with an
// ember::Error naming the op.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <ember/core/autocast.h>
#include <ember/ops/decompositions.h>
#include <ember/ops/lu.h>
#include <ember/ops/matrix_functions.h>
#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

#include "tests/support/reference_case.h"

using namespace ember;
using json_ref::json;

namespace {

const json& reference() {
  static const json doc =
      json_ref::load(std::filesystem::path(__FILE__).parent_path(), "lu_reference.json", "EMBER_LU_REFERENCE");
  return doc;
}

const TensorOptions f64{.dtype = DType::Float64};
const TensorOptions i32{.dtype = DType::Int32};

bool flag(const json& kwargs, const char* key, bool otherwise) {
  return kwargs.contains(key) && !kwargs.at(key).is_null() ? kwargs.at(key).get<bool>() : otherwise;
}

// The names of a case's inputs in the op's argument order.
std::vector<std::string> input_keys(const std::string& op) {
  if (op == "lu_unpack") return {"LU", "pivots"};
  if (op == "lu_solve") return {"LU", "pivots", "B"};
  if (op == "householder_product") return {"A", "tau"};
  if (op == "solve_ex" || op == "tensorsolve") return {"A", "B"};
  return {"A"};
}

// The op of a case on its inputs, with the case's keyword arguments.
std::vector<Tensor> run_op(const std::string& op, const std::vector<Tensor>& x, const json& kw) {
  if (op == "lu_factor") {
    const linalg::LuFactorResult r = linalg::lu_factor(x[0]);
    return {r.LU, r.pivots};
  }
  if (op == "lu_factor_ex") {
    const linalg::LuFactorExResult r = linalg::lu_factor_ex(x[0]);
    return {r.LU, r.pivots, r.info};
  }
  if (op == "lu") {
    const linalg::LuResult r = linalg::lu(x[0]);
    return {r.P, r.L, r.U};
  }
  if (op == "lu_unpack") {
    const linalg::LuResult r = linalg::lu_unpack(x[0], x[1]);
    return {r.P, r.L, r.U};
  }
  if (op == "lu_solve") return {linalg::lu_solve(x[0], x[1], x[2], flag(kw, "left", true), flag(kw, "adjoint", false))};
  if (op == "solve_ex") {
    const linalg::SolveExResult r = linalg::solve_ex(x[0], x[1], flag(kw, "left", true));
    return {r.result, r.info};
  }
  if (op == "inv_ex") {
    const linalg::SolveExResult r = linalg::inv_ex(x[0]);
    return {r.result, r.info};
  }
  if (op == "cholesky_ex") {
    const linalg::CholeskyExResult r = linalg::cholesky_ex(x[0], flag(kw, "upper", false));
    return {r.L, r.info};
  }
  if (op == "householder_product") return {linalg::householder_product(x[0], x[1])};
  if (op == "tensorinv") return {linalg::tensorinv(x[0], kw.at("ind").get<int64_t>())};
  if (op == "tensorsolve") {
    std::vector<int64_t> dims;
    if (kw.contains("dims") && !kw.at("dims").is_null()) dims = kw.at("dims").get<std::vector<int64_t>>();
    return {linalg::tensorsolve(x[0], x[1], std::span<const int64_t>(dims.data(), dims.size()))};
  }
  FAIL("unknown op " << op);
  return {};
}

// One output against PyTorch's: |got - want| <= rtol |want| + atol max(1, max|want|), integers
// exactly; a null stored output is not compared. cholesky_ex's L where A is not positive definite:
// its first `leading` columns (rows, with upper), the part the header defines as the factorization's.
std::string compare_output(const json& c, size_t i, Tensor got, DType dtype, double rtol, double atol) {
  const json& want = c.at("outputs")[i];
  if (want.is_null()) return got.defined() ? "" : "undefined tensor";
  if (json_ref::is_integer(want)) return json_ref::compare_ints(got, want);
  if (!got.defined()) return "undefined tensor";
  if (got.dtype() != dtype) return fmt::format("dtype {}, expected {}", got.dtype(), dtype);
  if (c.contains("leading") && i == 0) {
    const int64_t lead = c.at("leading").get<int64_t>();
    const bool upper = flag(c.at("kwargs"), "upper", false);
    if (got.dim() < 2) return fmt::format("shape {}", shape_str(got.shape()));
    got = narrow(got, upper ? -2 : -1, 0, lead);
  }
  return json_ref::compare_scaled(got, want, rtol, atol, 1.0);
}

// The case against PyTorch's values and derivatives (json_ref::run_case) with this file's ops.
std::string run_case(const json& c, DType dtype, double rtol, double atol, bool derivatives) {
  const std::string op = c.at("op");
  return json_ref::run_case(
      c, dtype, rtol, atol, derivatives, input_keys(op),
      [&](const std::vector<Tensor>& x) { return run_op(op, x, c.at("kwargs")); },
      [&](size_t i, const Tensor& got) { return compare_output(c, i, got, dtype, rtol, atol); });
}

// The largest |entry| of a - b, shapes equal (0 for empty tensors).
double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = a.to_vector<double>();
  const std::vector<double> y = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

double max_abs(const Tensor& a) {
  double worst = 0;
  for (double v : a.to_vector<double>()) worst = std::max(worst, std::abs(v));
  return worst;
}

bool all_finite(const Tensor& a) {
  for (double v : a.to_vector<double>())
    if (!std::isfinite(v)) return false;
  return true;
}

Tensor identity(int64_t n) { return eye(n, std::nullopt, f64); }

Tensor flat(const Tensor& x) { return reshape(x, std::vector<int64_t>{-1}); }

Tensor ints32(const std::vector<int32_t>& v, std::vector<int64_t> shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
  return from_vector(v, std::span<const int64_t>(shape.data(), shape.size()), i32);
}

// A with n added to the diagonal: far from singular, and diagonally dominant enough for pivot = false.
Tensor nonsingular(std::vector<int64_t> shape, Generator& gen) {
  const int64_t n = shape.back();
  return randn(std::span<const int64_t>(shape.data(), shape.size()), f64, &gen) + identity(n) * static_cast<double>(n);
}

Tensor spd(const Tensor& m) { return matmul(m, m.mT()) + identity(m.size(-1)) * static_cast<double>(m.size(-1)); }

// Householder reflectors as geqrf stores them: the vectors v_i = (0.., 1, A[i+1:, i]) and tau_i =
// 2 / |v_i|^2, each I - tau_i v_i v_i^T then an exact reflection (orthogonal), whatever A holds.
Tensor reflector_taus(const Tensor& a, int64_t k) {
  const int64_t m = a.size(-2);
  std::vector<Tensor> taus;
  for (int64_t i = 0; i < k; ++i) {
    const Tensor below = narrow(select(a, -1, i), -1, i + 1, m - i - 1);
    taus.push_back(2.0 / (sum(square(below), {-1}) + 1.0));
  }
  return stack(taus, -1);
}

}  // namespace

TEST_CASE("linalg LU ops give PyTorch 1.13's values and derivatives in float64", "[linalg][lu]") {
  const json& cases = reference().at("cases");
  REQUIRE(cases.size() >= 60);
  std::map<std::string, int> seen;
  int with_hvp = 0;
  for (const json& c : cases) {
    INFO(c.at("op").get<std::string>() << ": " << c.at("name").get<std::string>());
    ++seen[c.at("op").get<std::string>()];
    with_hvp += c.contains("hvp");
    // 1e-12 of max(1, the largest entry) plus 1e-12 relative, for values, gradients and Hessian-vector
    // products alike: the inputs are small and well-conditioned (L's and U's condition numbers below
    // 300, checked by the script), so another order of operations than LAPACK's moves nothing by
    // more than about 1e-14 of its scale. The script checks PyTorch's derivatives of lu_factor, lu,
    // lu_solve and householder_product against the ops written out of elementary steps to 1e-13.
    const double tol = c.at("tol").get<double>();
    CHECK(run_case(c, DType::Float64, tol, tol, true) == "");
  }
  CHECK(with_hvp >= 40);
  CHECK(seen.size() == 11);
  for (const char* op : {"lu_factor", "lu_factor_ex", "lu", "lu_unpack", "lu_solve", "solve_ex", "inv_ex", "cholesky_ex",
                         "householder_product", "tensorinv", "tensorsolve"}) {
    INFO(op);
    CHECK(seen[op] >= 4);
  }
}

// float32 rounds each input (6e-8 relative); the factorizations then compute in float64 or float32:
// the error is that rounding times the condition number (below 300 for L and U of these inputs, below
// 20 for the well-conditioned solves) plus a few float32 roundings per entry, inside 1e-4 of the
// scale. The pivots are integers and compared exactly: no two candidates of a pivot are within float32's
// rounding of each other in these cases.
TEST_CASE("linalg LU ops in float32 follow the float64 values", "[linalg][lu]") {
  const std::set<std::pair<std::string, std::string>> chosen = {
      {"lu_factor", "square 4 x 4"},
      {"lu_factor", "wide 3 x 5"},
      {"lu_factor", "zero in the corner needs a swap"},
      {"lu", "batched 2 x 3 x 3"},
      {"lu", "tall 5 x 3"},
      {"lu_factor_ex", "zero column 1: info 2"},
      {"lu_unpack", "from lu_factor, batched"},
      {"lu_solve", "left, adjoint False"},
      {"lu_solve", "right, adjoint True"},
      {"lu_solve", "broadcast: LU 2 x 1, B 3"},
      {"solve_ex", "left"},
      {"solve_ex", "singular: info only"},
      {"inv_ex", "batched"},
      {"cholesky_ex", "3 x 3"},
      {"cholesky_ex", "leading minor of order 3 negative: info 3, two columns"},
      {"householder_product", "5 x 3, k = 3"},
      {"householder_product", "6 x 4, k = 2"},
      {"tensorinv", "ind 2, 4 x 6 x 8 x 3"},
      {"tensorsolve", "dims (0, 2)"},
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

TEST_CASE("linalg LU ops pass gradcheck and gradgradcheck in float64", "[linalg][lu][gradcheck]") {
  using ember::testing::gradcheck;
  using ember::testing::gradgradcheck;
  using Inputs = std::vector<Tensor>;
  Generator gen(20261207);
  const auto leaf = [](const Tensor& t) { return t.detach().clone().requires_grad_(); };
  const auto random = [&](std::vector<int64_t> shape) {
    return leaf(randn(std::span<const int64_t>(shape.data(), shape.size()), f64, &gen));
  };
  const auto well = [&](std::vector<int64_t> shape) { return leaf(nonsingular(shape, gen)); };
  // L and U of lu (or lu_unpack) in one output.
  const auto both = [](const linalg::LuResult& r) { return cat({flat(r.L), flat(r.U)}); };
  // LU and pivots of a well-conditioned matrix, for lu_solve and lu_unpack; pivots fixed.
  const linalg::LuFactorResult f3 = linalg::lu_factor(randn({3, 3}, f64, &gen));
  const linalg::LuFactorResult fb = linalg::lu_factor(nonsingular({2, 1, 3, 3}, gen));
  const linalg::LuFactorResult ft = linalg::lu_factor(randn({4, 3}, f64, &gen));
  const linalg::LuFactorResult fw = linalg::lu_factor(randn({2, 4}, f64, &gen));
  const Tensor p3 = f3.pivots, pb = fb.pivots, pt = ft.pivots, pw = fw.pivots;
  // tensorinv's and tensorsolve's inputs: nonsingular matrices reshaped.
  const Tensor t236 = leaf(reshape(nonsingular({6, 6}, gen), std::vector<int64_t>{2, 3, 6}));
  const Tensor t623 = leaf(reshape(nonsingular({6, 6}, gen), std::vector<int64_t>{6, 2, 3}));
  const Tensor t623_moved = leaf(permute(reshape(nonsingular({6, 6}, gen), std::vector<int64_t>{2, 3, 6}),
                                         std::vector<int64_t>{2, 0, 1}));
  struct Case {
    std::string name;
    ember::testing::Fn fn;
    Inputs inputs;
  };
  std::vector<Case> cases = {
      {"lu square", [&](const Inputs& x) { return both(linalg::lu(x[0])); }, {random({3, 3})}},
      {"lu tall", [&](const Inputs& x) { return both(linalg::lu(x[0])); }, {random({4, 2})}},
      {"lu wide", [&](const Inputs& x) { return both(linalg::lu(x[0])); }, {random({2, 4})}},
      {"lu batched", [&](const Inputs& x) { return both(linalg::lu(x[0])); }, {random({2, 3, 3})}},
      {"lu pivot = false", [&](const Inputs& x) { return both(linalg::lu(x[0], false)); }, {well({3, 3})}},
      {"lu_factor's LU square", [](const Inputs& x) { return linalg::lu_factor(x[0]).LU; }, {random({3, 3})}},
      {"lu_factor's LU tall batched", [](const Inputs& x) { return linalg::lu_factor(x[0]).LU; }, {random({2, 4, 3})}},
      {"lu_factor's LU wide", [](const Inputs& x) { return linalg::lu_factor(x[0]).LU; }, {random({2, 3})}},
      {"lu_factor_ex's LU", [](const Inputs& x) { return linalg::lu_factor_ex(x[0]).LU; }, {random({3, 3})}},
      {"lu_unpack square", [&](const Inputs& x) { return both(linalg::lu_unpack(x[0], p3)); }, {leaf(f3.LU)}},
      {"lu_unpack tall", [&](const Inputs& x) { return both(linalg::lu_unpack(x[0], pt)); }, {leaf(ft.LU)}},
      {"lu_unpack wide", [&](const Inputs& x) { return both(linalg::lu_unpack(x[0], pw)); }, {leaf(fw.LU)}},
      {"lu_unpack batched", [&](const Inputs& x) { return both(linalg::lu_unpack(x[0], pb)); }, {leaf(fb.LU)}},
      {"solve_ex left", [](const Inputs& x) { return linalg::solve_ex(x[0], x[1]).result; },
       {well({3, 3}), random({3, 2})}},
      {"solve_ex right batched", [](const Inputs& x) { return linalg::solve_ex(x[0], x[1], false).result; },
       {well({2, 3, 3}), random({2, 2, 3})}},
      {"inv_ex", [](const Inputs& x) { return linalg::inv_ex(x[0]).result; }, {well({2, 3, 3})}},
      {"cholesky_ex", [](const Inputs& x) { return linalg::cholesky_ex(spd(x[0])).L; }, {random({3, 3})}},
      {"cholesky_ex upper batched", [](const Inputs& x) { return linalg::cholesky_ex(spd(x[0]), true).L; },
       {random({2, 3, 3})}},
      {"householder_product 4 x 3, k = 3", [](const Inputs& x) { return linalg::householder_product(x[0], x[1]); },
       {random({4, 3}), random({3})}},
      {"householder_product 5 x 3, k = 2 batched",
       [](const Inputs& x) { return linalg::householder_product(x[0], x[1]); }, {random({2, 5, 3}), random({2, 2})}},
      {"tensorinv ind 2", [](const Inputs& x) { return linalg::tensorinv(x[0], 2); }, {t236}},
      {"tensorinv ind 1", [](const Inputs& x) { return linalg::tensorinv(x[0], 1); }, {t623}},
      {"tensorsolve", [](const Inputs& x) { return linalg::tensorsolve(x[0], x[1]); }, {t236, random({2, 3})}},
      {"tensorsolve dims (0,)", [](const Inputs& x) { return linalg::tensorsolve(x[0], x[1], {0}); },
       {t623_moved, random({2, 3})}},
  };
  // lu_solve in LU and B: all four left/adjoint combinations, and broadcast batch dims.
  for (bool left : {true, false})
    for (bool adjoint : {false, true}) {
      const std::string name = fmt::format("lu_solve {}, adjoint {}", left ? "left" : "right", adjoint);
      cases.push_back({name, [&, left, adjoint](const Inputs& x) { return linalg::lu_solve(x[0], p3, x[1], left, adjoint); },
                       {leaf(f3.LU), random(left ? std::vector<int64_t>{3, 2} : std::vector<int64_t>{2, 3})}});
      cases.push_back({name + ", broadcast",
                       [&, left, adjoint](const Inputs& x) { return linalg::lu_solve(x[0], pb, x[1], left, adjoint); },
                       {leaf(fb.LU), random(left ? std::vector<int64_t>{3, 3, 1} : std::vector<int64_t>{1, 3})}});
    }
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(gradcheck(c.fn, c.inputs) == "");
    CHECK(gradgradcheck(c.fn, c.inputs) == "");
  }
}

TEST_CASE("lu: P L U = A with L unit lower triangular, U upper triangular and P a permutation", "[linalg][lu]") {
  Generator gen(61);
  const std::vector<std::vector<int64_t>> shapes = {{4, 4}, {5, 3}, {3, 5}, {2, 3, 4, 4}, {2, 4, 2}, {3, 2, 5},
                                                    {1, 1}, {7, 7}, {1, 4}, {4, 1}};
  for (const std::vector<int64_t>& s : shapes) {
    const Tensor a = randn(std::span<const int64_t>(s.data(), s.size()), f64, &gen);
    INFO("shape " << shape_str(a.shape()));
    const int64_t m = s[s.size() - 2], n = s.back(), k = std::min(m, n);
    const Shape batch(s.begin(), s.end() - 2);
    const linalg::LuResult r = linalg::lu(a);
    const auto with = [&](std::initializer_list<int64_t> tail) {
      Shape out = batch;
      for (int64_t t : tail) out.push_back(t);
      return out;
    };
    REQUIRE(r.P.shape() == with({m, m}));
    REQUIRE(r.L.shape() == with({m, k}));
    REQUIRE(r.U.shape() == with({k, n}));
    CHECK(r.P.dtype() == DType::Float64);
    CHECK(r.L.dtype() == DType::Float64);
    CHECK(r.U.dtype() == DType::Float64);
    CHECK(max_abs_diff(matmul(matmul(r.P, r.L), r.U), a) < 1e-14 * std::max(1.0, max_abs(a)) * k);
    // L: unit diagonal, exact zeros above it, multipliers within 1 (partial pivoting)
    CHECK(max_abs(triu(r.L, 1)) == 0.0);
    CHECK(max_abs_diff(diagonal(r.L, 0, -2, -1), ones(with({k}), f64)) == 0.0);
    CHECK(max_abs(r.L) <= 1.0);
    CHECK(max_abs(tril(r.U, -1)) == 0.0);
    // P: entries 0 or 1, one 1 in each row and column
    for (double v : r.P.to_vector<double>()) CHECK((v == 0.0 || v == 1.0));
    CHECK(max_abs_diff(sum(r.P, {-1}), ones(with({m}), f64)) == 0.0);
    CHECK(max_abs_diff(sum(r.P, {-2}), ones(with({m}), f64)) == 0.0);
    // lu_factor's pivots: int32, [..., k], pivots[i] in [i + 1, m] (LAPACK's rows below the diagonal)
    const linalg::LuFactorResult f = linalg::lu_factor(a);
    CHECK(f.pivots.dtype() == DType::Int32);
    REQUIRE(f.pivots.shape() == with({k}));
    CHECK(f.LU.shape() == a.shape());
    const std::vector<int32_t> piv = f.pivots.to_vector<int32_t>();
    for (size_t j = 0; j < piv.size(); ++j) {
      const int64_t i = static_cast<int64_t>(j) % k;
      CHECK(piv[j] >= i + 1);
      CHECK(piv[j] <= m);
    }
    // lu_unpack(lu_factor(A)) is lu(A); the packed LU holds L's multipliers below the diagonal and U on
    // and above it
    const linalg::LuResult u = linalg::lu_unpack(f.LU, f.pivots);
    CHECK(max_abs_diff(u.P, r.P) == 0.0);
    CHECK(max_abs_diff(u.L, r.L) <= 1e-15);
    CHECK(max_abs_diff(u.U, r.U) <= 1e-15 * std::max(1.0, max_abs(r.U)));
    CHECK(max_abs_diff(narrow(tril(f.LU, -1), -1, 0, k), tril(r.L, -1)) == 0.0);
    CHECK(max_abs_diff(narrow(triu(f.LU), -2, 0, k), r.U) == 0.0);
    // lu_factor_ex: the same LU and pivots, info 0 of A's batch shape
    const linalg::LuFactorExResult e = linalg::lu_factor_ex(a);
    CHECK(max_abs_diff(e.LU, f.LU) == 0.0);
    CHECK(e.pivots.to_vector<int32_t>() == piv);
    CHECK(e.info.dtype() == DType::Int32);
    CHECK(e.info.shape() == batch);
    CHECK(max_abs(e.info) == 0.0);
  }
}

TEST_CASE("lu and lu_factor on small matrices worked by hand", "[linalg][lu]") {
  // [[1, 2], [3, 4]]: partial pivoting swaps the rows (|3| > |1|): L = [[1, 0], [1/3, 1]],
  // U = [[3, 4], [0, 2 - 4/3]], pivots [2, 2]; without pivoting L = [[1, 0], [3, 1]], U = [[1, 2], [0, -2]].
  const Tensor a = from_vector<double>({1, 2, 3, 4}, {2, 2});
  const linalg::LuResult r = linalg::lu(a);
  CHECK(r.P.to_vector<double>() == std::vector<double>{0, 1, 1, 0});
  CHECK(max_abs_diff(r.L, from_vector<double>({1, 0, 1.0 / 3, 1}, {2, 2})) <= 1e-16);
  CHECK(max_abs_diff(r.U, from_vector<double>({3, 4, 0, 2 - 4.0 / 3}, {2, 2})) <= 1e-15);
  CHECK(linalg::lu_factor(a).pivots.to_vector<int32_t>() == std::vector<int32_t>{2, 2});
  const linalg::LuResult np = linalg::lu(a, false);
  CHECK(np.P.to_vector<double>() == std::vector<double>{1, 0, 0, 1});
  CHECK(np.L.to_vector<double>() == std::vector<double>{1, 0, 3, 1});
  CHECK(np.U.to_vector<double>() == std::vector<double>{1, 2, 0, -2});
  const linalg::LuFactorResult fnp = linalg::lu_factor(a, false);
  CHECK(fnp.pivots.to_vector<int32_t>() == std::vector<int32_t>{1, 2});
  CHECK(fnp.LU.to_vector<double>() == std::vector<double>{1, 2, 3, -2});
  // A 3 x 3 whose largest entry of column 0 is in row 2, then of the rest of column 1 in row 2 again:
  // rows 0 and 2 swap, then 1 and 2. [[1, 1, 1], [2, 1, 3], [4, 2, 2]] -> pivot 4: multipliers 1/4, 1/2;
  // rows become [1 - 1/2, 1 - 1/2] = [0.5, 0.5] (from row 0) and [1 - 1/2, 3 - 1] = [0, 2] (row 1):
  // the pivot of column 1 is 0.5 in the row that was row 0 (now at 2), so pivots [3, 3, 3].
  const Tensor b = from_vector<double>({1, 1, 1, 2, 1, 3, 4, 2, 2}, {3, 3});
  const linalg::LuFactorResult fb = linalg::lu_factor(b);
  CHECK(fb.pivots.to_vector<int32_t>() == std::vector<int32_t>{3, 3, 3});
  // LU = [[4, 2, 2], [1/4, 0.5, 0.5], [1/2, 0, 2]]
  CHECK(fb.LU.to_vector<double>() == std::vector<double>{4, 2, 2, 0.25, 0.5, 0.5, 0.5, 0, 2});
  const linalg::LuResult rb = linalg::lu(b);
  // P maps row i of L U to row of A: A = P L U, L U = [row 2 of A, row 0, row 1]
  CHECK(rb.P.to_vector<double>() == std::vector<double>{0, 1, 0, 0, 0, 1, 1, 0, 0});
}

TEST_CASE("lu_solve agrees with linalg::solve for each side and adjoint, broadcast batch dims included", "[linalg][lu]") {
  Generator gen(67);
  struct Shapes {
    std::vector<int64_t> a, b_left, b_right;
  };
  const std::vector<Shapes> shapes = {
      {{4, 4}, {4, 3}, {3, 4}},
      {{2, 3, 3}, {2, 3, 2}, {2, 2, 3}},
      {{2, 1, 3, 3}, {3, 3, 1}, {1, 2, 3}},
      {{3, 3}, {2, 2, 3, 2}, {2, 1, 2, 3}},
      {{1, 1}, {1, 2}, {2, 1}},
  };
  for (const Shapes& s : shapes) {
    const Tensor a = randn(std::span<const int64_t>(s.a.data(), s.a.size()), f64, &gen);
    const linalg::LuFactorResult f = linalg::lu_factor(a);
    for (bool left : {true, false})
      for (bool adjoint : {false, true}) {
        const std::vector<int64_t>& bs = left ? s.b_left : s.b_right;
        const Tensor b = randn(std::span<const int64_t>(bs.data(), bs.size()), f64, &gen);
        INFO("A " << shape_str(a.shape()) << ", B " << shape_str(b.shape()) << (left ? ", left" : ", right")
                  << (adjoint ? ", adjoint" : ""));
        const Tensor x = linalg::lu_solve(f.LU, f.pivots, b, left, adjoint);
        const Tensor op = adjoint ? a.mT() : a;
        const Tensor want = linalg::solve(op, b, left);
        REQUIRE(x.shape() == want.shape());
        CHECK(x.dtype() == DType::Float64);
        CHECK(max_abs_diff(x, want) < 1e-12 * std::max(1.0, max_abs(want)));
        // and the residual, independently of solve
        const Tensor back = left ? matmul(op, x) : matmul(x, op);
        CHECK(max_abs_diff(back, expand(b, back.shape())) < 1e-12 * std::max(1.0, max_abs(x)) * max_abs(a));
      }
  }
}

TEST_CASE("lu with pivot = false: no swaps where the matrix allows it", "[linalg][lu]") {
  Generator gen(71);
  // Diagonally dominant (n added to the diagonal): every leading minor is nonsingular.
  const std::vector<Tensor> inputs = {nonsingular({4, 4}, gen), nonsingular({2, 3, 3}, gen),
                                      cat({nonsingular({3, 3}, gen), randn({2, 3}, f64, &gen)}, 0),   // tall 5 x 3
                                      cat({nonsingular({3, 3}, gen), randn({3, 2}, f64, &gen)}, 1)};  // wide 3 x 5
  for (const Tensor& a : inputs) {
    INFO("shape " << shape_str(a.shape()));
    const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n);
    const linalg::LuFactorResult f = linalg::lu_factor(a, false);
    const std::vector<int32_t> piv = f.pivots.to_vector<int32_t>();
    for (size_t j = 0; j < piv.size(); ++j) CHECK(piv[j] == static_cast<int32_t>(j % k) + 1);
    const linalg::LuResult r = linalg::lu(a, false);
    CHECK(max_abs_diff(r.P, expand(eye(m, std::nullopt, f64), r.P.shape())) == 0.0);
    CHECK(max_abs_diff(matmul(r.L, r.U), a) < 1e-14 * std::max(1.0, max_abs(a)) * k);
    CHECK(max_abs(triu(r.L, 1)) == 0.0);
    CHECK(max_abs(tril(r.U, -1)) == 0.0);
    const linalg::LuResult u = linalg::lu_unpack(f.LU, f.pivots);
    CHECK(max_abs_diff(u.L, r.L) <= 1e-15 * std::max(1.0, max_abs(r.L)));
    CHECK(max_abs_diff(u.U, r.U) <= 1e-15 * std::max(1.0, max_abs(r.U)));
    // pivoting would have chosen other rows for some of these; without it the factors differ from
    // lu(A)'s but both reproduce A, and lu_solve with either gives solve's X
    if (m == n) {
      const Tensor b = randn({m, 2}, f64, &gen);
      CHECK(max_abs_diff(linalg::lu_solve(f.LU, f.pivots, b), linalg::solve(a, b)) < 1e-12);
    }
  }
  SECTION("a zero column with zeros below the pivot is factored (info names it), a zero pivot above non-zero entries is refused") {
    const Tensor zero_below = from_vector<double>({0, 1, 0, 2}, {2, 2});
    const linalg::LuFactorExResult e = linalg::lu_factor_ex(zero_below, false);
    CHECK(e.info.item<int32_t>() == 1);
    CHECK(e.pivots.to_vector<int32_t>() == std::vector<int32_t>{1, 2});
    CHECK(e.LU.to_vector<double>() == std::vector<double>{0, 1, 0, 2});
    const Tensor swap = from_vector<double>({0, 1, 1, 0}, {2, 2});
    CHECK_THROWS_AS(linalg::lu(swap, false), ember::Error);
    CHECK_THROWS_WITH(linalg::lu(swap, false), Catch::Contains("linalg.lu"));
    CHECK_THROWS_WITH(linalg::lu_factor(swap, false), Catch::Contains("linalg.lu_factor"));
    CHECK_THROWS_WITH(linalg::lu_factor_ex(swap, false), Catch::Contains("linalg.lu_factor_ex"));
    // with pivoting the same matrix is a permutation: P = A, L = U = I
    const linalg::LuResult r = linalg::lu(swap);
    CHECK(r.P.to_vector<double>() == std::vector<double>{0, 1, 1, 0});
    CHECK(r.L.to_vector<double>() == std::vector<double>{1, 0, 0, 1});
    CHECK(r.U.to_vector<double>() == std::vector<double>{1, 0, 0, 1});
  }
}

TEST_CASE("householder_product of reflectors is orthonormal-columned and reads only below the diagonal", "[linalg][lu]") {
  Generator gen(73);
  for (const auto& [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{6, 4, 4}, {6, 4, 2}, {4, 4, 4}, {5, 1, 1}}) {
    INFO(m << " x " << n << ", k = " << k);
    const Tensor a = randn({2, m, n}, f64, &gen);
    const Tensor q = linalg::householder_product(a, reflector_taus(a, k));
    REQUIRE(q.shape() == Shape{2, m, n});
    CHECK(max_abs_diff(matmul(q.mT(), q), expand(identity(n), std::vector<int64_t>{2, n, n})) < 1e-14 * m);
    // on and above the diagonal are not read: NaN there changes nothing
    const Tensor upper = triu(ones({m, n}, f64));
    const Tensor garbage = where(upper > 0.5, full({m, n}, std::nan(""), f64), a);
    CHECK(max_abs_diff(linalg::householder_product(garbage, reflector_taus(a, k)), q) == 0.0);
  }
  SECTION("one reflector by hand") {
    // v = (1, 0.5, -0.5), tau = 0.5: I - tau v v^T's first two columns, exact in binary.
    const Tensor a = from_vector<double>({7, 7, 0.5, 7, -0.5, 7}, {3, 2});
    const Tensor q = linalg::householder_product(a, from_vector<double>({0.5}));
    CHECK(q.to_vector<double>() == std::vector<double>{0.5, -0.25, -0.25, 0.875, 0.25, 0.125});
    // k = 0: the first n columns of the identity
    CHECK(linalg::householder_product(a, zeros({0}, f64)).to_vector<double>() == std::vector<double>{1, 0, 0, 1, 0, 0});
  }
  SECTION("any floating dtype: float32 and float16 follow float64") {
    const Tensor a = randn({5, 3}, f64, &gen), tau = reflector_taus(a, 3);
    const Tensor want = linalg::householder_product(a, tau);
    const Tensor q32 = linalg::householder_product(cast(a, DType::Float32), cast(tau, DType::Float32));
    CHECK(q32.dtype() == DType::Float32);
    CHECK(max_abs_diff(q32, want) < 1e-5);
    const Tensor q16 = linalg::householder_product(cast(a, DType::Float16), cast(tau, DType::Float16));
    CHECK(q16.dtype() == DType::Float16);
    CHECK(max_abs_diff(q16, want) < 3e-2);
  }
}

TEST_CASE("tensorsolve's X contracts back to B, tensorinv contracted with A is the identity", "[linalg][lu]") {
  Generator gen(79);
  SECTION("tensorsolve") {
    const Tensor a = reshape(nonsingular({24, 24}, gen), std::vector<int64_t>{2, 3, 4, 6, 4});
    const Tensor b = randn({2, 3, 4}, f64, &gen);
    const Tensor x = linalg::tensorsolve(a, b);
    REQUIRE(x.shape() == Shape{6, 4});
    const Tensor back = reshape(matmul(reshape(a, std::vector<int64_t>{24, 24}), flat(x)), std::vector<int64_t>{2, 3, 4});
    CHECK(max_abs_diff(back, b) < 1e-12 * std::max(1.0, max_abs(b)) * 24);
    // dims (1, 3) of A [2, 3, 3, 2] move to the end: [2, 3, 3, 2]; B [2, 3] (dims 0, 2), X [3, 2] (dims 1, 3)
    const Tensor a2 = randn({2, 3, 3, 2}, f64, &gen) + permute(reshape(identity(6) * 6.0, std::vector<int64_t>{2, 3, 3, 2}),
                                                                 std::vector<int64_t>{0, 2, 1, 3});
    const Tensor b2 = randn({2, 3}, f64, &gen);
    const Tensor x2 = linalg::tensorsolve(a2, b2, {1, 3});
    REQUIRE(x2.shape() == Shape{3, 2});
    const Tensor moved = reshape(contiguous(permute(a2, std::vector<int64_t>{0, 2, 1, 3})), std::vector<int64_t>{6, 6});
    CHECK(max_abs_diff(reshape(matmul(moved, flat(x2)), std::vector<int64_t>{2, 3}), b2) < 1e-12 * 6);
    // negative dims name the same dims
    CHECK(max_abs_diff(linalg::tensorsolve(a2, b2, {-3, -1}), x2) == 0.0);
  }
  SECTION("tensorinv") {
    for (int64_t ind : {1, 2, 3}) {
      INFO("ind " << ind);
      const std::vector<int64_t> shape = ind == 1 ? std::vector<int64_t>{12, 3, 4}
                                         : ind == 2 ? std::vector<int64_t>{3, 4, 2, 6}
                                                    : std::vector<int64_t>{2, 3, 2, 12};
      const Tensor a = reshape(nonsingular({12, 12}, gen), shape);
      const Tensor x = linalg::tensorinv(a, ind);
      Shape want_shape(shape.begin() + ind, shape.end());
      for (int64_t d = 0; d < ind; ++d) want_shape.push_back(shape[d]);
      REQUIRE(x.shape() == want_shape);
      const Tensor am = reshape(a, std::vector<int64_t>{12, 12}), xm = reshape(x, std::vector<int64_t>{12, 12});
      CHECK(max_abs_diff(matmul(xm, am), identity(12)) < 1e-13);
      CHECK(max_abs_diff(matmul(am, xm), identity(12)) < 1e-13);
    }
  }
}

TEST_CASE("the _ex ops report a singular or indefinite matrix in info instead of raising", "[linalg][lu]") {
  Generator gen(83);
  // Column 1 (0-based) is zero: the first exact zero pivot is U[1, 1], so info = 2.
  const Tensor zero_col = from_vector<double>({2, 0, 1, 1, 0, 3, -1, 0, 4}, {3, 3});
  const Tensor ok = nonsingular({3, 3}, gen);
  SECTION("lu_factor_ex") {
    linalg::LuFactorExResult e;
    REQUIRE_NOTHROW(e = linalg::lu_factor_ex(zero_col));
    CHECK(e.info.dtype() == DType::Int32);
    CHECK(e.info.dim() == 0);
    CHECK(e.info.item<int32_t>() == 2);
    CHECK(std::abs(e.LU.to_vector<double>()[4]) == 0.0);  // U[1, 1]
    // a batch: only the singular entries are marked, each with its own column
    const Tensor zero_last = from_vector<double>({1, 2, 0, 3, 4, 0, 5, 6, 0}, {3, 3});
    const linalg::LuFactorExResult b = linalg::lu_factor_ex(stack({ok, zero_col, ok, zero_last, zeros({3, 3}, f64)}));
    CHECK(b.info.shape() == Shape{5});
    CHECK(b.info.to_vector<int32_t>() == std::vector<int32_t>{0, 2, 0, 3, 1});
    CHECK(max_abs_diff(select(b.LU, 0, 0), linalg::lu_factor(ok).LU) == 0.0);
    // check_errors raises as lu_factor does; a nonsingular matrix passes
    CHECK_THROWS_AS(linalg::lu_factor_ex(zero_col, true, true), ember::Error);
    CHECK_THROWS_WITH(linalg::lu_factor_ex(zero_col, true, true), Catch::Contains("linalg.lu_factor"));
    CHECK_NOTHROW(linalg::lu_factor_ex(ok, true, true));
    // lu factors a singular matrix, as PyTorch: U has its zero, and P L U is A
    const linalg::LuResult r = linalg::lu(zero_col);
    CHECK(r.U.to_vector<double>()[4] == 0.0);
    CHECK(max_abs_diff(matmul(matmul(r.P, r.L), r.U), zero_col) < 1e-15 * 4);
  }
  SECTION("solve_ex and inv_ex") {
    // info as lu_factor_ex's (the header): the LU of A, whose first zero pivot is U[1, 1]. (PyTorch
    // 1.13 factors A^T here, whose LU meets its zero at U[2, 2], and says 3.)
    const Tensor a = stack({ok, zero_col});
    const Tensor b = randn({2, 3, 2}, f64, &gen);
    linalg::SolveExResult s;
    REQUIRE_NOTHROW(s = linalg::solve_ex(a, b));
    CHECK(s.info.dtype() == DType::Int32);
    CHECK(s.info.to_vector<int32_t>() == std::vector<int32_t>{0, 2});
    CHECK(max_abs_diff(select(s.result, 0, 0), linalg::solve(ok, select(b, 0, 0))) < 1e-14);
    CHECK_FALSE(all_finite(select(s.result, 0, 1)));
    const linalg::SolveExResult i = linalg::inv_ex(a);
    CHECK(i.info.to_vector<int32_t>() == std::vector<int32_t>{0, 2});
    CHECK(max_abs_diff(select(i.result, 0, 0), linalg::inv(ok)) < 1e-14);
    CHECK_FALSE(all_finite(select(i.result, 0, 1)));
    CHECK(linalg::inv_ex(ok).info.item<int32_t>() == 0);
    CHECK(linalg::inv_ex(ok).info.dim() == 0);
    // With broadcast batch dims, info has A's own batch dims (PyTorch's shape), each matrix's own.
    const Tensor batch_a = stack({ok, zero_col, ok}).unsqueeze(1);  // [3, 1, 3, 3]
    const linalg::SolveExResult broadcast = linalg::solve_ex(batch_a, randn({5, 3, 2}, f64, &gen));
    CHECK(broadcast.result.shape() == Shape{3, 5, 3, 2});
    CHECK(broadcast.info.shape() == Shape{3, 1});
    CHECK(broadcast.info.to_vector<int32_t>() == std::vector<int32_t>{0, 2, 0});
    CHECK(linalg::solve_ex(ok, randn({4, 3, 1}, f64, &gen)).info.dim() == 0);  // a batch of B against one A
    CHECK_THROWS_AS(linalg::solve_ex(a, b, true, true), ember::Error);
    CHECK_THROWS_WITH(linalg::solve_ex(a, b, true, true), Catch::Contains("linalg.solve"));
    CHECK_THROWS_AS(linalg::inv_ex(a, true), ember::Error);
    CHECK_THROWS_WITH(linalg::inv_ex(a, true), Catch::Contains("linalg.inv"));
    CHECK_NOTHROW(linalg::solve_ex(ok, select(b, 0, 0), true, true));
    // lu_solve with the exact zero on U's diagonal gives inf or NaN, not an error
    const linalg::LuFactorExResult e = linalg::lu_factor_ex(zero_col);
    CHECK_FALSE(all_finite(linalg::lu_solve(e.LU, e.pivots, ones({3, 1}, f64))));
  }
  SECTION("cholesky_ex") {
    // [[4, 2, 2], [2, 1, 3], [2, 3, 9]]: l00 = 2, l10 = 1, l20 = 1, then 1 - 1 = 0: leading minor of
    // order 2 is 0, not positive: info 2; the first column is (2, 1, 1), the others zero.
    const Tensor bad = from_vector<double>({4, 2, 2, 2, 1, 3, 2, 3, 9}, {3, 3});
    const Tensor good = spd(randn({3, 3}, f64, &gen));
    linalg::CholeskyExResult c;
    REQUIRE_NOTHROW(c = linalg::cholesky_ex(stack({good, bad, good})));
    CHECK(c.info.dtype() == DType::Int32);
    CHECK(c.info.to_vector<int32_t>() == std::vector<int32_t>{0, 2, 0});
    CHECK(max_abs_diff(select(c.L, 0, 0), linalg::cholesky(good)) < 1e-14);
    CHECK(select(c.L, 0, 1).to_vector<double>() == std::vector<double>{2, 0, 0, 1, 0, 0, 1, 0, 0});
    const linalg::CholeskyExResult u = linalg::cholesky_ex(bad, true);
    CHECK(u.info.item<int32_t>() == 2);
    CHECK(u.L.to_vector<double>() == std::vector<double>{2, 1, 1, 0, 0, 0, 0, 0, 0});
    // order 1: a non-positive first entry, so L is all zero
    const linalg::CholeskyExResult first = linalg::cholesky_ex(from_vector<double>({-1, 0, 0, 1}, {2, 2}));
    CHECK(first.info.item<int32_t>() == 1);
    CHECK(max_abs(first.L) == 0.0);
    CHECK_THROWS_AS(linalg::cholesky_ex(bad, false, true), ember::Error);
    CHECK_THROWS_WITH(linalg::cholesky_ex(bad, false, true), Catch::Contains("linalg.cholesky"));
    CHECK_NOTHROW(linalg::cholesky_ex(good, false, true));
    CHECK(linalg::cholesky_ex(good).info.item<int32_t>() == 0);
  }
}

TEST_CASE("under autocast the LU ops run in float32", "[linalg][lu][autocast]") {
  const Tensor half = cast(from_vector<double>({2, 1, 0.5, 3}, {2, 2}), DType::Float16);
  const Tensor half_b = cast(from_vector<double>({1, -1}, {2, 1}), DType::Float16);
  autocast scope(DType::Float16);
  const linalg::LuFactorResult f = linalg::lu_factor(half);
  CHECK(f.LU.dtype() == DType::Float32);
  CHECK(f.pivots.dtype() == DType::Int32);
  CHECK(linalg::lu_factor_ex(half).LU.dtype() == DType::Float32);
  CHECK(linalg::lu(half).U.dtype() == DType::Float32);
  CHECK(linalg::lu(half).P.dtype() == DType::Float32);
  CHECK(linalg::lu_unpack(cast(f.LU, DType::Float16), f.pivots).L.dtype() == DType::Float32);
  CHECK(linalg::lu_solve(cast(f.LU, DType::Float16), f.pivots, half_b).dtype() == DType::Float32);
  CHECK(linalg::solve_ex(half, half_b).result.dtype() == DType::Float32);
  CHECK(linalg::inv_ex(half).result.dtype() == DType::Float32);
  CHECK(linalg::cholesky_ex(half).L.dtype() == DType::Float32);
  CHECK(linalg::tensorinv(half, 1).dtype() == DType::Float32);
  CHECK(linalg::tensorsolve(half, cast(from_vector<double>({1, 2}), DType::Float16)).dtype() == DType::Float32);
  // and the value: [[2, 1], [0.5, 3]] x = (1, -1): x = (4, -2.5) / 5.5
  const std::vector<double> x = linalg::lu_solve(cast(f.LU, DType::Float16), f.pivots, half_b).to_vector<double>();
  CHECK(x[0] == Approx(4 / 5.5).epsilon(1e-6));
  CHECK(x[1] == Approx(-2.5 / 5.5).epsilon(1e-6));
}

TEST_CASE("linalg LU ops refuse bad inputs with an error naming the op", "[linalg][lu][errors]") {
  const Tensor m3 = eye(3, std::nullopt, f64), b3 = ones({3, 2}, f64), vector3 = ones({3}, f64);
  const Tensor ints = ones({3, 3}, {.dtype = DType::Int64}), int_b = ones({3, 2}, {.dtype = DType::Int64});
  const Tensor halves = ones({3, 3}, {.dtype = DType::Float16});
  const Tensor m3_32 = eye(3, std::nullopt, {.dtype = DType::Float32});
  const Tensor piv = ints32({1, 2, 3}), piv64 = from_vector<int64_t>({1, 2, 3});
  const Tensor wide = ones({3, 4}, f64), tall = ones({4, 3}, f64);
  const Tensor zero_col = from_vector<double>({1, 0, 2, 0, 3, 0, 0, 4, 5, 0, 6, 7, 8, 0, 9, 1}, {4, 4});
  const Tensor swap = from_vector<double>({0, 1, 1, 0}, {2, 2});
  struct Refusal {
    const char* what;
    const char* op;
    std::function<void()> call;
  };
  const std::vector<Refusal> refusals = {
      // 1-D inputs
      {"1-D A", "linalg.lu_factor", [&] { linalg::lu_factor(vector3); }},
      {"1-D A", "linalg.lu_factor_ex", [&] { linalg::lu_factor_ex(vector3); }},
      {"1-D A", "linalg.lu", [&] { linalg::lu(vector3); }},
      {"1-D LU", "linalg.lu_unpack", [&] { linalg::lu_unpack(vector3, piv); }},
      {"1-D LU", "linalg.lu_solve", [&] { linalg::lu_solve(vector3, piv, b3); }},
      {"1-D B", "linalg.lu_solve", [&] { linalg::lu_solve(m3, piv, vector3); }},
      {"1-D A", "linalg.solve_ex", [&] { linalg::solve_ex(vector3, vector3); }},
      {"1-D A", "linalg.inv_ex", [&] { linalg::inv_ex(vector3); }},
      {"1-D A", "linalg.cholesky_ex", [&] { linalg::cholesky_ex(vector3); }},
      {"1-D A", "linalg.householder_product", [&] { linalg::householder_product(vector3, ones({1}, f64)); }},
      // integer dtypes
      {"int64 A", "linalg.lu_factor", [&] { linalg::lu_factor(ints); }},
      {"int64 A", "linalg.lu_factor_ex", [&] { linalg::lu_factor_ex(ints); }},
      {"int64 A", "linalg.lu", [&] { linalg::lu(ints); }},
      {"int64 LU", "linalg.lu_unpack", [&] { linalg::lu_unpack(ints, piv); }},
      {"int64 LU and B", "linalg.lu_solve", [&] { linalg::lu_solve(ints, piv, int_b); }},
      {"int64 A", "linalg.solve_ex", [&] { linalg::solve_ex(ints, int_b); }},
      {"int64 A", "linalg.inv_ex", [&] { linalg::inv_ex(ints); }},
      {"int64 A", "linalg.cholesky_ex", [&] { linalg::cholesky_ex(ints); }},
      {"int64 A and tau", "linalg.householder_product",
       [&] { linalg::householder_product(ints, ones({2}, {.dtype = DType::Int64})); }},
      {"int64 A", "linalg.tensorinv", [&] { linalg::tensorinv(ints, 1); }},
      {"int64 A and B", "linalg.tensorsolve", [&] { linalg::tensorsolve(ints, ones({3}, {.dtype = DType::Int64})); }},
      // mismatched dtypes
      {"LU float64, B float32", "linalg.lu_solve", [&] { linalg::lu_solve(m3, piv, cast(b3, DType::Float32)); }},
      {"LU float32, B float64", "linalg.lu_solve", [&] { linalg::lu_solve(m3_32, piv, b3); }},
      {"A float64, B float32", "linalg.solve_ex", [&] { linalg::solve_ex(m3, cast(b3, DType::Float32)); }},
      {"A float64, tau float32", "linalg.householder_product",
       [&] { linalg::householder_product(tall, ones({3}, {.dtype = DType::Float32})); }},
      {"A float64, B float32", "linalg.tensorsolve", [&] { linalg::tensorsolve(m3, ones({3}, {.dtype = DType::Float32})); }},
      // pivots
      {"int64 pivots", "linalg.lu_solve", [&] { linalg::lu_solve(m3, piv64, b3); }},
      {"int64 pivots", "linalg.lu_unpack", [&] { linalg::lu_unpack(m3, piv64); }},
      {"float pivots", "linalg.lu_solve", [&] { linalg::lu_solve(m3, cast(piv64, DType::Float64), b3); }},
      {"undefined pivots", "linalg.lu_solve", [&] { linalg::lu_solve(m3, Tensor(), b3); }},
      {"pivots [2] for a 3 x 3 LU", "linalg.lu_solve", [&] { linalg::lu_solve(m3, ints32({1, 2}), b3); }},
      {"pivots [4] for a 3 x 3 LU", "linalg.lu_unpack", [&] { linalg::lu_unpack(m3, ints32({1, 2, 3, 3})); }},
      {"pivots [3, 3] for LU [2, 3, 3]", "linalg.lu_solve",
       [&] { linalg::lu_solve(ones({2, 3, 3}, f64), ints32({1, 2, 3, 1, 2, 3, 1, 2, 3}, {3, 3}), b3); }},
      {"pivots [2, 3] for LU [3, 3]", "linalg.lu_unpack",
       [&] { linalg::lu_unpack(m3, ints32({1, 2, 3, 1, 2, 3}, {2, 3})); }},
      {"pivot 0", "linalg.lu_solve", [&] { linalg::lu_solve(m3, ints32({0, 2, 3}), b3); }},
      {"pivot 4 > n", "linalg.lu_solve", [&] { linalg::lu_solve(m3, ints32({1, 4, 3}), b3); }},
      {"pivot 0", "linalg.lu_unpack", [&] { linalg::lu_unpack(m3, ints32({1, 2, 0})); }},
      {"pivot 4 > m", "linalg.lu_unpack", [&] { linalg::lu_unpack(m3, ints32({4, 2, 3})); }},
      {"pivot 5 > m of a tall LU", "linalg.lu_unpack", [&] { linalg::lu_unpack(tall, ints32({5, 2, 3})); }},
      {"pivot -1", "linalg.lu_unpack", [&] { linalg::lu_unpack(m3, ints32({-1, 2, 3})); }},
      // lu_solve shapes
      {"non-square LU", "linalg.lu_solve", [&] { linalg::lu_solve(wide, piv, b3); }},
      {"B with 4 rows", "linalg.lu_solve", [&] { linalg::lu_solve(m3, piv, ones({4, 2}, f64)); }},
      {"B with 2 columns, right", "linalg.lu_solve", [&] { linalg::lu_solve(m3, piv, b3, false); }},
      {"batch dims [2] and [3]", "linalg.lu_solve",
       [&] { linalg::lu_solve(ones({2, 3, 3}, f64), ints32(std::vector<int32_t>(6, 1), {2, 3}), ones({3, 3, 2}, f64)); }},
      {"undefined B", "linalg.lu_solve", [&] { linalg::lu_solve(m3, piv, Tensor()); }},
      // householder_product
      {"m < n", "linalg.householder_product", [&] { linalg::householder_product(wide, ones({3}, f64)); }},
      {"k > n", "linalg.householder_product", [&] { linalg::householder_product(tall, ones({4}, f64)); }},
      {"tau batch [3] for A batch [2]", "linalg.householder_product",
       [&] { linalg::householder_product(ones({2, 4, 3}, f64), ones({3, 2}, f64)); }},
      {"0-D tau", "linalg.householder_product", [&] { linalg::householder_product(tall, ones({}, f64)); }},
      {"undefined tau", "linalg.householder_product", [&] { linalg::householder_product(tall, Tensor()); }},
      // tensorinv and tensorsolve
      {"ind 0", "linalg.tensorinv", [&] { linalg::tensorinv(ones({2, 2}, f64), 0); }},
      {"ind -1", "linalg.tensorinv", [&] { linalg::tensorinv(ones({2, 2}, f64), -1); }},
      {"products 6 and 4", "linalg.tensorinv", [&] { linalg::tensorinv(ones({2, 3, 4}, f64), 2); }},
      {"1-D A: products 4 and 1", "linalg.tensorinv", [&] { linalg::tensorinv(ones({4}, f64), 1); }},
      {"A's shape does not start with B's", "linalg.tensorsolve",
       [&] { linalg::tensorsolve(ones({2, 3, 6}, f64), ones({3, 2}, f64)); }},
      {"X would have 4 entries for B's 6", "linalg.tensorsolve",
       [&] { linalg::tensorsolve(ones({2, 3, 4}, f64), ones({2, 3}, f64)); }},
      {"B with more dims than A", "linalg.tensorsolve", [&] { linalg::tensorsolve(ones({3}, f64), ones({3, 1}, f64)); }},
      {"dims out of range", "linalg.tensorsolve", [&] { linalg::tensorsolve(ones({2, 3, 6}, f64), ones({2, 3}, f64), {3}); }},
      // singular and unfactorable matrices
      {"singular A", "linalg.lu_factor", [&] { linalg::lu_factor(zero_col); }},
      {"pivot = false with a zero pivot above a non-zero entry", "linalg.lu", [&] { linalg::lu(swap, false); }},
      {"undefined A", "linalg.lu", [&] { linalg::lu(Tensor()); }},
      {"undefined A", "linalg.cholesky_ex", [&] { linalg::cholesky_ex(Tensor()); }},
      {"non-square A", "linalg.cholesky_ex", [&] { linalg::cholesky_ex(wide); }},
      {"non-square A", "linalg.inv_ex", [&] { linalg::inv_ex(wide); }},
      {"non-square A", "linalg.solve_ex", [&] { linalg::solve_ex(wide, b3); }},
      {"B's rows are not A's n", "linalg.solve_ex", [&] { linalg::solve_ex(m3, ones({4, 2}, f64)); }},
  };
  for (const Refusal& r : refusals) {
    INFO(r.op << ": " << r.what);
    CHECK_THROWS_AS(r.call(), ember::Error);
    CHECK_THROWS_WITH(r.call(), Catch::Contains(r.op));
  }
  // 16-bit matrices outside autocast: refused by the ops autocast runs in float32, pointing to it
  // (PyTorch has no half LU or Cholesky on the CPU).
  const Tensor half_b = ones({3, 2}, {.dtype = DType::Float16});
  const std::vector<std::pair<const char*, std::function<void()>>> half_calls = {
      {"linalg.lu_factor", [&] { linalg::lu_factor(halves); }},
      {"linalg.lu_factor_ex", [&] { linalg::lu_factor_ex(halves); }},
      {"linalg.lu", [&] { linalg::lu(halves); }},
      {"linalg.lu_unpack", [&] { linalg::lu_unpack(halves, piv); }},
      {"linalg.lu_solve", [&] { linalg::lu_solve(halves, piv, half_b); }},
      {"linalg.solve_ex", [&] { linalg::solve_ex(halves, half_b); }},
      {"linalg.inv_ex", [&] { linalg::inv_ex(halves); }},
      {"linalg.cholesky_ex", [&] { linalg::cholesky_ex(halves); }},
      {"linalg.tensorinv", [&] { linalg::tensorinv(halves, 1); }},
      {"linalg.tensorsolve", [&] { linalg::tensorsolve(halves, ones({3}, {.dtype = DType::Float16})); }},
  };
  for (const auto& [op, call] : half_calls) {
    INFO(op << " of float16");
    CHECK_THROWS_AS(call(), ember::Error);
    CHECK_THROWS_WITH(call(), Catch::Contains(op) && Catch::Contains("autocast"));
  }
  // The column and the batch entry are named (0-based, as ember's batch entries are): column 1 of
  // zero_col is zero, so U[1, 1] is the zero pivot.
  CHECK_THROWS_WITH(linalg::lu_factor(zero_col), Catch::Contains("linalg.lu_factor") && Catch::Contains("column 1"));
  CHECK_THROWS_WITH(linalg::lu_factor(stack({eye(4, std::nullopt, f64), zero_col})),
                    Catch::Contains("batch entry 1") && Catch::Contains("column 1"));
  CHECK_THROWS_WITH(linalg::lu_factor(zero_col), !Catch::Contains("batch entry"));
}

// Found by a red-team review: with no columns there are no pivots, and lu, lu_unpack and lu_solve
// failed in an internal reshape({-1, 0}).
TEST_CASE("lu, lu_unpack and lu_solve of matrices with no rows or columns", "[linalg][lu]") {
  auto shape = [](const Tensor& t) { return std::vector<int64_t>(t.shape().begin(), t.shape().end()); };
  using V = std::vector<int64_t>;
  const std::vector<std::tuple<V, V, V, V>> cases = {  // A, then P, L, U as PyTorch gives them
      {{0, 0}, {0, 0}, {0, 0}, {0, 0}},
      {{0, 3}, {0, 0}, {0, 0}, {0, 3}},
      {{3, 0}, {3, 3}, {3, 0}, {0, 0}},
      {{2, 3, 0}, {2, 3, 3}, {2, 3, 0}, {2, 0, 0}},
  };
  for (const auto& [a, p, l, u] : cases) {
    const Tensor A = zeros(a, {.dtype = DType::Float64});
    const auto [P, L, U] = linalg::lu(A);
    CHECK(shape(P) == p);
    CHECK(shape(L) == l);
    CHECK(shape(U) == u);
    const auto [LU, pivots] = linalg::lu_factor(A);
    const auto [P2, L2, U2] = linalg::lu_unpack(LU, pivots);
    CHECK(shape(P2) == p);
    CHECK(shape(L2) == l);
    CHECK(shape(U2) == u);
    if (a[a.size() - 1] == 3 && a[0] == 3) CHECK(P.to_vector<double>() == eye(3, 3, {.dtype = DType::Float64}).to_vector<double>());
  }
  const auto [LU, pivots] = linalg::lu_factor(zeros({2, 0, 0}, {.dtype = DType::Float64}));
  CHECK(shape(linalg::lu_solve(LU, pivots, zeros({2, 0, 4}, {.dtype = DType::Float64}))) == V{2, 0, 4});
}
