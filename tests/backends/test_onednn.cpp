// 16-bit GEMM on the CPU: oneDNN's kernels (backends/cpu/onednn.h) and the widen-to-float32 path
// against a float64 product of the same 16-bit inputs, on every layout the dispatch distinguishes
// (plain, transposed, padded rows, copied-first, broadcast batch), and bit-identical on any thread
// count. The bound for one entry: the float32 sum of k products is within k * 2^-23 * sum |a_ip b_pj|
// of the exact one (Higham, with room for blocked summation), and the final rounding to the 16-bit
// type adds at most the unit roundoff relative to the result (2^-8 for bfloat16, 2^-11 for float16),
// or half the subnormal spacing for a result below the smallest normal number (2^-25 for float16).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <vector>

#include <ember/backends/cpu/onednn.h>
#include <ember/core/info.h>
#include <ember/core/tensor.h>
#include <ember/ops/ops.h>
#include <ember/ops/op.h>
#include "tests/backends/thread_count.h"

using namespace ember;

namespace {

// The fast path on or off for one scope.
class OneDnnSwitch {
 public:
  explicit OneDnnSwitch(bool on) { cpu::onednn::set_enabled(on); }
  ~OneDnnSwitch() { cpu::onednn::set_enabled(true); }  // the default; EMBER_ONEDNN=off still wins
  OneDnnSwitch(const OneDnnSwitch&) = delete;
  OneDnnSwitch& operator=(const OneDnnSwitch&) = delete;
};

double unit_roundoff(DType dtype) { return dtype == DType::BFloat16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11); }
double half_subnormal_spacing(DType dtype) { return dtype == DType::BFloat16 ? std::ldexp(1.0, -134) : std::ldexp(1.0, -25); }

// The float32 summation part of the bound: k * 2^-23 * (|a| @ |b|).
std::vector<double> summation_bound(const Tensor& a, const Tensor& b) {
  const Tensor magnitude = matmul(abs(a.to(DType::Float64)), abs(b.to(DType::Float64)));
  std::vector<double> m = magnitude.contiguous().to_vector<double>();
  for (double& v : m) v *= static_cast<double>(a.size(-1)) * std::ldexp(1.0, -23);
  return m;
}

// Checks out (16-bit) against the float64 product of a and b (16-bit, any layout): every entry
// within the bound above. Returns how many entries broke it.
int64_t count_outside_bound(const Tensor& a, const Tensor& b, const Tensor& out) {
  const std::vector<double> e = matmul(a.to(DType::Float64), b.to(DType::Float64)).contiguous().to_vector<double>();
  const std::vector<double> sum_bound = summation_bound(a, b);
  const std::vector<double> got = out.to(DType::Float64).contiguous().to_vector<double>();
  int64_t outside = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    const double bound = sum_bound[i] + unit_roundoff(out.dtype()) * (std::abs(e[i]) + sum_bound[i]) +
                         half_subnormal_spacing(out.dtype());
    if (!(std::abs(got[i] - e[i]) <= bound)) ++outside;
  }
  return outside;
}

Tensor random_16bit(std::initializer_list<int64_t> shape, DType dtype, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, {}, &gen).to(dtype);
}

bool same_bytes(const Tensor& x, const Tensor& y) {
  const Tensor cx = x.contiguous(), cy = y.contiguous();
  return cx.numel() == cy.numel() && std::memcmp(cx.data_ptr(), cy.data_ptr(), cx.numel() * cx.element_size()) == 0;
}

}  // namespace

TEST_CASE("16-bit matmul agrees with the float64 product on every layout and both paths", "[onednn][matmul]") {
  for (DType dtype : {DType::BFloat16, DType::Float16}) {
    for (bool fast : {true, false}) {
      OneDnnSwitch path(fast);
      INFO(fmt::format("{} oneDNN {}", dtype, fast ? "on" : "off"));
      const Tensor a = random_16bit({3, 70, 130}, dtype, 1), b = random_16bit({3, 130, 50}, dtype, 2);
      CHECK(count_outside_bound(a, b, matmul(a, b)) == 0);
      {  // transposed operands
        const Tensor at = random_16bit({3, 130, 70}, dtype, 3).transpose(1, 2);
        const Tensor bt = random_16bit({3, 50, 130}, dtype, 4).transpose(1, 2);
        CHECK(count_outside_bound(at, bt, matmul(at, bt)) == 0);
      }
      {  // padded rows (a leading dimension above the row length)
        const Tensor wide = random_16bit({3, 70, 200}, dtype, 5).narrow(2, 10, 130);
        CHECK(count_outside_bound(wide, b, matmul(wide, b)) == 0);
      }
      {  // no unit stride: copied first
        const Tensor every_other = random_16bit({3, 70, 260}, dtype, 6).slice(2, 0, std::nullopt, 2);
        CHECK(count_outside_bound(every_other, b, matmul(every_other, b)) == 0);
      }
      {  // a broadcast batch
        const Tensor shared = random_16bit({1, 130, 50}, dtype, 7).expand({3, 130, 50});
        CHECK(count_outside_bound(a, shared, matmul(a, shared)) == 0);
        const Tensor w = random_16bit({130, 50}, dtype, 8);  // [3, 70, 130] @ [130, 50]: a linear layer
        CHECK(count_outside_bound(a, w, matmul(a, w)) == 0);
      }
      {  // vectors and a single row
        const Tensor row = random_16bit({1, 513}, dtype, 9), col = random_16bit({513, 1}, dtype, 10);
        CHECK(count_outside_bound(row, col, matmul(row, col)) == 0);
        CHECK(count_outside_bound(col, row, matmul(col, row)) == 0);
      }
    }
  }
}

