// sgemm/dgemm (OpenBLAS or the fallback) and naive_gemm against reference_gemm, the triple loop.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <ember/backends/cpu/blas.h>
#include <ember/core/error.h>

namespace blas = ember::cpu::blas;

namespace {

template <class T>
using GemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,
                        int64_t, T, T*, int64_t);

// Read before any test can load OpenBLAS, to check that ember leaves the environment as it was.
const std::optional<std::string> initial_coretype = [] {
  const char* value = std::getenv("OPENBLAS_CORETYPE");
  return value ? std::optional<std::string>(value) : std::nullopt;
}();

struct Shape {
  int64_t m, n, k;
};

// Empty, single-element and odd shapes, and shapes that cross the blocks of naive_gemm
// (96 x 256 x 1024 for m, k, n) with tails, serially and on threads (m * n * k >= 1e6).
const Shape kShapes[] = {{0, 5, 3},   {5, 0, 3},     {5, 3, 0},      {0, 0, 0},
                         {1, 1, 1},   {1, 17, 1},    {17, 1, 33},    {1, 1, 300},
                         {2, 3, 4},   {7, 16, 9},    {67, 45, 33},   {3, 1030, 5},
                         {200, 3, 5}, {33, 65, 257}, {100, 70, 260}, {40, 1030, 30}};

struct Variant {
  double alpha, beta;
  bool nan_c;  // C starts as NaN garbage: with beta == 0 it must be overwritten, as in BLAS
};
const Variant kVariants[] = {{0.75, -1.25, false}, {1.0, 0.0, true}, {-2.0, 1.0, false}};

constexpr double kCPadding = 7.5;  // written where C's rows are padded; must survive the call

struct Outcome {
  std::string description;      // the call, for INFO
  int64_t wrong = 0;            // entries of C beyond the rounding bound, or NaN
  int64_t padding_touched = 0;  // entries of C's row padding that changed
  std::string first_wrong;
};

// Runs one product on row-major matrices stored inside larger buffers (ld = cols + pad). A's and
// B's padding holds NaN, so a kernel that reads outside the sub-matrix poisons C. Free of Catch2
// macros, which are not thread-safe.
template <class T>
Outcome run_gemm(GemmFn<T> gemm, const Shape& shape, bool trans_a, bool trans_b, int64_t pad,
                 const Variant& variant) {
  const auto [m, n, k] = shape;
  const T alpha = T(variant.alpha), beta = T(variant.beta);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  const int64_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  const int64_t lda = std::max<int64_t>(1, a_cols + pad), ldb = std::max<int64_t>(1, b_cols + pad);
  const int64_t ldc = std::max<int64_t>(1, n + pad);
  Outcome outcome;
  outcome.description = fmt::format(
      "{}gemm m={} n={} k={} trans_a={} trans_b={} lda={} ldb={} ldc={} alpha={} beta={} nan_c={}",
      sizeof(T) == 4 ? 's' : 'd', m, n, k, trans_a, trans_b, lda, ldb, ldc, variant.alpha,
      variant.beta, variant.nan_c);

  std::mt19937 rng(uint32_t(1000 * m + 100 * n + k + 10 * trans_a + trans_b + pad));
  std::uniform_real_distribution<T> uniform(-1, 1);
  auto make = [&](int64_t rows, int64_t cols, int64_t ld, T padding, bool garbage) {
    std::vector<T> data(size_t(std::max<int64_t>(1, rows * ld)), padding);
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) data[i * ld + j] = garbage ? nan : uniform(rng);
    }
    return data;
  };
  const std::vector<T> a = make(a_rows, a_cols, lda, nan, false);
  const std::vector<T> b = make(b_rows, b_cols, ldb, nan, false);
  std::vector<T> c = make(m, n, ldc, T(kCPadding), variant.nan_c);

  std::vector<T> expected = c;
  blas::reference_gemm<T>(trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta,
                          expected.data(), ldc);
  // Rounding bound for any summation order: |error| <= 2(k+2) eps (|alpha| |A||B| + |beta C|).
  auto absolute = [](std::vector<T> v) {
    for (T& x : v) x = std::isnan(x) ? T(0) : std::abs(x);  // NaN only in padding or garbage C
    return v;
  };
  const std::vector<T> abs_a = absolute(a), abs_b = absolute(b);
  std::vector<T> scale = absolute(c);
  for (T& x : scale) x *= std::abs(beta);
  blas::reference_gemm<T>(trans_a, trans_b, m, n, k, std::abs(alpha), abs_a.data(), lda,
                          abs_b.data(), ldb, T(1), scale.data(), ldc);
  const T tol = T(2 * (k + 2)) * std::numeric_limits<T>::epsilon();

  gemm(trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);

  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const int64_t at = i * ldc + j;
      if (j >= n) {
        outcome.padding_touched += c[at] != T(kCPadding);
      } else if (!(std::abs(c[at] - expected[at]) <= tol * scale[at])) {  // NaN fails too
        if (outcome.wrong++ == 0) {
          outcome.first_wrong = fmt::format("C({}, {}) = {}, expected {} (bound {})", i, j, c[at],
                                            expected[at], tol * scale[at]);
        }
      }
    }
  }
  return outcome;
}

