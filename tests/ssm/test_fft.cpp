// fft, ifft, rfft, irfft: the kernel (radix-2 and Bluestein) against a plain O(n^2) DFT, known
// transforms, torch.fft's padding/truncation and Hermitian conventions, linear convolution by FFT,
// batching across threads, gradients of first and second order, 16-bit inputs, and bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include <ember/ember.h>
#include <ember/testing/gradcheck.h>

#include "tests/backends/thread_count.h"

using namespace ember;
using Catch::Contains;
using V = std::vector<int64_t>;
using cplx = std::complex<long double>;

namespace {

Tensor rnd(const V& shape, uint64_t seed, DType dtype = DType::Float64) {
  Generator gen(seed);
  return randn(shape, {.dtype = DType::Float64}, &gen).to(dtype);
}

std::vector<double> vals(const Tensor& t) { return contiguous(t).to(DType::Float64).to_vector<double>(); }

// The definition, in long double, with j k reduced modulo n to index the n roots of unity (so the
// reference itself is accurate to ~1e-18 for the n used here). sign -1: forward, +1: inverse.
std::vector<cplx> dft_reference(const std::vector<cplx>& x, int sign) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<cplx> roots(n);
  for (int64_t m = 0; m < n; ++m) {
    const long double angle = sign * 2 * std::numbers::pi_v<long double> * static_cast<long double>(m) / static_cast<long double>(n);
    roots[m] = cplx(std::cos(angle), std::sin(angle));
  }
  std::vector<cplx> out(x.size());
  for (int64_t k = 0; k < n; ++k) {
    long double re = 0, im = 0;  // written out: std::complex's operator* checks for NaN on every call
    for (int64_t j = 0, jk = 0; j < n; ++j, jk = (jk + k) % n) {
      re += x[j].real() * roots[jk].real() - x[j].imag() * roots[jk].imag();
      im += x[j].real() * roots[jk].imag() + x[j].imag() * roots[jk].real();
    }
    out[k] = cplx(re, im);
  }
  return out;
}

// Row r of a [rows, n, 2] tensor as complex numbers.
std::vector<cplx> row(const std::vector<double>& flat, int64_t n, int64_t r) {
  std::vector<cplx> out(n);
  for (int64_t j = 0; j < n; ++j) out[j] = cplx(flat[2 * (r * n + j)], flat[2 * (r * n + j) + 1]);
  return out;
}

// ||a - b||_2 / ||b||_2.
double relative_error(const std::vector<cplx>& a, const std::vector<cplx>& b) {
  long double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += std::norm(a[i] - b[i]);
    den += std::norm(b[i]);
  }
  return static_cast<double>(std::sqrt(num / den));
}

// An FFT's relative L2 error grows like eps times the number of butterfly stages: each of the
// log2(m) stages (m = n, or Bluestein's power of two m < 4n, run three times) rounds every value once
// or twice, with errors that add in quadrature. 4 log2(4n) eps allows for Bluestein's three transforms
// and the chirp products on top; a wrong twiddle or index gives an error of order 1.
double fft_tolerance(int64_t n, DType dtype) {
  const double eps = dtype == DType::Float64 ? 0x1p-52 : 0x1p-23;
  return 4 * std::log2(4.0 * static_cast<double>(n)) * eps;
}

// Both dtypes transform the same values (float32-representable), so one reference serves both.
void check_against_reference(int64_t n) {
  const int64_t rows = 2;
  const Tensor x = rnd({rows, n, 2}, 100 + n, DType::Float32).to(DType::Float64);
  const auto in = vals(x);
  for (int64_t r = 0; r < rows; ++r) {
    const auto xr = row(in, n, r);
    const auto expected_fwd = dft_reference(xr, -1);
    auto expected_inv = dft_reference(xr, +1);
    for (cplx& v : expected_inv) v /= static_cast<long double>(n);
    for (DType dtype : {DType::Float64, DType::Float32}) {
      INFO(fmt::format("{}", dtype));
      const Tensor xd = x.to(dtype);
      CHECK(relative_error(row(vals(fft(xd)), n, r), expected_fwd) <= fft_tolerance(n, dtype));
      CHECK(relative_error(row(vals(ifft(xd)), n, r), expected_inv) <= fft_tolerance(n, dtype));
    }
  }
}

