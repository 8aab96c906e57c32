// The two symmetric eigensolvers behind linalg.eigh (ops/linalg_symmetric_eigen.h): cyclic Jacobi,
// the reference, and Householder tridiagonalisation with implicit QL, the fast one. Each must give
// A v = lambda v and orthonormal vectors to rounding level, and the two must agree, on random
// matrices of every size up to 64 and on the matrices that break eigensolvers (zero, repeated
// eigenvalues, rank one, already diagonal or tridiagonal, graded). Then eigh itself on either side of
// the size where it switches from one to the other.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include <ember/backends/cpu/host_kernels.h>
#include <ember/ops/linalg_symmetric_eigen.h>
#include <ember/ops/ops.h>

using namespace ember;
using linalg::detail::EigenKernels;
using linalg::detail::symmetric_eigen_jacobi;

namespace {

using Matrix = ember::linalg::detail::HostVector;  // row-major n x n

// The tridiagonal method as eigh runs it (its fast kernels), in the shape the tests pass methods.
bool tridiagonal_ql(Matrix a, int64_t n, Matrix& values, Matrix* vectors) {
  return linalg::detail::symmetric_eigen_tridiagonal(std::move(a), n, values, vectors);
}

Matrix random_symmetric(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Matrix a(n * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) a[i * n + j] = a[j * n + i] = normal(rng);
  // Entries of magnitude at most about 1, as the callers pass them (eigh scales by a power of two).
  double largest = 0;
  for (double x : a) largest = std::max(largest, std::abs(x));
  for (double& x : a) x /= std::max(largest, 1e-300);
  return a;
}

struct Decomposition {
  Matrix values, vectors;  // vectors by columns
};

using Method = bool (*)(Matrix, int64_t, Matrix&, Matrix*);

Decomposition decompose(Method method, const Matrix& a, int64_t n) {
  Decomposition d;
  REQUIRE(method(a, n, d.values, &d.vectors));
  REQUIRE(d.values.size() == static_cast<size_t>(n));
  REQUIRE(d.vectors.size() == static_cast<size_t>(n * n));
  return d;
}

double largest_magnitude(const Matrix& x) {
  double m = 0;
  for (double v : x) m = std::max(m, std::abs(v));
  return m;
}

// Empty when |A v_j - lambda_j v_j| <= tol * max(1, |lambda|_max) for every j and |V^T V - I| <= tol
// entrywise; otherwise the first failure.
std::string check_decomposition(const Matrix& a, int64_t n, const Decomposition& d, double tol) {
  const double scale = std::max(1.0, largest_magnitude(d.values));
  for (int64_t j = 0; j < n; ++j) {
    const double* v = d.vectors.data() + j * n;
    for (int64_t r = 0; r < n; ++r) {
      double av = 0;
      for (int64_t k = 0; k < n; ++k) av += a[r * n + k] * v[k];
      if (std::abs(av - d.values[j] * v[r]) > tol * scale)
        return "A v != lambda v for eigenvalue " + std::to_string(j) + ", row " + std::to_string(r) + ": " +
               std::to_string(av - d.values[j] * v[r]);
    }
    for (int64_t k = 0; k < n; ++k) {
      double dot = 0;
      for (int64_t r = 0; r < n; ++r) dot += v[r] * d.vectors[k * n + r];
      if (std::abs(dot - (j == k ? 1.0 : 0.0)) > tol)
        return "V^T V != I at (" + std::to_string(j) + ", " + std::to_string(k) + "): " + std::to_string(dot);
    }
  }
  return "";
}

Matrix sorted(Matrix x) {
  std::sort(x.begin(), x.end());
  return x;
}

// Both methods decompose `a`; each is checked, and their sorted eigenvalues agree.
void check_both(const Matrix& a, int64_t n, double tol = 1e-12) {
  const Decomposition jacobi = decompose(symmetric_eigen_jacobi, a, n);
  const Decomposition ql = decompose(tridiagonal_ql, a, n);
  CHECK(check_decomposition(a, n, jacobi, tol) == "");
  CHECK(check_decomposition(a, n, ql, tol) == "");
  const Matrix lj = sorted(jacobi.values), lq = sorted(ql.values);
  const double scale = std::max(1.0, largest_magnitude(lj));
  for (int64_t i = 0; i < n; ++i) CHECK(std::abs(lj[i] - lq[i]) <= tol * scale);
}

}  // namespace

