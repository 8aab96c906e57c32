// The two SVD methods behind linalg.svd (ops/linalg_svd_methods.h): one-sided Jacobi, the reference,
// and Golub-Kahan-Reinsch (bidiagonalisation, then implicit-shift QR), the fast one. Each must give
// B = L diag(S) R^T with orthonormal L and R and descending non-negative S, to rounding level, and the
// two must agree, on random tall matrices and on the ones that break SVD solvers (zero, repeated
// singular values, rank-deficient, bidiagonal inputs with zeros on the diagonal, which take the
// deflation branches, graded). The blocked bidiagonalisation against its step-by-step reference. Then
// svd itself on either side of the size where it switches.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <ember/ops/decompositions.h>
#include <ember/ops/linalg_svd_methods.h>
#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

using namespace ember;
using linalg::detail::TallSVD;

namespace {

using Matrix = linalg::detail::HostVector;  // row-major

Matrix random_matrix(int64_t p, int64_t q, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Matrix b(p * q);
  for (double& x : b) x = normal(rng) / 4;  // entries of magnitude about 1 at most, as svd passes them
  return b;
}

using Method = bool (*)(Matrix, int64_t, int64_t, int64_t, bool, TallSVD&);

TallSVD decompose(Method method, const Matrix& b, int64_t p, int64_t q, int64_t left_cols) {
  TallSVD out;
  REQUIRE(method(b, p, q, left_cols, true, out));
  REQUIRE(out.values.size() == static_cast<size_t>(q));
  REQUIRE(out.left.size() == static_cast<size_t>(p * left_cols));
  REQUIRE(out.right.size() == static_cast<size_t>(q * q));
  return out;
}

// Empty when |B - L diag(S) R^T| <= tol max(1, S_0) entrywise, L^T L = I (p x left_cols) and
// R^T R = I within tol, and S is non-negative and descending; otherwise the first failure.
std::string check_decomposition(const Matrix& b, int64_t p, int64_t q, int64_t left_cols, const TallSVD& d,
                                double tol) {
  const double scale = std::max(1.0, q > 0 ? d.values[0] : 0.0);
  for (int64_t j = 0; j < q; ++j) {
    if (d.values[j] < 0) return "negative singular value " + std::to_string(j);
    if (j > 0 && d.values[j] > d.values[j - 1]) return "singular values out of order at " + std::to_string(j);
  }
  for (int64_t r = 0; r < p; ++r)
    for (int64_t c = 0; c < q; ++c) {
      double sum = 0;
      for (int64_t j = 0; j < q; ++j) sum += d.left[r * left_cols + j] * d.values[j] * d.right[c * q + j];
      if (std::abs(sum - b[r * q + c]) > tol * scale)
        return "B != L S R^T at (" + std::to_string(r) + ", " + std::to_string(c) + "): " +
               std::to_string(sum - b[r * q + c]);
    }
  const auto orthonormal = [&](const Matrix& x, int64_t rows, int64_t cols, const char* name) -> std::string {
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        double dot = 0;
        for (int64_t r = 0; r < rows; ++r) dot += x[r * cols + i] * x[r * cols + j];
        if (std::abs(dot - (i == j ? 1.0 : 0.0)) > tol)
          return std::string(name) + "^T " + name + " != I at (" + std::to_string(i) + ", " + std::to_string(j) +
                 "): " + std::to_string(dot);
      }
    return "";
  };
  if (auto failure = orthonormal(d.left, p, left_cols, "L"); !failure.empty()) return failure;
  return orthonormal(d.right, q, q, "R");
}