void check(const Outcome& outcome) {
  INFO(outcome.description);
  INFO(outcome.first_wrong);
  CHECK(outcome.wrong == 0);
  CHECK(outcome.padding_touched == 0);
}

template <class T>
void check_gemm(GemmFn<T> gemm, const Shape& shape, bool trans_a, bool trans_b, int64_t pad,
                const Variant& variant) {
  check(run_gemm<T>(gemm, shape, trans_a, trans_b, pad, variant));
}

template <class T>
void check_all_shapes(GemmFn<T> gemm) {
  for (const Shape& shape : kShapes) {
    // The reference is a slow triple loop: large shapes get fewer variations.
    const bool large = shape.m * shape.n * shape.k > 1'000'000;
    const std::span<const Variant> variants =
        large ? std::span(kVariants).first(2) : std::span(kVariants);
    for (bool trans_a : {false, true}) {
      for (bool trans_b : {false, true}) {
        for (int64_t pad : {0, 3}) {
          if (large && pad == 0) continue;
          for (const Variant& variant : variants) {
            check_gemm<T>(gemm, shape, trans_a, trans_b, pad, variant);
          }
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("reference_gemm matches a product computed by hand", "[blas]") {
  // A = [1 2 3; 4 5 6], B = [1 -1; 0 2; 3 1], A B = [10 6; 22 12]
  const double a[] = {1, 2, 3, 4, 5, 6}, a_t[] = {1, 4, 2, 5, 3, 6};
  const double b[] = {1, -1, 0, 2, 3, 1}, b_t[] = {1, 0, 3, -1, 2, 1};
  const double c0[] = {1, 1, 1, 1};
  // 2 * A B - 1 * C0
  const std::vector<double> expected = {19, 11, 43, 23};
  for (bool trans_a : {false, true}) {
    for (bool trans_b : {false, true}) {
      std::vector<double> c(c0, c0 + 4);
      blas::reference_gemm<double>(trans_a, trans_b, 2, 2, 3, 2.0, trans_a ? a_t : a,
                                   trans_a ? 2 : 3, trans_b ? b_t : b, trans_b ? 3 : 2, -1.0,
                                   c.data(), 2);
      INFO("trans_a=" << trans_a << " trans_b=" << trans_b);
      CHECK(c == expected);
    }
  }
}

TEST_CASE("sgemm matches reference_gemm", "[blas]") { check_all_shapes<float>(blas::sgemm); }

TEST_CASE("dgemm matches reference_gemm", "[blas]") { check_all_shapes<double>(blas::dgemm); }

TEST_CASE("naive_gemm, the fallback, matches reference_gemm", "[blas]") {
  check_all_shapes<float>(blas::naive_gemm<float>);
  check_all_shapes<double>(blas::naive_gemm<double>);
}

TEST_CASE("k == 0 gives C = beta * C without reading A or B", "[blas]") {
  for (GemmFn<float> gemm : {GemmFn<float>(blas::sgemm), GemmFn<float>(blas::naive_gemm<float>)}) {
    std::vector<float> c = {1, -2, 3, 4, 5, -6};
    gemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.5f, c.data(), 3);
    CHECK(c == std::vector<float>{0.5f, -1, 1.5f, 2, 2.5f, -3});
    const float nan = std::numeric_limits<float>::quiet_NaN();
    c.assign(6, nan);
    gemm(true, true, 2, 3, 0, 1.0f, nullptr, 2, nullptr, 1, 0.0f, c.data(), 3);
    CHECK(c == std::vector<float>(6, 0.0f));
  }
}

TEST_CASE("alpha == 0 reads neither A nor B", "[blas]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> a(12, nan), b(12, nan);
  for (GemmFn<double> gemm :
       {GemmFn<double>(blas::dgemm), GemmFn<double>(blas::naive_gemm<double>)}) {
    std::vector<double> c = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    gemm(false, true, 3, 3, 4, 0.0, a.data(), 4, b.data(), 4, 2.0, c.data(), 3);
    CHECK(c == std::vector<double>{2, 4, 6, 8, 10, 12, 14, 16, 18});
  }
}

TEST_CASE("inconsistent sizes and leading dimensions are rejected", "[blas]") {
  std::vector<float> a(64), b(64), c(64);
  using Catch::Matchers::Contains;
  using Catch::Matchers::StartsWith;
  // A is 4 x 5 (lda >= 5), or 5 x 4 when stored transposed (lda >= 4).
  CHECK_THROWS_WITH(blas::sgemm(false, false, 4, 3, 5, 1, a.data(), 4, b.data(), 3, 0, c.data(), 3),
                    StartsWith("[sgemm] inconsistent sizes") && Contains("lda=4 (needs >= 5)"));
  CHECK_NOTHROW(blas::sgemm(true, false, 4, 3, 5, 1, a.data(), 4, b.data(), 3, 0, c.data(), 3));
  // B is 5 x 3 (ldb >= 3), or 3 x 5 when stored transposed (ldb >= 5).
  CHECK_THROWS_WITH(blas::sgemm(false, true, 4, 3, 5, 1, a.data(), 5, b.data(), 3, 0, c.data(), 3),
                    Contains("ldb=3 (needs >= 5)"));
  CHECK_NOTHROW(blas::sgemm(false, false, 4, 3, 5, 1, a.data(), 5, b.data(), 3, 0, c.data(), 3));
  CHECK_THROWS_WITH(blas::sgemm(false, false, 4, 3, 5, 1, a.data(), 5, b.data(), 3, 0, c.data(), 2),
                    Contains("ldc=2 (needs >= 3)"));
  CHECK_THROWS_WITH(
      blas::sgemm(false, false, -1, 3, 5, 1, a.data(), 5, b.data(), 3, 0, c.data(), 3),
      Contains("m=-1"));
  CHECK_THROWS_WITH(blas::sgemm(false, false, 4, 3, 5, 1, nullptr, 5, b.data(), 3, 0, c.data(), 3),
                    Contains("null"));
  std::vector<double> ad(64), bd(64), cd(64);
  CHECK_THROWS_WITH(
      blas::dgemm(false, false, 4, 3, 5, 1, ad.data(), 4, bd.data(), 3, 0, cd.data(), 3),
      StartsWith("[dgemm]"));
  CHECK_THROWS_WITH(blas::naive_gemm<double>(false, false, 4, 3, 5, 1, ad.data(), 4, bd.data(), 3,
                                             0, cd.data(), 3),
                    StartsWith("[naive_gemm]"));
}

TEST_CASE("kernel_description names the GEMM in use and where its kernels came from", "[blas]") {
  const std::string description = blas::kernel_description();
  INFO("kernel_description() = " << description);
  const bool openblas = description.rfind("OpenBLAS ", 0) == 0;
  const bool fallback = description.rfind("ember fallback GEMM (", 0) == 0;
  REQUIRE((openblas || fallback));
  if (const char* choice = std::getenv("EMBER_BLAS"); choice && std::string(choice) == "fallback") {
    CHECK(description == "ember fallback GEMM (EMBER_BLAS=fallback)");
  }
  if (fallback) {
    CHECK(description.back() == ')');
    CHECK(description.size() > std::string("ember fallback GEMM ()").size());
    return;
  }
  REQUIRE(description.find(" core=") != std::string::npos);
  if (description.find("loaded before ember") != std::string::npos) return;  // not ours to choose

  // ember restores the environment after loading OpenBLAS.
  const char* coretype_now = std::getenv("OPENBLAS_CORETYPE");
  CHECK(initial_coretype ==
        (coretype_now ? std::optional<std::string>(coretype_now) : std::nullopt));

  if (initial_coretype && !initial_coretype->empty()) {
    // A core the user set is respected, never overridden.
    CHECK(description.find("chosen by ember") == std::string::npos);
    if (description.find("unknown to this OpenBLAS") == std::string::npos) {
      CHECK(description.find("(from OPENBLAS_CORETYPE)") != std::string::npos);
    }
    return;
  }
  // Otherwise ember chose from the CPU's features (GCC's own detection, which also checks that the
  // OS saves the vector registers, is the independent oracle).
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    CHECK(description.find("core=SkylakeX (chosen by ember: AVX-512)") != std::string::npos);
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    CHECK(description.find("core=Haswell (chosen by ember: AVX2+FMA)") != std::string::npos);
  } else {
    CHECK(description.find("(OpenBLAS's own detection)") != std::string::npos);
  }
}

TEST_CASE("set_num_threads sets the threads of one GEMM call", "[blas]") {
  const int before = blas::num_threads();
  REQUIRE(before >= 1);
  blas::set_num_threads(1);
  CHECK(blas::num_threads() == 1);
  blas::set_num_threads(2);
  CHECK(blas::num_threads() == 2);
  CHECK_THROWS_AS(blas::set_num_threads(0), ember::Error);
  blas::set_num_threads(before);
  CHECK(blas::num_threads() == before);
  // Still correct with a single thread on a problem OpenBLAS would otherwise split.
  blas::set_num_threads(1);
  check_gemm<float>(blas::sgemm, {100, 70, 260}, false, true, 1, kVariants[0]);
  blas::set_num_threads(before);
}

TEST_CASE("sgemm may be called from several threads at once", "[blas]") {
  constexpr int kThreads = 4, kRepeats = 3;
  std::vector<Outcome> outcomes(kThreads * kRepeats);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&outcomes, t] {
      for (int repeat = 0; repeat < kRepeats; ++repeat) {
        // Large enough that OpenBLAS itself would use threads.
        outcomes[t * kRepeats + repeat] =
            run_gemm<float>(blas::sgemm, {130, 120, 110}, true, false, 2, kVariants[0]);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const Outcome& outcome : outcomes) check(outcome);
}