TEST_CASE("Jacobi and tridiagonal QL agree and decompose random symmetric matrices", "[linalg][eigh-methods]") {
  for (int64_t n : {1, 2, 3, 4, 7, 11, 12, 13, 20, 33, 64}) {
    for (uint64_t seed : {1u, 2u, 3u}) {
      INFO("n " << n << " seed " << seed);
      check_both(random_symmetric(n, 1000 * n + seed), n);
    }
  }
}

TEST_CASE("Jacobi and tridiagonal QL on the matrices that break eigensolvers", "[linalg][eigh-methods]") {
  const int64_t n = 20;
  SECTION("zero") { check_both(Matrix(n * n, 0.0), n); }
  SECTION("identity: one eigenvalue, repeated n times") {
    Matrix a(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i) a[i * n + i] = 1;
    check_both(a, n);
  }
  SECTION("rank one: u u^T, one non-zero eigenvalue |u|^2") {
    Matrix a(n * n);
    double norm2 = 0;
    for (int64_t i = 0; i < n; ++i) norm2 += (0.05 * (i + 1)) * (0.05 * (i + 1));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) a[i * n + j] = 0.05 * (i + 1) * 0.05 * (j + 1);
    check_both(a, n);
    const Decomposition ql = decompose(tridiagonal_ql, a, n);
    const Matrix l = sorted(ql.values);
    CHECK(std::abs(l.back() - norm2) <= 1e-13 * norm2);  // about 20 n eps |A|: backward stable
    for (int64_t i = 0; i + 1 < n; ++i) CHECK(std::abs(l[i]) <= 1e-13 * norm2);
  }
  SECTION("diagonal with repeats, out of order") {
    Matrix a(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i) a[i * n + i] = static_cast<double>((i * 7) % 5) / 4 - 0.5;
    check_both(a, n);
  }
  SECTION("the 1-2-1 Laplacian: eigenvalues 2 - 2 cos(k pi / (n + 1)) (scaled by 1/2)") {
    Matrix a(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      a[i * n + i] = 1.0;
      if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = -0.5;
    }
    check_both(a, n);
    const Matrix l = sorted(decompose(tridiagonal_ql, a, n).values);
    for (int64_t k = 1; k <= n; ++k)
      CHECK(std::abs(l[k - 1] - (1 - std::cos(k * std::numbers::pi / (n + 1)))) <= 1e-14);
  }
  SECTION("graded: diagonal entries from 1 down to 1e-15, small couplings") {
    Matrix a(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      a[i * n + i] = std::pow(10.0, -0.75 * i);
      if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = 1e-3 * std::pow(10.0, -0.75 * i);
    }
    check_both(a, n);
  }
  SECTION("0 x 0") {
    Matrix values{1.0}, vectors{1.0};
    CHECK(tridiagonal_ql({}, 0, values, &vectors));
    CHECK(values.empty());
    CHECK(vectors.empty());
  }
}