// Both methods decompose b, each is checked, their singular values agree, and where a singular value
// is apart from the others (by more than `gap` of S_0) the two give the same vectors up to sign.
void check_both(const Matrix& b, int64_t p, int64_t q, int64_t left_cols, double tol = 1e-12, double gap = 1e-3) {
  const TallSVD jacobi = decompose(linalg::detail::tall_svd_jacobi, b, p, q, left_cols);
  const TallSVD golub_kahan = decompose(linalg::detail::tall_svd_golub_kahan, b, p, q, left_cols);
  CHECK(check_decomposition(b, p, q, left_cols, jacobi, tol) == "");
  CHECK(check_decomposition(b, p, q, left_cols, golub_kahan, tol) == "");
  const double scale = std::max(1.0, q > 0 ? jacobi.values[0] : 0.0);
  for (int64_t j = 0; j < q; ++j) CHECK(std::abs(jacobi.values[j] - golub_kahan.values[j]) <= tol * scale);
  for (int64_t j = 0; j < q; ++j) {
    const double s = jacobi.values[j];
    const bool apart = (j == 0 || jacobi.values[j - 1] - s > gap * scale) &&
                       (j + 1 == q || s - jacobi.values[j + 1] > gap * scale) && s > gap * scale;
    if (!apart) continue;
    double dot = 0;
    for (int64_t r = 0; r < q; ++r) dot += jacobi.right[r * q + j] * golub_kahan.right[r * q + j];
    const double sign = dot < 0 ? -1 : 1;
    double worst = 0;
    for (int64_t r = 0; r < q; ++r)
      worst = std::max(worst, std::abs(jacobi.right[r * q + j] - sign * golub_kahan.right[r * q + j]));
    for (int64_t r = 0; r < p; ++r)
      worst = std::max(worst, std::abs(jacobi.left[r * left_cols + j] - sign * golub_kahan.left[r * left_cols + j]));
    INFO("singular vectors " << j);
    CHECK(worst <= 1e-9);  // a vector's error is about eps / (its gap): 2e-13 at a gap of 1e-3
  }
}

// An upper bidiagonal q x q matrix: reduction leaves it as it is, so zeros on its diagonal reach the
// QR iteration exactly.
Matrix bidiagonal(const std::vector<double>& diagonal, const std::vector<double>& superdiagonal) {
  const int64_t q = static_cast<int64_t>(diagonal.size());
  Matrix b(q * q, 0.0);
  for (int64_t i = 0; i < q; ++i) {
    b[i * q + i] = diagonal[i];
    if (i + 1 < q) b[i * q + i + 1] = superdiagonal[i];
  }
  return b;
}

}  // namespace

TEST_CASE("Jacobi and Golub-Kahan agree and decompose random tall matrices", "[linalg][svd-methods]") {
  struct Size {
    int64_t p, q;
  };
  // Golub-Kahan factors B = Q R first from p = 1.6 q (64 x 40 is the first such height for 40 columns,
  // 63 x 40 the last without).
  for (const Size s : std::vector<Size>{{1, 1}, {2, 2}, {3, 2}, {5, 5}, {7, 7}, {8, 8}, {9, 8}, {20, 8}, {13, 13},
                                        {33, 17}, {40, 40}, {63, 40}, {64, 40}, {64, 64}, {100, 70}, {100, 20},
                                        {300, 8}, {97, 97}, {120, 100}, {200, 161}}) {
    for (uint64_t seed : {1u, 2u}) {
      for (const int64_t left_cols : {s.q, s.p}) {
        INFO(s.p << " x " << s.q << ", " << left_cols << " left columns, seed " << seed);
        check_both(random_matrix(s.p, s.q, 100 * s.p + s.q + seed), s.p, s.q, left_cols);
      }
    }
  }
}

