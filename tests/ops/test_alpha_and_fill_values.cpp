// add/sub with an alpha, values filled into a dtype, and square of bool, against PyTorch 1.13 (every
// expected value and error below is torch's). Found by the sixth sweep, differential against torch.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include <ember/ops/ops.h>

using namespace ember;
using Catch::Contains;

namespace {
template <class T>
Tensor of(std::vector<T> values, DType dtype) {
  return from_vector(values, {static_cast<int64_t>(values.size())}).to(dtype);
}
}  // namespace

TEST_CASE("add and sub scale b by alpha in the result's dtype, not in b's", "[ops][promotion]") {
  // alpha * b was computed in b's dtype and then promoted: uint8 200 * 2 wrapped to 144.
  Tensor r = add(of<int32_t>({0, 100}, DType::Int32), of<int64_t>({200, 255}, DType::UInt8), 2);
  CHECK(r.dtype() == DType::Int32);
  CHECK(r.to_vector<int32_t>() == std::vector<int32_t>{400, 610});
  CHECK(sub(of<int64_t>({0}, DType::Int64), of<int64_t>({200}, DType::UInt8), 2).to_vector<int64_t>() ==
        std::vector<int64_t>{-400});
  CHECK(add(of<int64_t>({0}, DType::Int64), of<int32_t>({2000000000}, DType::Int32), 2).to_vector<int64_t>() ==
        std::vector<int64_t>{4000000000});
  // float16 30000 * 3 overflowed to inf before the float32 sum.
  CHECK(add(of<float>({0}, DType::Float32), of<float>({30000}, DType::Float16), 3).to_vector<float>() ==
        std::vector<float>{90000});
  CHECK(add(of<float>({0}, DType::Float32), of<float>({255}, DType::BFloat16), 3).to_vector<float>() ==
        std::vector<float>{765});
  // int64 * 2.5 went through float32 (16777217 is not a float32) before the float64 sum.
  CHECK(add(of<double>({0}, DType::Float64), of<int64_t>({16777217}, DType::Int64), 2.5).to_vector<double>() ==
        std::vector<double>{41943042.5});
  // In place, the same.
  Tensor acc = of<int32_t>({0}, DType::Int32);
  acc.add_(of<int64_t>({200}, DType::UInt8), 2);
  CHECK(acc.to_vector<int32_t>() == std::vector<int32_t>{400});
  // The gradient of b is alpha times the incoming one, in b's dtype.
  Tensor a = of<double>({1, 2}, DType::Float64).requires_grad_(), b = of<float>({3, 4}, DType::Float32).requires_grad_();
  sub(a, b, 0.5).sum().backward();
  CHECK(b.grad().dtype() == DType::Float32);
  CHECK(b.grad().to_vector<float>() == std::vector<float>{-0.5f, -0.5f});
}

TEST_CASE("a fractional alpha with integer inputs, and a bool alpha with numbers, are refused", "[ops][promotion]") {
  // torch: "For integral input tensors, argument alpha must not be a floating point number." ember
  // returned float32 1.5.
  const Tensor i = of<int64_t>({1}, DType::Int64);
  CHECK_THROWS_WITH(add(i, i, 0.5), Contains("[add] alpha 0.5 is a floating-point number") && Contains("int64"));
  CHECK_THROWS_WITH(sub(i, i, 0.5), Contains("[sub] alpha 0.5"));
  // torch: "Boolean alpha only supported for Boolean results."
  CHECK_THROWS_WITH(add(i, i, true), Contains("[add] a bool alpha needs a bool result"));
  // An integral alpha with a float result is fine, and so is a float alpha once a float is involved.
  CHECK(add(i, of<float>({2}, DType::Float32), 0.5).to_vector<float>() == std::vector<float>{2});
  const Tensor t = of<int64_t>({1, 0}, DType::Bool);
  CHECK(add(t, t, true).to_vector<bool>() == std::vector<bool>{true, false});
  // Even 1.0 (torch refuses any floating alpha with an integer result; ember took the fast path).
  CHECK_THROWS_WITH(add(i, i, 1.0), Contains("[add] alpha 1 is a floating-point number"));
}

