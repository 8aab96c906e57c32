// Integer division, remainder and power as PyTorch defines them. Expected values are Python's
// semantics written out by hand (a // b and a % b round towards -inf; two's complement wraps), and
// every error is the one PyTorch raises: a zero integer divisor is ZeroDivisionError, and an integer
// tensor to a negative integer Scalar power is refused.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

#include <ember/ops/op.h>
#include "tests/ops/op_table.h"

using namespace ember;
using namespace ember::testing;
using Catch::Contains;

namespace {

using I64 = std::vector<int64_t>;
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int32_t kInt32Min = std::numeric_limits<int32_t>::min();

Tensor ints(const I64& v, DType dtype, Shape shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
  return from_vector(v, shape, {.dtype = dtype});
}
I64 values(const Tensor& t) { return t.to_vector<int64_t>(); }

const DType kIntegerDTypes[] = {DType::UInt8, DType::Int32, DType::Int64};

}  // namespace

TEST_CASE("integer remainder by zero raises ZeroDivisionError", "[ops][integer]") {
  for (DType dtype : kIntegerDTypes) {
    INFO(dtype_name(dtype));
    Tensor a = ints({5, 6, 7}, dtype), zero_inside = ints({1, 0, 2}, dtype);
    CHECK_THROWS_WITH(remainder(a, zero_inside),
                      Contains("[remainder]") && Contains("ZeroDivisionError") && Contains("[3]"));
    CHECK_THROWS_WITH(remainder(a, Scalar(0)), Contains("[remainder]") && Contains("ZeroDivisionError"));
    // A zero broadcast to every row.
    CHECK_THROWS_WITH(remainder(ints({1, 2, 3, 4, 5, 6}, dtype, {2, 3}), ints({0}, dtype)),
                      Contains("[remainder]") && Contains("[2, 3]") && Contains("[1]"));
    Tensor target = ints({5, 6, 7}, dtype);
    CHECK_THROWS_WITH(target.remainder_(zero_inside), Contains("ZeroDivisionError"));
    CHECK_THROWS_WITH(target.remainder_(Scalar(0)), Contains("ZeroDivisionError"));
    CHECK(values(target) == I64{5, 6, 7});  // a refused in-place op leaves its target alone
  }
  // A bool False divisor is an integer zero once promoted.
  CHECK_THROWS_WITH(remainder(ints({5, 6}, DType::Int64), bool_tensor({true, false}, {2})),
                    Contains("ZeroDivisionError"));
  // 256 cast into a uint8 result is 0: the divisor is checked after the cast.
  CHECK_THROWS_WITH(remainder(ints({5}, DType::UInt8), scalar_tensor(256, {.dtype = DType::Int64})),
                    Contains("ZeroDivisionError"));
}

TEST_CASE("integer floor_divide by zero raises ZeroDivisionError", "[ops][integer]") {
  for (DType dtype : kIntegerDTypes) {
    INFO(dtype_name(dtype));
    Tensor a = ints({5, 6, 7}, dtype);
    CHECK_THROWS_WITH(floor_divide(a, ints({3, 0, 1}, dtype)),
                      Contains("[floor_divide]") && Contains("ZeroDivisionError") && Contains("[3]"));
    CHECK_THROWS_WITH(floor_divide(a, Scalar(0)), Contains("[floor_divide]") && Contains("ZeroDivisionError"));
    CHECK_THROWS_WITH(floor_divide(ints({1, 2, 3, 4}, dtype, {2, 2}), ints({0, 1}, dtype)),
                      Contains("ZeroDivisionError") && Contains("[2, 2]"));
    Tensor target = ints({5, 6, 7}, dtype);
    CHECK_THROWS_WITH(target.floor_divide_(Scalar(0)), Contains("[floor_divide_]") || Contains("[floor_divide]"));
    CHECK(values(target) == I64{5, 6, 7});
  }
  CHECK_THROWS_WITH(floor_divide(bool_tensor({true}, {1}), bool_tensor({true}, {1})), Contains("bool"));
  // Floating division by zero is IEEE arithmetic, not an error (as in PyTorch).
  Tensor f = from_vector(std::vector<double>{1, -1, 0}, {3});
  const std::vector<double> q = floor_divide(f, Scalar(0.0)).to_vector<double>();
  CHECK(q[0] == std::numeric_limits<double>::infinity());
  CHECK(q[1] == -std::numeric_limits<double>::infinity());
  CHECK(std::isnan(q[2]));
  CHECK(std::isnan(remainder(f, Scalar(0.0)).to_vector<double>()[0]));
  // True division of integers is floating point, and so is fine by zero.
  CHECK((ints({1}, DType::Int64) / 0).to_vector<double>()[0] == std::numeric_limits<double>::infinity());
}

