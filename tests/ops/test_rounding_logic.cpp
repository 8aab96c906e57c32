// Rounding ops, logical xor, the comparison operators and lerp: values worked out by hand (round
// ties to even, as torch.round and IEEE nearbyint do), on float and integer tensors; and what a
// CPU kernel does when called with a dtype it does not define.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include <ember/backends/backend.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

using namespace ember;
using Catch::Contains;

namespace {
Tensor doubles(const std::vector<double>& v) {
  return from_vector(v, {static_cast<int64_t>(v.size())});
}
Tensor longs(const std::vector<int64_t>& v) {
  return from_vector(v, {static_cast<int64_t>(v.size())});
}
std::vector<double> D(const Tensor& t) { return t.to_vector<double>(); }
std::vector<bool> B(const Tensor& t) {
  REQUIRE(t.dtype() == DType::Bool);
  return t.to_vector<bool>();
}
}  // namespace

TEST_CASE("ceil and round on floats; round sends halves to the even neighbour", "[ops][rounding]") {
  CHECK(D(ceil(doubles({-1.5, -0.2, 1.2, 2, 2.5}))) == std::vector<double>{-1, -0.0, 2, 2, 3});
  CHECK(D(round(doubles({0.5, 1.5, 2.5, -0.5, -1.5, 1.4, -2.6}))) ==
        std::vector<double>{0, 2, 2, -0.0, -2, 1, -3});
  // Float32 and 16-bit floats too (they compute in float32).
  CHECK(round(from_vector(std::vector<float>{3.5f, 4.5f}, {2})).to_vector<float>() ==
        std::vector<float>{4, 4});
  CHECK(D(round(cast(doubles({0.5, 1.5, 2.5}), DType::BFloat16))) == std::vector<double>{0, 2, 2});
  // Piecewise constant: the gradient is zero.
  Tensor x = doubles({0.3, 1.7});
  x.requires_grad_();
  (ceil(x).sum() + round(x).sum()).backward();
  CHECK(D(x.grad()) == std::vector<double>{0, 0});
}

TEST_CASE("rounding leaves integers as they are; sign and abs of integers", "[ops][rounding]") {
  const Tensor ints = longs({-7, 0, 5});
  for (const Tensor& r : {floor(ints), ceil(ints), round(ints)}) {
    CHECK(r.dtype() == DType::Int64);
    CHECK(r.to_vector<int64_t>() == std::vector<int64_t>{-7, 0, 5});
  }
  CHECK(sign(ints).to_vector<int64_t>() == std::vector<int64_t>{-1, 0, 1});
  CHECK(sign(cast(ints, DType::Int32)).to_vector<int32_t>() == std::vector<int32_t>{-1, 0, 1});
  CHECK(abs(cast(ints, DType::Int32)).to_vector<int32_t>() == std::vector<int32_t>{7, 0, 5});
  // isnan and isinf of an integer are false.
  CHECK(B(isnan(ints)) == std::vector<bool>{false, false, false});
  CHECK(B(isinf(ints)) == std::vector<bool>{false, false, false});
  // Rounding a bool tensor is refused, naming the op.
  CHECK_THROWS_WITH(round(cast(ints, DType::Bool)),
                    Contains("[round] not defined for bool tensors"));
}

TEST_CASE("logical_xor is true where exactly one side is non-zero", "[ops][logic]") {
  CHECK(B(logical_xor(doubles({0, 2, -1, 0}), doubles({0, 0, 3, -0.5}))) ==
        std::vector<bool>{false, true, false, true});
  // The bool operands come from comparisons of distinct values: GCC 12.2 at -O2 -march=native with
  // AVX-512 compiles the literal std::vector<int64_t>{1, 1, 0, 0} to four 1s (one vpbroadcastq).
  const Tensor t = gt(doubles({2, 3, -1, -5}), Scalar(0)),
               u = gt(doubles({4, -2, 6, -3}), Scalar(0));
  CHECK(B(logical_xor(t, u)) == std::vector<bool>{false, true, true, false});
  // Broadcast against one row.
  CHECK(B(logical_xor(gt(doubles({7, -7}), Scalar(0)).reshape({2, 1}), u.reshape({1, 4}))) ==
        std::vector<bool>{false, true, false, true, true, false, true, false});
}

TEST_CASE("the comparison operators on tensors and on scalars", "[ops][logic]") {
  const Tensor a = doubles({1, 2, 3}), b = doubles({3, 2, 1});
  CHECK(B(a == b) == std::vector<bool>{false, true, false});
  CHECK(B(a != b) == std::vector<bool>{true, false, true});
  CHECK(B(a <= b) == std::vector<bool>{true, true, false});
  CHECK(B(a > b) == std::vector<bool>{false, false, true});
  CHECK(B(a >= b) == std::vector<bool>{false, true, true});
  CHECK(B(a < Scalar(2)) == std::vector<bool>{true, false, false});
  CHECK(B(a <= Scalar(2)) == std::vector<bool>{true, true, false});
  CHECK(B(a > Scalar(2)) == std::vector<bool>{false, false, true});
  CHECK(B(a >= Scalar(2)) == std::vector<bool>{false, true, true});
  CHECK(D(-a) == std::vector<double>{-1, -2, -3});
}

TEST_CASE("lerp moves from a towards b by the weight, and differentiates in all three",
          "[ops][lerp]") {
  Tensor a = doubles({0, 10, -4}), b = doubles({10, 20, 4}), w = doubles({0.25, 1, 0.5});
  CHECK(D(lerp(a, b, w)) == std::vector<double>{2.5, 20, 0});
  for (Tensor* t : {&a, &b, &w}) t->requires_grad_();
  lerp(a, b, w).sum().backward();
  // d/da = 1 - w, d/db = w, d/dw = b - a.
  CHECK(D(a.grad()) == std::vector<double>{0.75, 0, 0.5});
  CHECK(D(b.grad()) == std::vector<double>{0.25, 1, 0.5});
  CHECK(D(w.grad()) == std::vector<double>{10, 10, 8});
}

TEST_CASE("a CPU kernel given a dtype it does not define throws instead of writing garbage",
          "[ops][backend]") {
  // ops/ never makes these calls (it casts or refuses first); the kernel table is public, though.
  const Backend& cpu = backend(Device::cpu());
  Tensor ints = longs({1, 2}), out = empty_like(ints);
  CHECK_THROWS_WITH(cpu.unary(UnaryOp::Exp, kview(ints), kview(out)),
                    Contains("[unary]") && Contains("int64"));
  Tensor flags = cast(ints, DType::Bool), flags_out = empty_like(flags);
  CHECK_THROWS_WITH(cpu.unary(UnaryOp::Neg, kview(flags), kview(flags_out)),
                    Contains("[unary]") && Contains("bool"));
  // The activations' backward kernels are floating-only (GELU's slope of an integer means nothing).
  for (BinaryOp op : {BinaryOp::ReluBackward, BinaryOp::GeluBackward})
    CHECK_THROWS_WITH(cpu.binary(op, kview(ints), kview(ints), kview(out)), Contains("[binary]") && Contains("int64"));
}
