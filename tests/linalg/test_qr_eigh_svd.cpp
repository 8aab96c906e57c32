// linalg.qr, eigh, eigvalsh, svd and svdvals against PyTorch 1.13 (tests/linalg/spectral_reference.json,
// written by make_spectral_reference.py): values, first gradients and Hessian-vector products in
// float64 (for eigh and svd, of quantities that do not depend on the eigenvectors' signs, which
// differ from LAPACK's); reconstructions, orthonormality and the header's sign conventions; float32
// values; gradcheck and gradgradcheck; NaN inputs; and the calls refused with an ember::Error naming
// the op.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <ember/ops/decompositions.h>
#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

#include "tests/support/json_reference.h"

using namespace ember;
using json_ref::json;

namespace {

const json& reference() {
  static const json doc = json_ref::load(std::filesystem::path(__FILE__).parent_path(), "spectral_reference.json",
                                         "EMBER_SPECTRAL_REFERENCE");
  return doc;
}

Tensor stored(const json& c, const char* key, DType dtype = DType::Float64) {
  return json_ref::typed_tensor(c.at(key), dtype);
}

// |got - want| <= tol * max(1, max|want|) elementwise, shapes equal; empty when so.
std::string close(const Tensor& got, const json& want, double tol) { return json_ref::compare_scaled(got, want, 0, tol, 1); }

Tensor times_diag(const Tensor& x, const Tensor& c) { return x * unsqueeze(c, -2); }  // x diag(c)

// The largest |entry| of a - b (0 for empty tensors), for the identities checked below.
double max_abs_diff(const Tensor& a, const Tensor& b) {
  double worst = 0;
  const std::vector<double> x = contiguous(cast(a, DType::Float64)).to_vector<double>();
  const std::vector<double> y = contiguous(cast(b, DType::Float64)).to_vector<double>();
  REQUIRE(x.size() == y.size());
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

Tensor identity_like(const Tensor& square) {
  const int64_t n = square.size(-1);
  return expand(eye(n, std::nullopt, {.dtype = square.dtype()}), square.shape());
}

// Every column of x ([..., rows, cols]) has its first entry of largest magnitude positive.
bool columns_have_positive_largest_entry(const Tensor& x) {
  const int64_t rows = x.size(-2), cols = x.size(-1);
  const std::vector<double> v = contiguous(x).to_vector<double>();
  for (size_t base = 0; base < v.size(); base += rows * cols)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t largest = 0;
      for (int64_t r = 1; r < rows; ++r)
        if (std::abs(v[base + r * cols + c]) > std::abs(v[base + largest * cols + c])) largest = r;
      if (!(v[base + largest * cols + c] > 0)) return false;
    }
  return true;
}

// The gradient of loss(a) and the Hessian-vector product d/da sum(grad * v).
std::pair<Tensor, Tensor> grad_and_hvp(const std::function<Tensor(const Tensor&)>& loss, const Tensor& a, const Tensor& v) {
  const Tensor g = grad({loss(a)}, {a}, {}, {.create_graph = true})[0];
  const Tensor h = grad({sum(g * v)}, {a}, {}, {.allow_unused = true})[0];
  return {g, h.defined() ? h : zeros_like(a)};
}

linalg::QRMode qr_mode(const std::string& name) {
  return name == "complete" ? linalg::QRMode::Complete : name == "r" ? linalg::QRMode::R : linalg::QRMode::Reduced;
}

// The symmetric matrix eigh reads: A's lower (or upper) triangle mirrored.
Tensor symmetric_from(const Tensor& a, bool upper) {
  const Tensor t = upper ? triu(a) : tril(a);
  return t + t.mT() - times_diag(identity_like(a), diagonal(a, 0, -2, -1));
}

}  // namespace

