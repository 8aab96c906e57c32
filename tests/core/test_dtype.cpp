// Half and BFloat16 conversions against IEEE 754 worked by hand, and PyTorch's promotion table.
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <ember/core/dtype.h>

using namespace ember;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

uint16_t half_bits(float f) { return Half::from_float(f); }
uint16_t bf16_bits(float f) { return BFloat16::from_float(f); }

bool is_half_nan(uint16_t b) { return (b & 0x7c00u) == 0x7c00u && (b & 0x03ffu) != 0; }
bool is_bf16_nan(uint16_t b) { return (b & 0x7f80u) == 0x7f80u && (b & 0x007fu) != 0; }

// binary16 decoded from its fields: (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m when e == 0.
double half_value_by_fields(uint16_t b) {
  const int sign = b >> 15, e = (b >> 10) & 0x1f, m = b & 0x3ff;
  const double magnitude = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  return sign ? -magnitude : magnitude;
}

// bfloat16 decoded from its fields: (-1)^s * 2^(e-127) * 1.m, or 2^-126 * 0.m when e == 0.
double bf16_value_by_fields(uint16_t b) {
  const int sign = b >> 15, e = (b >> 7) & 0xff, m = b & 0x7f;
  const double magnitude = e == 0 ? std::ldexp(m, -133) : std::ldexp(128 + m, e - 134);
  return sign ? -magnitude : magnitude;
}

}  // namespace

TEST_CASE("Half from float on hand-worked values", "[dtype][half]") {
  CHECK(half_bits(1.0f) == 0x3c00);
  CHECK(half_bits(-2.0f) == 0xc000);
  CHECK(half_bits(0.0f) == 0x0000);
  CHECK(half_bits(-0.0f) == 0x8000);
  CHECK(half_bits(0x1p-14f) == 0x0400);  // smallest normal

  SECTION("the top of the range: 65504 is the largest half; 65520 is the midpoint to 2^16") {
    CHECK(half_bits(65504.0f) == 0x7bff);
    CHECK(half_bits(65520.0f) == 0x7c00);   // tie; 0x7bff is odd, so it rounds up to inf
    CHECK(half_bits(65519.99f) == 0x7bff);  // just below the midpoint
    CHECK(half_bits(-65520.0f) == 0xfc00);
    CHECK(half_bits(1e10f) == 0x7c00);
  }
  SECTION("subnormals round to nearest, ties to even") {
    CHECK(half_bits(0x1p-24f) == 0x0001);  // smallest subnormal
    CHECK(half_bits(0x1p-25f) == 0x0000);  // half of it: a tie between 0 and 0x0001, 0 is even
    CHECK(half_bits(-0x1p-25f) == 0x8000);
    CHECK(half_bits(0x1.000002p-25f) == 0x0001);  // just above the tie
    CHECK(half_bits(0x3p-25f) == 0x0002);    // 1.5 * 2^-24: tie between 0x0001 and 0x0002 -> even
    CHECK(half_bits(0x3ffp-24f) == 0x03ff);  // largest subnormal
    CHECK(half_bits(0x7ffp-25f) == 0x0400);  // tie between 0x03ff and 0x0400 carries to normal
  }
  SECTION("normals round to nearest, ties to even") {
    CHECK(half_bits(0x1.002p0f) == 0x3c00);  // 1 + 2^-11: tie between 1 and 1 + 2^-10 -> 1
    CHECK(half_bits(0x1.006p0f) == 0x3c02);  // 1 + 3*2^-11: tie between 0x3c01 and 0x3c02 -> even
    CHECK(half_bits(0x1.002002p0f) == 0x3c01);  // just above the first tie
  }
  SECTION("inf and NaN") {
    CHECK(half_bits(kInf) == 0x7c00);
    CHECK(half_bits(-kInf) == 0xfc00);
    CHECK(is_half_nan(half_bits(std::numeric_limits<float>::quiet_NaN())));
    CHECK(is_half_nan(half_bits(-std::numeric_limits<float>::quiet_NaN())));
    // A NaN whose payload sits only in the 13 bits a conversion drops must not become inf.
    CHECK(is_half_nan(half_bits(std::bit_cast<float>(0x7f800001u))));
  }
}