// Found by a red-team review: a rank-deficient matrix reduces to a tridiagonal whose leading entries
// are near underflow (1e-320). QL's negligibility test was relative to the rows seen so far, so it
// iterated at that scale in subnormal numbers, and their few bits gave rotations that are not
// orthogonal: |V^T V - I| reached 1 for the constant 60 x 60 matrix, 3 for the 86 x 86 parity one.
TEST_CASE("tridiagonal QL keeps the eigenvectors orthonormal when the tridiagonal starts near underflow",
          "[linalg][eigh-methods]") {
  const auto constant = [](int64_t n) { return Matrix(n * n, 1.0 / n); };
  const auto parity = [](int64_t n) {  // 1 where i and j have the same parity: rank 2
    Matrix a(n * n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) a[i * n + j] = (i % 2 == j % 2) ? 1.0 / n : 0.0;
    return a;
  };
  for (int64_t n : {47, 56, 58, 60, 64, 72, 86, 120}) {
    INFO("n " << n);
    for (const Matrix& a : {constant(n), parity(n)}) {
      check_both(a, n);
      Decomposition reference;
      REQUIRE(linalg::detail::symmetric_eigen_tridiagonal(a, n, reference.values, &reference.vectors,
                                                           EigenKernels::reference));
      CHECK(check_decomposition(a, n, reference, 1e-12) == "");
    }
  }
}

TEST_CASE("tridiagonal QL without vectors gives the same eigenvalues, bit for bit", "[linalg][eigh-methods]") {
  // The rotations that build the vectors never feed back into the eigenvalues.
  for (int64_t n : {1, 5, 12, 40}) {
    const Matrix a = random_symmetric(n, 77 + n);
    Matrix with, without, vectors;
    REQUIRE(tridiagonal_ql(a, n, with, &vectors));
    REQUIRE(tridiagonal_ql(a, n, without, nullptr));
    CHECK(with == without);
  }
}

namespace {

// The fast kernels against the reference loops on one matrix: A v = lambda v and orthonormal vectors
// for both; the same eigenvalues bit for bit up to kBlockedTridiagonalAbove rows, where both reduce
// step by step to the same tridiagonal and the rotations depend on nothing else, and above it (where
// the fast one reduces by panels, rounding differently) to the same tolerance as the decomposition;
// and, where the eigenvalues are apart, the same eigenvectors up to sign.
void check_fast_against_reference(const Matrix& a, int64_t n, bool distinct_eigenvalues) {
  Decomposition reference, fast;
  REQUIRE(linalg::detail::symmetric_eigen_tridiagonal(a, n, reference.values, &reference.vectors,
                                                      EigenKernels::reference));
  REQUIRE(linalg::detail::symmetric_eigen_tridiagonal(a, n, fast.values, &fast.vectors, EigenKernels::fast));
  const double tol = 1e-12 * static_cast<double>(std::max<int64_t>(1, n / 32));
  CHECK(check_decomposition(a, n, fast, tol) == "");
  CHECK(check_decomposition(a, n, reference, tol) == "");
  if (n <= linalg::detail::kBlockedTridiagonalAbove) {
    CHECK(fast.values == reference.values);
  } else {  // sorted: QL's order follows the tridiagonal, which the two round differently
    Matrix fast_sorted = fast.values, reference_sorted = reference.values;
    std::sort(fast_sorted.begin(), fast_sorted.end());
    std::sort(reference_sorted.begin(), reference_sorted.end());
    double largest = 1, difference = 0;
    for (int64_t j = 0; j < n; ++j) {
      largest = std::max(largest, std::abs(reference_sorted[j]));
      difference = std::max(difference, std::abs(fast_sorted[j] - reference_sorted[j]));
    }
    CHECK(difference <= tol * largest);  // measured: 2e-14 to 7e-14
  }
  if (!distinct_eigenvalues) return;
  double worst = 0;
  for (int64_t j = 0; j < n; ++j) {
    const double* u = fast.vectors.data() + j * n;
    const double* v = reference.vectors.data() + j * n;
    double dot = 0;
    for (int64_t r = 0; r < n; ++r) dot += u[r] * v[r];
    const double sign = dot < 0 ? -1 : 1;
    for (int64_t r = 0; r < n; ++r) worst = std::max(worst, std::abs(u[r] - sign * v[r]));
  }
  CHECK(worst <= 1e-9);
}

}  // namespace