TEST_CASE("Jacobi and Golub-Kahan on the matrices that break SVD solvers", "[linalg][svd-methods]") {
  const int64_t n = 12;
  SECTION("zero") { check_both(Matrix(n * n, 0.0), n, n, n); }
  SECTION("a multiple of the identity: one singular value, repeated") {
    Matrix b(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i) b[i * n + i] = -0.5;
    check_both(b, n, n, n);
  }
  SECTION("rank one, tall: u v^T") {
    const int64_t p = 18;
    Matrix b(p * n);
    for (int64_t i = 0; i < p; ++i)
      for (int64_t j = 0; j < n; ++j) b[i * n + j] = 0.05 * (i + 1) * 0.04 * (n - j);
    check_both(b, p, n, p);
    TallSVD d;
    REQUIRE(linalg::detail::tall_svd_golub_kahan(b, p, n, p, false, d));
    double u2 = 0, v2 = 0;
    for (int64_t i = 0; i < p; ++i) u2 += 0.05 * (i + 1) * 0.05 * (i + 1);
    for (int64_t j = 0; j < n; ++j) v2 += 0.04 * (n - j) * 0.04 * (n - j);
    CHECK(std::abs(d.values[0] - std::sqrt(u2 * v2)) <= 1e-14 * std::sqrt(u2 * v2));
    for (int64_t j = 1; j < n; ++j) CHECK(d.values[j] <= 1e-15 * std::sqrt(u2 * v2));
  }
  SECTION("rank-deficient: the second row twice the first, two equal columns") {
    Matrix b = random_matrix(n, n, 5);
    for (int64_t j = 0; j < n; ++j) b[n + j] = 2 * b[j];
    for (int64_t i = 0; i < n; ++i) b[i * n + 3] = b[i * n + 7];
    check_both(b, n, n, n);
  }
  SECTION("rank-deficient and tall (through QR): two equal columns and one zero column") {
    const int64_t p = 3 * n;
    Matrix b = random_matrix(p, n, 6);
    for (int64_t i = 0; i < p; ++i) {
      b[i * n + 2] = b[i * n + 9];
      b[i * n + 5] = 0;
    }
    check_both(b, p, n, p);
  }
  SECTION("diagonal with repeats and signs, out of order") {
    Matrix b(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i) b[i * n + i] = static_cast<double>((i * 7) % 5) / 4 - 0.5;
    check_both(b, n, n, n);
  }
  SECTION("bidiagonal with a zero last diagonal entry (deflation from the right)") {
    check_both(bidiagonal({0.9, -0.5, 0.7, 0.3, 0.8, 0.6, -0.4, 0.2, 0.0}, {0.3, 0.2, -0.4, 0.1, 0.5, 0.25, 0.3, 0.6}),
               9, 9, 9);
  }
  SECTION("bidiagonal with zeros inside the diagonal (a split by rotations from the left)") {
    check_both(bidiagonal({0.9, 0.5, 0.0, 0.3, 0.8, 0.6, 0.0, 0.2, 0.7}, {0.3, 0.2, 0.4, -0.1, 0.5, 0.25, 0.3, 0.6}),
               9, 9, 9);
  }
  SECTION("bidiagonal with a zero superdiagonal entry (already split)") {
    check_both(bidiagonal({0.9, 0.5, 0.4, 0.3, 0.8, 0.6, 0.1, 0.2, 0.7}, {0.3, 0.2, 0.0, -0.1, 0.5, 0.0, 0.3, 0.6}),
               9, 9, 9);
  }
  SECTION("tall, with the bidiagonal's zeros: deflations on p > q rows and the full left basis") {
    // The q x q bidiagonal over three zero rows: the reduction leaves it as it is.
    for (const std::vector<double>& diagonal : {std::vector<double>{0.9, -0.5, 0.7, 0.3, 0.8, 0.6, -0.4, 0.2, 0.0},
                                                std::vector<double>{0.9, 0.5, 0.0, 0.3, 0.8, 0.6, 0.0, 0.2, 0.7}}) {
      const Matrix square = bidiagonal(diagonal, {0.3, 0.2, -0.4, 0.1, 0.5, 0.25, 0.3, 0.6});
      Matrix b(12 * 9, 0.0);
      std::copy(square.begin(), square.end(), b.begin());
      check_both(b, 12, 9, 12);
    }
  }
  SECTION("bidiagonal near underflow: a block whose relative tests would round to 0") {
    check_both(bidiagonal({0.75, 3e-308, 1e-308, 2e-308, 5e-309, 1e-308, 4e-308, 2e-308},
                          {1e-308, 2e-308, 1e-308, 3e-308, 1e-308, 2e-308, 1e-308}),
               8, 8, 8);
  }
  SECTION("graded: singular values from 1 down to 1e-12") {
    // U diag(10^(-12 j / (n - 1))) V^T with U, V from two random matrices' Jacobi SVDs
    TallSVD u, v;
    REQUIRE(linalg::detail::tall_svd_jacobi(random_matrix(n, n, 11), n, n, n, true, u));
    REQUIRE(linalg::detail::tall_svd_jacobi(random_matrix(n, n, 12), n, n, n, true, v));
    Matrix b(n * n, 0.0);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < n; ++c)
        for (int64_t j = 0; j < n; ++j)
          b[r * n + c] += u.left[r * n + j] * std::pow(10.0, -12.0 * j / (n - 1)) * v.right[c * n + j];
    check_both(b, n, n, n);
  }
  SECTION("graded bidiagonals from 1e-200 to 1: the QR iteration converges") {
    // Found by a red-team review: the relative tests alone ran out of iterations here ("did not
    // converge"); entries below float64's rounding of |B| are now negligible too.
    for (int64_t q : {20, 40, 64})
      for (double decades : {100.0, 200.0, 300.0}) {
        INFO("q " << q << " decades " << decades);
        std::vector<double> diagonal(q), superdiagonal(q - 1);
        for (int64_t i = 0; i < q; ++i) diagonal[i] = std::pow(10.0, -decades + decades * i / (q - 1));
        for (int64_t i = 0; i + 1 < q; ++i) superdiagonal[i] = diagonal[i];
        check_both(bidiagonal(diagonal, superdiagonal), q, q, q);
      }
  }
  SECTION("one column, and 0 columns") {
    check_both(random_matrix(6, 1, 3), 6, 1, 6);
    TallSVD d;
    REQUIRE(linalg::detail::tall_svd_golub_kahan({}, 4, 0, 4, true, d));
    CHECK(d.values.empty());
    CHECK(d.right.empty());
    CHECK(check_decomposition({}, 4, 0, 4, d, 1e-15) == "");  // L is a whole orthonormal basis
  }
}