std::vector<cplx> to_complex(const Tensor& t) {
  const auto v = vals(t);
  return row(v, static_cast<int64_t>(v.size() / 2), 0);
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) w = std::max(w, std::abs(a[i] - b[i]));
  return w;
}

}  // namespace

TEST_CASE("fft and ifft agree with the O(n^2) DFT for powers of two and any other n", "[fft]") {
  for (int64_t n : {1, 2, 3, 5, 7, 8, 12, 16, 17, 100, 128, 1000, 1024}) {
    INFO("n = " << n);
    check_against_reference(n);
  }
}

TEST_CASE("fft of known signals", "[fft]") {
  for (int64_t n : {12, 16}) {
    INFO("n = " << n);
    const double tol = 1e-13 * static_cast<double>(n);
    // A unit impulse at j0 has X_k = e^(-2 pi i j0 k / n): at j0 = 0, all ones.
    for (int64_t j0 : {0, 3}) {
      Tensor delta = zeros({n, 2}, {.dtype = DType::Float64});
      delta.select(0, j0).select(0, 0).fill_(1.0);
      const auto X = vals(fft(delta));
      for (int64_t k = 0; k < n; ++k) {
        const double angle = -2 * std::numbers::pi * static_cast<double>((j0 * k) % n) / static_cast<double>(n);
        CHECK(std::abs(X[2 * k] - std::cos(angle)) <= tol);
        CHECK(std::abs(X[2 * k + 1] - std::sin(angle)) <= tol);
      }
    }
    // A constant c + di has all its energy at k = 0: X_0 = n (c + di).
    {
      Tensor c = zeros({n, 2}, {.dtype = DType::Float64});
      c.select(1, 0).fill_(1.5);
      c.select(1, 1).fill_(-0.5);
      const auto X = vals(fft(c));
      CHECK(std::abs(X[0] - 1.5 * static_cast<double>(n)) <= tol);
      CHECK(std::abs(X[1] + 0.5 * static_cast<double>(n)) <= tol);
      for (int64_t k = 1; k < n; ++k) CHECK(std::hypot(X[2 * k], X[2 * k + 1]) <= tol);
    }
    // cos(2 pi f j / n) = (e^(i..) + e^(-i..)) / 2: n/2 at k = f and k = n - f, 0 elsewhere.
    {
      const int64_t f = 2;
      std::vector<double> s(n);
      for (int64_t j = 0; j < n; ++j) s[j] = std::cos(2 * std::numbers::pi * static_cast<double>(f * j) / static_cast<double>(n));
      const auto X = vals(rfft(from_vector(s, {n})));
      REQUIRE(X.size() == static_cast<size_t>(2 * (n / 2 + 1)));
      for (int64_t k = 0; k <= n / 2; ++k) {
        CHECK(std::abs(X[2 * k] - (k == f ? static_cast<double>(n) / 2 : 0.0)) <= tol);
        CHECK(std::abs(X[2 * k + 1]) <= tol);
      }
      const auto full = vals(fft(stack({from_vector(s, {n}), zeros({n}, {.dtype = DType::Float64})}, -1)));
      CHECK(std::abs(full[2 * (n - f)] - static_cast<double>(n) / 2) <= tol);
    }
  }
}