TEST_CASE("the fast tridiagonal kernels agree with the reference loops", "[linalg][eigh-methods]") {
  // The fast kernels form Q from 32-column block reflectors from 64 reflectors on (n = 65), apply the
  // rotations in strips of 32 columns, and flush the rotation log every 16384 rotations: sizes on both
  // sides of a strip and of the block reflectors, a partial last strip and panel, and matrices large
  // enough to flush many times (n = 300 makes about 90,000 rotations). Random eigenvalues are apart
  // by about 1e-3 or more, so the eigenvectors agree to rounding over that gap.
  for (int64_t n : {1, 2, 13, 31, 32, 33, 64, 65, 97, 300}) {
    INFO("random, n " << n);
    check_fast_against_reference(random_symmetric(n, 500 + n), n, /*distinct_eigenvalues=*/true);
  }
  // Matrices where the reduction skips reflections (h = 0: a row already zero left of its
  // subdiagonal), so that block reflectors hold identity reflectors (tau = 0), above the switch.
  for (int64_t n : {65, 100}) {
    INFO("n " << n);
    Matrix diagonal(n * n, 0.0), laplacian(n * n, 0.0), block_diagonal(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      diagonal[i * n + i] = static_cast<double>((i * 7) % 5) / 4 - 0.5;  // with repeats
      laplacian[i * n + i] = 1.0;
      if (i + 1 < n) laplacian[i * n + i + 1] = laplacian[(i + 1) * n + i] = -0.5;
    }
    // Split 20 rows from the end: at n = 100 the row with nothing to reflect (80) lies inside the
    // blocked reduction's panel (rows 68..99), between rows that reflect.
    const int64_t split = n - 20;
    const Matrix top = random_symmetric(split, 7), bottom = random_symmetric(n - split, 8);
    for (int64_t i = 0; i < split; ++i)
      for (int64_t j = 0; j < split; ++j) block_diagonal[i * n + j] = top[i * split + j];
    for (int64_t i = 0; i < n - split; ++i)
      for (int64_t j = 0; j < n - split; ++j) block_diagonal[(split + i) * n + split + j] = bottom[i * (n - split) + j];
    auto check = [n](const char* what, const Matrix& a, bool distinct_eigenvalues) {
      INFO(what);
      check_fast_against_reference(a, n, distinct_eigenvalues);
    };
    check("zero", Matrix(n * n, 0.0), false);
    check("diagonal with repeats", diagonal, false);
    check("tridiagonal: the 1-2-1 Laplacian", laplacian, true);
    check("block diagonal: random blocks of n - 20 and 20", block_diagonal, false);
  }
}