TEST_CASE("alpha must fit the result's dtype, as in PyTorch", "[ops][promotion]") {
  // torch: "value cannot be converted to type uint8_t without overflow"; ember multiplied by 300
  // wrapped to 44.
  const Tensor u = of<int64_t>({5}, DType::UInt8), v = of<int64_t>({3}, DType::UInt8);
  CHECK_THROWS_WITH(add(u, v, 300), Contains("[add] alpha 300 cannot be converted to uint8"));
  CHECK_THROWS_WITH(add(u, v, -256), Contains("[add] alpha -256"));
  // -1 is accepted for uint8 and wraps, as in torch: 5 - 3.
  CHECK(add(u, v, -1).to_vector<uint8_t>() == std::vector<uint8_t>{2});
  CHECK_THROWS_WITH(add(ones({1}), ones({1}), 1e39), Contains("[add] value 1e+39 cannot be converted to float32"));
  // With a bool result any non-zero alpha means "or b" (torch: add(b, b, alpha=2) is [True, False]);
  // ember promoted to int64 and gave [2, 0].
  const Tensor t = of<int64_t>({1, 0}, DType::Bool), f = of<int64_t>({0, 0}, DType::Bool);
  const Tensor r = add(t, t, 2);
  CHECK(r.dtype() == DType::Bool);
  CHECK(r.to_vector<bool>() == std::vector<bool>{true, false});
  CHECK(add(t, f, 0).to_vector<bool>() == std::vector<bool>{true, false});
}

TEST_CASE("a fill value the dtype cannot hold is an error, as in PyTorch", "[ops][fill]") {
  // torch: "value cannot be converted to type at::Half without overflow"; ember wrote inf.
  CHECK_THROWS_WITH(full({1}, 1e6, {.dtype = DType::Float16}), Contains("[full] value 1000000 cannot be converted to float16"));
  CHECK_THROWS_WITH(full({1}, 65519.0, {.dtype = DType::Float16}), Contains("[full]"));  // torch's bound is 65504
  CHECK_THROWS_WITH(full({1}, 1e39, {.dtype = DType::BFloat16}), Contains("[full]"));
  CHECK_THROWS_WITH(full({1}, 1e39, {.dtype = DType::Float32}), Contains("[full]"));
  Tensor h = zeros({2}, {.dtype = DType::Float16});
  CHECK_THROWS_WITH(h.fill_(1e6), Contains("[fill_]"));
  CHECK_THROWS_WITH(masked_fill(h, of<int64_t>({1, 0}, DType::Bool), 1e6), Contains("[masked_fill]"));
  CHECK_THROWS_WITH(pad(h, {1, 1}, 1e6), Contains("[pad]"));
  CHECK_THROWS_WITH(clamp(zeros({2}, {.dtype = DType::BFloat16}), 1e39, std::nullopt), Contains("[clamp]"));
  // A floating value into an integer dtype is compared before truncation: -0.5 is no uint8 (ember
  // truncated it to 0), and NaN is no int64.
  CHECK_THROWS_WITH(full({1}, -0.5, {.dtype = DType::UInt8}), Contains("[full] value -0.5 cannot be converted to uint8"));
  CHECK_THROWS_WITH(full({1}, 255.5, {.dtype = DType::UInt8}), Contains("[full]"));
  CHECK_THROWS_WITH(full({1}, NAN, {.dtype = DType::Int64}), Contains("[full]"));
  // What the dtype holds still fills: infinities and NaN in floats, the largest finite values,
  // -0.5 into int64 (torch gives 0), tiny values that round to 0.
  CHECK(std::isinf(full({1}, INFINITY, {.dtype = DType::Float16}).to_vector<float>()[0]));
  CHECK(std::isnan(full({1}, NAN, {.dtype = DType::BFloat16}).to_vector<float>()[0]));
  CHECK(full({1}, 65504.0, {.dtype = DType::Float16}).to_vector<float>() == std::vector<float>{65504});
  CHECK(full({1}, -0.5, {.dtype = DType::Int64}).to_vector<int64_t>() == std::vector<int64_t>{0});
  CHECK(full({1}, 1e-300, {.dtype = DType::Float32}).to_vector<float>() == std::vector<float>{0});
  // A number in arithmetic is not a fill: x * 1e39 in float32 is inf, as in torch.
  CHECK(std::isinf((ones({1}) * 1e39).to_vector<float>()[0]));
  CHECK(std::isinf((ones({1}, {.dtype = DType::BFloat16}) * 1e39).to_vector<float>()[0]));
}

TEST_CASE("square of a bool tensor is int64, as pow(x, 2)", "[ops][promotion]") {
  const Tensor r = square(of<int64_t>({1, 0}, DType::Bool));
  CHECK(r.dtype() == DType::Int64);
  CHECK(r.to_vector<int64_t>() == std::vector<int64_t>{1, 0});
}