TEST_CASE("ifft inverts fft, irfft inverts rfft", "[fft]") {
  for (int64_t n : {1, 6, 7, 64}) {
    INFO("n = " << n);
    const Tensor x = rnd({2, n, 2}, 7 + n);
    CHECK(max_abs_diff(vals(ifft(fft(x))), vals(x)) <= 1e-14 * static_cast<double>(n));
    const Tensor r = rnd({2, 3, n}, 9 + n);
    CHECK(max_abs_diff(vals(irfft(rfft(r), n)), vals(r)) <= 1e-14 * static_cast<double>(n));
  }
}

TEST_CASE("fft's n zero-pads or truncates the transformed dim", "[fft]") {
  const Tensor x = rnd({5, 2}, 11);
  const auto x_vals = vals(x);
  std::vector<cplx> xc = row(x_vals, 5, 0);
  // n = 8 transforms x followed by three zeros; n = 3 the first three samples.
  std::vector<cplx> padded = xc;
  padded.resize(8, 0);
  CHECK(relative_error(to_complex(fft(x, 8)), dft_reference(padded, -1)) <= 1e-15);
  std::vector<cplx> cut(xc.begin(), xc.begin() + 3);
  CHECK(relative_error(to_complex(fft(x, 3)), dft_reference(cut, -1)) <= 1e-15);
  auto expected = dft_reference(padded, +1);
  for (cplx& v : expected) v /= 8;
  CHECK(relative_error(to_complex(ifft(x, 8)), expected) <= 1e-15);
}

TEST_CASE("rfft is the non-negative half of the DFT of a real signal, padded or truncated to n", "[fft]") {
  for (auto [L, n] : std::vector<std::pair<int64_t, int64_t>>{{8, 8}, {7, 7}, {5, 12}, {5, 9}, {10, 6}, {10, 3}, {1, 1}}) {
    INFO("L = " << L << ", n = " << n);
    const Tensor x = rnd({2, L}, 20 + L + n);
    const Tensor X = rfft(x, n);
    REQUIRE(X.shape() == Shape{2, n / 2 + 1, 2});
    const auto xv = vals(x), Xv = vals(X);
    for (int64_t r = 0; r < 2; ++r) {
      std::vector<cplx> signal(n, 0);
      for (int64_t j = 0; j < std::min(L, n); ++j) signal[j] = xv[r * L + j];
      auto expected = dft_reference(signal, -1);
      expected.resize(n / 2 + 1);
      CHECK(relative_error(row(Xv, n / 2 + 1, r), expected) <= 1e-14);
    }
  }
  CHECK(rfft(rnd({4, 6}, 3)).shape() == Shape{4, 4, 2});  // n defaults to L
}

TEST_CASE("irfft follows torch.fft.irfft: Hermitian extension, ignored edge imaginary parts, fitted input", "[fft]") {
  // (m, n): m = n/2 + 1 exactly, more frequencies than n uses (truncated), fewer (zero-padded); even
  // and odd n.
  for (auto [m, n] : std::vector<std::pair<int64_t, int64_t>>{{5, 8}, {5, 9}, {7, 6}, {3, 10}, {4, -1}, {1, 1}, {2, 2}}) {
    INFO("m = " << m << ", n = " << n);
    const Tensor X = rnd({2, m, 2}, 30 + m);
    const Tensor x = irfft(X, n);
    const int64_t len = n == -1 ? 2 * (m - 1) : n;
    REQUIRE(x.shape() == Shape{2, len});
    const auto Xv = vals(X), xv = vals(x);
    for (int64_t r = 0; r < 2; ++r) {
      const auto half = row(Xv, m, r);
      // The spectrum torch builds: Y_k = X_k (k <= len/2, zero past m), Y_k = conj(Y_(len-k)) above;
      // the result is real, the imaginary parts of Y_0 and Y_(len/2) dropped.
      std::vector<cplx> Y(len, 0);
      for (int64_t k = 0; k <= len / 2; ++k) Y[k] = k < m ? half[k] : cplx(0);
      Y[0] = Y[0].real();
      if (len % 2 == 0) Y[len / 2] = Y[len / 2].real();
      for (int64_t k = len / 2 + 1; k < len; ++k) Y[k] = std::conj(Y[len - k]);
      const auto y = dft_reference(Y, +1);
      for (int64_t j = 0; j < len; ++j)
        CHECK(std::abs(xv[r * len + j] - static_cast<double>(y[j].real() / len)) <= 1e-14);
    }
  }
}

