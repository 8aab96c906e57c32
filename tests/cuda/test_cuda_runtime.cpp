// The CUDA runtime and the kernels the op table does not reach directly: transfers in every
// direction and dtype, the caching allocator and out-of-memory recovery, the Philox stream against
// the CPU's, determinism of scatter_add, 16-bit GEMM, large reductions, tensors over 2^31 elements,
// and the errors for mixed devices and for a build or machine without a GPU.
#include <catch2/catch.hpp>

#include <cstring>
#include <limits>

#include <ember/core/generator.h>
#include "tests/cuda/helpers.h"

using namespace ember;
using namespace ember::testing;

namespace {
const Device kCuda = Device::cuda(0);

Tensor sample_f32(std::initializer_list<int64_t> shape, uint64_t seed) {
  Generator gen(seed);
  return randn(std::vector<int64_t>(shape), {}, &gen);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

// ---------------------------------------------------------------- without a device

TEST_CASE("without a device CUDA tensors fail with a clear error", "[nodevice]") {
  REQUIRE_FALSE(cuda::is_available());
  REQUIRE(cuda::device_count() == 0);
  try {
    Tensor t = Tensor::empty({4}, DType::Float32, kCuda);
    FAIL("allocating on cuda:0 without a device did not throw");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK((contains(e.what(), "no device cuda:0") || contains(e.what(), "built without CUDA")));
  }
  CHECK_THROWS_AS(ones({3}).to(kCuda), Error);
}

// ---------------------------------------------------------------- transfers

TEST_CASE("copies between host and device in every dtype keep values and layouts", "[cuda]") {
  EMBER_REQUIRE_CUDA();
  const Tensor base = sample_f32({3, 5, 4}, 1) * 50;
  for (DType from : {DType::Bool, DType::UInt8, DType::Int32, DType::Int64, DType::Float16, DType::BFloat16,
                     DType::Float32, DType::Float64}) {
    const Tensor host = base.to(from);
    const Tensor dev = host.to(kCuda);
    CHECK(dev.device() == kCuda);
    CHECK(compare_tensors(dev.cpu(), host, 0).empty());
    // Non-contiguous and broadcast sources, in both directions, with conversion on the device.
    const Tensor t = host.permute({2, 0, 1});
    CHECK(compare_tensors(t.to(kCuda).cpu(), t.contiguous(), 0).empty());
    CHECK(compare_tensors(dev.permute({2, 0, 1}).cpu(), t.contiguous(), 0).empty());
    const Tensor b = narrow(host, 1, 2, 1).expand({3, 7, 4});
    CHECK(compare_tensors(b.to(kCuda).cpu(), b.contiguous(), 0).empty());
    for (DType to : {DType::Bool, DType::Int64, DType::Float16, DType::BFloat16, DType::Float64}) {
      INFO(dtype_name(from) << " -> " << dtype_name(to));
      CHECK(compare_tensors(dev.to(to).cpu(), host.to(to), 0).empty());
      CHECK(compare_tensors(dev.permute({2, 0, 1}).to(to).cpu(), t.to(to), 0).empty());
    }
  }
}

TEST_CASE("item and to_vector read CUDA tensors through the host", "[cuda]") {
  EMBER_REQUIRE_CUDA();
  const Tensor x = arange(0, 10, 1, {.dtype = DType::Float32}).to(kCuda);
  CHECK(sum(x).item<float>() == 45.0f);
  CHECK(x.to_vector<int64_t>()[7] == 7);
  CHECK_THROWS_AS(x.data<float>(), Error);  // raw host pointer to device memory: refused
}

// ---------------------------------------------------------------- allocator

TEST_CASE("the caching allocator reuses freed blocks and reports its statistics", "[cuda][allocator]") {
  EMBER_REQUIRE_CUDA();
  cuda::synchronize();
  cuda::empty_cache();
  const cuda::MemoryStats before = cuda::memory_stats();
  CHECK(before.cached_bytes == 0);
  { Tensor a = Tensor::empty({1 << 20}, DType::Float32, kCuda); }  // 4 MiB, freed at once
  const cuda::MemoryStats freed = cuda::memory_stats();
  CHECK(freed.allocated_bytes == before.allocated_bytes);
  CHECK(freed.cached_bytes >= (size_t{4} << 20));
  CHECK(freed.peak_allocated_bytes >= before.allocated_bytes + (size_t{4} << 20));
  Tensor b = Tensor::empty({1 << 20}, DType::Float32, kCuda);  // same bin: served from the cache
  const cuda::MemoryStats reused = cuda::memory_stats();
  CHECK(reused.cache_hits == freed.cache_hits + 1);
  CHECK(reused.device_mallocs == freed.device_mallocs);
  CHECK(reused.allocated_bytes >= before.allocated_bytes + (size_t{4} << 20));
  b = Tensor();
  cuda::empty_cache();
  CHECK(cuda::memory_stats().cached_bytes == 0);
  CHECK(cuda::memory_stats().reserved_bytes == cuda::memory_stats().allocated_bytes);
}

TEST_CASE("an allocation larger than the card fails with ember::Error and the next one works", "[cuda][allocator]") {
  EMBER_REQUIRE_CUDA();
  const size_t ooms = cuda::memory_stats().out_of_memory;
  Tensor keep = ones({1000}, {.device = kCuda});
  try {
    Tensor huge = Tensor::empty({int64_t{1} << 40}, DType::Float32, kCuda);  // 4 TiB
    FAIL("a 4 TiB allocation succeeded");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(contains(e.what(), "out of memory"));
    CHECK(contains(e.what(), "4.00 TiB"));       // how much was requested
    CHECK(contains(e.what(), "ember holds"));    // and how much is held
  }
  CHECK(cuda::memory_stats().out_of_memory == ooms + 1);
  Tensor next = ones({1 << 20}, {.device = kCuda}) * 2;  // allocation and kernels still work
  CHECK(sum(next).item<double>() == 2.0 * (1 << 20));
  CHECK(sum(keep).item<double>() == 1000.0);
}

TEST_CASE("an absurd allocation is refused before cudaMalloc, at once", "[cuda][allocator]") {
  EMBER_REQUIRE_CUDA();
  // 2^61 bytes: fits the size arithmetic, but no GPU holds it; the rounding must not loop or wrap.
  CHECK_THROWS_WITH(Tensor::empty({int64_t{1} << 59}, DType::Float32, kCuda),
                    Catch::Contains("out of memory") && Catch::Contains("2305843009213693952"));
  CHECK_THROWS_WITH(zeros({int64_t{1} << 62}, {.device = kCuda}), Catch::Contains("[zeros]"));
}

// ---------------------------------------------------------------- integer arithmetic

TEST_CASE("integer division by zero raises on CUDA as on the CPU", "[cuda][integer]") {
  EMBER_REQUIRE_CUDA();
  const int64_t int64_min = std::numeric_limits<int64_t>::min();
  Tensor a = from_vector(std::vector<int64_t>{7, -7, int64_min}, {3}).to(kCuda);
  Tensor zero_inside = from_vector(std::vector<int64_t>{2, 0, -1}, {3}).to(kCuda);
  CHECK_THROWS_WITH(remainder(a, zero_inside), Catch::Contains("ZeroDivisionError"));
  CHECK_THROWS_WITH(floor_divide(a, Scalar(0)), Catch::Contains("ZeroDivisionError"));
  Tensor minus = from_vector(std::vector<int64_t>{2, 2, -1}, {3}).to(kCuda);
  // Python: 7 // 2 = 3, -7 // 2 = -4, INT64_MIN // -1 wraps; 7 % 2 = 1, -7 % 2 = 1, INT64_MIN % -1 = 0.
  CHECK(floor_divide(a, minus).to_vector<int64_t>() == std::vector<int64_t>{3, -4, int64_min});
  CHECK(remainder(a, minus).to_vector<int64_t>() == std::vector<int64_t>{1, 1, 0});
  // pow by squaring: 2^63 wraps to INT64_MIN; an exponent of 2^62 takes 62 steps, not 2^62.
  Tensor base = from_vector(std::vector<int64_t>{2, 2, -1}, {3}).to(kCuda);
  Tensor e = from_vector(std::vector<int64_t>{63, int64_t{1} << 62, -3}, {3}).to(kCuda);
  CHECK(pow(base, e).to_vector<int64_t>() == std::vector<int64_t>{int64_min, 0, -1});
}

// ---------------------------------------------------------------- Philox

TEST_CASE("CUDA draws the same Philox stream as the CPU", "[cuda][random]") {
  EMBER_REQUIRE_CUDA();
  for (DType dtype : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16}) {
    INFO(dtype_name(dtype));
    Generator gc(1234), gg(1234);
    const std::vector<int64_t> shape{1000, 37};
    // Uniforms are exact integer arithmetic: bit for bit. Two draws, so the offset advances too.
    for (int draw = 0; draw < 2; ++draw) {
      const Tensor uc = rand(shape, {.dtype = dtype}, &gc), ug = rand(shape, {.dtype = dtype, .device = kCuda}, &gg);
      CHECK(compare_tensors(ug, uc, 0).empty());
    }
    // Normals go through logf/cosf/sqrtf: a few ulp apart at most.
    const Tensor nc = randn(shape, {.dtype = dtype}, &gc), ng = randn(shape, {.dtype = dtype, .device = kCuda}, &gg);
    const double ulps = dtype == DType::Float64 ? 1e-14 : (dtype == DType::Float32 ? 2e-6 : 1e-2);
    CHECK(compare_tensors(ng, nc, ulps).empty());
    CHECK(gc.offset() == gg.offset());
  }
  Generator gc(99), gg(99);
  const std::vector<int64_t> shape{4096};
  const Tensor ic = randint(-5, 1000000007, shape, {.dtype = DType::Int64}, &gc);
  const Tensor ig = randint(-5, 1000000007, shape, {.dtype = DType::Int64, .device = kCuda}, &gg);
  CHECK(compare_tensors(ig, ic, 0).empty());
  // dropout draws its mask from the same stream
  Generator dc(5), dg(5);
  const Tensor x = ones({257, 33});
  CHECK(compare_tensors(dropout(x.to(kCuda), 0.3, true, &dg), dropout(x, 0.3, true, &dc), 0).empty());
}

// ---------------------------------------------------------------- kernels beyond the op table

TEST_CASE("scatter_add on CUDA is deterministic and equals the CPU bit for bit", "[cuda][index]") {
  EMBER_REQUIRE_CUDA();
  Generator gen(3);
  const Tensor src = randn({64, 5000}, {}, &gen);
  const Tensor index = randint(0, 7, {64, 5000}, {.dtype = DType::Int64}, &gen);  // many repeats per slot
  const Tensor cpu = scatter_add(zeros({64, 7}), 1, index, src);
  const Tensor first = scatter_add(zeros({64, 7}, {.device = kCuda}), 1, index.to(kCuda), src.to(kCuda));
  const Tensor again = scatter_add(zeros({64, 7}, {.device = kCuda}), 1, index.to(kCuda), src.to(kCuda));
  CHECK(compare_tensors(first, cpu, 0).empty());
  CHECK(compare_tensors(again, first, 0).empty());
}

TEST_CASE("16-bit GEMM on tensor cores and transposed, batched float32 GEMM match the CPU", "[cuda][matmul]") {
  EMBER_REQUIRE_CUDA();
  const Tensor a = sample_f32({3, 96, 200}, 7), b = sample_f32({200, 130}, 8);
  // float32: transposed operands and a broadcast batch
  CHECK(compare_tensors(matmul(a.to(kCuda), b.to(kCuda)), matmul(a, b), 1e-3).empty());
  const Tensor at = a.transpose(1, 2).contiguous().transpose(1, 2);  // column-major storage
  CHECK(compare_tensors(matmul(at.to(kCuda), b.t().contiguous().t().to(kCuda)), matmul(a, b), 1e-3).empty());
  CHECK(compare_tensors(matmul(to_cuda_like(at), to_cuda_like(b.t().contiguous().t())), matmul(a, b), 1e-3).empty());
  for (DType dt : {DType::Float16, DType::BFloat16}) {
    INFO(dtype_name(dt));
    const Tensor ah = a.to(dt), bh = b.to(dt);
    // The CPU widens to float32 and rounds once; so does cuBLAS (float32 accumulation): the two differ
    // by the output's rounding (2^-11 or 2^-8 relative) at most, plus summation order.
    CHECK(compare_tensors(matmul(ah.to(kCuda), bh.to(kCuda)), matmul(ah, bh), dt == DType::Float16 ? 2e-3 : 1e-2).empty());
  }
  // integer GEMM (no cuBLAS)
  const Tensor ia = randint(-9, 9, {4, 5, 6}), ib = randint(-9, 9, {6, 3});
  CHECK(compare_tensors(matmul(ia.to(kCuda), ib.to(kCuda)), matmul(ia, ib), 0).empty());
}

TEST_CASE("large reductions (the two-pass plan) and arg-reductions with ties and NaN", "[cuda][reduce]") {
  EMBER_REQUIRE_CUDA();
  const Tensor x = sample_f32({3, 4000000}, 11);
  CHECK(compare_tensors(sum(x.to(kCuda), {1}), sum(x, {1}), 1e-6).empty());
  CHECK(compare_tensors(sum(x.to(kCuda)), sum(x), 1e-5).empty());
  CHECK(compare_tensors(amax(x.to(kCuda), {1}), amax(x, {1}), 0).empty());
  CHECK(compare_tensors(argmax(x.to(kCuda), 1), argmax(x, 1), 0).empty());
  // ties: the first index wins; NaN wins over every number
  Tensor t = zeros({5, 300000});
  t = t + (arange(0, 300000, 1, {.dtype = DType::Float32}) >= 1000).to(DType::Float32);  // 1.0 from 1000 on
  CHECK(argmax(t.to(kCuda), 1).to_vector<int64_t>() == std::vector<int64_t>(5, 1000));
  CHECK(argmin(t.to(kCuda), 1).to_vector<int64_t>() == std::vector<int64_t>(5, 0));
  Tensor n = t.clone();
  n = where(eq(arange(0, 300000, 1, {.dtype = DType::Float32}), 123456), full({1}, NAN), n);
  CHECK(std::isnan(amax(n.to(kCuda)).item<float>()));
  CHECK(argmax(n.to(kCuda), 1).to_vector<int64_t>() == std::vector<int64_t>(5, 123456));
}

TEST_CASE("tensors of more than 2^31 elements index with 64 bits", "[cuda][large]") {
  EMBER_REQUIRE_CUDA();
  const size_t free_bytes = cuda::device_memory().free_bytes;
  const int64_t n = (int64_t{1} << 31) + 4099;
  if (free_bytes < size_t{40} << 30) {  // the int64 copy below is 17 GiB
    WARN("SKIPPED: needs 40 GiB of free device memory");
    return;
  }
  Tensor x = ones({n}, {.dtype = DType::UInt8, .device = kCuda});
  Tensor y = x + x;  // elementwise, flat
  CHECK(narrow(y, 0, n - 1, 1).item<int64_t>() == 2);
  CHECK(sum(x.to(DType::Int64)).item<int64_t>() == n);  // reduction over > 2^31 elements
  // strided: the second half of the even elements via a [2, n/2] view transposed
  const int64_t half = (n - 1) / 2;
  Tensor z = narrow(y, 0, 0, 2 * half).view({2, half}).t().contiguous();
  CHECK(narrow(narrow(z, 0, half - 1, 1), 1, 1, 1).item<int64_t>() == 2);
  CHECK(amax(z).item<int64_t>() == 2);
}

// ---------------------------------------------------------------- errors

TEST_CASE("ops mixing CPU and CUDA tensors name the op, shapes, dtypes and devices", "[cuda][errors]") {
  EMBER_REQUIRE_CUDA();
  const Tensor c = ones({2, 3}), g = ones({2, 3}, {.device = kCuda});
  try {
    (void)add(c, g);
    FAIL("add(cpu, cuda) did not throw");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(contains(e.what(), "[add]"));
    CHECK(contains(e.what(), "cuda:0"));
    CHECK(contains(e.what(), "cpu"));
    CHECK(contains(e.what(), "[2, 3]"));
  }
  CHECK_THROWS_AS(matmul(c, g.t()), Error);
  CHECK_THROWS_AS(where(ones({2, 3}, {.dtype = DType::Bool}), g, c), Error);
  // A 0-dim CPU number joins a CUDA tensor, as in PyTorch.
  CHECK(compare_tensors(g * full(std::span<const int64_t>{}, 3.0), (c * 3.0).to(kCuda), 0).empty());
}