TEST_CASE("integer floor_divide and remainder round towards minus infinity", "[ops][integer]") {
  // Python: [7, -7, 7, -7, 0, 6] // [2, 2, -2, -2, 3, -3] and %.
  for (DType dtype : {DType::Int32, DType::Int64}) {
    INFO(dtype_name(dtype));
    Tensor a = ints({7, -7, 7, -7, 0, 6}, dtype), b = ints({2, 2, -2, -2, 3, -3}, dtype);
    CHECK(values(floor_divide(a, b)) == I64{3, -4, -4, 3, 0, -2});
    CHECK(values(remainder(a, b)) == I64{1, 1, -1, -1, 0, 0});
    CHECK(floor_divide(a, b).dtype() == dtype);
    Tensor c = a.clone();
    c.floor_divide_(Scalar(-2));
    CHECK(values(c) == I64{-4, 3, -4, 3, 0, -3});
  }
  // uint8 never sees a sign: 200 // 7 = 28, 200 % 7 = 4.
  CHECK(values(floor_divide(ints({200, 13}, DType::UInt8), Scalar(7))) == I64{28, 1});
  CHECK(values(remainder(ints({200, 13}, DType::UInt8), Scalar(7))) == I64{4, 6});
  // Floats follow Python's //, not floor(a / b): 1.0 / 0.1 rounds to 10.0, but 1.0 // 0.1 is 9.0.
  Tensor fa = from_vector(std::vector<double>{1.0, -1.0, 7.5, -7.5, 7.5, 0.3, 5.0}, {7}),
         fb = from_vector(std::vector<double>{0.1, 0.1, 2, 2, -2, 0.1, 0.5}, {7});
  CHECK(floor_divide(fa, fb).to_vector<double>() == std::vector<double>{9, -10, 3, -4, -4, 2, 10});
  // Broadcasting a column against a row: [[-5], [5]] // [2, -3] = [[-3, 1], [2, -2]].
  CHECK(values(floor_divide(ints({-5, 5}, DType::Int64, {2, 1}), ints({2, -3}, DType::Int64))) ==
        I64{-3, 1, 2, -2});
}

TEST_CASE("INT_MIN % -1 is 0 and INT_MIN // -1 wraps, without SIGFPE", "[ops][integer]") {
  // x86's idiv traps on INT_MIN / -1 (the quotient overflows), killing the process with SIGFPE.
  Tensor a64 = ints({kInt64Min, kInt64Min, 7}, DType::Int64), m64 = ints({-1, -1, -1}, DType::Int64);
  CHECK(values(remainder(a64, m64)) == I64{0, 0, 0});
  CHECK(values(floor_divide(a64, m64)) == I64{kInt64Min, kInt64Min, -7});
  CHECK(values(remainder(a64, Scalar(-1))) == I64{0, 0, 0});
  CHECK(values(floor_divide(a64, Scalar(-1))) == I64{kInt64Min, kInt64Min, -7});
  Tensor a32 = ints({kInt32Min, -9}, DType::Int32);
  CHECK(values(remainder(a32, Scalar(-1))) == I64{0, 0});
  CHECK(values(floor_divide(a32, Scalar(-1))) == I64{kInt32Min, 9});
  // Through a broadcast -1 and in place.
  CHECK(values(remainder(ints({kInt32Min, 5, kInt32Min, 6}, DType::Int32, {2, 2}), ints({-1}, DType::Int32))) ==
        I64{0, 0, 0, 0});
  Tensor c = ints({kInt64Min, 3}, DType::Int64);
  c.remainder_(Scalar(-1));
  CHECK(values(c) == I64{0, 0});
}

