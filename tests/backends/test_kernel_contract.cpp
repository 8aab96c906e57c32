// The CPU kernel table called directly, as another front end (or a test oracle) would: the
// contract of backends/backend.h for what ops/ never passes itself. A strided output with
// alpha and beta (C = alpha A B + beta C, C unread when beta is 0, as in BLAS), bool operands of
// Div and Remainder, and the table's own allocator entries.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include <ember/backends/backend.h>
#include <ember/core/storage.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

using namespace ember;

TEST_CASE("matmul into a transposed output view computes alpha A B + beta C in place",
          "[backends][kernels]") {
  const Backend& cpu = backend(Device::cpu());
  for (DType dtype : {DType::Float32, DType::Float64}) {
    INFO(dtype_name(dtype));
    const Tensor a = cast(from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}), dtype);
    const Tensor b = cast(from_vector(std::vector<double>{5, 6, 7, 8}, {2, 2}), dtype);
    // A B = [[19, 22], [43, 50]]. The output is the transpose of M = [[1, 2], [3, 4]], so C starts
    // as [[1, 3], [2, 4]] and 2 A B + 0.5 C = [[38.5, 45.5], [87, 102]] lands in M transposed.
    Tensor m = cast(from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}), dtype);
    cpu.matmul(kview(a), kview(b), kview(m.t()), 2.0, 0.5);
    CHECK(m.to_vector<double>() == std::vector<double>{38.5, 87, 45.5, 102});
    // beta = 0: C is not read, so a NaN in it does not leak into the result.
    Tensor garbage = full({2, 2}, std::nan(""), {.dtype = dtype});
    cpu.matmul(kview(a), kview(b), kview(garbage.t()), 1.0, 0.0);
    CHECK(garbage.to_vector<double>() == std::vector<double>{19, 43, 22, 50});
  }
}

TEST_CASE("integer Div and Remainder kernels on bools: a // true = a, a % true = false",
          "[backends][kernels]") {
  // ops/ refuses bool floor_divide and remainder (as PyTorch does); the kernels still define them
  // for the only divisor that is not zero.
  const Backend& cpu = backend(Device::cpu());
  const Tensor a = gt(from_vector(std::vector<double>{1, -1, 2, -2}, {4}), Scalar(0));  // T F T F
  const Tensor divisor = ones({4}, {.dtype = DType::Bool});
  Tensor quotient = empty_like(a), rest = empty_like(a);
  cpu.binary(BinaryOp::Div, kview(a), kview(divisor), kview(quotient));
  cpu.binary(BinaryOp::Remainder, kview(a), kview(divisor), kview(rest));
  CHECK(quotient.to_vector<bool>() == std::vector<bool>{true, false, true, false});
  CHECK(rest.to_vector<bool>() == std::vector<bool>{false, false, false, false});
}

TEST_CASE("pow of bool tensors is the truth table of x^y (x^0 = 1, x^1 = x)",
          "[backends][kernels]") {
  const Tensor x = gt(from_vector(std::vector<double>{1, -1, 2, -2}, {4}), Scalar(0));  // T F T F
  const Tensor y = gt(from_vector(std::vector<double>{1, 3, -1, -3}, {4}), Scalar(0));  // T T F F
  const Tensor p = pow(x, y);
  CHECK(p.dtype() == DType::Bool);
  CHECK(p.to_vector<bool>() == std::vector<bool>{true, false, true, true});
}

TEST_CASE("the CPU table's allocator entries use the caching CPU allocator",
          "[backends][kernels]") {
  const Backend& cpu = backend(Device::cpu());
  CHECK(cpu.name() == "cpu");
  const size_t in_use = CpuAllocator::stats().bytes_in_use;
  void* p = cpu.allocate(1000, Device::cpu());
  REQUIRE(p != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
  CHECK(CpuAllocator::stats().bytes_in_use == in_use + 1024);  // 1000 rounds up to 16 cache lines
  static_cast<volatile char*>(p)[999] = 1;                     // the whole block is usable
  cpu.deallocate(p, 1000, Device::cpu());
  CHECK(CpuAllocator::stats().bytes_in_use == in_use);
}

TEST_CASE("a sum over a strided dim adds each output's elements in order, in double",
          "[backends][kernels][reduce]") {
  // The contract sum_columns (backends/cpu/reduce.cpp) keeps while it walks 64 outputs row by row:
  // out[g, c] = round(((0 + x[g, 0, c]) + x[g, 1, c]) + ...), the additions in double.
  auto expected = [](const Tensor& x) {  // x [G, N, W] reduced over dim 1, as float64
    const Tensor x64 = x.to(DType::Float64).contiguous();
    const std::vector<double> v = x64.to_vector<double>();
    const int64_t G = x.size(0), N = x.size(1), W = x.size(2);
    std::vector<double> out(G * W);
    for (int64_t g = 0; g < G; ++g)
      for (int64_t c = 0; c < W; ++c) {
        double acc = 0;
        for (int64_t k = 0; k < N; ++k) acc += v[(g * N + k) * W + c];
        out[g * W + c] = acc;
      }
    // rounded to the compute type (float32 for bfloat16), then to the dtype, as the kernel stores it
    const Tensor sums = from_vector(out, {G, W});
    return x.dtype() == DType::BFloat16 ? sums.to(DType::Float32).to(x.dtype()) : sums.to(x.dtype());
  };
  for (DType dtype : {DType::Float32, DType::BFloat16, DType::Float64}) {
    INFO(dtype_name(dtype));
    Generator gen(11);
    // values of mixed magnitudes, so that the order of the additions shows in the last bits
    const Tensor x = (randn({5, 301, 130}, {.dtype = DType::Float64}, &gen) *
                      exp(randn({5, 301, 130}, {.dtype = DType::Float64}, &gen) * 3.0)).to(dtype);
    const Tensor got = sum(x, {1});
    CHECK(got.to(DType::Float64).to_vector<double>() == expected(x).to(DType::Float64).to_vector<double>());
    // a 2-D bias-gradient shape: the rows of one [rows, features] block
    const Tensor rows = x[0];
    CHECK(sum(rows, {0}).to(DType::Float64).to_vector<double>() ==
          expected(rows.unsqueeze(0)).to(DType::Float64).to_vector<double>());
    // no rows: every output is 0
    CHECK(sum(zeros({0, 70}, {.dtype = dtype}), {0}).to(DType::Float64).to_vector<double>() == std::vector<double>(70, 0.0));
  }
}
