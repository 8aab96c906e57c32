// The host kernels of ops/linalg_dense_kernels.cpp and ops/linalg_qr_kernels.cpp: the recursive LU,
// Cholesky and triangular solve and the blocked Householder QR the ops run, held to the textbook
// loops beside them (the references) on sizes on both sides of the recursion's leaf (8 columns) and
// the QR panel (32 columns), square, tall and wide. Also what the recursion must keep from the
// loops exactly: the pivots, the singular and non-factorable columns, the failing minor, NaN spreading,
// and never reading the triangle a triangular solve is not given.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <ember/ops/linalg_host.h>

using ember::linalg::detail::factor_cholesky;
using ember::linalg::detail::factor_cholesky_unblocked;
using ember::linalg::detail::factor_lu;
using ember::linalg::detail::factor_lu_unblocked;
using ember::linalg::detail::form_householder_q;
using ember::linalg::detail::form_householder_q_unblocked;
using ember::linalg::detail::householder_qr;
using ember::linalg::detail::householder_qr_unblocked;
using ember::linalg::detail::LuFactorization;
using ember::linalg::detail::solve_triangular_in_place;
using ember::linalg::detail::substitute;

namespace {

using Matrix = std::vector<double>;  // row-major
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

Matrix random_matrix(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Matrix a(static_cast<size_t>(rows * cols));
  for (double& x : a) x = normal(rng);
  return a;
}

// M M^T + n I: symmetric positive definite, condition number a few tens.
Matrix random_spd(int64_t n, uint64_t seed) {
  const Matrix m = random_matrix(n, n, seed);
  Matrix a(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = i == j ? double(n) : 0.0;
      for (int64_t t = 0; t < n; ++t) sum += m[i * n + t] * m[j * n + t];
      a[i * n + j] = sum;
    }
  return a;
}

double max_abs(const Matrix& a) {
  double largest = 0;
  for (double x : a) largest = std::max(largest, std::abs(x));
  return largest;
}

// The largest entrywise difference, relative to the reference's largest entry.
double relative_difference(const Matrix& got, const Matrix& expected) {
  REQUIRE(got.size() == expected.size());
  double largest = 0;
  for (size_t i = 0; i < got.size(); ++i) largest = std::max(largest, std::abs(got[i] - expected[i]));
  return largest / std::max(max_abs(expected), 1e-300);
}

// max |P A - L U| / max |A| for the packed factors of an m x n A.
double lu_residual(const Matrix& a, const Matrix& lu, const LuFactorization& f, int64_t m, int64_t n) {
  const int64_t k = std::min(m, n);
  double largest = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t t = 0; t <= std::min({i, j, k - 1}); ++t) {
        const double l_it = t == i ? 1.0 : lu[i * n + t];
        sum += l_it * lu[t * n + j];
      }
      largest = std::max(largest, std::abs(a[f.row_of[i] * n + j] - sum));
    }
  return largest / max_abs(a);
}

struct LuPair {
  Matrix recursive, reference;
  LuFactorization f_recursive, f_reference;
};

LuPair factor_both(const Matrix& a, int64_t m, int64_t n, bool pivot = true) {
  LuPair p{a, a, {}, {}};
  p.f_recursive = factor_lu(p.recursive.data(), m, n, pivot);
  p.f_reference = factor_lu_unblocked(p.reference.data(), m, n, pivot);
  return p;
}

void require_same_permutation(const LuFactorization& got, const LuFactorization& expected) {
  CHECK(got.row_of == expected.row_of);
  CHECK(got.swapped_with == expected.swapped_with);
  CHECK(got.odd_permutation == expected.odd_permutation);
  CHECK(got.zero_pivot_column == expected.zero_pivot_column);
  CHECK(got.unfactorable_column == expected.unfactorable_column);
}

// A triangular matrix (in the named triangle; the rest NaN, which must never be read) whose diagonal
// keeps it well conditioned; unit: the diagonal is NaN too.
Matrix random_triangular(int64_t n, bool upper, bool unit, uint64_t seed) {
  Matrix a = random_matrix(n, n, seed);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const bool in_triangle = upper ? j > i : j < i;
      if (i == j)
        a[i * n + j] = unit ? kNan : (a[i * n + j] < 0 ? -1.0 : 1.0) * (2.0 + std::abs(a[i * n + j]));
      else if (in_triangle)
        a[i * n + j] /= std::sqrt(double(n));
      else
        a[i * n + j] = kNan;
    }
  return a;
}

}  // namespace