TEST_CASE("the blocked tridiagonalisation keeps the step-by-step kernel's output format", "[linalg][eigh-methods]") {
  // Both write T's diagonal on a's, its subdiagonal in e[1..n-1], u_i in row i left of the diagonal
  // and h_i in d[i], with P_i = I - u_i u_i^T / h_i (the identity when h_i = 0), and zeros right of
  // the diagonal (which JAMA's accumulation of Q reads). Applying P_(n-1), ..., P_1 to A in that
  // order must give T: checked for the kernel and for the blocked reduction (one to seven panels of
  // 32 rows down to 96, and a matrix whose row 80 has nothing to reflect, inside the panel).
  auto check_format = [](const Matrix& a, int64_t n, bool blocked) {
    Matrix v = a, d(n), e(n);
    if (blocked)
      linalg::detail::reduce_to_tridiagonal_blocked(v.data(), n, d.data(), e.data());
    else
      cpu::host_kernels().reduce_to_tridiagonal(v.data(), n, d.data(), e.data());
    bool upper_zero = true;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = r + 1; c < n; ++c) upper_zero = upper_zero && v[r * n + c] == 0;
    CHECK(upper_zero);
    Matrix m = a, p_m(n);
    for (int64_t i = n - 1; i >= 1; --i) {
      const double h = d[i];
      if (h == 0) continue;
      const double* u = v.data() + i * n;  // entries 0..i-1
      // M <- P M P with P = I - u u^T / h, as two rank-one updates: M -= u (u^T M) / h, then
      // M -= (M u) u^T / h.
      for (int64_t c = 0; c < n; ++c) {
        double dot = 0;
        for (int64_t k = 0; k < i; ++k) dot += u[k] * m[k * n + c];
        p_m[c] = dot / h;
      }
      for (int64_t k = 0; k < i; ++k)
        for (int64_t c = 0; c < n; ++c) m[k * n + c] -= u[k] * p_m[c];
      for (int64_t r = 0; r < n; ++r) {
        double dot = 0;
        for (int64_t k = 0; k < i; ++k) dot += m[r * n + k] * u[k];
        for (int64_t k = 0; k < i; ++k) m[r * n + k] -= dot / h * u[k];
      }
    }
    double worst = 0;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double expected = 0;
        if (r == c) expected = v[r * n + r];
        if (r == c + 1) expected = e[r];
        if (c == r + 1) expected = e[c];
        worst = std::max(worst, std::abs(m[r * n + c] - expected));
      }
    CHECK(worst <= 1e-13);  // A's entries are at most about 1; a few n eps, measured below 1e-14
  };
  for (int64_t n : {97, 128, 161, 300}) {
    INFO("random, n " << n);
    const Matrix a = random_symmetric(n, 900 + n);
    check_format(a, n, false);
    check_format(a, n, true);
  }
  const int64_t n = 128, split = 80;
  Matrix block_diagonal(n * n, 0.0);
  const Matrix top = random_symmetric(split, 9), bottom = random_symmetric(n - split, 10);
  for (int64_t i = 0; i < split; ++i)
    for (int64_t j = 0; j < split; ++j) block_diagonal[i * n + j] = top[i * split + j];
  for (int64_t i = 0; i < n - split; ++i)
    for (int64_t j = 0; j < n - split; ++j) block_diagonal[(split + i) * n + split + j] = bottom[i * (n - split) + j];
  INFO("block diagonal, split at 80");
  check_format(block_diagonal, n, true);
}

TEST_CASE("eigh on either side of the switch to the tridiagonal method", "[linalg][eigh-methods]") {
  // n = kTridiagonalFromSize - 1 runs Jacobi, n = kTridiagonalFromSize and above QL: the op's contract
  // (ascending eigenvalues, A = V diag(L) V^T, V orthonormal, the sign convention) holds on both.
  manual_seed(5);
  const int64_t switch_size = linalg::detail::kTridiagonalFromSize;
  for (int64_t n : {switch_size - 1, switch_size, 3 * switch_size}) {
    INFO("n " << n);
    const Tensor m = randn({2, n, n}, {.dtype = DType::Float64});
    const Tensor a = (m + m.mT()) * 0.5;
    const linalg::EighResult e = linalg::eigh(a);
    const Tensor identity = eye(n, std::nullopt, {.dtype = DType::Float64});
    CHECK(max(abs(matmul(e.eigenvectors * unsqueeze(e.eigenvalues, -2), e.eigenvectors.mT()) - a)).item<double>() <
          1e-12 * n);
    CHECK(max(abs(matmul(e.eigenvectors.mT(), e.eigenvectors) - identity)).item<double>() < 1e-12 * n);
    const std::vector<double> l = contiguous(e.eigenvalues).to_vector<double>();
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t i = 0; i + 1 < n; ++i) CHECK(l[b * n + i] <= l[b * n + i + 1]);
    // The first entry of largest magnitude of each eigenvector is positive.
    const std::vector<double> v = contiguous(e.eigenvectors).to_vector<double>();
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t col = 0; col < n; ++col) {
        int64_t best = 0;
        for (int64_t r = 1; r < n; ++r)
          if (std::abs(v[b * n * n + r * n + col]) > std::abs(v[b * n * n + best * n + col])) best = r;
        CHECK(v[b * n * n + best * n + col] > 0);
      }
    // eigvalsh (no vectors when no graph) gives the same values.
    CHECK(max(abs(linalg::eigvalsh(a) - e.eigenvalues)).item<double>() == 0);
  }
}
