// float32 exp, sigmoid, erf and tanh run as vectorisable straight-line code (backends/cpu/fast_math.h),
// not glibc's. Their accuracy is checked here against the double-precision functions, in ulps of
// the float32 result, over every 997th float32 bit pattern in each range (about 2 million values)
// and the special values. float16 and bfloat16 compute in float32 and round once.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <ember/ops/ops.h>

using namespace ember;

namespace {

float from_bits(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// Every 997th float in [lo, hi] (both signs handled by the caller's ranges).
std::vector<float> floats_between(float lo, float hi) {
  std::vector<float> out;
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 997) {
    const float x = from_bits(static_cast<uint32_t>(b));
    if (x >= lo && x <= hi) out.push_back(x);
  }
  return out;
}

// |got - want| in units of the last place of want rounded to float (the smallest subnormal at 0).
double ulps(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : std::numeric_limits<double>::infinity();
  const float w = static_cast<float>(want);
  if (std::isinf(w)) return got == w ? 0 : std::numeric_limits<double>::infinity();
  const double ulp = w == 0 ? std::numeric_limits<float>::denorm_min()
                            : std::nextafter(std::fabs(w), std::numeric_limits<float>::infinity()) - std::fabs(w);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

template <class Op, class Ref>
double worst_ulps(const std::vector<float>& xs, Op op, Ref ref) {
  const Tensor in = from_vector(xs, {static_cast<int64_t>(xs.size())});
  const std::vector<float> got = op(in).template to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < xs.size(); ++i) worst = std::max(worst, ulps(got[i], ref(static_cast<double>(xs[i]))));
  return worst;
}

}  // namespace

TEST_CASE("float32 exp is within 1 ulp, with libm's range", "[fast-math]") {
  const auto xs = floats_between(-110.0f, 90.0f);  // past the overflow and the last subnormal
  REQUIRE(xs.size() > 2000000);
  CHECK(worst_ulps(xs, [](const Tensor& t) { return exp(t); }, [](double x) { return std::exp(x); }) <= 1.0);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> special = exp(from_vector(std::vector<float>{88.73f, 1000.0f, inf, -inf, -103.98f, -100.0f, 0.0f,
                                                                         -0.0f, std::nanf("")},
                                                     {9}))
                                         .to_vector<float>();
  CHECK(special[0] == inf);
  CHECK(special[1] == inf);
  CHECK(special[2] == inf);
  CHECK(special[3] == 0.0f);
  CHECK(special[4] == 0.0f);
  CHECK(special[5] == std::exp(-100.0f));  // a subnormal, not flushed to 0
  CHECK(special[5] > 0.0f);
  CHECK(special[6] == 1.0f);
  CHECK(special[7] == 1.0f);
  CHECK(std::isnan(special[8]));
}

TEST_CASE("float32 sigmoid is within 3 ulp, tiny results included", "[fast-math]") {
  const auto xs = floats_between(-110.0f, 110.0f);
  CHECK(worst_ulps(xs, [](const Tensor& t) { return sigmoid(t); }, [](double x) { return 1 / (1 + std::exp(-x)); }) <= 3.0);
  const std::vector<float> ends =
      sigmoid(from_vector(std::vector<float>{-200.0f, 200.0f, -95.0f, std::nanf("")}, {4})).to_vector<float>();
  CHECK(ends[0] == 0.0f);
  CHECK(ends[1] == 1.0f);
  CHECK(ends[2] == std::exp(-95.0f));  // a subnormal, not 1 / (1 + inf) = 0
  CHECK(ends[2] > 0.0f);
  CHECK(std::isnan(ends[3]));
}

TEST_CASE("float32 erf is within 3 ulp, odd, and exact at the ends", "[fast-math]") {
  const auto xs = floats_between(-6.0f, 6.0f);  // every piece: |x| < 1, [1, 2), [2, 4), >= 4, subnormals
  REQUIRE(xs.size() > 2000000);
  CHECK(worst_ulps(xs, [](const Tensor& t) { return erf(t); }, [](double x) { return std::erf(x); }) <= 3.0);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> special =
      erf(from_vector(std::vector<float>{0.0f, -0.0f, inf, -inf, 4.0f, -10.0f, std::nanf("")}, {7})).to_vector<float>();
  CHECK(special[0] == 0.0f);
  CHECK_FALSE(std::signbit(special[0]));
  CHECK(special[1] == 0.0f);
  CHECK(std::signbit(special[1]));
  CHECK(special[2] == 1.0f);
  CHECK(special[3] == -1.0f);
  CHECK(special[4] == 1.0f);
  CHECK(special[5] == -1.0f);
  CHECK(std::isnan(special[6]));
}

TEST_CASE("float32 tanh is within 1.4 ulp, odd, and exact at the ends", "[fast-math]") {
  const auto xs = floats_between(-12.0f, 12.0f);  // both pieces (split at |x| = 0.625), saturation, subnormals
  REQUIRE(xs.size() > 2000000);
  CHECK(worst_ulps(xs, [](const Tensor& t) { return tanh(t); }, [](double x) { return std::tanh(x); }) <= 1.4);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> special =
      tanh(from_vector(std::vector<float>{0.0f, -0.0f, inf, -inf, 50.0f, -9.5f, std::nanf(""), 1e-30f}, {8}))
          .to_vector<float>();
  CHECK(special[0] == 0.0f);
  CHECK_FALSE(std::signbit(special[0]));
  CHECK(special[1] == 0.0f);
  CHECK(std::signbit(special[1]));
  CHECK(special[2] == 1.0f);
  CHECK(special[3] == -1.0f);
  CHECK(special[4] == 1.0f);
  CHECK(special[5] == -1.0f);
  CHECK(std::isnan(special[6]));
  CHECK(special[7] == 1e-30f);  // tanh x = x to within rounding for tiny x
}

TEST_CASE("16-bit exp and erf round the float32 result once", "[fast-math]") {
  const std::vector<float> xs = {-3.5f, -1.25f, -0.3f, 0.0f, 0.7f, 1.5f, 2.75f, 5.0f};
  for (DType dtype : {DType::BFloat16, DType::Float16}) {
    const Tensor x16 = from_vector(xs, {8}).to(dtype), x32 = x16.to(DType::Float32);
    CHECK(exp(x16).to(DType::Float32).to_vector<float>() == exp(x32).to(dtype).to(DType::Float32).to_vector<float>());
    CHECK(erf(x16).to(DType::Float32).to_vector<float>() == erf(x32).to(dtype).to(DType::Float32).to_vector<float>());
  }
}