TEST_CASE("recursive LU agrees with the unblocked elimination", "[linalg][dense_kernels]") {
  struct Size {
    int64_t m, n;
  };
  for (const Size size : {Size{1, 1}, Size{5, 5}, Size{8, 8}, Size{9, 9}, Size{32, 32}, Size{33, 33}, Size{64, 64}, Size{65, 65},
                          Size{100, 100}, Size{257, 257}, Size{300, 130}, Size{130, 300}, Size{97, 40}, Size{40, 97}}) {
    const int64_t m = size.m, n = size.n;
    CAPTURE(m, n);
    const Matrix a = random_matrix(m, n, static_cast<uint64_t>(m * 1000 + n));
    const LuPair p = factor_both(a, m, n);
    require_same_permutation(p.f_recursive, p.f_reference);
    CHECK(relative_difference(p.recursive, p.reference) < 1e-12);
    CHECK(lu_residual(a, p.recursive, p.f_recursive, m, n) < 1e-13 * double(std::max(m, n)));
    CHECK(lu_residual(a, p.reference, p.f_reference, m, n) < 1e-13 * double(std::max(m, n)));
  }
}

TEST_CASE("recursive LU without pivoting agrees with the unblocked elimination", "[linalg][dense_kernels]") {
  for (const int64_t n : {33, 70, 150}) {
    CAPTURE(n);
    Matrix a = random_matrix(n, n, static_cast<uint64_t>(n));
    for (int64_t i = 0; i < n; ++i) a[i * n + i] += 2.0 * double(n);  // diagonally dominant: no swaps needed
    const LuPair p = factor_both(a, n, n, /*pivot=*/false);
    require_same_permutation(p.f_recursive, p.f_reference);
    for (int64_t i = 0; i < n; ++i) CHECK(p.f_recursive.row_of[i] == i);
    CHECK(relative_difference(p.recursive, p.reference) < 1e-12);
  }
}

TEST_CASE("recursive LU finds the same zero and non-factorable pivots", "[linalg][dense_kernels]") {
  const int64_t n = 100;
  SECTION("a zero column is an exact zero pivot in its column") {
    Matrix a = random_matrix(n, n, 7);
    for (int64_t i = 0; i < n; ++i) a[i * n + 40] = 0.0;
    const LuPair p = factor_both(a, n, n);
    CHECK(p.f_reference.zero_pivot_column == 40);
    require_same_permutation(p.f_recursive, p.f_reference);
  }
  SECTION("without pivoting, a zero pivot above a non-zero entry cannot be eliminated") {
    // [[I, 0], [0, B]] with B[0][0] = 0 and B[1][0] = 1: the first 50 steps change nothing.
    Matrix a(static_cast<size_t>(n * n), 0.0);
    for (int64_t i = 0; i < 50; ++i) a[i * n + i] = 1.0;
    const Matrix b = random_matrix(n - 50, n - 50, 8);
    for (int64_t i = 50; i < n; ++i)
      for (int64_t j = 50; j < n; ++j) a[i * n + j] = b[(i - 50) * (n - 50) + (j - 50)];
    a[50 * n + 50] = 0.0;
    a[51 * n + 50] = 1.0;
    const LuPair p = factor_both(a, n, n, /*pivot=*/false);
    CHECK(p.f_reference.unfactorable_column == 50);
    CHECK(p.f_reference.zero_pivot_column == 50);
    require_same_permutation(p.f_recursive, p.f_reference);
  }
  SECTION("a NaN reaches the same entries") {
    Matrix a = random_matrix(n, n, 9);
    a[70 * n + 3] = kNan;
    const LuPair p = factor_both(a, n, n);
    int64_t nans = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(std::isnan(p.recursive[i]) == std::isnan(p.reference[i]));
      nans += std::isnan(p.reference[i]) ? 1 : 0;
    }
    CHECK(nans > n);  // it spread past its own entry
  }
}