TEST_CASE("rfft and irfft compute a causal linear convolution with zero padding to 2L", "[fft]") {
  // What nn::S4D relies on: y = irfft(rfft(u, 2L) * rfft(k, 2L), 2L)[:L] is sum_(j <= l) k_(l-j) u_j.
  const int64_t L = 13;
  const Tensor u = rnd({3, L}, 41), k = rnd({L}, 42);
  const Tensor U = rfft(u, 2 * L), K = rfft(k, 2 * L);
  const Tensor ur = select(U, -1, 0), ui = select(U, -1, 1), kr = select(K, -1, 0), ki = select(K, -1, 1);
  const Tensor prod = stack({ur * kr - ui * ki, ur * ki + ui * kr}, -1);
  const auto y = vals(narrow(irfft(prod, 2 * L), -1, 0, L));
  const auto uv = vals(u), kv = vals(k);
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t l = 0; l < L; ++l) {
      double direct = 0;
      for (int64_t j = 0; j <= l; ++j) direct += kv[l - j] * uv[b * L + j];
      CHECK(std::abs(y[b * L + l] - direct) <= 1e-13);
    }
}

TEST_CASE("a batch of transforms spread over threads equals each transform alone", "[fft]") {
  // Enough transforms to take the kernel's parallel path; every row must land at its own offset.
  for (int64_t n : {100, 128}) {
    const Tensor x = rnd({64, n, 2}, 50 + n, DType::Float32);
    Tensor batched;
    {
      test::ThreadCount threads(2);
      batched = fft(x);
    }
    for (int64_t r : {0, 1, 31, 63}) CHECK(equal(select(batched, 0, r), fft(select(x, 0, r))));
  }
}

TEST_CASE("leading dims are batch dims and strided input works", "[fft]") {
  const Tensor x = rnd({2, 3, 6, 2}, 61);
  const Tensor t = transpose(rnd({6, 3, 2, 2}, 62), 0, 2);  // [2, 3, 6, 2], not contiguous
  CHECK(allclose(fft(x).select(0, 1).select(0, 2), fft(x.select(0, 1).select(0, 2)), 0, 0));
  CHECK(allclose(fft(t), fft(contiguous(t)), 0, 0));
  CHECK(fft(zeros({0, 4, 2}, {.dtype = DType::Float64})).shape() == Shape{0, 4, 2});
}

TEST_CASE("16-bit inputs compute in float32 and keep their dtype", "[fft]") {
  const Tensor x = rnd({8, 2}, 70, DType::Float16);
  const Tensor X = fft(x);
  CHECK(X.dtype() == DType::Float16);
  CHECK(max_abs_diff(vals(X), vals(fft(x.to(DType::Float32)).to(DType::Float16))) == 0);
  const Tensor r = rnd({6}, 71, DType::BFloat16);
  CHECK(rfft(r).dtype() == DType::BFloat16);
  CHECK(irfft(rfft(r), 6).dtype() == DType::BFloat16);
}