TEST_CASE("linalg.qr matches PyTorch 1.13: Q, R, gradients and Hessian-vector products", "[linalg]") {
  for (const json& c : reference().at("qr")) {
    INFO(c.at("name").get<std::string>() << " (" << c.at("mode").get<std::string>() << ")");
    const linalg::QRMode mode = qr_mode(c.at("mode"));
    const Tensor a = stored(c, "input").requires_grad_();
    const auto [Q, R] = linalg::qr(a, mode);
    CHECK(close(Q, c.at("Q"), 1e-12) == "");
    CHECK(close(R, c.at("R"), 1e-12) == "");
    if (mode != linalg::QRMode::R && a.numel() > 0) {
      const Tensor A = a.detach();
      CHECK(max_abs_diff(matmul(Q, R), A) < 1e-12);
      const Tensor QtQ = matmul(Q.mT(), Q);
      CHECK(max_abs_diff(QtQ, identity_like(QtQ)) < 1e-12);
      CHECK(max_abs_diff(tril(R, -1), zeros_like(R)) == 0);  // exactly upper triangular
    }
    if (!c.contains("grad")) continue;
    const Tensor wQ = stored(c, "wQ"), wR = stored(c, "wR");
    const auto loss = [&](const Tensor& x) {
      const auto [q, r] = linalg::qr(x, mode);
      return sum(wQ * q) + sum(wR * r);
    };
    const auto [g, hvp] = grad_and_hvp(loss, a, stored(c, "v"));
    CHECK(close(g, c.at("grad"), 1e-10) == "");
    CHECK(close(hvp, c.at("hvp"), 1e-9) == "");
  }
}

TEST_CASE("linalg.eigh matches PyTorch 1.13 in every sign-independent quantity", "[linalg]") {
  for (const json& c : reference().at("eigh")) {
    INFO(c.at("name").get<std::string>());
    const bool upper = c.at("upper");
    const Tensor a = stored(c, "input").requires_grad_();
    const auto [L, V] = linalg::eigh(a, upper);
    CHECK(close(L, c.at("eigenvalues"), 1e-12) == "");
    const Tensor A = symmetric_from(a.detach(), upper);
    CHECK(max_abs_diff(matmul(times_diag(V, L), V.mT()), A) < 1e-12);
    CHECK(max_abs_diff(matmul(V.mT(), V), identity_like(V)) < 1e-12);
    CHECK(columns_have_positive_largest_entry(V));
    if (L.size(-1) > 1) CHECK(all(le(narrow(L, -1, 0, L.size(-1) - 1), narrow(L, -1, 1, L.size(-1) - 1))));
    if (!c.contains("projector")) continue;
    const Tensor weights = stored(c, "c");
    CHECK(close(matmul(times_diag(V, weights), V.mT()), c.at("projector"), 1e-12) == "");
    if (!c.contains("grad")) continue;
    const Tensor wL = stored(c, "wL"), W = stored(c, "W");
    const auto loss = [&](const Tensor& x) {
      const auto [l, v] = linalg::eigh(x, upper);
      return sum(wL * l) + sum(W * matmul(times_diag(v, weights), v.mT()));
    };
    const auto [g, hvp] = grad_and_hvp(loss, a, stored(c, "v"));
    CHECK(close(g, c.at("grad"), 1e-10) == "");
    CHECK(close(hvp, c.at("hvp"), 1e-9) == "");
  }
}

TEST_CASE("linalg.eigvalsh matches PyTorch 1.13, its gradient also at repeated eigenvalues", "[linalg]") {
  for (const json& c : reference().at("eigvalsh")) {
    INFO(c.at("name").get<std::string>());
    const bool upper = c.at("upper");
    const Tensor a = stored(c, "input").requires_grad_();
    CHECK(close(linalg::eigvalsh(a, upper), c.at("eigenvalues"), 1e-12) == "");
    const Tensor wL = stored(c, "wL");
    const auto loss = [&](const Tensor& x) { return sum(wL * linalg::eigvalsh(x, upper)); };
    if (c.contains("hvp")) {
      const auto [g, hvp] = grad_and_hvp(loss, a, stored(c, "v"));
      CHECK(close(g, c.at("grad"), 1e-10) == "");
      CHECK(close(hvp, c.at("hvp"), 1e-9) == "");
    } else {
      CHECK(close(grad({loss(a)}, {a})[0], c.at("grad"), 1e-10) == "");
    }
  }
}

