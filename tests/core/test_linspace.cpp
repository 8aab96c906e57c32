// linspace: evenly spaced values with both endpoints exact, and the steps = 0 / 1 edge cases.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include <ember/core/tensor.h>

using namespace ember;

TEST_CASE("linspace gives evenly spaced values with exact endpoints", "[linspace]") {
  const TensorOptions f64{.dtype = DType::Float64};
  CHECK(linspace(0, 1, 5, f64).to_vector<double>() == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
  CHECK(linspace(2, -2, 5, f64).to_vector<double>() == std::vector<double>{2, 1, 0, -1, -2});
  // 0.7 is not start + 6 * ((0.7 - 0.1) / 6) in binary; the last value must still be 0.7 itself.
  const std::vector<double> tenths = linspace(0.1, 0.7, 7, f64).to_vector<double>();
  REQUIRE(tenths.size() == 7);
  CHECK(tenths.front() == 0.1);
  CHECK(tenths.back() == 0.7);
  for (int i = 0; i < 7; ++i) CHECK(tenths[i] == Approx(0.1 + 0.1 * i).epsilon(1e-15));
  const Tensor f32 = linspace(-1, 1, 3);
  CHECK(f32.dtype() == DType::Float32);
  CHECK(f32.to_vector<float>() == std::vector<float>{-1, 0, 1});
}

TEST_CASE("linspace with steps 1 gives start, with steps 0 nothing", "[linspace]") {
  const Tensor one = linspace(3.5, 9, 1, {.dtype = DType::Float64});
  CHECK(one.shape() == Shape{1});
  CHECK(one.to_vector<double>() == std::vector<double>{3.5});
  const Tensor none = linspace(3.5, 9, 0);
  CHECK(none.shape() == Shape{0});
  CHECK(none.numel() == 0);
  CHECK_THROWS_WITH(linspace(0, 1, -1), Catch::Contains("linspace"));
}

TEST_CASE("linspace into an integer dtype truncates its ends first, as PyTorch", "[linspace]") {
  // torch.linspace(0.5, 10.7, 5, dtype=torch.int64) is [0, 2, 5, 7, 10]: the points of 0..10,
  // truncated. ember truncated the points of 0.5..10.7 and gave [0, 3, 5, 8, 10].
  CHECK(linspace(0.5, 10.7, 5, {.dtype = DType::Int64}).to_vector<int64_t>() == std::vector<int64_t>{0, 2, 5, 7, 10});
  CHECK(linspace(-0.5, -10.7, 5, {.dtype = DType::Int64}).to_vector<int64_t>() ==
        std::vector<int64_t>{0, -2, -5, -7, -10});
  CHECK(linspace(0.9, 5.9, 3, {.dtype = DType::UInt8}).to_vector<uint8_t>() == std::vector<uint8_t>{0, 2, 5});
  CHECK(linspace(0, 10, 5, {.dtype = DType::Int32}).to_vector<int32_t>() == std::vector<int32_t>{0, 2, 5, 7, 10});
  // The ends are checked before they are truncated: -0.5 is no uint8 (torch refuses it too).
  CHECK_THROWS_WITH(linspace(-0.5, 10, 3, {.dtype = DType::UInt8}), Catch::Contains("[linspace]"));
}

// Found by a red-team review: integer ranges were computed in double, which rounds above 2^53.
TEST_CASE("an int64 arange is exact beyond 2^53; an integer linspace there is refused", "[linspace]") {
  const int64_t big = int64_t{1} << 62;
  CHECK(arange(0x1p62, 0x1p62 + 2048, 512).to_vector<int64_t>() ==
        std::vector<int64_t>{big, big + 512, big + 1024, big + 1536});
  CHECK(arange(0x1p62, 0x1p62 - 2048, -1024).to_vector<int64_t>() == std::vector<int64_t>{big, big - 1024});
  const int64_t near = 9007199254740990;  // 2^53 - 2
  CHECK(arange(9007199254740990.0, 9007199254740994.0, 1).to_vector<int64_t>() ==
        std::vector<int64_t>{near, near + 1, near + 2, near + 3});
  CHECK_THROWS_WITH(linspace(9007199254740990.0, 9007199254740996.0, 4, {.dtype = DType::Int64}),
                    Catch::Contains("[linspace]") && Catch::Contains("2^53"));
  CHECK(linspace(-0x1p53, 0x1p53, 3, {.dtype = DType::Int64}).to_vector<int64_t>() ==
        std::vector<int64_t>{-(int64_t{1} << 53), 0, int64_t{1} << 53});
}