TEST_CASE("fft, ifft, rfft and irfft pass gradcheck and gradgradcheck in float64", "[fft][gradcheck]") {
  using testing::gradcheck;
  using testing::gradgradcheck;
  using Inputs = std::vector<Tensor>;
  // A non-uniform weighting of the outputs makes every output element matter to the checked sum.
  auto weigh = [](const Tensor& y) { return y * rnd(std::vector<int64_t>(y.shape().begin(), y.shape().end()), 99); };
  struct Case {
    const char* name;
    V shape;
    std::function<Tensor(const Tensor&)> f;
  };
  const std::vector<Case> cases{
      {"fft", {2, 5, 2}, [](const Tensor& x) { return fft(x); }},
      {"fft n=4 (radix-2)", {1, 4, 2}, [](const Tensor& x) { return fft(x); }},
      {"fft padded", {3, 2}, [](const Tensor& x) { return fft(x, 5); }},
      {"fft truncated", {5, 2}, [](const Tensor& x) { return fft(x, 3); }},
      {"ifft", {2, 3, 2}, [](const Tensor& x) { return ifft(x); }},
      {"ifft padded", {3, 2}, [](const Tensor& x) { return ifft(x, 4); }},
      {"rfft even", {2, 6}, [](const Tensor& x) { return rfft(x); }},
      {"rfft odd", {2, 5}, [](const Tensor& x) { return rfft(x); }},
      {"rfft padded", {4}, [](const Tensor& x) { return rfft(x, 7); }},
      {"rfft truncated", {7}, [](const Tensor& x) { return rfft(x, 4); }},
      {"irfft even", {2, 4, 2}, [](const Tensor& x) { return irfft(x); }},
      {"irfft odd", {2, 4, 2}, [](const Tensor& x) { return irfft(x, 7); }},
      {"irfft padded", {2, 2}, [](const Tensor& x) { return irfft(x, 6); }},
      {"irfft truncated", {5, 2}, [](const Tensor& x) { return irfft(x, 4); }},
      {"irfft n=1", {3, 2}, [](const Tensor& x) { return irfft(x, 1); }},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const Tensor x = rnd(c.shape, 80).requires_grad_();
    auto f = [&](const Inputs& in) { return weigh(c.f(in[0])); };
    CHECK(gradcheck(f, {x}) == "");
    CHECK(gradgradcheck(f, {x}) == "");
  }
}

TEST_CASE("the gradient of rfft is the Hermitian-weighted adjoint, as torch computes it", "[fft][gradcheck]") {
  // Finite differences cannot see a wrong weight on an output the loss ignores; these exact values
  // pin each frequency's weight. For n = 4, d Re(X_k) / d x_j = cos(2 pi j k / 4): the gradient of
  // sum_k Re X_k is (sum_k cos(pi j k / 2))_j = (3, 0, 1, 0) over k = 0, 1, 2.
  const Tensor x = rnd({4}, 90).requires_grad_();
  select(rfft(x), -1, 0).sum().backward();
  CHECK(max_abs_diff(vals(x.grad()), {3, 0, 1, 0}) <= 1e-15);
  // irfft(X, 4)_j = (Re X_0 + 2 Re(X_1 i^j) + Re X_2 (-1)^j) / 4: d sum_j x_j / d X = (1, 0) at k = 0
  // and 0 elsewhere (the other frequencies sum to zero over j).
  const Tensor X = rnd({3, 2}, 91).requires_grad_();
  irfft(X, 4).sum().backward();
  CHECK(max_abs_diff(vals(X.grad()), {1, 0, 0, 0, 0, 0}) <= 1e-15);
  // d x_0 / d X: (1/4, 0), (2/4, 0), (1/4, 0); the imaginary parts of the ends get nothing.
  const Tensor X2 = rnd({3, 2}, 92).requires_grad_();
  select(irfft(X2, 4), -1, 0).backward();
  CHECK(max_abs_diff(vals(X2.grad()), {0.25, 0, 0.5, 0, 0.25, 0}) <= 1e-15);
}

