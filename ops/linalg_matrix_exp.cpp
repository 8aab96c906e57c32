// linalg.matrix_power and linalg.matrix_exp, written with matmul, inv and solve: their gradients, of
// every order, are those ops' gradients.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include <ember/core/error.h>
#include <ember/ops/linalg_host.h>
#include <ember/ops/lu.h>
#include <ember/ops/matrix_functions.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

// The coefficients of the degree-m Pade approximant of exp, p(x) = sum_j c_j x^j with
// c_j = (2m - j)! m! / ((2m)! j! (m - j)!); then exp(x) ~ p(x) / p(-x).
std::vector<double> pade_coefficients(int m) {
  std::vector<double> c(m + 1);
  c[0] = 1;
  for (int j = 0; j < m; ++j) c[j + 1] = c[j] * (m - j) / ((2.0 * m - j) * (j + 1));
  return c;
}

// Higham (2005), table 2.3: the largest 1-norm of A for which the degree-m approximant's backward
// error is below float64's unit roundoff.
struct PadeDegree {
  int m;
  double theta;
};
constexpr std::array<PadeDegree, 5> kPadeDegrees = {{{3, 1.495585217958292e-2},
                                                     {5, 2.539398330063230e-1},
                                                     {7, 9.504178996162932e-1},
                                                     {9, 2.097847961257068e0},
                                                     {13, 5.371920351148152e0}}};

// The odd part U and even part V of p(A) = V + U, so that p(-A) = V - U.
struct OddEven {
  Tensor odd, even;
};

OddEven pade_parts(const Tensor& a, const Tensor& identity, int m) {
  const std::vector<double> c = pade_coefficients(m);
  const Tensor a2 = matmul(a, a);
  if (m == 13) {
    // Higham's evaluation: 6 matrix products instead of 12.
    const Tensor a4 = matmul(a2, a2), a6 = matmul(a4, a2);
    const Tensor odd_high = a6 * c[13] + a4 * c[11] + a2 * c[9];
    const Tensor even_high = a6 * c[12] + a4 * c[10] + a2 * c[8];
    const Tensor odd = matmul(a, matmul(a6, odd_high) + a6 * c[7] + a4 * c[5] + a2 * c[3] + identity * c[1]);
    const Tensor even = matmul(a6, even_high) + a6 * c[6] + a4 * c[4] + a2 * c[2] + identity * c[0];
    return {odd, even};
  }
  // Degrees 3 to 9: the even powers A^0, A^2, ..., A^(m-1), shared by both parts.
  Tensor odd_sum = identity * c[1], even = identity * c[0];
  Tensor power = identity;
  for (int j = 2; j <= m; j += 2) {
    power = j == 2 ? a2 : matmul(power, a2);
    even = even + power * c[j];
    if (j + 1 <= m) odd_sum = odd_sum + power * c[j + 1];
  }
  return {matmul(a, odd_sum), even};
}

}  // namespace

Tensor matrix_power(const Tensor& a_in, int64_t n) {
  const char* op = "linalg.matrix_power";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/true);
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  const Shape batch(a.shape().begin(), a.shape().end() - 2);
  if (n == 0) return ember::detail::constant_in_graph(contiguous(detail::identity_batch(batch, a.size(-1), a)), a);
  Tensor base = a;
  if (n < 0) {
    // One LU: inv_ex reports a singular A in info instead of raising linalg.inv's error.
    auto [inverse, info] = inv_ex(a);
    detail::raise_first_zero_pivot(op, a, info, fmt::format(", so it has no power {}", n).c_str());
    base = inverse;
  }
  // |n| without overflow at INT64_MIN: its bits, read as unsigned.
  uint64_t remaining = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  Tensor result;
  // Repeated squaring: base runs through A, A^2, A^4, ...; result multiplies in those the bits of n ask for.
  while (true) {
    if (remaining & 1) result = result.defined() ? matmul(result, base) : base;
    remaining >>= 1;
    if (remaining == 0) break;
    base = matmul(base, base);
  }
  return result.is_same(a) ? clone(a) : result;  // A^1 is a new tensor, not A itself
}

