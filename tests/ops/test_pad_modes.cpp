// pad's reflect, replicate and circular modes against PyTorch 1.13 (tests/nn/modes_reference.json):
// values and gradients for 1, 2 and 3 padded dims, batched and unbatched, negative pads; the inputs
// PyTorch refuses; gradcheck and gradgradcheck; and the API's spellings.
#include <catch2/catch.hpp>

#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

#include "tests/nn/modes_reference.h"

using namespace ember;
using modes_ref::compare;
using modes_ref::ints;
using modes_ref::json;

TEST_CASE("pad modes give PyTorch's values and gradients", "[ops][pad][pad-modes]") {
  const json& cases = modes_ref::reference().at("pad");
  REQUIRE(cases.size() >= 20);
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    const std::vector<int64_t> p = ints(c.at("pad"));
    const std::string mode = c.at("mode").get<std::string>();
    const double value = c.at("value").get<double>();
    CHECK(modes_ref::check_case(c, [&](const Tensor& x) { return pad(x, p, mode, value); }) == "");
  }
}

TEST_CASE("pad refuses what PyTorch refuses, with an ember::Error naming pad", "[ops][pad][pad-modes]") {
  const json& cases = modes_ref::reference().at("pad_errors");
  REQUIRE(cases.size() >= 15);
  for (const json& c : cases) {
    const std::vector<int64_t> shape = ints(c.at("shape")), p = ints(c.at("pad"));
    const std::string mode = c.at("mode").get<std::string>();
    INFO(fmt::format("shape {} pad {} mode {} value {}", shape_str(shape), shape_str(p), mode,
                     c.at("value").get<double>()));
    const Tensor x = zeros(shape, {.dtype = DType::Float64});
    CHECK_THROWS_WITH(pad(x, p, mode, c.at("value").get<double>()), Catch::StartsWith("[pad]"));
  }
  // The message names the values that are wrong.
  CHECK_THROWS_WITH(pad(zeros({1, 1, 5}), {5, 0}, PadMode::Reflect),
                    Catch::Contains("(5, 0)") && Catch::Contains("size 5") && Catch::Contains("[1, 1, 5]"));
  CHECK_THROWS_WITH(pad(zeros({1, 1, 5}), {1, 1}, "mirror"), Catch::Contains("\"mirror\""));
  // A pad whose result's size fits in int64 but whose index does not fit in memory is this op's error,
  // not std::bad_alloc or std::length_error.
  for (int64_t huge : {int64_t{1} << 40, int64_t{1} << 62})
    CHECK_THROWS_WITH(pad(zeros({1, 1, 5}), {huge, 0}, PadMode::Replicate), Catch::StartsWith("[pad] replicate padding"));
}

TEST_CASE("interpolate and Upsample give an ember::Error for sizes that do not fit in memory", "[ops][pad-modes]") {
  const Tensor x = zeros({1, 1, 2, 2});
  CHECK_THROWS_WITH(interpolate(x, {.size = Size2{int64_t{1} << 40, 1}}), Catch::StartsWith("[interpolate]"));
  CHECK_THROWS_WITH(interpolate(x, {.size = Size2{INT64_MAX, INT64_MAX}}), Catch::StartsWith("[interpolate]"));
  CHECK_THROWS_WITH(interpolate(x, {.scale_factor = 1e12, .mode = "bilinear"}), Catch::StartsWith("[interpolate]"));
}

// PyTorch checks a circular pad against the uncropped size only: a pad wider than what is left after
// a crop on the other side reads elements it has not written (garbage, or its overlap error), and a
// crop larger than the dim gives an empty result. Each is an error here.
TEST_CASE("circular pad refuses to wrap more than what is left after cropping", "[ops][pad][pad-modes]") {
  const Tensor x = arange(0, 5, 1, {.dtype = DType::Float64}).reshape({1, 1, 5});
  CHECK_THROWS_WITH(pad(x, {-5, 1}, PadMode::Circular), Catch::StartsWith("[pad]") && Catch::Contains("wrap"));
  CHECK_THROWS_WITH(pad(x, {-6, 1}, PadMode::Circular), Catch::StartsWith("[pad]"));
  CHECK_THROWS_WITH(pad(x, {-6, 0}, PadMode::Circular), Catch::StartsWith("[pad]"));
  // what is left is exactly enough
  CHECK(pad(x, {-1, 4}, PadMode::Circular).to_vector<double>() == std::vector<double>{1, 2, 3, 4, 1, 2, 3, 4});
}

TEST_CASE("pad modes are differentiable to second order", "[ops][pad][pad-modes][gradcheck]") {
  struct Case {
    std::vector<int64_t> shape, pads;
    PadMode mode;
  };
  const std::vector<Case> cases = {
      {{1, 2, 5}, {2, 3}, PadMode::Reflect},
      {{2, 4, 5}, {1, -1, 3, 2}, PadMode::Reflect},
      {{3, 4}, {3, 2}, PadMode::Replicate},
      {{1, 1, 3, 4}, {-1, 2, 4, 1}, PadMode::Replicate},
      {{1, 1, 2, 3, 3}, {1, 1, 2, 0, 1, 1}, PadMode::Reflect},
      {{1, 2, 3, 4}, {2, 4, -1, 2}, PadMode::Circular},
  };
  for (const Case& c : cases) {
    INFO(fmt::format("shape {} pad {} mode {}", shape_str(c.shape), shape_str(c.pads), pad_mode_name(c.mode)));
    Generator gen(7);
    const Tensor x = randn(c.shape, {.dtype = DType::Float64}, &gen).requires_grad_();
    const testing::Fn f = [&](const std::vector<Tensor>& in) { return pad(in[0], c.pads, c.mode); };
    CHECK(testing::gradcheck(f, {x}) == "");
    CHECK(testing::gradgradcheck(f, {x}) == "");
  }
}

TEST_CASE("pad takes its mode by enum or by PyTorch's name; constant keeps its old spelling", "[ops][pad][pad-modes]") {
  const Tensor x = from_vector(std::vector<float>{1, 2, 3}, {1, 3});
  CHECK(pad(x, {2, 1}, "reflect").to_vector<float>() == std::vector<float>{3, 2, 1, 2, 3, 2});
  CHECK(pad(x, {2, 1}, PadMode::Replicate).to_vector<float>() == std::vector<float>{1, 1, 1, 2, 3, 3});
  CHECK(pad(x, {2, 1}, "constant", 7).to_vector<float>() == std::vector<float>{7, 7, 1, 2, 3, 7});
  CHECK(pad(x, {2, 1}, 7).to_vector<float>() == std::vector<float>{7, 7, 1, 2, 3, 7});
  CHECK(pad(x, {2, 1}).to_vector<float>() == std::vector<float>{0, 0, 1, 2, 3, 0});
  for (PadMode m : {PadMode::Constant, PadMode::Reflect, PadMode::Replicate, PadMode::Circular})
    CHECK(pad_mode_from_name(pad_mode_name(m)) == m);
  // Integer tensors pad too (PyTorch 1.13's reflect and replicate kernels refuse them).
  const Tensor i = from_vector(std::vector<int64_t>{1, 2, 3}, {1, 3});
  CHECK(pad(i, {1, 1}, "reflect").to_vector<int64_t>() == std::vector<int64_t>{2, 1, 2, 3, 2});
  // A zero pad gives a new tensor, not the input itself.
  CHECK_FALSE(pad(x, {0, 0}, "reflect").is_same(x));
}
