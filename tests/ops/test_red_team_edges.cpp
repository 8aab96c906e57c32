// Elementwise edge cases found by a red-team review against PyTorch 1.13 (eighteenth round). Each
// expected value is PyTorch's, or worked out by hand where stated.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include <ember/ops/ops.h>

using namespace ember;
using Catch::Contains;

namespace {
Tensor f32(std::vector<float> v) { return from_vector(v, {static_cast<int64_t>(v.size())}); }
Tensor f64(std::vector<double> v) { return from_vector(v, {static_cast<int64_t>(v.size())}); }
Tensor i64(std::vector<int64_t> v) { return from_vector(v, {static_cast<int64_t>(v.size())}); }
std::vector<double> values(const Tensor& t) { return contiguous(t).to(DType::Float64).to_vector<double>(); }
}  // namespace

TEST_CASE("allclose: an infinity is close only to itself, integers compare exactly", "[ops][allclose]") {
  // |a - b| <= atol + rtol |b| made an infinite b's bound infinite: every a was close to it.
  CHECK_FALSE(allclose(f32({5}), f32({INFINITY})));
  CHECK_FALSE(allclose(f32({-INFINITY}), f32({INFINITY})));
  CHECK_FALSE(allclose(f64({1e300, 0}), f64({INFINITY, 0})));
  CHECK_FALSE(allclose(f32({INFINITY}), f32({5})));  // and the same either way round
  CHECK(allclose(f32({INFINITY, -INFINITY, 1}), f32({INFINITY, -INFINITY, 1 + 1e-7f})));
  CHECK_FALSE(allclose(f32({NAN}), f32({NAN})));
  CHECK(allclose(f32({NAN}), f32({NAN}), 1e-5, 1e-8, /*equal_nan=*/true));
  // 2^53 + 1 and 2^53 are one apart, which float64 cannot see.
  const int64_t big = int64_t{1} << 53;
  CHECK_FALSE(allclose(i64({big + 1}), i64({big}), 0, 0));
  CHECK(allclose(i64({big + 1}), i64({big}), 0, 1));
  // Opposite signs at the ends of int64: their distance does not wrap around.
  CHECK_FALSE(allclose(i64({INT64_MAX}), i64({-1}), 0, 1));
  CHECK_THROWS_WITH(allclose(f32({1}), f32({1}), -1.0), Contains("[allclose] rtol and atol must be non-negative"));
  CHECK_THROWS_WITH(allclose(Tensor(), f32({1})), Contains("[allclose]"));
}

TEST_CASE("equal compares values after type promotion, as PyTorch 1.13", "[ops][allclose]") {
  CHECK(equal(i64({1, 2}), f32({1, 2})));
  CHECK(equal(cast(f32({1, 0}), DType::Bool), f32({1, 0})));
  CHECK_FALSE(equal(i64({1, 2}), f32({1, 2.5f})));
  CHECK_FALSE(equal(i64({1, 2}), i64({1, 2, 3})));
  CHECK_THROWS_WITH(equal(Tensor(), f32({1})), Contains("[equal]"));
}

TEST_CASE("pad and clamp never return their input itself", "[ops][aliasing]") {
  for (const std::vector<int64_t>& amounts : {std::vector<int64_t>{0, 0}, std::vector<int64_t>{-1, 0}, std::vector<int64_t>{}}) {
    Tensor x = f32({1, 2, 3, 4}).reshape({2, 2});
    Tensor y = pad(x, amounts);
    y.add_(Scalar(10));
    CHECK(values(x) == std::vector<double>{1, 2, 3, 4});
  }
  CHECK_THROWS_WITH(clamp(f32({1}), std::nullopt, std::nullopt), Contains("[clamp] needs a lower or an upper bound"));
}

TEST_CASE("floor_divide of a 16-bit tensor by a number rounds the number to the tensor's dtype", "[ops][floor_divide]") {
  for (DType low : {DType::Float16, DType::BFloat16}) {
    const Tensor x = f32({4, 7, 10}).to(low);
    // 2.0001 is 2 in both 16-bit types, as remainder (and PyTorch) already saw it: 4 // 2, 7 // 2, 10 // 2.
    CHECK(values(floor_divide(x, Scalar(2.0001))) == std::vector<double>{2, 3, 5});
    CHECK(values(floor_divide(x, Scalar(2.0001)) * 2 + remainder(x, Scalar(2.0001))) == values(x));
  }
}

TEST_CASE("lerp of 16-bit tensors rounds once, from float32", "[ops][lerp]") {
  // -3.90625 + 0.458984375 * (4.59375 + 3.90625) = -0.0048828125 exactly, a bfloat16; rounding each
  // step to bfloat16 gave 0.
  const Tensor out = lerp(f32({-3.90625f}).to(DType::BFloat16), f32({4.59375f}).to(DType::BFloat16),
                          f32({0.458984375f}).to(DType::BFloat16));
  CHECK(out.dtype() == DType::BFloat16);
  CHECK(values(out) == std::vector<double>{-0.0048828125});
}

TEST_CASE("add_ with an alpha that add itself refuses is refused on the fast path too", "[ops][aliasing]") {
  Tensor ints = i64({1, 2});
  CHECK_THROWS_AS(ints.add_(i64({1, 1}), Scalar(1.0)), Error);  // a floating alpha for integers
  Tensor floats = f32({1, 2});
  CHECK_THROWS_AS(floats.add_(f32({1, 1}), Scalar(true)), Error);  // a bool alpha for floats
  CHECK(values(ints) == std::vector<double>{1, 2});
  CHECK(values(floats) == std::vector<double>{1, 2});
  floats.add_(f32({1, 1}), Scalar(1.0));
  CHECK(values(floats) == std::vector<double>{2, 3});
}

TEST_CASE("where with a number its result dtype cannot hold is an error, as in PyTorch", "[ops][where]") {
  const Tensor c = cast(f32({1, 0}), DType::Bool);
  CHECK_THROWS_WITH(where(c, f32({1, 2}).to(DType::Float16), Scalar(1e6)),
                    Contains("[where] value 1000000 cannot be converted to float16"));
  CHECK_THROWS_WITH(where(c, Scalar(1e6), f32({1, 2}).to(DType::Float16)), Contains("[where]"));
  CHECK_THROWS_WITH(where(c, f32({1, 2}).to(DType::UInt8), Scalar(300)), Contains("[where]") && Contains("uint8"));
  // Infinities are float16 values; 1e6 fits bfloat16.
  CHECK(values(where(c, f32({1, 2}).to(DType::Float16), Scalar(INFINITY))) == std::vector<double>{1, INFINITY});
  CHECK(where(c, Scalar(1e6), f32({1, 2}).to(DType::BFloat16)).dtype() == DType::BFloat16);
}

TEST_CASE("composites name the op the user called", "[ops][errors]") {
  CHECK_THROWS_WITH(floor_divide(ones({2, 3}), ones({2})), Contains("[floor_divide]") && Contains("broadcast"));
  CHECK_THROWS_WITH(log_sigmoid(i64({1})), Contains("[log_sigmoid]"));
  CHECK_THROWS_WITH(log_sigmoid(cast(i64({1}), DType::Bool)), Contains("[log_sigmoid]"));
  CHECK_THROWS_WITH(scalar_tensor(Scalar(300), {.dtype = DType::UInt8}),
                    Contains("[scalar_tensor] value 300 cannot be converted to uint8"));
}
