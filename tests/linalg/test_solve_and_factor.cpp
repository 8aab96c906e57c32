// linalg.solve_triangular, cholesky, solve, inv, det and slogdet against PyTorch 1.13
// (tests/linalg/factor_reference.json, written by make_factor_reference.py): values, gradients and
// Hessian-vector products in float64 (batched and broadcast shapes, left and right, upper and lower,
// unitriangular, vector right-hand sides, 0 x 0, empty batches, 1 x 1, ill-conditioned, singular det,
// negative dets, NaN and inf entries); float32 values; gradcheck and gradgradcheck; and the calls
// refused with an ember::Error naming the op.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <ember/ops/decompositions.h>
#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

#include "tests/support/reference_case.h"

using namespace ember;
using json_ref::json;

namespace {

const json& reference() {
  static const json doc = json_ref::load(std::filesystem::path(__FILE__).parent_path(), "factor_reference.json",
                                         "EMBER_FACTOR_REFERENCE");
  return doc;
}

bool flag(const json& kwargs, const char* key, bool otherwise) {
  return kwargs.contains(key) ? kwargs.at(key).get<bool>() : otherwise;
}

// The op of a case on its inputs ("A", and "B" where it has one), with the case's keyword arguments.
std::vector<Tensor> run_op(const std::string& op, const std::vector<Tensor>& x, const json& kwargs) {
  if (op == "solve_triangular")
    return {linalg::solve_triangular(x[0], x[1], flag(kwargs, "upper", false), flag(kwargs, "left", true),
                                     flag(kwargs, "unitriangular", false))};
  if (op == "cholesky") return {linalg::cholesky(x[0], flag(kwargs, "upper", false))};
  if (op == "solve") return {linalg::solve(x[0], x[1], flag(kwargs, "left", true))};
  if (op == "inv") return {linalg::inv(x[0])};
  if (op == "det") return {linalg::det(x[0])};
  const linalg::SlogdetResult r = linalg::slogdet(x[0]);
  return {r.sign, r.logabsdet};
}

// The case against PyTorch's values and derivatives (json_ref::run_case) with this file's ops.
std::string run_case(const json& c, DType dtype, double rtol, double atol, bool derivatives) {
  const std::vector<std::string> keys = c.at("op") == "solve_triangular" || c.at("op") == "solve"
                                            ? std::vector<std::string>{"A", "B"}
                                            : std::vector<std::string>{"A"};
  return json_ref::run_case(c, dtype, rtol, atol, derivatives, keys,
                            [&](const std::vector<Tensor>& x) { return run_op(c.at("op"), x, c.at("kwargs")); });
}

const TensorOptions f64{.dtype = DType::Float64};

}  // namespace

TEST_CASE("linalg solvers and factorizations give PyTorch 1.13's values and derivatives in float64",
          "[linalg][factor]") {
  const json& cases = reference().at("cases");
  REQUIRE(cases.size() >= 60);
  std::set<std::string> seen;
  for (const json& c : cases) {
    INFO(c.at("op").get<std::string>() << ": " << c.at("name").get<std::string>());
    seen.insert(c.at("op").get<std::string>());
    // 1e-12 of the scale for the well-conditioned cases; the ill-conditioned ones store a looser
    // tolerance (their condition number times float64's rounding: another order of operations
    // than LAPACK's moves the result by that much).
    const double tol = c.at("tol").get<double>();
    CHECK(run_case(c, DType::Float64, tol, tol, true) == "");
  }
  CHECK(seen == std::set<std::string>{"solve_triangular", "cholesky", "solve", "inv", "det", "slogdet"});
}

// float32 rounds each input first (the stored values are float64), then the op runs in float64 and
// rounds its result: the error is the input's rounding (6e-8 relative) times the condition number
// (below 100 for the random matrices here). The ill-conditioned cases are skipped.
TEST_CASE("linalg solvers and factorizations in float32 follow the float64 values", "[linalg][factor]") {
  for (const json& c : reference().at("cases")) {
    const std::string name = c.at("name");
    INFO(c.at("op").get<std::string>() << ": " << name);
    if (name.find("ill-conditioned") != std::string::npos) continue;
    CHECK(run_case(c, DType::Float32, 1e-4, 1e-4, false) == "");
  }
}