// Found by review: the QR iteration's relative tests round to 0 on a rank-deficient block of entries
// near 1e-295 (its rounding noise is subnormal), so svd threw "did not converge"; and Householder
// reflectors of subnormal columns were not orthogonal (dlarfg scales such a column up first).
TEST_CASE("svd and qr of matrices with entries near underflow", "[linalg][svd-methods]") {
  const int64_t n = 16;
  std::vector<double> values(n * n, 0.0);
  values[0] = 1;
  for (int64_t r = 1; r < n; ++r)
    for (int64_t c = 1; c < n; ++c) values[r * n + c] = 1e-295 * static_cast<double>((7 * r + 3 * c) % 11 - 5);
  const Tensor a = from_vector(values, {n, n});
  const auto [U, S, Vh] = linalg::svd(a, false);
  const Tensor identity = eye(n, std::nullopt, {.dtype = DType::Float64});
  CHECK(S[0].item<double>() == 1.0);
  CHECK(max(abs(matmul(U * unsqueeze(S, -2), Vh) - a)).item<double>() < 1e-15);
  CHECK(max(abs(matmul(U.mT(), U) - identity)).item<double>() < 1e-13);
  CHECK(max(abs(matmul(Vh, Vh.mT()) - identity)).item<double>() < 1e-13);

  // QR of a matrix of subnormals: Q orthogonal, and Q R = A to A's own scale.
  for (const double scale : {1e-300, 1e-315, 1e-320}) {
    INFO("scale " << scale);
    Generator gen(17);
    const Tensor m = randn({6, 4}, {.dtype = DType::Float64}, &gen);
    const Tensor tiny = m * scale;
    const auto [Q, R] = linalg::qr(tiny);
    CHECK(max(abs(matmul(Q.mT(), Q) - eye(4, std::nullopt, {.dtype = DType::Float64}))).item<double>() < 1e-13);
    // Entries near 1e-320 carry a few significant bits: compare Q R with A in units of A's largest entry.
    const double largest = max(abs(tiny)).item<double>();
    const double bits_kept = scale < 1e-310 ? 1e-3 : 1e-14;
    CHECK(max(abs(matmul(Q, R) - tiny)).item<double>() <= bits_kept * largest);
  }
}

namespace {

// How far Q_L Bd Q_R^T is from B, and Q_L and Q_R from orthogonal (largest entry of each
// difference), for the output of a bidiagonalisation of the p x q matrix b.
struct ReductionErrors {
  double reconstruction = 0, left_orthogonality = 0, right_orthogonality = 0;
  bool bidiagonal_in_place = true;  // a's diagonal and superdiagonal hold d and e, as documented
};
using Reduction = void (*)(Matrix&, int64_t, int64_t, Matrix&, Matrix&, Matrix&, Matrix&);
ReductionErrors reduction_errors(Reduction reduce, const Matrix& b, int64_t p, int64_t q) {
  Matrix a = b, d, e, tau_left, tau_right;
  reduce(a, p, q, d, e, tau_left, tau_right);
  Matrix left(p * q), right(q * q, 0.0);
  linalg::detail::form_householder_q(a.data(), p, q, tau_left.data(), q, left.data(), q);
  // Q_R = diag(1, Q'), Q' formed from right reflector k's vector, kept right of the superdiagonal in
  // row k, as the column k below the diagonal of a (q - 1) x (q - 1) packed QR.
  const int64_t n = q - 1;
  Matrix packed(n * n, 0.0), inner(n * n);
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = k + 1; i < n; ++i) packed[i * n + k] = a[k * q + i + 1];
  linalg::detail::form_householder_q(packed.data(), n, n, tau_right.data(), n, inner.data(), n);
  right[0] = 1;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) right[(r + 1) * q + c + 1] = inner[r * n + c];
  ReductionErrors errors;
  for (int64_t k = 0; k < q; ++k)
    if (a[k * q + k] != d[k] || (k + 1 < q && a[k * q + k + 1] != e[k])) errors.bidiagonal_in_place = false;
  for (int64_t r = 0; r < p; ++r)
    for (int64_t c = 0; c < q; ++c) {
      double sum = 0;  // (Q_L Bd Q_R^T)[r, c], Bd's row k holding d_k at k and e_k at k + 1
      for (int64_t k = 0; k < q; ++k)
        sum += left[r * q + k] * (d[k] * right[c * q + k] + (k + 1 < q ? e[k] * right[c * q + k + 1] : 0.0));
      errors.reconstruction = std::max(errors.reconstruction, std::abs(sum - b[r * q + c]));
    }
  auto orthogonality = [](const Matrix& m, int64_t rows, int64_t cols) {
    double worst = 0;
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        double dot = 0;
        for (int64_t r = 0; r < rows; ++r) dot += m[r * cols + i] * m[r * cols + j];
        worst = std::max(worst, std::abs(dot - (i == j ? 1.0 : 0.0)));
      }
    return worst;
  };
  errors.left_orthogonality = orthogonality(left, p, q);
  errors.right_orthogonality = orthogonality(right, q, q);
  return errors;
}

}  // namespace