TEST_CASE("recursive triangular solve agrees with substitution and reads one triangle", "[linalg][dense_kernels]") {
  for (const int64_t n : {1, 5, 8, 9, 32, 33, 100, 200}) {
    for (const int64_t k : {1, 16, 100}) {
      for (const bool upper : {false, true}) {
        for (const bool unit : {false, true}) {
          CAPTURE(n, k, upper, unit);
          const Matrix a = random_triangular(n, upper, unit, static_cast<uint64_t>(n * 31 + k));
          const Matrix b = random_matrix(n, k, static_cast<uint64_t>(n + 5 * k));
          Matrix recursive = b, reference = b;
          solve_triangular_in_place(a.data(), recursive.data(), n, k, upper, unit);
          substitute(a.data(), n, reference.data(), k, n, k, upper, unit);
          for (double x : recursive) REQUIRE(std::isfinite(x));  // the NaN triangle was never read
          CHECK(relative_difference(recursive, reference) < 1e-12);
          // A X = B, the triangle (and diagonal) as given.
          double residual = 0;
          for (int64_t i = 0; i < n; ++i)
            for (int64_t c = 0; c < k; ++c) {
              double sum = unit ? recursive[i * k + c] : 0.0;
              for (int64_t j = upper ? i : 0; j <= (upper ? n - 1 : i); ++j)
                if (!(unit && j == i)) sum += a[i * n + j] * recursive[j * k + c];
              residual = std::max(residual, std::abs(sum - b[i * k + c]));
            }
          CHECK(residual < 1e-12 * max_abs(b) * double(n));
        }
      }
    }
  }
}

TEST_CASE("a triangular solve with no right-hand sides does nothing", "[linalg][dense_kernels]") {
  // B [n, 0]: no leading dimension for the products inside, which must not be called.
  for (const int64_t n : {0, 5, 9, 100}) {
    CAPTURE(n);
    const Matrix a = random_triangular(n, /*upper=*/false, /*unit=*/false, 3);
    Matrix b;
    for (const bool upper : {false, true}) CHECK_NOTHROW(solve_triangular_in_place(a.data(), b.data(), n, 0, upper, false));
  }
}

TEST_CASE("recursive Cholesky agrees with the column-by-column loop", "[linalg][dense_kernels]") {
  for (const int64_t n : {1, 7, 8, 9, 32, 33, 64, 100, 257}) {
    CAPTURE(n);
    Matrix a = random_spd(n, static_cast<uint64_t>(n));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j) a[i * n + j] = kNan;  // only the lower triangle is read
    Matrix recursive(a.size(), -1.0), reference(a.size(), -1.0);
    REQUIRE(factor_cholesky(a.data(), recursive.data(), n) == 0);
    REQUIRE(factor_cholesky_unblocked(a.data(), reference.data(), n) == 0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j) REQUIRE(recursive[i * n + j] == 0.0);
    CHECK(relative_difference(recursive, reference) < 1e-12);
    // L L^T = A on the lower triangle.
    double residual = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j <= i; ++j) {
        double sum = 0;
        for (int64_t t = 0; t <= j; ++t) sum += recursive[i * n + t] * recursive[j * n + t];
        residual = std::max(residual, std::abs(sum - a[i * n + j]));
      }
    CHECK(residual < 1e-13 * double(n) * double(n));
  }
}

TEST_CASE("recursive Cholesky stops at the same leading minor and clears the same columns", "[linalg][dense_kernels]") {
  const int64_t n = 150;
  for (const int64_t failing : {1, 20, 33, 70, 150}) {
    CAPTURE(failing);
    Matrix a = random_spd(n, 11);
    a[(failing - 1) * n + (failing - 1)] = -1.0;  // the minor of this order is the first not positive definite
    Matrix recursive(a.size(), -1.0), reference(a.size(), -1.0);
    CHECK(factor_cholesky(a.data(), recursive.data(), n) == failing);
    CHECK(factor_cholesky_unblocked(a.data(), reference.data(), n) == failing);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        if (j > i || j >= failing - 1) {
          CHECK(recursive[i * n + j] == 0.0);
          CHECK(reference[i * n + j] == 0.0);
        }
      }
    CHECK(relative_difference(recursive, reference) < 1e-12);
  }
}

