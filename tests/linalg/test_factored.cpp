// linalg.cholesky_solve, cholesky_inverse, logdet, geqrf (ops/decompositions.h) and ormqr
// (ops/matrix_functions.h) against PyTorch 1.13 (tests/linalg/factored_reference.json, written by
// make_factored_reference.py): values, gradients and Hessian-vector products in float64 (lower and
// upper factors, batched and broadcast shapes, k = 1 and k > 1, dets of either sign and zero, square,
// tall and wide geqrf, ormqr on each side with and without transpose, k below the reflector matrix's
// columns); float32 values; gradcheck and gradgradcheck; the identities each op must satisfy
// (cholesky_solve = solve, cholesky_inverse = inv, geqrf against qr and householder_product, ormqr
// against matmul with the full Q, logdet against det); geqrf's refusal to be differentiated; and the
// calls refused with an ember::Error naming the op.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <map>
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
  static const json doc = json_ref::load(std::filesystem::path(__FILE__).parent_path(), "factored_reference.json",
                                         "EMBER_FACTORED_REFERENCE");
  return doc;
}

const TensorOptions f64{.dtype = DType::Float64};

bool flag(const json& kwargs, const char* key, bool otherwise) {
  return kwargs.contains(key) && !kwargs.at(key).is_null() ? kwargs.at(key).get<bool>() : otherwise;
}

// The names of a case's inputs in the op's argument order (cholesky_solve: B first, as PyTorch's).
std::vector<std::string> input_keys(const std::string& op) {
  if (op == "cholesky_solve") return {"B", "L"};
  if (op == "cholesky_inverse") return {"L"};
  if (op == "ormqr") return {"A", "tau", "C"};
  return {"A"};
}

std::vector<Tensor> run_op(const std::string& op, const std::vector<Tensor>& x, const json& kw) {
  if (op == "cholesky_solve") return {linalg::cholesky_solve(x[0], x[1], flag(kw, "upper", false))};
  if (op == "cholesky_inverse") return {linalg::cholesky_inverse(x[0], flag(kw, "upper", false))};
  if (op == "logdet") return {linalg::logdet(x[0])};
  if (op == "geqrf") {
    const linalg::GeqrfResult r = linalg::geqrf(x[0]);
    return {r.a, r.tau};
  }
  if (op == "ormqr") return {linalg::ormqr(x[0], x[1], x[2], flag(kw, "left", true), flag(kw, "transpose", false))};
  FAIL("unknown op " << op);
  return {};
}

// The case against PyTorch's values and derivatives (json_ref::run_case) with this file's ops.
std::string run_case(const json& c, DType dtype, double rtol, double atol, bool derivatives) {
  const std::string op = c.at("op");
  return json_ref::run_case(c, dtype, rtol, atol, derivatives, input_keys(op),
                            [&](const std::vector<Tensor>& x) { return run_op(op, x, c.at("kwargs")); });
}

// The largest |entry| of a - b, shapes equal (0 for empty tensors; NaN where either has one).
double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = contiguous(a).to_vector<double>();
  const std::vector<double> y = contiguous(b).to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = std::abs(x[i] - y[i]);
    if (std::isnan(d)) return NAN;
    worst = std::max(worst, d);
  }
  return worst;
}

double max_abs(const Tensor& a) {
  double worst = 0;
  for (double v : contiguous(a).to_vector<double>()) worst = std::max(worst, std::abs(v));
  return worst;
}

Tensor identity(int64_t n) { return eye(n, std::nullopt, f64); }

std::vector<int64_t> dims(const Shape& s) { return std::vector<int64_t>(s.begin(), s.end()); }

Tensor random(std::vector<int64_t> shape, Generator& gen) {
  return randn(std::span<const int64_t>(shape.data(), shape.size()), f64, &gen);
}

// M M^T + n I: symmetric positive definite, eigenvalues at least n.
Tensor spd(std::vector<int64_t> shape, Generator& gen) {
  const Tensor m = random(shape, gen);
  return matmul(m, m.mT()) + identity(shape.back()) * static_cast<double>(shape.back());
}

// Random plus n on the diagonal: far from singular.
Tensor nonsingular(std::vector<int64_t> shape, Generator& gen) {
  return random(shape, gen) + identity(shape.back()) * static_cast<double>(shape.back());
}

// Q = H_1 ... H_k [..., r, r] of geqrf-style reflectors (A [..., r, s], tau [..., k]), by
// householder_product on A's first k columns padded with zero columns to r x r.
Tensor full_q(const Tensor& a, const Tensor& tau) {
  const int64_t r = a.size(-2), k = tau.size(-1);
  std::vector<int64_t> pad_shape = dims(a.shape());
  pad_shape.back() = r - k;
  const Tensor padded = cat({narrow(a, -1, 0, k), zeros(std::span<const int64_t>(pad_shape.data(), pad_shape.size()), f64)}, -1);
  return linalg::householder_product(padded, tau);
}

