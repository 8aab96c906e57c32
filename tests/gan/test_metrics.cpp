// The Frechet distance's linear algebra (nn/metrics.h) against hand-computable cases.
#include <catch2/catch.hpp>

#include <cmath>

#include <ember/nn/metrics.h>
#include "tests/nn_ops/helpers.h"

using namespace ember;
using namespace nn_test;
namespace M = ember::nn::metrics;

namespace {
Tensor mat(const std::vector<double>& v, int64_t n) {
  return from_vector(v, std::vector<int64_t>{n, static_cast<int64_t>(v.size()) / n}, {.dtype = DType::Float64});
}
}  // namespace

TEST_CASE("sqrtm_psd of [[2, 1], [1, 2]]", "[gan][metrics]") {
  // Eigenvalues 3 (along (1, 1)) and 1 (along (1, -1)): the root is
  // [[(sqrt3 + 1) / 2, (sqrt3 - 1) / 2], [(sqrt3 - 1) / 2, (sqrt3 + 1) / 2]].
  const double s3 = std::sqrt(3.0);
  Tensor r = M::sqrtm_psd(mat({2, 1, 1, 2}, 2));
  CHECK(compare(vals(r), {(s3 + 1) / 2, (s3 - 1) / 2, (s3 - 1) / 2, (s3 + 1) / 2}, 1e-13, 1e-13) == "");
}

TEST_CASE("symmetric_eigen reconstructs a random symmetric matrix", "[gan][metrics]") {
  Tensor a = rnd({12, 12}, 1);
  a = a + a.t();
  M::SymmetricEigen e = M::symmetric_eigen(a);
  Tensor back = matmul(e.vectors * e.values, e.vectors.t());  // V diag(l) V^T
  CHECK(compare(vals(back), vals(a), 1e-11, 1e-11) == "");
  Tensor vtv = matmul(e.vectors.t(), e.vectors);
  CHECK(compare(vals(vtv), vals(eye(12, std::nullopt, {.dtype = DType::Float64})), 1e-12, 1e-12) == "");
  std::vector<double> l = vals(e.values);
  CHECK(std::is_sorted(l.begin(), l.end()));
  // The root of a PSD matrix squares back to it.
  Tensor p = matmul(a, a.t());
  Tensor r = M::sqrtm_psd(p);
  CHECK(compare(vals(matmul(r, r)), vals(p), 1e-10, 1e-10) == "");
}

TEST_CASE("Frechet distance against closed forms", "[gan][metrics]") {
  SECTION("diagonal covariances: |mu1 - mu2|^2 + sum (sqrt a_i - sqrt b_i)^2") {
    M::GaussianStats a{from_vector(std::vector<double>{0, 1, 2}), mat({4, 0, 0, 0, 1, 0, 0, 0, 9}, 3)};
    M::GaussianStats b{from_vector(std::vector<double>{1, 1, 0}), mat({1, 0, 0, 0, 1, 0, 0, 0, 4}, 3)};
    CHECK(M::frechet_distance(a, b) == Approx(1 + 4 + (2 - 1) * (2 - 1) + 0 + (3 - 2) * (3 - 2)).epsilon(1e-12));
    CHECK(M::frechet_distance(a, a) == Approx(0).margin(1e-12));
  }
  SECTION("2x2 covariances that do not commute") {
    // For a 2x2 PSD matrix X, tr sqrt(X) = sqrt(tr X + 2 sqrt(det X)); with X = S1 S2 (similar to
    // S1^(1/2) S2 S1^(1/2)) that gives tr (S1 S2)^(1/2) by hand.
    const std::vector<double> s1 = {2, 1, 1, 2}, s2 = {1, 0.5, 0.5, 3};
    const double tr12 = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
    const double det1 = 2 * 2 - 1, det2 = 3 - 0.25;
    const double tr_sqrt = std::sqrt(tr12 + 2 * std::sqrt(det1 * det2));
    M::GaussianStats a{from_vector(std::vector<double>{0, 0}), mat(s1, 2)};
    M::GaussianStats b{from_vector(std::vector<double>{0.5, -1}), mat(s2, 2)};
    CHECK(M::frechet_distance(a, b) == Approx(0.25 + 1 + 4 + 4 - 2 * tr_sqrt).epsilon(1e-12));
  }
}

TEST_CASE("gaussian_stats: mean and unbiased covariance", "[gan][metrics]") {
  // Rows (0, 0), (2, 0), (1, 3): mean (1, 1); deviations (-1, -1), (1, -1), (0, 2).
  Tensor f = from_vector(std::vector<double>{0, 0, 2, 0, 1, 3}, {3, 2});
  M::GaussianStats s = M::gaussian_stats(f);
  CHECK(vals(s.mean) == std::vector<double>{1, 1});
  CHECK(compare(vals(s.cov), {1, 0, 0, 3}, 1e-15, 1e-15) == "");  // sums (2, 0; 0, 6) / 2
}

TEST_CASE("metrics reject bad input", "[gan][metrics][errors]") {
  CHECK_THAT(error_of([] { M::sqrtm_psd(zeros({2, 3})); }), Catch::Contains("[sqrtm_psd] expected a square matrix [n, n], got [2, 3]"));
  CHECK_THAT(error_of([] { M::symmetric_eigen(mat({1, 2, 0, 1}, 2)); }), Catch::Contains("[symmetric_eigen] the matrix [2, 2] is not symmetric"));
  CHECK_THAT(error_of([] { M::gaussian_stats(zeros({1, 3})); }), Catch::Contains("[gaussian_stats] expected features [N, d] with N >= 2"));
  // NaN and infinite entries (a NaN matrix passed the symmetry test and gave NaN eigenvalues)
  CHECK_THAT(error_of([] { M::symmetric_eigen(full({2, 2}, NAN)); }), Catch::StartsWith("[symmetric_eigen]") && Catch::Contains("nan"));
  CHECK_THAT(error_of([] { M::symmetric_eigen(mat({1, INFINITY, INFINITY, 1}, 2)); }), Catch::StartsWith("[symmetric_eigen]"));
  // each function names itself, not the one it calls
  CHECK_THAT(error_of([] { M::sqrtm_psd(mat({1, 2, 0, 1}, 2)); }), Catch::StartsWith("[sqrtm_psd]") && Catch::Contains("not symmetric"));
  const M::GaussianStats good{zeros({2}, {.dtype = DType::Float64}), eye(2, std::nullopt, {.dtype = DType::Float64})};
  CHECK_THAT(error_of([&] { M::frechet_distance(good, {zeros({2}), mat({1, 2, 0, 1}, 2)}); }),
             Catch::StartsWith("[frechet_distance]") && Catch::Contains("not symmetric"));
  CHECK_THAT(error_of([&] { M::frechet_distance({zeros({2}), mat({1, 2, 0, 1}, 2)}, good); }),
             Catch::StartsWith("[frechet_distance]"));
  CHECK_THAT(error_of([&] { M::frechet_distance(good, {zeros({2}), zeros({2, 3})}); }),
             Catch::StartsWith("[frechet_distance] statistics do not match"));
  CHECK_THAT(error_of([&] { M::frechet_distance(good, {}); }), Catch::StartsWith("[frechet_distance]") && Catch::Contains("undefined"));
  CHECK_THAT(error_of([&] { M::frechet_distance(good, {full({2}, NAN, {.dtype = DType::Float64}), good.cov}); }),
             Catch::StartsWith("[frechet_distance]") && Catch::Contains("mean"));
  CHECK(M::frechet_distance(good, good) == Approx(0).margin(1e-12));
}