TEST_CASE("blocked Householder QR agrees with the column-by-column reduction", "[linalg][dense_kernels]") {
  struct Size {
    int64_t m, n;
  };
  for (const Size size : {Size{1, 1}, Size{31, 31}, Size{64, 64}, Size{65, 70}, Size{100, 100}, Size{257, 257},
                          Size{300, 130}, Size{130, 300}, Size{200, 64}}) {
    const int64_t m = size.m, n = size.n, k = std::min(m, n);
    CAPTURE(m, n);
    Matrix a = random_matrix(m, n, static_cast<uint64_t>(m * 7 + n));
    // The first 40 columns already upper triangular: their reflectors are H = I (tau = 0), inside the
    // first panel and across the second.
    const int64_t triangular_columns = std::min<int64_t>(40, k);
    for (int64_t c = 0; c < triangular_columns && k >= 64; ++c)
      for (int64_t r = c + 1; r < m; ++r) a[r * n + c] = 0.0;
    Matrix blocked = a, reference = a;
    Matrix tau_blocked(static_cast<size_t>(k), -1.0), tau_reference(static_cast<size_t>(k), -1.0);
    householder_qr(blocked.data(), m, n, tau_blocked.data());
    householder_qr_unblocked(reference.data(), m, n, tau_reference.data());
    CHECK(relative_difference(blocked, reference) < 1e-12);
    CHECK(relative_difference(tau_blocked, tau_reference) < 1e-12);
    for (const double tau : tau_blocked) CHECK((tau == 0.0 || (tau >= 1.0 && tau <= 2.0)));  // dlarfg's range
    if (k >= 64)
      for (int64_t c = 0; c < triangular_columns; ++c) CHECK(tau_blocked[c] == 0.0);
    for (const int64_t q_cols : {k, m}) {
      CAPTURE(q_cols);
      Matrix q_blocked(static_cast<size_t>(m * q_cols)), q_reference(static_cast<size_t>(m * q_cols));
      form_householder_q(blocked.data(), m, n, tau_blocked.data(), k, q_blocked.data(), q_cols);
      form_householder_q_unblocked(reference.data(), m, n, tau_reference.data(), k, q_reference.data(), q_cols);
      CHECK(relative_difference(q_blocked, q_reference) < 1e-12);
      // Q^T Q = I and Q R = A (R: the upper triangle of the packed result, its first q_cols rows).
      double orthogonality = 0, residual = 0;
      for (int64_t i = 0; i < q_cols; ++i)
        for (int64_t j = 0; j < q_cols; ++j) {
          double sum = 0;
          for (int64_t r = 0; r < m; ++r) sum += q_blocked[r * q_cols + i] * q_blocked[r * q_cols + j];
          orthogonality = std::max(orthogonality, std::abs(sum - (i == j ? 1.0 : 0.0)));
        }
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double sum = 0;
          for (int64_t t = 0; t <= std::min(j, q_cols - 1); ++t) sum += q_blocked[i * q_cols + t] * blocked[t * n + j];
          residual = std::max(residual, std::abs(sum - a[i * n + j]));
        }
      CHECK(orthogonality < 1e-13 * double(m));
      CHECK(residual < 1e-13 * double(m) * max_abs(a));
    }
  }
}

// The block reflector's explicit zeros would spread a NaN further (0 * NaN): such inputs run the loop.
TEST_CASE("blocked Householder QR spreads a NaN to the same entries", "[linalg][dense_kernels]") {
  const int64_t m = 120, n = 100;
  Matrix a = random_matrix(m, n, 21);
  a[80 * n + 50] = kNan;
  Matrix blocked = a, reference = a;
  Matrix tau_blocked(static_cast<size_t>(n)), tau_reference(static_cast<size_t>(n));
  householder_qr(blocked.data(), m, n, tau_blocked.data());
  householder_qr_unblocked(reference.data(), m, n, tau_reference.data());
  int64_t nans = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(std::isnan(blocked[i]) == std::isnan(reference[i]));
    nans += std::isnan(reference[i]) ? 1 : 0;
  }
  CHECK(nans > n);
}