TEST_CASE("linalg.svd matches PyTorch 1.13 in every sign-independent quantity", "[linalg]") {
  for (const json& c : reference().at("svd")) {
    INFO(c.at("name").get<std::string>());
    const bool full = c.at("full_matrices");
    const Tensor a = stored(c, "input").requires_grad_();
    const auto [U, S, Vh] = linalg::svd(a, full);
    const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n);
    CHECK(close(S, c.at("S"), 1e-12) == "");
    CHECK(U.size(-1) == (full ? m : k));
    CHECK(Vh.size(-2) == (full ? n : k));
    const Tensor Uk = narrow(U, -1, 0, k), Vhk = narrow(Vh, -2, 0, k);
    CHECK(max_abs_diff(matmul(times_diag(Uk, S), Vhk), a.detach()) < 1e-12);
    CHECK(max_abs_diff(matmul(U.mT(), U), identity_like(matmul(U.mT(), U))) < 1e-12);
    CHECK(max_abs_diff(matmul(Vh, Vh.mT()), identity_like(matmul(Vh, Vh.mT()))) < 1e-12);
    CHECK(columns_have_positive_largest_entry(U));
    if (k > 1) CHECK(all(ge(narrow(S, -1, 0, k - 1), narrow(S, -1, 1, k - 1))));
    CHECK(all(ge(S, Scalar(0))));
    if (!c.contains("USVh")) continue;
    const Tensor c1 = stored(c, "c1"), c2 = stored(c, "c2"), c3 = stored(c, "c3");
    CHECK(close(matmul(times_diag(Uk, c1), Vhk), c.at("USVh"), 1e-12) == "");
    CHECK(close(matmul(times_diag(Uk, c2), Uk.mT()), c.at("UUt"), 1e-12) == "");
    CHECK(close(matmul(times_diag(Vhk.mT(), c3), Vhk), c.at("VVt"), 1e-12) == "");
    if (!c.contains("grad")) continue;
    const Tensor wS = stored(c, "wS"), W1 = stored(c, "W1"), W2 = stored(c, "W2"), W3 = stored(c, "W3");
    const auto loss = [&](const Tensor& x) {
      const auto [u_all, s, vh_all] = linalg::svd(x, full);
      const Tensor u = narrow(u_all, -1, 0, k), vh = narrow(vh_all, -2, 0, k);
      return sum(wS * s) + sum(W1 * matmul(times_diag(u, c1), vh)) + sum(W2 * matmul(times_diag(u, c2), u.mT())) +
             sum(W3 * matmul(times_diag(vh.mT(), c3), vh));
    };
    const auto [g, hvp] = grad_and_hvp(loss, a, stored(c, "v"));
    CHECK(close(g, c.at("grad"), 1e-10) == "");
    CHECK(close(hvp, c.at("hvp"), 1e-9) == "");
  }
}

TEST_CASE("linalg.svdvals matches PyTorch 1.13, its gradient also at repeated and zero singular values", "[linalg]") {
  for (const json& c : reference().at("svdvals")) {
    INFO(c.at("name").get<std::string>());
    const Tensor a = stored(c, "input").requires_grad_();
    CHECK(close(linalg::svdvals(a), c.at("S"), 1e-12) == "");
    const Tensor wS = stored(c, "wS");
    const auto loss = [&](const Tensor& x) { return sum(wS * linalg::svdvals(x)); };
    if (c.contains("hvp")) {
      const auto [g, hvp] = grad_and_hvp(loss, a, stored(c, "v"));
      CHECK(close(g, c.at("grad"), 1e-10) == "");
      CHECK(close(hvp, c.at("hvp"), 1e-9) == "");
    } else {
      CHECK(close(grad({loss(a)}, {a})[0], c.at("grad"), 1e-10) == "");
    }
  }
}