Tensor apply_q(const Tensor& q, const Tensor& c, bool left, bool transpose) {
  const Tensor op = transpose ? q.mT() : q;
  return left ? matmul(op, c) : matmul(c, op);
}

}  // namespace

TEST_CASE("cholesky_solve, cholesky_inverse, logdet, geqrf and ormqr give PyTorch 1.13's values and derivatives",
          "[linalg][factored]") {
  const json& cases = reference().at("cases");
  REQUIRE(cases.size() >= 40);
  std::map<std::string, int> seen;
  int with_hvp = 0;
  for (const json& c : cases) {
    INFO(c.at("op").get<std::string>() << ": " << c.at("name").get<std::string>());
    ++seen[c.at("op").get<std::string>()];
    with_hvp += c.contains("hvp");
    // 1e-12 relative plus 1e-12 of max(1, the largest entry), for values, gradients and Hessian-vector
    // products alike: the factors come from SPD matrices with condition numbers below 30, the logdet
    // inputs have condition numbers below 30 and geqrf's below 100 (checked by the script), so another
    // order of operations than LAPACK's moves nothing by more than about 1e-14 of its scale. The
    // script checks PyTorch's derivatives (and, for ormqr, which has none in PyTorch 1.13, those of
    // the householder_product composite) against the ops written out in other steps to 1e-13.
    const double tol = c.at("tol").get<double>();
    CHECK(run_case(c, DType::Float64, tol, tol, true) == "");
  }
  CHECK(with_hvp >= 30);
  CHECK(seen.size() == 5);
  for (const char* op : {"cholesky_solve", "cholesky_inverse", "logdet", "geqrf", "ormqr"}) {
    INFO(op);
    CHECK(seen[op] >= 5);
  }
}