TEST_CASE("CPU integer kernels never trap, even when called without the ops' checks", "[ops][integer]") {
  // The kernel table is reachable without the op-level check (by a future op, or a user's own).
  for (DType dtype : {DType::Int32, DType::Int64}) {
    INFO(dtype_name(dtype));
    const int64_t int_min = dtype == DType::Int32 ? int64_t{kInt32Min} : kInt64Min;
    Tensor a = ints({int_min, 5, int_min}, dtype), b = ints({-1, 0, 0}, dtype);
    Tensor out = empty_like(a);
    backend(Device::cpu()).binary(BinaryOp::Remainder, kview(a), kview(b), kview(out));
    CHECK(values(out) == I64{0, 0, 0});
    backend(Device::cpu()).binary(BinaryOp::Div, kview(a), kview(b), kview(out));
    CHECK(values(out) == I64{int_min, 0, 0});
  }
}

TEST_CASE("integer pow: negative Scalar exponents raise, tensor exponents follow PyTorch", "[ops][integer]") {
  for (DType dtype : kIntegerDTypes) {
    INFO(dtype_name(dtype));
    CHECK_THROWS_WITH(pow(ints({2, 3}, dtype), Scalar(-1)),
                      Contains("[pow]") && Contains("Integers to negative integer powers are not allowed") &&
                          Contains("[2]"));
    CHECK_THROWS_WITH(ints({2}, dtype).pow(Scalar(-3)), Contains("Integers to negative integer powers"));
  }
  // A float exponent or base makes it floating point: no error.
  CHECK(pow(ints({2}, DType::Int64), Scalar(-1.0)).to_vector<double>() == std::vector<double>{0.5});
  CHECK(pow(from_vector(std::vector<double>{2}, {1}), Scalar(-1)).to_vector<double>() == std::vector<double>{0.5});
  // Element exponents: PyTorch's integer pow gives 1^-n = 1, (-1)^-n = +-1, and 0 for other bases.
  Tensor base = ints({1, -1, -1, 2, 0, -3}, DType::Int64), e = ints({-3, -3, -2, -1, -1, -5}, DType::Int64);
  CHECK(values(pow(base, e)) == I64{1, -1, 1, 0, 0, 0});
  CHECK(values(pow(ints({2, 3}, DType::Int32), ints({10, 3}, DType::Int32))) == I64{1024, 27});
}

TEST_CASE("integer pow takes O(log n) steps and wraps like two's complement", "[ops][integer]") {
  const auto start = std::chrono::steady_clock::now();
  // Python: 2**62, 2**63 and 2**64 mod 2^64 as int64; pow(3, 2**40, 2**64) and pow(-3, 2**40 + 1, 2**64)
  // as int64; pow(7, 123456789, 2**32) as int32.
  Tensor base = ints({2, 2, 2, 3, -3, -1}, DType::Int64);
  Tensor e = ints({int64_t{1} << 62, int64_t{1} << 62 | 1, int64_t{1} << 62 | 2, int64_t{1} << 40,
                   (int64_t{1} << 40) + 1, (int64_t{1} << 62) + 1},
                  DType::Int64);
  // 2^(2^62) wraps to 0; so do its neighbours: the exponents are huge, not 62..64.
  CHECK(values(pow(base, e)) == I64{0, 0, 0, -7860764868738023423, 5135550532504518653, -1});
  CHECK(values(pow(ints({2, 2, 2}, DType::Int64), ints({62, 63, 64}, DType::Int64))) ==
        I64{int64_t{1} << 62, kInt64Min, 0});
  CHECK(values(pow(ints({7}, DType::Int32), Scalar(123456789))) == I64{-559192025});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seconds < 1.0);  // a loop of `exponent` multiplications would take minutes
}