TEST_CASE("Half to float on hand-worked values", "[dtype][half]") {
  CHECK(Half::to_float(0x3c00) == 1.0f);
  CHECK(Half::to_float(0xc000) == -2.0f);
  CHECK(Half::to_float(0x7bff) == 65504.0f);
  CHECK(Half::to_float(0x0001) == 0x1p-24f);
  CHECK(Half::to_float(0x03ff) == 0x3ffp-24f);
  CHECK(Half::to_float(0x3c02) == 0x1.008p0f);  // 1 + 2^-9
  CHECK(Half::to_float(0x7c00) == kInf);
  CHECK(Half::to_float(0xfc00) == -kInf);
  CHECK(std::isnan(Half::to_float(0x7e00)));
  CHECK(std::isnan(Half::to_float(0x7c01)));
  CHECK(std::signbit(Half::to_float(0x8000)));
  CHECK(float(Half(1.5f)) == 1.5f);  // the implicit conversions go through the same functions
}

TEST_CASE("every half bit pattern decodes to its IEEE value and converts back to itself",
          "[dtype][half]") {
  std::vector<uint32_t> wrong_value, wrong_round_trip;
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    const uint16_t bits = static_cast<uint16_t>(b);
    const float f = Half::to_float(bits);
    const uint16_t back = Half::from_float(f);
    if (is_half_nan(bits)) {
      if (!std::isnan(f)) wrong_value.push_back(b);
      if (!is_half_nan(back)) wrong_round_trip.push_back(b);
      continue;
    }
    const bool is_inf = (bits & 0x7fffu) == 0x7c00u;
    const double expected = is_inf ? ((bits >> 15) ? -kInf : kInf) : half_value_by_fields(bits);
    if (double(f) != expected || std::signbit(f) != bool(bits >> 15)) wrong_value.push_back(b);
    if (back != bits) wrong_round_trip.push_back(b);
  }
  INFO("first wrong decode: 0x" << std::hex << (wrong_value.empty() ? 0u : wrong_value[0]));
  CHECK(wrong_value.empty());
  INFO("first wrong round trip: 0x" << std::hex
                                    << (wrong_round_trip.empty() ? 0u : wrong_round_trip[0]));
  CHECK(wrong_round_trip.empty());
}

// Between every two adjacent finite halves, the float midpoint must go to the even one and the
// floats just beside it to the nearer one; this covers every rounding path (normal, subnormal,
// the subnormal-to-normal boundary and each exponent carry) for both signs.
TEST_CASE("Half rounds every midpoint between adjacent halves to even", "[dtype][half]") {
  std::vector<uint32_t> wrong;
  for (uint32_t lo = 0; lo < 0x7bff; ++lo) {
    const uint16_t hi = static_cast<uint16_t>(lo + 1);
    const float mid = static_cast<float>((half_value_by_fields(lo) + half_value_by_fields(hi)) / 2);
    const uint16_t even = (lo & 1u) ? hi : static_cast<uint16_t>(lo);
    const bool ok = Half::from_float(mid) == even &&
                    Half::from_float(std::nextafter(mid, 0.0f)) == lo &&
                    Half::from_float(std::nextafter(mid, kInf)) == hi &&
                    Half::from_float(-mid) == (0x8000 | even);
    if (!ok) wrong.push_back(lo);
  }
  INFO("first wrong pair starts at 0x" << std::hex << (wrong.empty() ? 0u : wrong[0]));
  CHECK(wrong.empty());
}

TEST_CASE("BFloat16 from and to float on hand-worked values", "[dtype][bfloat16]") {
  CHECK(bf16_bits(1.0f) == 0x3f80);
  CHECK(bf16_bits(-2.0f) == 0xc000);
  CHECK(bf16_bits(0x1.01p0f) == 0x3f80);  // 1 + 2^-8: tie between 1 and 1 + 2^-7 -> 1
  CHECK(bf16_bits(0x1.03p0f) == 0x3f82);  // 1 + 3*2^-8: tie between 0x3f81 and 0x3f82 -> even
  CHECK(BFloat16::to_float(0x3f82) == 0x1.04p0f);  // 1 + 2^-6
  CHECK(bf16_bits(0x1.010002p0f) == 0x3f81);       // just above the first tie
  CHECK(bf16_bits(kInf) == 0x7f80);
  CHECK(bf16_bits(-kInf) == 0xff80);
  CHECK(bf16_bits(std::numeric_limits<float>::max()) == 0x7f80);  // above max + half an ulp
  CHECK(bf16_bits(0x1.fep127f) == 0x7f7f);                        // the largest bfloat16
  CHECK(bf16_bits(0x1p-133f) == 0x0001);                          // smallest subnormal
  CHECK(is_bf16_nan(bf16_bits(std::numeric_limits<float>::quiet_NaN())));
  CHECK(is_bf16_nan(bf16_bits(-std::numeric_limits<float>::quiet_NaN())));
  // Truncating this NaN's bits would give inf: its payload lies only in the low 16 bits.
  CHECK(is_bf16_nan(bf16_bits(std::bit_cast<float>(0x7f800001u))));
  CHECK(std::isnan(BFloat16::to_float(0x7fc0)));
}