TEST_CASE("oneDNN and the float32 path differ by at most one rounding of the result", "[onednn][matmul]") {
  if (!cpu::onednn::built()) {
    WARN("ember was built without oneDNN");
    return;
  }
  const Tensor a = random_16bit({256, 384}, DType::BFloat16, 11), b = random_16bit({384, 192}, DType::BFloat16, 12);
  Tensor fast, reference;
  {
    OneDnnSwitch on(true);
    fast = matmul(a, b);
  }
  {
    OneDnnSwitch off(false);
    reference = matmul(a, b);
  }
  // Both accumulate in float32 (in different orders) and round once: one bfloat16 ulp apart at
  // most, more only where the two float32 sums themselves differ by more (cancellation).
  const std::vector<float> f = fast.to(DType::Float32).to_vector<float>();
  const std::vector<float> r = reference.to(DType::Float32).to_vector<float>();
  const std::vector<double> sum_bound = summation_bound(a, b);
  int64_t apart = 0, identical = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    const double ulp = std::ldexp(1.0, std::ilogb(std::max(std::abs(f[i]), std::abs(r[i]))) - 7);
    if (std::abs(double(f[i]) - double(r[i])) > ulp + 2 * sum_bound[i]) ++apart;
    if (f[i] == r[i]) ++identical;
  }
  CHECK(apart == 0);
  CHECK(identical > static_cast<int64_t>(f.size()) * 9 / 10);  // the same rounding almost everywhere
}

TEST_CASE("oneDNN honours alpha and beta (C = alpha A B + beta C)", "[onednn][matmul]") {
  if (!cpu::onednn::enabled()) {
    WARN("oneDNN is not in use");
    return;
  }
  // Small integers: every product and sum is exact in float32 and in bfloat16.
  const Tensor a = from_vector(std::vector<float>{1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3}).to(DType::BFloat16);
  const Tensor b = from_vector(std::vector<float>{1.f, 0.f, 2.f, 1.f, 0.f, 3.f}, {3, 2}).to(DType::BFloat16);
  Tensor c = from_vector(std::vector<float>{10.f, 20.f, 30.f, 40.f}, {2, 2}).to(DType::BFloat16);
  REQUIRE(cpu::onednn::matmul(kview(a), kview(b), kview(c), 2.0, 0.5));
  // A B = [[5, 11], [14, 23]]; 2 A B + 0.5 C = [[15, 32], [43, 66]]
  CHECK(c.to(DType::Float32).to_vector<float>() == std::vector<float>{15.f, 32.f, 43.f, 66.f});
  REQUIRE(cpu::onednn::matmul(kview(a), kview(b), kview(c), 1.0, 0.0));  // beta 0 overwrites
  CHECK(c.to(DType::Float32).to_vector<float>() == std::vector<float>{5.f, 11.f, 14.f, 23.f});
}