// float32 inputs are factored in float64 and rounded: within a few float32 ulps of the float64 result.
TEST_CASE("float32 results are within 1e-5 of PyTorch's float64 ones, in float32", "[linalg]") {
  const double tol = 1e-5;
  for (const json& c : reference().at("qr")) {
    INFO("qr " << c.at("name").get<std::string>());
    const auto [Q, R] = linalg::qr(stored(c, "input", DType::Float32), qr_mode(c.at("mode")));
    CHECK(R.dtype() == DType::Float32);
    CHECK(close(Q, c.at("Q"), tol) == "");
    CHECK(close(R, c.at("R"), tol) == "");
  }
  for (const json& c : reference().at("eigh")) {
    INFO("eigh " << c.at("name").get<std::string>());
    const auto [L, V] = linalg::eigh(stored(c, "input", DType::Float32), c.at("upper"));
    CHECK((L.dtype() == DType::Float32 && V.dtype() == DType::Float32));
    CHECK(close(L, c.at("eigenvalues"), tol) == "");
    if (c.contains("projector"))
      CHECK(close(matmul(times_diag(V, stored(c, "c", DType::Float32)), V.mT()), c.at("projector"), tol) == "");
  }
  for (const json& c : reference().at("svd")) {
    INFO("svd " << c.at("name").get<std::string>());
    const Tensor a = stored(c, "input", DType::Float32);
    const auto [U, S, Vh] = linalg::svd(a, c.at("full_matrices"));
    CHECK(S.dtype() == DType::Float32);
    CHECK(close(S, c.at("S"), tol) == "");
    CHECK(close(linalg::svdvals(a), c.at("S"), tol) == "");
    if (!c.contains("USVh")) continue;
    const int64_t k = S.size(-1);
    CHECK(close(matmul(times_diag(narrow(U, -1, 0, k), stored(c, "c1", DType::Float32)), narrow(Vh, -2, 0, k)),
                c.at("USVh"), tol) == "");
  }
}

// Entries near 1e198 or 1e-198 square to overflow or underflow; the Jacobi methods scale the matrix
// first. Scaling by a power of two is exact, so the results are PyTorch's scaled.
TEST_CASE("eigh and svd of matrices with entries near 1e198 and 1e-198 neither overflow nor underflow", "[linalg]") {
  const json* eigh_case = nullptr;
  const json* svd_case = nullptr;
  for (const json& c : reference().at("eigh"))
    if (c.at("name") == "4 x 4 lower") eigh_case = &c;
  for (const json& c : reference().at("svd"))
    if (c.at("name") == "tall") svd_case = &c;
  REQUIRE((eigh_case && svd_case));
  for (int exponent : {658, -658}) {
    INFO("scaled by 2^" << exponent);
    const double factor = std::ldexp(1.0, exponent);
    const auto [L, V] = linalg::eigh(stored(*eigh_case, "input") * factor);
    CHECK(close(L / factor, eigh_case->at("eigenvalues"), 1e-12) == "");
    CHECK(close(matmul(times_diag(V, stored(*eigh_case, "c")), V.mT()), eigh_case->at("projector"), 1e-12) == "");
    const auto [U, S, Vh] = linalg::svd(stored(*svd_case, "input") * factor, false);
    CHECK(close(S / factor, svd_case->at("S"), 1e-12) == "");
    CHECK(close(matmul(times_diag(U, stored(*svd_case, "c1")), Vh), svd_case->at("USVh"), 1e-12) == "");
  }
}