TEST_CASE("every bfloat16 bit pattern decodes to its value and converts back to itself",
          "[dtype][bfloat16]") {
  std::vector<uint32_t> wrong_value, wrong_round_trip;
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    const uint16_t bits = static_cast<uint16_t>(b);
    const float f = BFloat16::to_float(bits);
    const uint16_t back = BFloat16::from_float(f);
    if (is_bf16_nan(bits)) {
      if (!std::isnan(f)) wrong_value.push_back(b);
      if (!is_bf16_nan(back)) wrong_round_trip.push_back(b);
      continue;
    }
    const bool is_inf = (bits & 0x7fffu) == 0x7f80u;
    const double expected = is_inf ? ((bits >> 15) ? -kInf : kInf) : bf16_value_by_fields(bits);
    if (double(f) != expected || std::signbit(f) != bool(bits >> 15)) wrong_value.push_back(b);
    if (back != bits) wrong_round_trip.push_back(b);
  }
  INFO("first wrong decode: 0x" << std::hex << (wrong_value.empty() ? 0u : wrong_value[0]));
  CHECK(wrong_value.empty());
  INFO("first wrong round trip: 0x" << std::hex
                                    << (wrong_round_trip.empty() ? 0u : wrong_round_trip[0]));
  CHECK(wrong_round_trip.empty());
}

// bfloat16 is the top half of a float, so the midpoint between patterns lo and lo + 1 is the
// float whose bits are lo:8000, and its neighbours are lo:7fff and lo:8001. The last pair
// (0x7f7f, inf) checks overflow: the midpoint past the largest bfloat16 rounds to inf.
TEST_CASE("BFloat16 rounds every midpoint between adjacent values to even", "[dtype][bfloat16]") {
  std::vector<uint32_t> wrong;
  for (uint32_t lo = 0; lo <= 0x7f7f; ++lo) {
    const uint16_t hi = static_cast<uint16_t>(lo + 1);
    const uint16_t even = (lo & 1u) ? hi : static_cast<uint16_t>(lo);
    const auto from_bits = [](uint32_t x) { return BFloat16::from_float(std::bit_cast<float>(x)); };
    const bool ok = from_bits(lo << 16 | 0x8000u) == even && from_bits(lo << 16 | 0x7fffu) == lo &&
                    from_bits(lo << 16 | 0x8001u) == hi &&
                    from_bits(0x80000000u | lo << 16 | 0x8000u) == (0x8000 | even);
    if (!ok) wrong.push_back(lo);
  }
  INFO("first wrong pair starts at 0x" << std::hex << (wrong.empty() ? 0u : wrong[0]));
  CHECK(wrong.empty());
}

TEST_CASE("promote_types follows torch.promote_types", "[dtype][promotion]") {
  struct Case {
    DType a, b, expected;
  };
  const Case cases[] = {
      {DType::Bool, DType::UInt8, DType::UInt8},
      {DType::UInt8, DType::Int32, DType::Int32},
      {DType::Int64, DType::Float16, DType::Float16},
      {DType::Float16, DType::BFloat16, DType::Float32},
      {DType::Float32, DType::Float64, DType::Float64},
      {DType::Int32, DType::BFloat16, DType::BFloat16},
      {DType::Bool, DType::Bool, DType::Bool},
      {DType::Int32, DType::Int64, DType::Int64},
      {DType::Bool, DType::Float16, DType::Float16},
  };
  for (const Case& c : cases) {
    INFO(dtype_name(c.a) << " + " << dtype_name(c.b));
    CHECK(promote_types(c.a, c.b) == c.expected);
    CHECK(promote_types(c.b, c.a) == c.expected);  // promotion is symmetric
  }
}