TEST_CASE("bad input to the transforms is an ember::Error naming the op and the input", "[fft]") {
  const Tensor c = rnd({4, 2}, 1);
  CHECK_THROWS_WITH(fft(zeros({4, 2}, {.dtype = DType::Int64})), Contains("[fft]") && Contains("int64") && Contains("[4, 2]"));
  CHECK_THROWS_WITH(fft(rnd({4, 3}, 1)), Contains("[fft]") && Contains("[..., n, 2]") && Contains("[4, 3]"));
  CHECK_THROWS_WITH(fft(rnd({2}, 1)), Contains("[fft]") && Contains("[2]"));
  CHECK_THROWS_WITH(fft(c, 0), Contains("[fft]") && Contains("n must be at least 1, got 0"));
  CHECK_THROWS_WITH(fft(zeros({3, 0, 2}, {.dtype = DType::Float64})), Contains("[fft]") && Contains("empty") && Contains("[3, 0, 2]"));
  CHECK_THROWS_WITH(ifft(c, -3), Contains("[ifft]") && Contains("got -3"));
  CHECK_THROWS_WITH(ifft(zeros({4}, {.dtype = DType::Bool})), Contains("[ifft]") && Contains("bool"));
  CHECK_THROWS_WITH(rfft(zeros({4}, {.dtype = DType::Int32})), Contains("[rfft]") && Contains("int32"));
  CHECK_THROWS_WITH(rfft(scalar_tensor(1.0)), Contains("[rfft]") && Contains("[]"));
  CHECK_THROWS_WITH(rfft(zeros({2, 0})), Contains("[rfft]") && Contains("[2, 0]"));
  CHECK_THROWS_WITH(rfft(rnd({4}, 2), 0), Contains("[rfft]") && Contains("got 0"));
  CHECK_THROWS_WITH(irfft(rnd({1, 2}, 3)), Contains("[irfft]") && Contains("pass n") && Contains("[1, 2]"));
  CHECK_THROWS_WITH(irfft(rnd({3, 3}, 3), 4), Contains("[irfft]") && Contains("[3, 3]"));
  CHECK_THROWS_WITH(irfft(c, -2), Contains("[irfft]") && Contains("got -2"));
  CHECK_THROWS_WITH(fft(Tensor()), Contains("[fft]") && Contains("undefined"));
}

TEST_CASE("on CUDA (cuFFT) the transforms and their gradients match the CPU's", "[fft][cuda]") {
  if (!cuda::is_available()) {
    WARN("no CUDA device: cuFFT was not compared with the CPU kernel");
    return;
  }
  const Device gpu = Device::cuda(0);
  // ||a - b|| / ||b|| over all elements: each side is within fft_tolerance of the exact transform.
  auto rel = [](const Tensor& a, const Tensor& b) {
    const auto x = vals(a), y = vals(b);
    REQUIRE(x.size() == y.size());
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      num += (x[i] - y[i]) * (x[i] - y[i]);
      den += y[i] * y[i];
    }
    return std::sqrt(num / den);
  };
  for (DType dtype : {DType::Float64, DType::Float32})
    for (int64_t n : {1, 16, 17, 1000}) {
      INFO(fmt::format("{}", dtype) << ", n = " << n);
      const double tol = 2 * fft_tolerance(2 * n, dtype);
      const Tensor x = rnd({3, n, 2}, 200 + n, dtype);
      CHECK(rel(fft(x.to(gpu)), fft(x)) <= tol);
      CHECK(rel(ifft(x.to(gpu)), ifft(x)) <= tol);
      const Tensor r = rnd({3, n}, 300 + n, dtype);
      CHECK(rel(rfft(r.to(gpu), 2 * n), rfft(r, 2 * n)) <= tol);
      CHECK(rel(irfft(rfft(r.to(gpu)), n), r) <= tol);
    }
  // Gradients run the same transforms on the device.
  const Tensor x = rnd({2, 6}, 400).requires_grad_();
  const Tensor xg = x.detach().to(gpu).requires_grad_();
  (irfft(rfft(x) * 2.0, 7) * rnd({2, 7}, 402)).sum().backward();
  (irfft(rfft(xg) * 2.0, 7) * rnd({2, 7}, 402).to(gpu)).sum().backward();
  CHECK(max_abs_diff(vals(xg.grad()), vals(x.grad())) <= 1e-12);
}