// Found by a red-team review: an entry of 2^1023 or more made the power-of-two scale 2^1024 = inf,
// and every eigenvalue and singular value NaN.
TEST_CASE("eigh and svd of matrices with entries of 2^1023 and more", "[linalg]") {
  const Tensor a = from_vector(std::vector<double>{1e308, 1e307, -3e306, 1e307, 5e307, 2e307, -3e306, 2e307, 9e307},
                               std::vector<int64_t>{3, 3}, {.dtype = DType::Float64});
  const double factor = 0x1p-10;  // the same matrix 1024 times smaller: exact, and far from overflow
  const auto close_to_scaled = [&](const Tensor& big, const Tensor& small) {
    const auto x = big.to_vector<double>(), y = small.to_vector<double>();
    REQUIRE(x.size() == y.size());
    for (size_t i = 0; i < x.size(); ++i) CHECK(std::abs(x[i] * factor - y[i]) <= 1e-14 * std::abs(y[0]) + 1e-300);
  };
  close_to_scaled(linalg::eigvalsh(a), linalg::eigvalsh(a * factor));
  close_to_scaled(linalg::svdvals(a), linalg::svdvals(a * factor));
  const auto [L, V] = linalg::eigh(a);
  const auto [L_small, V_small] = linalg::eigh(a * factor);
  close_to_scaled(L, L_small);
  CHECK(amax(abs(abs(V) - abs(V_small))).item<double>() <= 1e-14);
  const Tensor one = full({1, 1}, 9e307, {.dtype = DType::Float64});
  CHECK(linalg::svdvals(one).to_vector<double>() == std::vector<double>{9e307});
  // A singular value beyond the largest double is inf, not NaN.
  const auto s = linalg::svdvals(full({2, 2}, 1.5e308, {.dtype = DType::Float64})).to_vector<double>();
  CHECK(s[0] == std::numeric_limits<double>::infinity());
  CHECK(s[1] == 0.0);
}

TEST_CASE("gradcheck and gradgradcheck pass for qr, eigh, eigvalsh, svd and svdvals in float64", "[linalg]") {
  Generator gen(7);
  const auto input = [&](int64_t rows, int64_t cols) {
    return randn({rows, cols}, {.dtype = DType::Float64}, &gen).requires_grad_();
  };
  // Symmetric with well separated eigenvalues (1, 2.5, 4.5 rotated), plus a random perturbation.
  const Tensor sym_input =
      from_vector(std::vector<double>{1, 0.3, -0.2, 0.1, 2.5, 0.4, 0.5, -0.3, 4.5}, {3, 3}).requires_grad_();
  const Tensor weights = from_vector(std::vector<double>{0.7, -1.3, 2.1});
  const auto flat = [](const Tensor& x) { return reshape(x, std::vector<int64_t>{-1}); };
  struct Case {
    const char* name;
    testing::Fn f;
    Tensor x;
  };
  const std::vector<Case> cases = {
      {"qr tall", [&](const auto& x) { auto r = linalg::qr(x[0]); return cat({flat(r.Q), flat(r.R)}); }, input(4, 3)},
      {"qr wide", [&](const auto& x) { auto r = linalg::qr(x[0]); return cat({flat(r.Q), flat(r.R)}); }, input(2, 4)},
      {"qr complete wide",
       [&](const auto& x) { auto r = linalg::qr(x[0], linalg::QRMode::Complete); return cat({flat(r.Q), flat(r.R)}); },
       input(2, 3)},
      {"eigh",
       [&](const auto& x) {
         auto r = linalg::eigh((x[0] + x[0].mT()) * 0.5);
         return cat({r.eigenvalues, flat(matmul(times_diag(r.eigenvectors, weights), r.eigenvectors.mT()))});
       },
       sym_input},
      {"eigvalsh", [&](const auto& x) { return linalg::eigvalsh((x[0] + x[0].mT()) * 0.5); }, sym_input},
      {"svd tall",
       [&](const auto& x) {
         auto r = linalg::svd(x[0], false);
         return cat({r.S, flat(matmul(times_diag(r.U, weights), r.Vh)), flat(matmul(times_diag(r.U, weights), r.U.mT()))});
       },
       input(4, 3)},
      {"svd wide, full_matrices (narrowed in backward)",
       [&](const auto& x) {
         auto r = linalg::svd(x[0], true);
         const Tensor vh = narrow(r.Vh, -2, 0, 3);
         return cat({r.S, flat(matmul(times_diag(r.U, weights), vh)), flat(matmul(times_diag(vh.mT(), weights), vh))});
       },
       input(3, 4)},
      {"svdvals", [&](const auto& x) { return linalg::svdvals(x[0]); }, input(3, 4)},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(testing::gradcheck(c.f, {c.x}) == "");
    CHECK(testing::gradgradcheck(c.f, {c.x}) == "");
  }
}