Tensor matrix_exp(const Tensor& a_in) {
  const char* op = "linalg.matrix_exp";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/true);
  AutocastDisabled autocast_off;  // operands already in float32 (matrix_operand)
  const int64_t n = a.size(-1);
  if (a.numel() == 0) return clone(a);
  const Shape batch(a.shape().begin(), a.shape().end() - 2);
  std::vector<double> norms;  // each matrix's 1-norm (largest column sum of |a|)
  {
    NoGradGuard no_grad;
    norms = cast(amax(sum(abs(a), {-2}), {-1}), DType::Float64).reshape({-1}).to_vector<double>();
  }
  // Each matrix's degree and number of squarings, Higham's choice for its own norm. NaN or inf
  // entries: degree 13 unscaled, which carries them into the result (NaN).
  std::vector<int> degrees(norms.size(), 13), squarings(norms.size(), 0);
  for (size_t b = 0; b < norms.size(); ++b) {
    if (!std::isfinite(norms[b])) continue;
    const auto fits = std::find_if(kPadeDegrees.begin(), kPadeDegrees.end() - 1,
                                   [&](const PadeDegree& d) { return norms[b] <= d.theta; });
    degrees[b] = fits->m;
    if (fits->m == 13 && norms[b] > kPadeDegrees.back().theta)
      // exp(A) = exp(A / 2^s)^(2^s), with s the fewest halvings that bring the norm under theta_13;
      // past 1100 the result overflows float64 whatever s is.
      squarings[b] = std::min(1100, static_cast<int>(std::ceil(std::log2(norms[b] / kPadeDegrees.back().theta))));
  }
  const int m = *std::max_element(degrees.begin(), degrees.end());
  const int most = *std::max_element(squarings.begin(), squarings.end());
  const bool shared = std::all_of(squarings.begin(), squarings.end(), [&](int s) { return s == most; });
  if (shared) {  // one scaling for the whole batch (always for one matrix)
    const Tensor scaled = most > 0 ? a * std::ldexp(1.0, -most) : a;  // a power of two: exact
    const OddEven parts = pade_parts(scaled, detail::identity_batch(batch, n, a), m);
    Tensor result = solve(parts.even - parts.odd, parts.even + parts.odd);
    for (int i = 0; i < most; ++i) result = matmul(result, result);
    return result;
  }
  // Matrices of a batch that need different numbers of squarings each get their own: one scaling
  // for all, that of the largest norm, squared a small matrix 50 times from A / 2^50, whose Pade
  // value is I to rounding (exp(1e-3 I) came out as I next to a matrix of norm 1e15). Each is scaled
  // by its own 2^-s, and the squarings stop for each where its s is reached.
  Shape column_shape = batch;
  column_shape.push_back(1);
  column_shape.push_back(1);
  std::vector<double> factors(squarings.size());
  for (size_t b = 0; b < squarings.size(); ++b) factors[b] = std::ldexp(1.0, -squarings[b]);
  const Tensor scale = from_vector(factors, column_shape, {.dtype = a.dtype(), .device = a.device()});
  const OddEven parts = pade_parts(a * scale, detail::identity_batch(batch, n, a), m);
  Tensor result = solve(parts.even - parts.odd, parts.even + parts.odd);
  std::vector<uint8_t> squares_left(squarings.size());
  for (int i = 0; i < most; ++i) {
    for (size_t b = 0; b < squarings.size(); ++b) squares_left[b] = i < squarings[b];
    const Tensor more = from_vector(squares_left, column_shape, {.dtype = DType::Bool, .device = a.device()});
    result = where(more, matmul(result, result), result);
  }
  return result;
}

}  // namespace ember::linalg