// float32 rounds each input (6e-8 relative); the ops then compute in float64 (or float32) and round:
// the error is that rounding times the condition number (below 30 for the SPD matrices and the
// logdet inputs, below 100 for the geqrf inputs; ormqr's Q is orthogonal) plus a few float32
// roundings per entry, inside 1e-4 relative plus 1e-4 of the scale. NaN, -inf and the zero taus are
// exact in float32 as in float64 (the signs of the dets and the exact zeros survive the rounding).
TEST_CASE("cholesky_solve, cholesky_inverse, logdet, geqrf and ormqr in float32 follow the float64 values",
          "[linalg][factored]") {
  const std::set<std::pair<std::string, std::string>> chosen = {
      {"cholesky_solve", "lower, n 3, k 2"},
      {"cholesky_solve", "upper, batched 2, n 3, k 3"},
      {"cholesky_solve", "broadcast: L 2 x 1, B 3, lower"},
      {"cholesky_inverse", "upper batched 2 x 4 x 4"},
      {"cholesky_inverse", "lower 3 x 3"},
      {"logdet", "positive det 5 x 5"},
      {"logdet", "batch with a negative-det entry"},
      {"logdet", "batch: rank 1 and positive det"},
      {"geqrf", "tall 5 x 3"},
      {"geqrf", "wide 3 x 5"},
      {"geqrf", "upper triangular: every tau 0, a unchanged"},
      {"ormqr", "tall 6 x 4, k 2, right, transpose True"},
      {"ormqr", "batched 2 x 4 x 3, left, transpose"},
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

TEST_CASE("cholesky_solve, cholesky_inverse, logdet and ormqr pass gradcheck and gradgradcheck in float64",
          "[linalg][factored][gradcheck]") {
  using ember::testing::gradcheck;
  using ember::testing::gradgradcheck;
  using Inputs = std::vector<Tensor>;
  Generator gen(20261208);
  const auto leaf = [](const Tensor& t) { return t.detach().clone().requires_grad_(); };
  const auto rand_leaf = [&](std::vector<int64_t> shape) { return leaf(random(shape, gen)); };
  // A Cholesky factor of a well-conditioned SPD matrix: triangular, positive diagonal.
  const auto factor = [&](std::vector<int64_t> shape, bool upper) { return leaf(linalg::cholesky(spd(shape, gen), upper)); };
  // The factor enters through tril (triu): the ops read only that triangle, so a finite difference in
  // the other one is 0, while the gradient PyTorch (and ember) defines for it is that of the full
  // matrix; the mask makes both the derivative of the function of the triangle.
  const auto tri = [](const Tensor& l, bool upper) { return upper ? triu(l) : tril(l); };
  struct Case {
    std::string name;
    ember::testing::Fn fn;
    Inputs inputs;
  };
  std::vector<Case> cases;
  for (bool upper : {false, true}) {
    const std::string tag = upper ? "upper" : "lower";
    cases.push_back({"cholesky_solve " + tag, [&, upper](const Inputs& x) { return linalg::cholesky_solve(x[0], tri(x[1], upper), upper); },
                     {rand_leaf({3, 2}), factor({3, 3}, upper)}});
    cases.push_back({"cholesky_solve " + tag + " k 1, batched", [&, upper](const Inputs& x) {
                       return linalg::cholesky_solve(x[0], tri(x[1], upper), upper);
                     },
                     {rand_leaf({2, 4, 1}), factor({2, 4, 4}, upper)}});
    cases.push_back({"cholesky_solve " + tag + " broadcast: L [2, 1], B [3]", [&, upper](const Inputs& x) {
                       return linalg::cholesky_solve(x[0], tri(x[1], upper), upper);
                     },
                     {rand_leaf({3, 3, 2}), factor({2, 1, 3, 3}, upper)}});
    cases.push_back({"cholesky_inverse " + tag, [&, upper](const Inputs& x) { return linalg::cholesky_inverse(tri(x[0], upper), upper); },
                     {factor({3, 3}, upper)}});
    cases.push_back({"cholesky_inverse " + tag + " batched", [&, upper](const Inputs& x) {
                       return linalg::cholesky_inverse(tri(x[0], upper), upper);
                     },
                     {factor({2, 3, 3}, upper)}});
  }
  // logdet where det > 0 (checked with det, so that the finite differences stay on the positive side).
  const Tensor pos3 = nonsingular({3, 3}, gen), pos_b = nonsingular({2, 3, 3}, gen);
  REQUIRE(linalg::det(pos3).item<double>() > 1.0);
  for (double d : linalg::det(pos_b).to_vector<double>()) REQUIRE(d > 1.0);
  cases.push_back({"logdet 3 x 3", [](const Inputs& x) { return linalg::logdet(x[0]); }, {leaf(pos3)}});
  cases.push_back({"logdet batched", [](const Inputs& x) { return linalg::logdet(x[0]); }, {leaf(pos_b)}});
  // ormqr in A, tau and C: a polynomial in each, for any A and tau (not only geqrf's).
  for (bool left : {true, false})
    for (bool transpose : {false, true}) {
      const std::string tag = fmt::format("ormqr {}, transpose {}", left ? "left" : "right", transpose);
      cases.push_back({tag, [left, transpose](const Inputs& x) { return linalg::ormqr(x[0], x[1], x[2], left, transpose); },
                       {rand_leaf({4, 3}), rand_leaf({3}), rand_leaf(left ? std::vector<int64_t>{4, 2} : std::vector<int64_t>{2, 4})}});
    }
  cases.push_back({"ormqr tall 5 x 3, k 2, batched, C broadcast, left, transpose",
                   [](const Inputs& x) { return linalg::ormqr(x[0], x[1], x[2], true, true); },
                   {rand_leaf({2, 5, 3}), rand_leaf({2, 2}), rand_leaf({5, 2})}});
  cases.push_back({"ormqr wide 3 x 4, k 3, batched, right",
                   [](const Inputs& x) { return linalg::ormqr(x[0], x[1], x[2], false, false); },
                   {rand_leaf({2, 3, 4}), rand_leaf({2, 3}), rand_leaf({2, 2, 3})}});
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(gradcheck(c.fn, c.inputs) == "");
    CHECK(gradgradcheck(c.fn, c.inputs) == "");
  }
}

TEST_CASE("cholesky_solve and cholesky_inverse agree with solve and inv of L L^T", "[linalg][factored]") {
  Generator gen(89);
  struct Shapes {
    std::vector<int64_t> a, b;
  };
  const std::vector<Shapes> shapes = {
      {{4, 4}, {4, 3}}, {{3, 3}, {3, 1}}, {{2, 3, 3}, {2, 3, 2}}, {{2, 1, 3, 3}, {3, 3, 2}}, {{3, 3}, {2, 2, 3, 1}}, {{1, 1}, {1, 2}},
  };
  for (const Shapes& s : shapes)
    for (bool upper : {false, true}) {
      const Tensor a = spd(s.a, gen);
      const Tensor b = random(s.b, gen);
      INFO("A " << shape_str(a.shape()) << ", B " << shape_str(b.shape()) << (upper ? ", upper" : ", lower"));
      const Tensor l = linalg::cholesky(a, upper);
      const Tensor x = linalg::cholesky_solve(b, l, upper);
      const Tensor want = linalg::solve(a, b);
      REQUIRE(x.shape() == want.shape());
      CHECK(x.dtype() == DType::Float64);
      CHECK(max_abs_diff(x, want) < 1e-12 * std::max(1.0, max_abs(want)));
      // the residual, independently of solve
      const Tensor back = matmul(a, x);
      CHECK(max_abs_diff(back, expand(b, dims(back.shape()))) < 1e-12 * std::max(1.0, max_abs(b)) * s.a.back());
      // only the factor's triangle is read: garbage in the other one changes nothing
      const Tensor garbage = random(dims(l.shape()), gen) * 100.0;
      const Tensor dirty = l + (upper ? tril(garbage, -1) : triu(garbage, 1));
      CHECK(max_abs_diff(linalg::cholesky_solve(b, dirty, upper), x) <= 1e-14 * std::max(1.0, max_abs(x)));
      // cholesky_inverse: inv(A), symmetric, and A times it the identity
      const Tensor inverse = linalg::cholesky_inverse(l, upper);
      const Tensor inv_a = linalg::inv(a);
      REQUIRE(inverse.shape() == a.shape());
      CHECK(inverse.dtype() == DType::Float64);
      CHECK(max_abs_diff(inverse, inv_a) < 1e-12 * std::max(1.0, max_abs(inv_a)));
      CHECK(max_abs_diff(inverse, inverse.mT()) < 1e-14);
      const int64_t n = s.a.back();
      CHECK(max_abs_diff(matmul(a, inverse), expand(identity(n), dims(a.shape()))) < 1e-13 * n);
      CHECK(max_abs_diff(linalg::cholesky_inverse(dirty, upper), inverse) <= 1e-14 * std::max(1.0, max_abs(inverse)));
    }
  SECTION("by hand: L = [[2, 0], [1, 3]], A = [[4, 2], [2, 10]], det 36") {
    const Tensor l = from_vector<double>({2, 0, 1, 3}, {2, 2});
    // A^-1 = [[10, -2], [-2, 4]] / 36; A^-1 (1, 1)^T = (8, 2) / 36
    CHECK(max_abs_diff(linalg::cholesky_inverse(l), from_vector<double>({10.0 / 36, -2.0 / 36, -2.0 / 36, 4.0 / 36}, {2, 2})) < 1e-16);
    CHECK(max_abs_diff(linalg::cholesky_solve(ones({2, 1}, f64), l), from_vector<double>({8.0 / 36, 2.0 / 36}, {2, 1})) < 1e-16);
    // the same A from U = L^T with upper
    CHECK(max_abs_diff(linalg::cholesky_solve(ones({2, 1}, f64), l.mT(), true), from_vector<double>({8.0 / 36, 2.0 / 36}, {2, 1})) <
          1e-16);
  }
  SECTION("the gradient with respect to the factor is the full-matrix one: -(C + C^T) L, C = A^-1 gX X^T") {
    const Tensor a = spd({3, 3}, gen);
    const Tensor l = linalg::cholesky(a).detach().clone().requires_grad_();
    const Tensor b = random({3, 2}, gen), w = random({3, 2}, gen);
    const Tensor x = linalg::cholesky_solve(b, l);
    const Tensor gl = grad({sum(x * w)}, {l})[0];
    const Tensor cterm = matmul(matmul(linalg::inv(a), w), x.detach().mT());
    const Tensor want = neg(matmul(cterm + cterm.mT(), l.detach()));
    CHECK(max_abs_diff(gl, want) < 1e-12 * std::max(1.0, max_abs(want)));
    CHECK(max_abs(triu(want, 1)) > 1e-3);  // the upper triangle's entries are not zero
  }
}

TEST_CASE("logdet is log(det) where det > 0, NaN where det < 0 and -inf where det = 0", "[linalg][factored]") {
  Generator gen(97);
  for (const std::vector<int64_t>& s : std::vector<std::vector<int64_t>>{{3, 3}, {5, 5}, {2, 3, 4, 4}, {1, 1}}) {
    const Tensor a = nonsingular(s, gen);
    INFO("shape " << shape_str(a.shape()));
    const Tensor d = linalg::det(a);
    for (double v : d.to_vector<double>()) REQUIRE(v > 0);
    const Tensor got = linalg::logdet(a);
    REQUIRE(got.shape() == d.shape());
    CHECK(got.dtype() == DType::Float64);
    CHECK(max_abs_diff(got, log(d)) < 1e-13 * std::max(1.0, max_abs(got)));
    CHECK(max_abs_diff(got, linalg::slogdet(a).logabsdet) < 1e-13 * std::max(1.0, max_abs(got)));
    // its gradient is A^-T
    const Tensor x = a.detach().clone().requires_grad_();
    const Tensor g = grad({sum(linalg::logdet(x))}, {x})[0];
    CHECK(max_abs_diff(g, linalg::inv(a).mT()) < 1e-12);
  }
  // det [[0, 1], [1, 0]] = -1; [[1, 2], [2, 4]] is singular (exactly: 4 - 2 * 2 = 0 in any elimination);
  // diag(2, 3) has det 6.
  const Tensor swap = from_vector<double>({0, 1, 1, 0}, {2, 2});
  const Tensor rank1 = from_vector<double>({1, 2, 2, 4}, {2, 2});
  const Tensor diag23 = from_vector<double>({2, 0, 0, 3}, {2, 2});
  CHECK(std::isnan(linalg::logdet(swap).item<double>()));
  CHECK(linalg::logdet(rank1).item<double>() == -INFINITY);
  CHECK(linalg::logdet(zeros({3, 3}, f64)).item<double>() == -INFINITY);
  CHECK(linalg::logdet(diag23).item<double>() == Approx(std::log(6.0)).epsilon(1e-14));
  // -I of odd size: det -1; of even size: det 1, logdet 0
  CHECK(std::isnan(linalg::logdet(identity(3) * -1.0).item<double>()));
  CHECK(std::abs(linalg::logdet(identity(4) * -1.0).item<double>()) < 1e-15);
  // a batch: each entry its own
  const std::vector<double> mixed = linalg::logdet(stack({diag23, swap, rank1, identity(2)})).to_vector<double>();
  REQUIRE(mixed.size() == 4);
  CHECK(mixed[0] == Approx(std::log(6.0)).epsilon(1e-14));
  CHECK(std::isnan(mixed[1]));
  CHECK(mixed[2] == -INFINITY);
  CHECK(mixed[3] == 0.0);
  // of a 0 x 0 matrix: log(1) = 0
  CHECK(linalg::logdet(zeros({0, 0}, f64)).item<double>() == 0.0);
}

TEST_CASE("geqrf: householder_product of its reflectors is qr's Q, its upper triangle qr's R", "[linalg][factored]") {
  Generator gen(101);
  const std::vector<std::vector<int64_t>> shapes = {{4, 4}, {5, 3}, {6, 1}, {2, 4, 3}, {2, 1, 3, 3}, {3, 5}, {2, 2, 4}, {1, 1}};
  for (const std::vector<int64_t>& s : shapes) {
    const Tensor a = random(s, gen);
    INFO("shape " << shape_str(a.shape()));
    const int64_t m = s[s.size() - 2], n = s.back(), k = std::min(m, n);
    const linalg::GeqrfResult g = linalg::geqrf(a);
    REQUIRE(g.a.shape() == a.shape());
    std::vector<int64_t> tau_shape(s.begin(), s.end() - 2);
    tau_shape.push_back(k);
    REQUIRE(g.tau.shape() == Shape(tau_shape.begin(), tau_shape.end()));
    CHECK(g.a.dtype() == DType::Float64);
    CHECK(g.tau.dtype() == DType::Float64);
    const linalg::QRResult qr = linalg::qr(a);  // reduced: Q [m, k], R [k, n]
    // householder_product needs at least as many rows as columns: the reflectors are A's first k columns
    const Tensor q = linalg::householder_product(narrow(g.a, -1, 0, k), g.tau);
    const Tensor r = narrow(triu(g.a), -2, 0, k);
    CHECK(max_abs_diff(q, qr.Q) < 1e-13 * m);
    CHECK(max_abs_diff(r, qr.R) < 1e-13 * std::max(1.0, max_abs(qr.R)) * m);
    // and, independently of qr: Q R = A, Q's columns orthonormal
    CHECK(max_abs_diff(matmul(q, r), a) < 1e-13 * std::max(1.0, max_abs(a)) * m);
    const Tensor qtq = matmul(q.mT(), q);
    CHECK(max_abs_diff(qtq, expand(identity(k), dims(qtq.shape()))) < 1e-13 * m);
    // LAPACK's reflectors: tau in [1, 2] where the column below the diagonal is not zero, 0 for the
    // last column of a square or wide matrix (a reflector of length 1 is the identity)
    const std::vector<double> taus = g.tau.to_vector<double>();
    for (size_t i = 0; i < taus.size(); ++i) {
      const int64_t j = static_cast<int64_t>(i) % k;
      if (j == m - 1) {
        CHECK(taus[i] == 0.0);
      } else {
        CHECK(taus[i] >= 1.0);
        CHECK(taus[i] <= 2.0);
      }
    }
  }
  SECTION("a column already zero below the diagonal gets tau 0 and is left as it is") {
    // [[3, 1], [0, 2], [0, 5]]: column 0 is already reduced (tau 0, R[0, 0] = 3, not -3); column 1
    // below row 0 is (2, 5): alpha 2, |x| = sqrt(29), beta = -sqrt(29), tau = (beta - alpha) / beta =
    // 1 + 2 / sqrt(29), v = (1, 5 / (alpha - beta)).
    const Tensor a = from_vector<double>({3, 1, 0, 2, 0, 5}, {3, 2});
    const linalg::GeqrfResult g = linalg::geqrf(a);
    const std::vector<double> tau = g.tau.to_vector<double>();
    const std::vector<double> out = g.a.to_vector<double>();
    REQUIRE(tau.size() == 2);
    CHECK(tau[0] == 0.0);
    CHECK(tau[1] == Approx(1 + 2 / std::sqrt(29.0)).epsilon(1e-14));
    CHECK(out[0] == 3.0);
    CHECK(out[1] == 1.0);
    CHECK(out[2] == 0.0);
    CHECK(out[3] == Approx(-std::sqrt(29.0)).epsilon(1e-14));
    CHECK(out[4] == 0.0);
    CHECK(out[5] == Approx(5 / (2 + std::sqrt(29.0))).epsilon(1e-14));
  }
}

TEST_CASE("geqrf is not differentiable: a backward through it is an error naming it", "[linalg][factored]") {
  Generator gen(103);
  const Tensor x = random({4, 3}, gen).requires_grad_();
  const linalg::GeqrfResult g = linalg::geqrf(x);
  const Tensor y = g.a;
  CHECK_THROWS_AS(sum(y).backward(), ember::Error);
  CHECK_THROWS_WITH(sum(linalg::geqrf(x).a).backward(), Catch::Contains("linalg.geqrf"));
  CHECK_THROWS_AS(sum(linalg::geqrf(x).tau).backward(), ember::Error);
  CHECK_THROWS_WITH(sum(linalg::geqrf(x).tau).backward(), Catch::Contains("linalg.geqrf"));
  CHECK_THROWS_WITH(grad({sum(linalg::geqrf(x).a)}, {x}), Catch::Contains("linalg.geqrf"));
  // the values are those of the input without grad
  const linalg::GeqrfResult plain = linalg::geqrf(x.detach());
  CHECK(max_abs_diff(g.a.detach(), plain.a) == 0.0);
  CHECK(max_abs_diff(g.tau.detach(), plain.tau) == 0.0);
}

TEST_CASE("ormqr is matmul with the full Q of the reflectors, and its transpose undoes it", "[linalg][factored]") {
  Generator gen(107);
  struct Shapes {
    std::vector<int64_t> a;
    int64_t k;
    std::vector<int64_t> c_left, c_right;
  };
  const std::vector<Shapes> shapes = {
      {{4, 4}, 4, {4, 2}, {3, 4}},          {{5, 3}, 3, {5, 4}, {2, 5}},          {{6, 4}, 2, {6, 1}, {1, 6}},
      {{3, 5}, 3, {3, 2}, {2, 3}},          {{2, 4, 3}, 3, {2, 4, 2}, {2, 3, 4}}, {{2, 4, 3}, 2, {4, 2}, {3, 1, 2, 4}},
      {{4, 2}, 0, {4, 3}, {3, 4}},          {{1, 1}, 1, {1, 3}, {3, 1}},
  };
  for (const Shapes& s : shapes) {
    const linalg::GeqrfResult g = linalg::geqrf(random(s.a, gen));
    const Tensor a = g.a, tau = narrow(g.tau, -1, 0, s.k);
    const int64_t r = s.a[s.a.size() - 2];
    const Tensor q = full_q(a, tau);
    // Q as ormqr applied to the identity
    CHECK(max_abs_diff(linalg::ormqr(a, tau, expand(identity(r), dims(q.shape())), true, false), q) < 1e-14 * r);
    CHECK(max_abs_diff(linalg::ormqr(a, tau, expand(identity(r), dims(q.shape())), false, false), q) < 1e-14 * r);
    for (bool left : {true, false})
      for (bool transpose : {false, true}) {
        const std::vector<int64_t>& cs = left ? s.c_left : s.c_right;
        const Tensor c = random(cs, gen);
        INFO("A " << shape_str(a.shape()) << ", k " << s.k << ", C " << shape_str(c.shape()) << (left ? ", left" : ", right")
                  << (transpose ? ", transpose" : ""));
        const Tensor got = linalg::ormqr(a, tau, c, left, transpose);
        const Tensor want = apply_q(q, c, left, transpose);
        REQUIRE(got.shape() == want.shape());
        CHECK(got.dtype() == DType::Float64);
        CHECK(max_abs_diff(got, want) < 1e-13 * std::max(1.0, max_abs(c)) * r);
        // Q is orthogonal: the transposed product undoes it
        const Tensor back = linalg::ormqr(a, tau, got, left, !transpose);
        CHECK(max_abs_diff(back, expand(c, dims(back.shape()))) < 1e-13 * std::max(1.0, max_abs(c)) * r);
        // the R that geqrf left on and above the diagonal is not read
        const Tensor garbage = random(dims(a.shape()), gen) * 100.0;
        const Tensor dirty = tril(a, -1) + triu(garbage);
        CHECK(max_abs_diff(linalg::ormqr(dirty, tau, c, left, transpose), got) < 1e-14 * std::max(1.0, max_abs(got)) * r);
      }
  }
  SECTION("one reflector by hand") {
    // v = (1, 0.5, -0.5), tau = 0.5: H = I - 0.5 v v^T = [[0.5, -0.25, 0.25], [-0.25, 0.875, 0.125],
    // [0.25, 0.125, 0.875]], symmetric, so transpose changes nothing; H e_0 is its first column.
    const Tensor a = from_vector<double>({7, 0.5, -0.5}, {3, 1});
    const Tensor tau = from_vector<double>({0.5});
    const Tensor e0 = from_vector<double>({1, 0, 0}, {3, 1});
    CHECK(linalg::ormqr(a, tau, e0).to_vector<double>() == std::vector<double>{0.5, -0.25, 0.25});
    CHECK(linalg::ormqr(a, tau, e0, true, true).to_vector<double>() == std::vector<double>{0.5, -0.25, 0.25});
    CHECK(linalg::ormqr(a, tau, e0.mT(), false, false).to_vector<double>() == std::vector<double>{0.5, -0.25, 0.25});
    // two reflectors do not commute: Q = H_1 H_2 differs from Q^T = H_2 H_1
    const Tensor a2 = from_vector<double>({7, 7, 0.5, 7, -0.5, 2}, {3, 2});
    const Tensor tau2 = from_vector<double>({0.5, 1.0});
    const Tensor c = identity(3);
    CHECK(max_abs_diff(linalg::ormqr(a2, tau2, c), linalg::ormqr(a2, tau2, c, true, true)) > 0.1);
  }
}

TEST_CASE("under autocast cholesky_solve, cholesky_inverse, logdet and geqrf run in float32", "[linalg][factored][autocast]") {
  // L = [[2, 0], [1, 3]] (A = [[4, 2], [2, 10]], det 36), exact in float16
  const Tensor half_l = cast(from_vector<double>({2, 0, 1, 3}, {2, 2}), DType::Float16);
  const Tensor half_b = cast(from_vector<double>({1, 1}, {2, 1}), DType::Float16);
  const Tensor half_a = cast(from_vector<double>({4, 2, 2, 10}, {2, 2}), DType::Float16);
  autocast scope(DType::Float16);
  const Tensor x = linalg::cholesky_solve(half_b, half_l);
  CHECK(x.dtype() == DType::Float32);
  CHECK(x.to_vector<double>()[0] == Approx(8.0 / 36).epsilon(1e-6));
  CHECK(x.to_vector<double>()[1] == Approx(2.0 / 36).epsilon(1e-6));
  const Tensor inverse = linalg::cholesky_inverse(half_l);
  CHECK(inverse.dtype() == DType::Float32);
  CHECK(inverse.to_vector<double>()[0] == Approx(10.0 / 36).epsilon(1e-6));
  const Tensor ld = linalg::logdet(half_a);
  CHECK(ld.dtype() == DType::Float32);
  CHECK(ld.item<double>() == Approx(std::log(36.0)).epsilon(1e-6));
  const linalg::GeqrfResult g = linalg::geqrf(half_a);
  CHECK(g.a.dtype() == DType::Float32);
  CHECK(g.tau.dtype() == DType::Float32);
  // column (4, 2): beta = -sqrt(20), tau = 1 + 4 / sqrt(20)
  CHECK(g.a.to_vector<double>()[0] == Approx(-std::sqrt(20.0)).epsilon(1e-6));
  CHECK(g.tau.to_vector<double>()[0] == Approx(1 + 4 / std::sqrt(20.0)).epsilon(1e-6));
}

TEST_CASE("cholesky_solve, cholesky_inverse, logdet, geqrf and ormqr refuse bad inputs with an error naming the op",
          "[linalg][factored][errors]") {
  const Tensor m3 = eye(3, std::nullopt, f64), b3 = ones({3, 2}, f64), vector3 = ones({3}, f64);
  const Tensor ints = eye(3, std::nullopt, {.dtype = DType::Int64}), int_b = ones({3, 2}, {.dtype = DType::Int64});
  const Tensor m3_32 = eye(3, std::nullopt, {.dtype = DType::Float32});
  const Tensor tall = ones({4, 3}, f64), wide = ones({3, 5}, f64), tau3 = ones({3}, f64);
  const Tensor c4 = ones({4, 2}, f64);
  struct Refusal {
    const char* what;
    const char* op;
    std::function<void()> call;
  };
  const std::vector<Refusal> refusals = {
      // 1-D inputs
      {"1-D B", "linalg.cholesky_solve", [&] { linalg::cholesky_solve(vector3, m3); }},
      {"1-D L", "linalg.cholesky_solve", [&] { linalg::cholesky_solve(b3, vector3); }},
      {"1-D L", "linalg.cholesky_inverse", [&] { linalg::cholesky_inverse(vector3); }},
      {"1-D A", "linalg.logdet", [&] { linalg::logdet(vector3); }},
      {"1-D A", "linalg.geqrf", [&] { linalg::geqrf(vector3); }},
      {"1-D A", "linalg.ormqr", [&] { linalg::ormqr(ones({4}, f64), tau3, c4); }},
      {"1-D C", "linalg.ormqr", [&] { linalg::ormqr(tall, tau3, ones({4}, f64)); }},
      // integer dtypes
      {"int64 B and L", "linalg.cholesky_solve", [&] { linalg::cholesky_solve(int_b, ints); }},
      {"int64 L", "linalg.cholesky_inverse", [&] { linalg::cholesky_inverse(ints); }},
      {"int64 A", "linalg.logdet", [&] { linalg::logdet(ints); }},
      {"int64 A", "linalg.geqrf", [&] { linalg::geqrf(ints); }},
      {"int64 A, tau and C", "linalg.ormqr",
       [&] {
         linalg::ormqr(ones({4, 3}, {.dtype = DType::Int64}), ones({3}, {.dtype = DType::Int64}),
                       ones({4, 2}, {.dtype = DType::Int64}));
       }},
      // float16 outside autocast
      {"float16 B and L", "linalg.cholesky_solve",
       [&] { linalg::cholesky_solve(cast(b3, DType::Float16), cast(m3, DType::Float16)); }},
      {"float16 L", "linalg.cholesky_inverse", [&] { linalg::cholesky_inverse(cast(m3, DType::Float16)); }},
      {"float16 A", "linalg.logdet", [&] { linalg::logdet(cast(m3, DType::Float16)); }},
      {"float16 A", "linalg.geqrf", [&] { linalg::geqrf(cast(m3, DType::Float16)); }},
      // mismatched dtypes
      {"B float32, L float64", "linalg.cholesky_solve", [&] { linalg::cholesky_solve(cast(b3, DType::Float32), m3); }},
      {"B float64, L float32", "linalg.cholesky_solve", [&] { linalg::cholesky_solve(b3, m3_32); }},
      {"A float64, tau float32", "linalg.ormqr", [&] { linalg::ormqr(tall, cast(tau3, DType::Float32), c4); }},
      {"A float64, C float32", "linalg.ormqr", [&] { linalg::ormqr(tall, tau3, cast(c4, DType::Float32)); }},
      // cholesky_solve's shapes
      {"B with 4 rows for a 3 x 3 L", "linalg.cholesky_solve", [&] { linalg::cholesky_solve(ones({4, 2}, f64), m3); }},
      {"non-square L", "linalg.cholesky_solve", [&] { linalg::cholesky_solve(b3, ones({3, 4}, f64)); }},
      {"batch dims [3] and [2]", "linalg.cholesky_solve",
       [&] { linalg::cholesky_solve(ones({3, 3, 2}, f64), expand(m3, std::vector<int64_t>{2, 3, 3})); }},
      {"non-square L", "linalg.cholesky_inverse", [&] { linalg::cholesky_inverse(ones({3, 4}, f64)); }},
      {"non-square A", "linalg.logdet", [&] { linalg::logdet(ones({3, 4}, f64)); }},
      {"undefined B", "linalg.cholesky_solve", [&] { linalg::cholesky_solve(Tensor(), m3); }},
      {"undefined A", "linalg.geqrf", [&] { linalg::geqrf(Tensor()); }},
      // ormqr's shapes
      {"tau [4] for A 4 x 3", "linalg.ormqr", [&] { linalg::ormqr(tall, ones({4}, f64), c4); }},
      {"tau [4] for A 3 x 5", "linalg.ormqr", [&] { linalg::ormqr(wide, ones({4}, f64), ones({3, 2}, f64)); }},
      {"C with 5 rows for A with 4, left", "linalg.ormqr", [&] { linalg::ormqr(tall, tau3, ones({5, 2}, f64)); }},
      {"C with 3 columns for A with 4 rows, right", "linalg.ormqr",
       [&] { linalg::ormqr(tall, tau3, ones({2, 3}, f64), false); }},
      {"C with 2 columns, right, transpose", "linalg.ormqr", [&] { linalg::ormqr(tall, tau3, c4, false, true); }},
      {"tau batch [3] for A batch [2]", "linalg.ormqr",
       [&] { linalg::ormqr(ones({2, 4, 3}, f64), ones({3, 3}, f64), ones({2, 4, 2}, f64)); }},
      {"tau batch [2] for an unbatched A", "linalg.ormqr", [&] { linalg::ormqr(tall, ones({2, 3}, f64), c4); }},
      {"C batch [3] for A batch [2]", "linalg.ormqr",
       [&] { linalg::ormqr(ones({2, 4, 3}, f64), ones({2, 3}, f64), ones({3, 4, 2}, f64)); }},
      {"0-D tau", "linalg.ormqr", [&] { linalg::ormqr(tall, ones({}, f64), c4); }},
      {"undefined tau", "linalg.ormqr", [&] { linalg::ormqr(tall, Tensor(), c4); }},
  };
  for (const Refusal& r : refusals) {
    INFO(r.op << ": " << r.what);
    CHECK_THROWS_AS(r.call(), ember::Error);
    CHECK_THROWS_WITH(r.call(), Catch::Contains(r.op));
  }
}