TEST_CASE("a NaN input returns at once: NaN from eigh and qr, an error from svd (as PyTorch 1.13)", "[linalg]") {
  const json& nan_case = reference().at("nan");
  const Tensor a = stored(nan_case, "input");  // NaN in the lower triangle, which eigh reads
  // eigh: PyTorch returns NaN eigenvalues; ember makes the eigenvectors NaN too (PyTorch's vary).
  const auto [L, V] = linalg::eigh(a);
  CHECK(close(L, nan_case.at("eigvalsh"), 0) == "");
  CHECK(all(isnan(V)));
  CHECK(close(linalg::eigvalsh(a), nan_case.at("eigvalsh"), 0) == "");
  // Read from the upper triangle, the NaN is not seen, as in LAPACK.
  CHECK(all(isfinite(linalg::eigvalsh(a, /*upper=*/true))));
  // qr: NaN where PyTorch has NaN (its R: NaN except the zero below the diagonal).
  CHECK(close(linalg::qr(a).R, nan_case.at("qr_R"), 1e-12) == "");
  // svd: PyTorch says "linalg.svd: ... the input matrix contained non-finite values".
  CHECK(nan_case.at("svd_error").get<std::string>().find("non-finite") != std::string::npos);
  REQUIRE_THROWS_WITH(linalg::svd(a), Catch::Contains("linalg.svd") && Catch::Contains("non-finite"));
  REQUIRE_THROWS_WITH(linalg::svdvals(a), Catch::Contains("linalg.svdvals") && Catch::Contains("non-finite"));
  const Tensor inf_batch = stack({eye(2, std::nullopt, {.dtype = DType::Float64}), a * INFINITY});
  REQUIRE_THROWS_WITH(linalg::svd(inf_batch), Catch::Contains("batch entry 1"));
}

TEST_CASE("gradients of empty inputs are empty zeros", "[linalg]") {
  const Tensor a = zeros({2, 0, 3}, {.dtype = DType::Float64}).requires_grad_();
  const auto [Q, R] = linalg::qr(a);
  CHECK(grad({sum(R) + sum(Q)}, {a})[0].shape() == a.shape());
  const auto [U, S, Vh] = linalg::svd(a, false);
  CHECK(grad({sum(S) + sum(U) + sum(Vh)}, {a})[0].shape() == a.shape());
  const Tensor square = zeros({0, 2, 2}, {.dtype = DType::Float64}).requires_grad_();
  const auto [L, V] = linalg::eigh(square);
  CHECK(grad({sum(L) + sum(V)}, {square})[0].shape() == square.shape());
}

TEST_CASE("linalg.qr, eigh, eigvalsh, svd and svdvals refuse bad calls with an error naming the op", "[linalg]") {
  const Tensor good = from_vector(std::vector<double>{2, 1, 1, 3}, {2, 2});
  const Tensor int64 = from_vector(std::vector<int64_t>{2, 1, 1, 3}, {2, 2});
  const Tensor half = cast(good, DType::Float16);
  const Tensor vector = from_vector(std::vector<double>{1, 2});
  const Tensor wide = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  struct Op {
    const char* name;
    std::function<void(const Tensor&)> call;
    bool square;
  };
  const std::vector<Op> ops = {
      {"linalg.qr", [](const Tensor& x) { linalg::qr(x); }, false},
      {"linalg.eigh", [](const Tensor& x) { linalg::eigh(x); }, true},
      {"linalg.eigvalsh", [](const Tensor& x) { linalg::eigvalsh(x); }, true},
      {"linalg.svd", [](const Tensor& x) { linalg::svd(x); }, false},
      {"linalg.svdvals", [](const Tensor& x) { linalg::svdvals(x); }, false},
  };
  for (const Op& op : ops) {
    INFO(op.name);
    REQUIRE_THROWS_WITH(op.call(Tensor()), Catch::Contains(op.name) && Catch::Contains("undefined"));
    REQUIRE_THROWS_WITH(op.call(int64), Catch::Contains(op.name) && Catch::Contains("int64"));
    REQUIRE_THROWS_WITH(op.call(half), Catch::Contains(op.name) && Catch::Contains("autocast"));
    REQUIRE_THROWS_WITH(op.call(vector), Catch::Contains(op.name) && Catch::Contains("[2]"));
    if (op.square) REQUIRE_THROWS_WITH(op.call(wide), Catch::Contains(op.name) && Catch::Contains("square"));
    else CHECK_NOTHROW(op.call(wide));
  }
  // Backward in the modes PyTorch cannot differentiate: refused when backward runs, as PyTorch does
  // ("The derivative of linalg.qr depends on Q, which is not computed when mode='r'", "The QR
  // decomposition is not differentiable when mode='complete' and nrows > ncols"); the forward works.
  const Tensor tall = from_vector(std::vector<double>{1, 2, 3, 4, 5, 7}, {3, 2}).requires_grad_();
  const Tensor r_only = linalg::qr(tall, linalg::QRMode::R).R;
  REQUIRE_THROWS_WITH(grad({sum(r_only)}, {tall}), Catch::Contains("linalg.qr") && Catch::Contains("mode is R"));
  const auto complete = linalg::qr(tall, linalg::QRMode::Complete);
  REQUIRE_THROWS_WITH(grad({sum(complete.R)}, {tall}), Catch::Contains("linalg.qr") && Catch::Contains("Complete"));
  // Complete with rows <= cols is differentiable (Q is square and determined by A).
  const Tensor wide_leaf = clone(wide).requires_grad_();
  CHECK(grad({sum(linalg::qr(wide_leaf, linalg::QRMode::Complete).Q)}, {wide_leaf})[0].defined());
}