TEST_CASE("in-place division refuses to truncate into an integer tensor", "[ops][integer]") {
  // PyTorch: "result type Float can't be cast to the desired output type Long".
  Tensor t = ints({7, 8}, DType::Int64);
  CHECK_THROWS_WITH(t.div_(Scalar(2)), Contains("[div_]") && Contains("float32") && Contains("int64"));
  CHECK_THROWS_WITH(t.div_(ints({2, 2}, DType::Int64)), Contains("[div_]") && Contains("can't be cast"));
  CHECK_THROWS_WITH(t.mul_(Scalar(0.5)), Contains("[mul_]") && Contains("int64"));
  CHECK(values(t) == I64{7, 8});
  Tensor flags = bool_tensor({true, false}, {2});
  CHECK_THROWS_WITH(flags.add_(Scalar(1)), Contains("[add_]") && Contains("bool"));
  // Within a category, in place is fine (floor_divide_ keeps int64).
  t.floor_divide_(Scalar(2));
  CHECK(values(t) == I64{3, 4});
}

TEST_CASE("int64 numbers past 2^53 stay exact; a value an integer dtype cannot hold is an error", "[ops][integer]") {
  // A double holds integers to 2^53: 2^53 + 1 read through one becomes 2^53, and INT64_MAX becomes
  // 2^63, which converts to no int64 (it came back as INT64_MIN, and INT64_MAX // 5 as -1).
  const int64_t above = (int64_t{1} << 53) + 1, int64_max = std::numeric_limits<int64_t>::max();
  CHECK(values(full({2}, Scalar(above), {.dtype = DType::Int64})) == I64{above, above});
  CHECK(values(zeros({1}, {.dtype = DType::Int64}) + Scalar(above)) == I64{above});
  CHECK(values(floor_divide(ints({5, -5}, DType::Int64), Scalar(int64_max))) == I64{0, -1});
  Tensor t = zeros({2}, {.dtype = DType::Int64});
  t.fill_(Scalar(kInt64Min));
  CHECK(values(t) == I64{kInt64Min, kInt64Min});
  CHECK(values(full({1}, Scalar(int64_max), {.dtype = DType::Int64})) == I64{int64_max});
  // A floating value is truncated toward 0, as before; past the dtype's range it is an error.
  CHECK(values(full({1}, Scalar(-2.7), {.dtype = DType::Int32})) == I64{-2});
  CHECK_THROWS_WITH(full({1}, Scalar(300), {.dtype = DType::UInt8}), Contains("[full] value 300 cannot be converted to uint8"));
  CHECK_THROWS_WITH(full({1}, Scalar(int64_t{1} << 40), {.dtype = DType::Int32}), Contains("cannot be converted to int32"));
  CHECK_THROWS_WITH(full({1}, Scalar(1e300), {.dtype = DType::Int64}), Contains("cannot be converted to int64"));
  CHECK_THROWS_WITH(full({1}, Scalar(std::nan("")), {.dtype = DType::Int64}), Contains("cannot be converted to int64"));
  // clamp's bounds past an integer dtype's range are never selected, and are no error.
  CHECK(values(clamp(ints({0, 7, 200}, DType::UInt8), -1.0, 10.0)) == I64{0, 7, 10});
  CHECK(values(clamp(ints({-5, 7}, DType::Int32), 0.0, 1e10)) == I64{0, 7});
  Tensor bytes = zeros({1}, {.dtype = DType::UInt8});
  CHECK_THROWS_WITH(bytes.fill_(Scalar(-1)), Contains("[fill_] value -1 cannot be converted to uint8"));
}