TEST_CASE("oneDNN declines what it cannot do, and ember computes it instead", "[onednn][matmul]") {
  const Tensor a32 = from_vector(std::vector<float>{1.f, 2.f}, {1, 2}), b32 = from_vector(std::vector<float>{3.f, 4.f}, {2, 1});
  Tensor c32 = zeros({1, 1});
  CHECK_FALSE(cpu::onednn::matmul(kview(a32), kview(b32), kview(c32), 1.0, 0.0));  // float32 is OpenBLAS's
  const Tensor empty_k = zeros({4, 0}, {.dtype = DType::BFloat16});
  const Tensor b0 = zeros({0, 3}, {.dtype = DType::BFloat16});
  Tensor c = ones({4, 3}, {.dtype = DType::BFloat16});
  CHECK_FALSE(cpu::onednn::matmul(kview(empty_k), kview(b0), kview(c), 1.0, 0.0));
  CHECK(matmul(empty_k, b0).to(DType::Float32).to_vector<float>() == std::vector<float>(12, 0.f));  // k = 0: zeros
  CHECK(matmul(zeros({0, 5}, {.dtype = DType::BFloat16}), zeros({5, 2}, {.dtype = DType::BFloat16})).numel() == 0);
  OneDnnSwitch off(false);
  CHECK_FALSE(cpu::onednn::enabled());
  const Tensor a = from_vector(std::vector<float>{1.f, 2.f}, {1, 2}).to(DType::BFloat16);
  const Tensor b = from_vector(std::vector<float>{3.f, 4.f}, {2, 1}).to(DType::BFloat16);
  CHECK(matmul(a, b).to(DType::Float32).item<float>() == 11.f);
}

namespace {
void check_same_bits_on_any_thread_count(const Tensor& a, const Tensor& b) {
  Tensor single;
  {
    test::ThreadCount one(1);
    single = matmul(a, b);
  }
  for (int threads : {2, 3, 6, 7}) {
    test::ThreadCount count(threads);
    INFO(fmt::format("{} {} threads, a {} strides {}, b {} strides {}", a.dtype(), threads, shape_str(a.shape()),
                     shape_str(a.strides()), shape_str(b.shape()), shape_str(b.strides())));
    CHECK(same_bytes(matmul(a, b), single));
  }
}
}  // namespace

TEST_CASE("16-bit matmul is bit-identical on 1, 2, 3, 6 and 7 threads", "[onednn][matmul][determinism]") {
  // Shapes where a library might split the k sum among threads: long k with a small C, and a
  // batch of products.
  struct Case {
    std::initializer_list<int64_t> a, b;
  };
  for (DType dtype : {DType::BFloat16, DType::Float16}) {
    for (const Case& shapes : {Case{{8, 16384}, {16384, 8}}, Case{{64, 4096}, {4096, 64}}, Case{{300, 257}, {257, 190}},
                               Case{{6, 40, 96}, {6, 96, 72}}}) {
      const Tensor a = random_16bit(shapes.a, dtype, 21), b = random_16bit(shapes.b, dtype, 22);
      check_same_bits_on_any_thread_count(a, b);
    }
  }
  // A stored transposed (a weight gradient's x^T g) with a long power-of-two k and a narrow C: the
  // case where oneDNN 2.x's own matmul splits the k sum among threads (2 and 6 threads gave other
  // bits than 1, 3 and 7 before ember cut C into blocks of its own). The last three are one block
  // each, run outside any parallel region: they fail if the kernels are planned for more threads.
  struct TransposedCase {
    std::initializer_list<int64_t> a_stored, b_stored;
    bool b_transposed;
    uint64_t seed;  // whether a split k sum changes a rounded bit depends on the values
  };
  for (const TransposedCase& c :
       {TransposedCase{{2048, 512}, {8, 2048}, true, 23}, TransposedCase{{4096, 512}, {8, 4096}, true, 23},
        TransposedCase{{4096, 512}, {4096, 64}, false, 23}, TransposedCase{{8192, 8}, {64, 8192}, true, 23},
        TransposedCase{{8192, 512}, {64, 8192}, true, 23}, TransposedCase{{8192, 200}, {8192, 64}, false, 0},
        TransposedCase{{4096, 255}, {4096, 64}, false, 1}, TransposedCase{{2048, 255}, {2048, 64}, false, 0}}) {
    const Tensor a = transpose(random_16bit(c.a_stored, DType::BFloat16, c.seed), 0, 1);
    const Tensor b_stored = random_16bit(c.b_stored, DType::BFloat16, c.seed == 23 ? 24 : c.seed + 1000);
    check_same_bits_on_any_thread_count(a, c.b_transposed ? transpose(b_stored, 0, 1) : b_stored);
  }
}

TEST_CASE("the oneDNN description says which kernel runs, in ember::info() too", "[onednn]") {
  const std::string text = cpu::onednn::description();
  INFO(text);
  CHECK(info().find("16-bit gemm, convolution: " + text) != std::string::npos);
  if (cpu::onednn::enabled()) {
    CHECK(text.find("oneDNN ") == 0);
    CHECK(text.find("bfloat16 GEMM: ") != std::string::npos);
    CHECK(text.find("convolution: float32 ") != std::string::npos);
  } else {
    CHECK(text.find("oneDNN") != std::string::npos);  // built without it, or switched off: says which
  }
}