// Found by the differential review: one-sided Jacobi did not converge on many rank-deficient matrices
// (a column of pure rounding noise never passed the relative orthogonality test), so svd, svdvals and
// det's gradient at a singular matrix threw. PyTorch 1.13's singular values of the first matrix, and
// its cofactor matrix from the 2 x 2 minors (PyTorch's own det gradient there is 0, which is wrong).
TEST_CASE("svd converges on rank-deficient matrices, and det's gradient there is the cofactor matrix", "[linalg]") {
  const Tensor a = from_vector<double>({1, 2, 3, 2, 4, 6, 1, 0, 1}, {3, 3});
  for (const Tensor& m : {a, a.mT()}) {
    const std::vector<double> s = linalg::svdvals(m).to_vector<double>();
    CHECK(s[0] == Approx(8.435448515787048).epsilon(1e-14));
    CHECK(s[1] == Approx(0.9182637624920782).epsilon(1e-14));
    CHECK(std::abs(s[2]) < 1e-14);
  }
  const Tensor leaf = clone(a).requires_grad_();
  const std::vector<double> cofactors = grad({linalg::det(leaf)}, {leaf})[0].to_vector<double>();
  const std::vector<double> want = {4, 4, -4, -2, -2, 2, 0, 0, 0};
  for (size_t i = 0; i < want.size(); ++i) CHECK(cofactors[i] == Approx(want[i]).margin(1e-13));

  // Random matrices whose second row is twice the first, 2 x 2 to 7 x 7 and batched: every one
  // factors, with A = U diag(S) Vh and the smallest singular value at rounding level.
  Generator gen(20261204);
  for (int64_t n = 2; n <= 7; ++n) {
    INFO("n = " << n);
    Tensor x = randn({30, n, n}, {.dtype = DType::Float64}, &gen);
    x = cat({x.narrow(1, 0, 1), x.narrow(1, 0, 1) * 2.0, x.narrow(1, 2, n - 2)}, 1);
    const linalg::SVDResult usv = linalg::svd(x, false);
    const Tensor rebuilt = matmul(usv.U * unsqueeze(usv.S, -2), usv.Vh);
    CHECK(max(abs(rebuilt - x)).item<double>() < 1e-13);
    CHECK(max(abs(usv.S.narrow(-1, n - 1, 1))).item<double>() < 1e-14);
    const Tensor identity = eye(n, std::nullopt, {.dtype = DType::Float64});
    CHECK(max(abs(matmul(usv.U.mT(), usv.U) - identity)).item<double>() < 1e-13);
  }
}