TEST_CASE("linalg solvers and factorizations pass gradcheck and gradgradcheck", "[linalg][factor][gradcheck]") {
  using ember::testing::gradcheck;
  using ember::testing::gradgradcheck;
  using Inputs = std::vector<Tensor>;
  Generator gen(20241206);
  const auto leaf = [](const Tensor& t) { return t.detach().clone().requires_grad_(); };
  // Random matrices with n added to the diagonal: nonsingular under any finite-difference step.
  const auto nonsingular = [&](std::vector<int64_t> shape) {
    return leaf(randn(shape, f64, &gen) + eye(shape.back(), std::nullopt, f64) * static_cast<double>(shape.back()));
  };
  const auto random = [&](std::vector<int64_t> shape) { return leaf(randn(shape, f64, &gen)); };
  // Symmetric positive definite from any M, so that a perturbed input stays positive definite.
  const auto spd = [](const Tensor& m) {
    return matmul(m, m.mT()) + eye(m.size(-1), std::nullopt, f64) * static_cast<double>(m.size(-1));
  };
  struct Case {
    std::string name;
    ember::testing::Fn fn;
    Inputs inputs;
  };
  const std::vector<Case> cases = {
      {"solve_triangular lower", [](const Inputs& x) { return linalg::solve_triangular(x[0], x[1], false); },
       {nonsingular({3, 3}), random({3, 2})}},
      {"solve_triangular upper right unitriangular",
       [](const Inputs& x) { return linalg::solve_triangular(x[0], x[1], true, false, true); },
       {random({3, 3}), random({2, 3})}},
      {"solve_triangular broadcast", [](const Inputs& x) { return linalg::solve_triangular(x[0], x[1], true); },
       {nonsingular({2, 1, 3, 3}), random({2, 3, 1})}},
      {"cholesky", [&](const Inputs& x) { return linalg::cholesky(spd(x[0])); }, {random({3, 3})}},
      {"cholesky upper batched", [&](const Inputs& x) { return linalg::cholesky(spd(x[0]), true); },
       {random({2, 3, 3})}},
      {"solve", [](const Inputs& x) { return linalg::solve(x[0], x[1]); }, {nonsingular({3, 3}), random({3, 2})}},
      {"solve vector broadcast", [](const Inputs& x) { return linalg::solve(x[0], x[1]); },
       {nonsingular({2, 3, 3}), random({3})}},
      {"solve right side broadcast", [](const Inputs& x) { return linalg::solve(x[0], x[1], false); },
       {nonsingular({2, 1, 3, 3}), random({2, 2, 3})}},
      {"inv", [](const Inputs& x) { return linalg::inv(x[0]); }, {nonsingular({2, 3, 3})}},
      {"det", [](const Inputs& x) { return linalg::det(x[0]); }, {random({2, 3, 3})}},
      {"slogdet logabsdet", [](const Inputs& x) { return linalg::slogdet(x[0]).logabsdet; }, {random({2, 3, 3})}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(gradcheck(c.fn, c.inputs) == "");
    CHECK(gradgradcheck(c.fn, c.inputs) == "");
  }
}

TEST_CASE("det of a singular matrix: value 0 and the cofactor matrix as its gradient", "[linalg][factor]") {
  // rank 2: the third row is the sum of the first two. Its cofactor matrix, by hand from the 2 x 2
  // minors: C_ij = (-1)^(i+j) det(A without row i and column j).
  const Tensor a = from_vector<double>({2, 1, 0, 1, 3, 1, 3, 4, 1}, {3, 3}).requires_grad_();
  const Tensor d = linalg::det(a);
  CHECK(d.item<double>() == 0.0);
  const Tensor cofactor = from_vector<double>({-1, 2, -5, -1, 2, -5, 1, -2, 5}, {3, 3});
  const Tensor g = grad({d}, {a})[0];
  CHECK(max(abs(g - cofactor)).item<double>() < 1e-12);
  // And its finite differences: det is a polynomial, so the central difference is exact but for rounding.
  CHECK(ember::testing::gradcheck([](const std::vector<Tensor>& x) { return linalg::det(x[0]); }, {a}) == "");
}

TEST_CASE("linalg ops refuse bad inputs with an error naming the op", "[linalg][factor][errors]") {
  const Tensor m3 = eye(3, std::nullopt, f64), b3 = ones({3, 2}, f64);
  const Tensor ints = ones({3, 3}, {.dtype = DType::Int64}), halves = ones({3, 3}, {.dtype = DType::Float16});
  const Tensor vector3 = ones({3}, f64), wide = ones({3, 4}, f64);
  const Tensor singular = from_vector<double>({1, 2, 2, 4}, {2, 2});
  const Tensor batch_with_singular = stack({eye(2, std::nullopt, f64), singular});
  const Tensor not_pd = from_vector<double>({1, 2, 2, 1}, {2, 2});  // leading minor of order 2: -3
  const Tensor a32 = eye(3, std::nullopt, {.dtype = DType::Float32});
  struct Refusal {
    const char* what;
    const char* op;
    std::function<void()> call;
  };
  // PyTorch 1.13 refuses each of these too (RuntimeError or torch.linalg.LinAlgError).
  const std::vector<Refusal> refusals = {
      {"undefined A", "linalg.solve", [&] { linalg::solve(Tensor(), b3); }},
      {"undefined B", "linalg.solve", [&] { linalg::solve(m3, Tensor()); }},
      {"undefined A", "linalg.cholesky", [&] { linalg::cholesky(Tensor()); }},
      {"undefined A", "linalg.det", [&] { linalg::det(Tensor()); }},
      {"undefined B", "linalg.solve_triangular", [&] { linalg::solve_triangular(m3, Tensor(), false); }},
      {"int64 A", "linalg.inv", [&] { linalg::inv(ints); }},
      {"int64 A", "linalg.slogdet", [&] { linalg::slogdet(ints); }},
      {"int64 B", "linalg.solve", [&] { linalg::solve(m3, ones({3}, {.dtype = DType::Int64})); }},
      {"1-D A", "linalg.solve", [&] { linalg::solve(vector3, vector3); }},
      {"1-D A", "linalg.det", [&] { linalg::det(vector3); }},
      {"1-D B (no vector rule)", "linalg.solve_triangular", [&] { linalg::solve_triangular(m3, vector3, false); }},
      {"0-d B", "linalg.solve", [&] { linalg::solve(m3, ones({}, f64)); }},
      {"non-square A", "linalg.cholesky", [&] { linalg::cholesky(wide); }},
      {"non-square A", "linalg.solve_triangular", [&] { linalg::solve_triangular(wide, b3, true); }},
      {"non-square A", "linalg.inv", [&] { linalg::inv(wide); }},
      {"non-square A", "linalg.det", [&] { linalg::det(wide); }},
      {"B's rows are not A's n", "linalg.solve", [&] { linalg::solve(m3, ones({4, 2}, f64)); }},
      {"B's columns are not A's n (right side)", "linalg.solve", [&] { linalg::solve(m3, b3, false); }},
      {"B's rows are not A's n", "linalg.solve_triangular", [&] { linalg::solve_triangular(m3, ones({2, 3}, f64), true); }},
      {"a vector B with left = false", "linalg.solve", [&] { linalg::solve(m3, vector3, false); }},
      {"A float64, B float32", "linalg.solve", [&] { linalg::solve(m3, cast(b3, DType::Float32)); }},
      {"A float32, B float64", "linalg.solve_triangular", [&] { linalg::solve_triangular(a32, b3, false); }},
      {"batch dims [2] and [3]", "linalg.solve", [&] { linalg::solve(ones({2, 3, 3}, f64), ones({3, 3, 2}, f64)); }},
      {"batch dims [2] and [3]", "linalg.solve_triangular",
       [&] { linalg::solve_triangular(ones({2, 3, 3}, f64), ones({3, 3, 2}, f64), false); }},
      {"singular A", "linalg.solve", [&] { linalg::solve(singular, ones({2}, f64)); }},
      {"singular A", "linalg.inv", [&] { linalg::inv(singular); }},
      {"singular zero matrix", "linalg.inv", [&] { linalg::inv(zeros({3, 3}, f64)); }},
      {"not positive definite", "linalg.cholesky", [&] { linalg::cholesky(not_pd); }},
      {"negative diagonal", "linalg.cholesky", [&] { linalg::cholesky(-m3); }},
  };
  for (const Refusal& r : refusals) {
    INFO(r.op << ": " << r.what);
    CHECK_THROWS_AS(r.call(), ember::Error);
    CHECK_THROWS_WITH(r.call(), Catch::Contains(r.op));
  }
  // 16-bit matrices: PyTorch has no half LU or Cholesky on the CPU; ember points to autocast.
  for (const auto& call : std::vector<std::function<void()>>{
           [&] { linalg::cholesky(halves); }, [&] { linalg::solve_triangular(halves, halves, false); },
           [&] { linalg::solve(halves, halves); }, [&] { linalg::inv(halves); }, [&] { linalg::det(halves); },
           [&] { linalg::slogdet(halves); }})
    CHECK_THROWS_WITH(call(), Catch::Contains("linalg.") && Catch::Contains("autocast"));
  // The batch entry and the failing minor are named, as in PyTorch's messages.
  CHECK_THROWS_WITH(linalg::solve(batch_with_singular, ones({2, 2}, f64)),
                    Catch::Contains("linalg.solve") && Catch::Contains("batch entry 1") && Catch::Contains("singular"));
  CHECK_THROWS_WITH(linalg::inv(batch_with_singular), Catch::Contains("linalg.inv") && Catch::Contains("batch entry 1"));
  CHECK_THROWS_WITH(linalg::cholesky(stack({eye(2, std::nullopt, f64), not_pd})),
                    Catch::Contains("batch entry 1") && Catch::Contains("leading minor of order 2"));
  CHECK_THROWS_WITH(linalg::cholesky(not_pd), !Catch::Contains("batch entry") && Catch::Contains("order 2"));
}

TEST_CASE("linalg ops: the conventions spelled out", "[linalg][factor]") {
  SECTION("cholesky reads one triangle: the other may hold NaN") {
    const double nan = std::nan("");
    const Tensor lower_read = from_vector<double>({4, nan, 2, 5}, {2, 2});
    CHECK(linalg::cholesky(lower_read).to_vector<double>() == std::vector<double>{2, 0, 1, 2});
    // upper = true reads the upper triangle (LAPACK's uplo = 'U'), as PyTorch 1.13 does
    const Tensor upper_read = from_vector<double>({4, 2, nan, 5}, {2, 2});
    CHECK(linalg::cholesky(upper_read, true).to_vector<double>() == std::vector<double>{2, 1, 0, 2});
  }
  SECTION("a NaN that PyTorch factors gives NaN, not an error or a hang") {
    // PyTorch 1.13: cholesky([[1, 0], [nan, 1]]) is [[1, 0], [nan, nan]]; solve with a NaN A is
    // NaN; det and inv likewise. Only an exact zero pivot (solve, inv) or a pivot <= 0 (cholesky,
    // -inf included) is an error there.
    const Tensor with_nan = from_vector<double>({1, 0, std::nan(""), 1}, {2, 2});
    const std::vector<double> l = linalg::cholesky(with_nan).to_vector<double>();
    CHECK((l[0] == 1 && l[1] == 0 && std::isnan(l[2]) && std::isnan(l[3])));
    CHECK(std::isnan(linalg::det(with_nan).item<double>()));
    CHECK(std::isnan(linalg::solve(with_nan, ones({2}, f64)).to_vector<double>()[1]));
    CHECK(std::isnan(linalg::inv(with_nan).to_vector<double>()[2]));
  }
  SECTION("det of a 0 x 0 matrix is 1, its inverse is 0 x 0, and an empty batch gives an empty result") {
    CHECK(linalg::det(zeros({0, 0}, f64)).item<double>() == 1.0);
    CHECK(linalg::inv(zeros({0, 0}, f64)).shape() == Shape{0, 0});
    CHECK(linalg::det(zeros({0, 3, 3}, f64)).shape() == Shape{0});
    CHECK(linalg::slogdet(zeros({2, 0, 0}, f64)).logabsdet.to_vector<double>() == std::vector<double>{0, 0});
  }
  SECTION("a right-hand side with no columns (or, on the right, no rows) gives an empty solution") {
    // 9 x 9 and 100 x 100: past the recursion's leaf, whose products must not be called with no columns.
    for (const int64_t n : {9, 100}) {
      CAPTURE(n);
      const Tensor a = eye(n, std::nullopt, f64) * 2.0 + ones({n, n}, f64) * 0.1;
      CHECK(linalg::solve(a, zeros({n, 0}, f64)).shape() == Shape{n, 0});
      CHECK(linalg::solve(a, zeros({0, n}, f64), /*left=*/false).shape() == Shape{0, n});
      CHECK(linalg::solve_triangular(a, zeros({n, 0}, f64), /*upper=*/true).shape() == Shape{n, 0});
      CHECK(linalg::solve_triangular(a, zeros({0, n}, f64), /*upper=*/false, /*left=*/false).shape() == Shape{0, n});
      const linalg::LuFactorResult f = linalg::lu_factor(a);
      CHECK(linalg::lu_solve(f.LU, f.pivots, zeros({n, 0}, f64)).shape() == Shape{n, 0});
      CHECK(linalg::cholesky_solve(zeros({n, 0}, f64), linalg::cholesky(a)).shape() == Shape{n, 0});
    }
  }
  SECTION("slogdet neither overflows nor loses the sign where det does") {
    const Tensor big = eye(3, std::nullopt, f64) * -1e200;
    CHECK(std::isinf(linalg::det(big).item<double>()));
    const linalg::SlogdetResult r = linalg::slogdet(big);
    CHECK(r.sign.item<double>() == -1.0);
    CHECK(r.logabsdet.item<double>() == Approx(3 * 200 * std::log(10.0)).epsilon(1e-14));
  }
  SECTION("the sign of slogdet carries no gradient") {
    const Tensor a = from_vector<double>({2, 1, 1, 3}, {2, 2}).requires_grad_();
    const Tensor g = grad({linalg::slogdet(a).sign}, {a}, {}, {.allow_unused = true})[0];
    CHECK((!g.defined() || max(abs(g)).item<double>() == 0.0));
  }
}