TEST_CASE("the blocked bidiagonalisation agrees with the step-by-step reference", "[linalg][svd-methods]") {
  // Blocked while more than 64 columns are left, by panels of 32: 80 columns take one panel, 97 two,
  // 161 four, and the step-by-step loop the rest. The two round differently, and the bidiagonal is not
  // a well-conditioned function of B (its last entries differ by about 1e-12 between the two at
  // 200 x 161), so each is held to what Householder reduction guarantees, B = Q_L Bd Q_R^T with
  // orthogonal Q_L and Q_R to rounding (about q eps |B|, 3e-14 at 161 columns; both measure below
  // 4e-15 here), and the two to each other through the SVD.
  auto check = [](const Matrix& b, int64_t p, int64_t q) {
    for (const Reduction reduce : {&linalg::detail::bidiagonalize, &linalg::detail::bidiagonalize_unblocked}) {
      const ReductionErrors errors = reduction_errors(reduce, b, p, q);
      CHECK(errors.reconstruction <= 1e-13);
      CHECK(errors.left_orthogonality <= 1e-13);
      CHECK(errors.right_orthogonality <= 1e-13);
      CHECK(errors.bidiagonal_in_place);
    }
    check_both(b, p, q, q);
  };
  SECTION("random, square and tall") {
    for (const auto [p, q] : {std::pair<int64_t, int64_t>{80, 80}, {97, 97}, {130, 130}, {150, 110}, {200, 161}}) {
      INFO(p << " x " << q);
      check(random_matrix(p, q, 7 * p + q), p, q);
    }
  }
  SECTION("steps with nothing to reflect inside a panel (tau = 0 on both sides)") {
    // Block diagonal: a bidiagonal 40 x 40 block, then a random one. Steps 0..39 find their column
    // and row already reduced.
    const int64_t p = 150, q = 130, corner = 40;
    Matrix b(p * q, 0.0);
    const Matrix rest = random_matrix(p - corner, q - corner, 17);
    for (int64_t i = 0; i < corner; ++i) {
      b[i * q + i] = 1.0 + 0.01 * static_cast<double>(i);
      if (i + 1 < corner) b[i * q + i + 1] = 0.5;
    }
    for (int64_t r = corner; r < p; ++r)
      for (int64_t c = corner; c < q; ++c) b[r * q + c] = rest[(r - corner) * (q - corner) + c - corner];
    check(b, p, q);
    Matrix d, e, tau_left, tau_right;
    linalg::detail::bidiagonalize(b, p, q, d, e, tau_left, tau_right);
    for (int64_t i = 0; i < corner; ++i) {
      CHECK(tau_left[i] == 0);
      CHECK(tau_right[i] == 0);
      CHECK(d[i] == 1.0 + 0.01 * static_cast<double>(i));
    }
  }
  SECTION("rank-deficient") {
    // A zero column and a repeated column inside the first panel, a zero row: reflectors made of
    // rounding noise, in the rank-deficient directions.
    const int64_t p = 140, q = 120;
    Matrix b = random_matrix(p, q, 23);
    for (int64_t r = 0; r < p; ++r) {
      b[r * q + 5] = 0;
      b[r * q + 20] = b[r * q + 9];
    }
    for (int64_t c = 0; c < q; ++c) b[70 * q + c] = 0;
    check(b, p, q);
  }
}

TEST_CASE("Golub-Kahan without vectors gives the same singular values, bit for bit", "[linalg][svd-methods]") {
  // The rotations that build the vectors never feed back into the values.
  for (int64_t q : {1, 5, 8, 30}) {
    const int64_t p = q + 3;
    const Matrix b = random_matrix(p, q, 31 + q);
    TallSVD with, without;
    REQUIRE(linalg::detail::tall_svd_golub_kahan(b, p, q, q, true, with));
    REQUIRE(linalg::detail::tall_svd_golub_kahan(b, p, q, q, false, without));
    CHECK(with.values == without.values);
    CHECK(without.left.empty());
    CHECK(without.right.empty());
  }
}

TEST_CASE("linalg.svd on either side of the switch to Golub-Kahan", "[linalg][svd-methods]") {
  Generator gen(20261205);
  const int64_t n = linalg::detail::kGolubKahanFromSize;
  struct Shape2 {
    int64_t m, n;
  };
  for (const Shape2 s : std::vector<Shape2>{{n - 1, n - 1}, {n, n}, {n + 5, n}, {n, n + 5}, {n - 1, 20}, {20, n}}) {
    for (const bool full : {false, true}) {
      INFO(s.m << " x " << s.n << (full ? ", full_matrices" : ""));
      const Tensor a = randn({3, s.m, s.n}, {.dtype = DType::Float64}, &gen) * 1e3;
      const auto [U, S, Vh] = linalg::svd(a, full);
      const int64_t k = std::min(s.m, s.n);
      REQUIRE(U.size(-1) == (full ? s.m : k));
      REQUIRE(Vh.size(-2) == (full ? s.n : k));
      const Tensor rebuilt = matmul(narrow(U, -1, 0, k) * unsqueeze(S, -2), narrow(Vh, -2, 0, k));
      CHECK(max(abs(rebuilt - a)).item<double>() < 1e-12 * max(S).item<double>());
      const Tensor UtU = matmul(U.mT(), U), VVt = matmul(Vh, Vh.mT());
      CHECK(max(abs(UtU - eye(UtU.size(-1), std::nullopt, {.dtype = DType::Float64}))).item<double>() < 1e-13);
      CHECK(max(abs(VVt - eye(VVt.size(-1), std::nullopt, {.dtype = DType::Float64}))).item<double>() < 1e-13);
      CHECK(all(ge(narrow(S, -1, 0, k - 1), narrow(S, -1, 1, k - 1))));
      // The sign convention: the largest-magnitude entry of each column of U is positive.
      const Tensor largest_entry = gather(U, -2, unsqueeze(argmax(abs(U), -2), -2));
      CHECK(all(gt(largest_entry, Scalar(0))));
      // svdvals agrees with svd's S, and S with the singular values of A^T.
      CHECK(max(abs(linalg::svdvals(a) - S)).item<double>() <= 1e-12 * max(S).item<double>());
      CHECK(max(abs(linalg::svdvals(a.mT()) - S)).item<double>() <= 1e-12 * max(S).item<double>());
    }
  }
}

TEST_CASE("gradcheck and gradgradcheck pass for svd and svdvals of Golub-Kahan's sizes", "[linalg][svd-methods]") {
  Generator gen(8);
  const int64_t n = linalg::detail::kGolubKahanFromSize;
  const Tensor tall = randn({n + 1, n}, {.dtype = DType::Float64}, &gen).requires_grad_();
  const Tensor weights = arange(n, {.dtype = DType::Float64}) * 0.3 - 1.0;
  const auto flat = [](const Tensor& x) { return reshape(x, std::vector<int64_t>{-1}); };
  const testing::Fn svd_terms = [&](const std::vector<Tensor>& x) {
    const auto r = linalg::svd(x[0], false);
    return cat({r.S, flat(matmul(r.U * unsqueeze(weights, -2), r.Vh))});
  };
  const testing::Fn values = [&](const std::vector<Tensor>& x) { return linalg::svdvals(x[0].mT()); };
  CHECK(testing::gradcheck(svd_terms, {tall}) == "");
  CHECK(testing::gradgradcheck(svd_terms, {tall}) == "");
  CHECK(testing::gradcheck(values, {tall}) == "");
  CHECK(testing::gradgradcheck(values, {tall}) == "");
}
