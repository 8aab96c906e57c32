// Sizes that no memory can hold are refused before anything is allocated, quickly, with an
// ember::Error naming the op, the shape and the dtype. Nothing here allocates more than a few bytes:
// every request below is refused by arithmetic, not by the system running out of memory.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <vector>

#include <ember/core/storage.h>
#include <ember/ops/ops.h>

using namespace ember;
using Catch::Contains;

namespace {

using V = std::vector<int64_t>;
constexpr int64_t k2e40 = int64_t{1} << 40;
constexpr int64_t k2e61 = int64_t{1} << 61;
constexpr int64_t k2e62 = int64_t{1} << 62;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("factories refuse shapes whose bytes overflow, naming op, shape and dtype", "[core][alloc]") {
  const auto start = std::chrono::steady_clock::now();
  // 2^62 float32 elements are 2^64 bytes: the byte count wraps to 0.
  CHECK_THROWS_WITH(zeros(V{k2e62}), Contains("[zeros]") && Contains("[4611686018427387904]") && Contains("float32"));
  CHECK_THROWS_WITH(Tensor::empty(V{k2e62}, DType::Float32), Contains("[empty]") && Contains("float32"));
  CHECK_THROWS_WITH(ember::empty(V{k2e62}), Contains("[empty]"));  // (std::empty is found by ADL)
  CHECK_THROWS_WITH(ones(V{k2e62}, {.dtype = DType::Float64}), Contains("[ones]") && Contains("float64"));
  CHECK_THROWS_WITH(full(V{k2e62}, 3), Contains("[full]"));
  // 2^61 + 1 float32 elements: 2^63 + 4 bytes, past int64 (and once looping forever in the allocator).
  CHECK_THROWS_WITH(zeros(V{k2e61 + 1}), Contains("[zeros]") && Contains("float32"));
  // The element count itself overflows int64.
  CHECK_THROWS_WITH(zeros(V{k2e40, k2e40}), Contains("[zeros]") && Contains("[1099511627776, 1099511627776]"));
  CHECK_THROWS_WITH(zeros(V{k2e40, k2e40, 0}), Contains("[zeros]"));  // strides of the empty shape overflow
  CHECK_THROWS_WITH(zeros(V{-1, -1}), Contains("[zeros]") && Contains("negative"));
  CHECK_THROWS_WITH(rand(V{k2e40, k2e40}), Contains("[rand]"));
  CHECK_THROWS_WITH(randn(V{k2e62}), Contains("[randn]") && Contains("float32"));
  CHECK_THROWS_WITH(randint(0, 5, V{k2e62}), Contains("[randint]") && Contains("int64"));
  CHECK_THROWS_WITH(eye(k2e40), Contains("[eye]") && Contains("[1099511627776, 1099511627776]"));
  CHECK_THROWS_WITH(linspace(0, 1, k2e62), Contains("[linspace]"));
  CHECK_THROWS_WITH(arange(0, 0x1p61), Contains("[arange]") && Contains("int64"));
  CHECK_THROWS_WITH(arange(0, 1e30), Contains("[arange]"));  // the count is not even an int64
  CHECK_THROWS_WITH(from_vector(std::vector<float>{}, V{k2e62, 4}, {}), Contains("[from_vector]"));
  // [-1, -2] has the "product" 2 of two values, but negative sizes are no shape.
  CHECK_THROWS_WITH(from_vector(std::vector<float>{1, 2}, V{-1, -2}, {}), Contains("[from_vector]"));
  float one = 1;
  CHECK_THROWS_WITH(from_blob(&one, V{k2e62}, DType::Float32), Contains("[from_blob]") && Contains("float32"));
  CHECK(seconds_since(start) < 1.0);
}

TEST_CASE("the CPU allocator refuses absurd sizes at once instead of looping", "[core][alloc]") {
  const auto start = std::chrono::steady_clock::now();
  const auto before = CpuAllocator::stats();
  for (size_t nbytes : {(size_t{1} << 61) + 1, size_t{1} << 63, (size_t{1} << 63) + 4, SIZE_MAX}) {
    INFO(nbytes);
    CHECK_THROWS_WITH(CpuAllocator::allocate(nbytes),
                      Contains("[allocator] out of CPU memory allocating") && Contains(std::to_string(nbytes)));
  }
  // A refused request leaves the books as they were.
  CHECK(CpuAllocator::stats().bytes_in_use == before.bytes_in_use);
  CHECK(seconds_since(start) < 1.0);
  // Ordinary sizes still work.
  void* p = CpuAllocator::allocate(100);
  CHECK(p != nullptr);
  CpuAllocator::deallocate(p, 100);
}

TEST_CASE("views that compute sizes refuse overflowing ones", "[core][alloc]") {
  Tensor x = zeros(V{1});
  // expand needs no memory, but its element count must be countable.
  CHECK_THROWS_WITH(expand(x, V{k2e40, k2e40}), Contains("[expand]") && Contains("float32"));
  CHECK_THROWS_WITH(expand(x, V{k2e62}), Contains("[expand]"));
  CHECK(expand(x, V{k2e40}).numel() == k2e40);  // 2^40 elements, 4 TiB as a copy: a fine view
  // Broadcasting two shapes whose product overflows.
  CHECK_THROWS_WITH(add(expand(x, V{k2e40, 1}), expand(x, V{1, k2e40})), Contains("[add]"));
  // view/reshape with -1: (2^32 + 1)(2^32 - 1) = 2^64 - 1 wraps to -1, which "divides" 6 into -6, and
  // the wrapped product of [2^32 + 1, 2^32 - 1, -6] is 6 again: a shape from overflow, not an error.
  const int64_t wraps_to_minus_one[] = {(int64_t{1} << 32) + 1, (int64_t{1} << 32) - 1, -1};
  CHECK_THROWS_WITH(reshape(zeros(V{6}), wraps_to_minus_one), Contains("[reshape]") && Contains("[4294967297"));
  CHECK_THROWS_WITH(view(zeros(V{6}), wraps_to_minus_one), Contains("[view]"));
  CHECK_THROWS_WITH(view(zeros(V{0}), V{k2e40, k2e40, -1}), Contains("[view]") && Contains("[1099511627776"));
  // as_strided: the viewed range must fit the storage, even when size * stride overflows.
  Tensor y = zeros(V{16});
  // (3 - 1) 2^62 wraps to -2^63: the last element "reached" would be negative, inside any storage.
  CHECK_THROWS_WITH(as_strided(y, V{3}, V{k2e62}, 0), Contains("[as_strided]"));
  CHECK_THROWS_WITH(as_strided(y, V{2}, V{INT64_MAX}, 1), Contains("[as_strided]"));
  CHECK_THROWS_WITH(as_strided(y, V{2, 2}, V{k2e62, k2e62}, 0), Contains("[as_strided]"));
  CHECK_THROWS_WITH(as_strided(y, V{k2e40, k2e40}, V{0, 0}, 0), Contains("[as_strided]") && Contains("float32"));
  CHECK_THROWS_WITH(as_strided(y, V{4, 5}, V{4, 1}, 0), Contains("[as_strided]") && Contains("16"));
  CHECK(as_strided(y, V{4, 4}, V{4, 1}, 0).numel() == 16);
}

TEST_CASE("a request no machine can map empties the cache, retries, then is an error",
          "[core][alloc]") {
  // 2^56 bytes passes the early size check but is beyond any address space or memory: the
  // allocator must give its cached blocks back to the system, try once more, then fail cleanly.
  void* cached = CpuAllocator::allocate(1 << 20);
  CpuAllocator::deallocate(cached, 1 << 20);
  const auto before = CpuAllocator::stats();
  REQUIRE(before.bytes_cached >= (1 << 20));
  CHECK_THROWS_WITH(CpuAllocator::allocate(size_t{1} << 56),
                    Contains("[allocator] out of CPU memory allocating") &&
                        Contains(std::to_string(size_t{1} << 56)));
  const auto after = CpuAllocator::stats();
  CHECK(after.bytes_cached == 0);
  CHECK(after.bytes_in_use == before.bytes_in_use);
}

TEST_CASE("empty_cache frees the cached blocks; later requests are served afresh",
          "[core][alloc]") {
  void* small = CpuAllocator::allocate(200);
  void* large = CpuAllocator::allocate(3 << 20);
  CpuAllocator::deallocate(small, 200);
  CpuAllocator::deallocate(large, 3 << 20);
  // 200 bytes round to 256; 3 MiB is a multiple of its rounding step (512 KiB).
  CHECK(CpuAllocator::stats().bytes_cached >= 256 + (3 << 20));
  const size_t in_use = CpuAllocator::stats().bytes_in_use;
  CpuAllocator::empty_cache();
  CHECK(CpuAllocator::stats().bytes_cached == 0);
  CHECK(CpuAllocator::stats().bytes_in_use == in_use);
  // The allocator still works, and a freed block is cached again.
  void* again = CpuAllocator::allocate(3 << 20);
  CHECK(CpuAllocator::stats().bytes_in_use == in_use + (3 << 20));
  CpuAllocator::deallocate(again, 3 << 20);
  CHECK(CpuAllocator::stats().bytes_cached == size_t{3} << 20);
}

TEST_CASE("an op whose output cannot be allocated is named in the error, with the tensor asked for",
          "[core][alloc]") {
  // 2^56 bytes pass the size checks and are beyond any address space: the allocator fails, and the
  // error names the op that asked (it said only "[allocator]" before).
  const int64_t k2e54 = int64_t{1} << 54;
  const Tensor broadcast = expand(zeros(V{1}), V{k2e54});
  CHECK_THROWS_WITH(broadcast.contiguous(), Catch::StartsWith("[clone] out of CPU memory allocating 72057594037927936 bytes") &&
                                                Contains("float32 tensor of shape [18014398509481984] on cpu"));
  CHECK_THROWS_WITH(broadcast + 1.0, Catch::StartsWith("[add] out of CPU memory"));
  CHECK_THROWS_WITH(zeros(V{k2e54}), Catch::StartsWith("[zeros] out of CPU memory"));
  // Outside any op, the factory's name; and the next op is named by itself, not by a stale scope.
  CHECK_THROWS_WITH(Tensor::empty(V{k2e54}, DType::Float32), Catch::StartsWith("[empty] out of CPU memory"));
  CHECK((zeros(V{2}) + 1.0).sum().to_vector<float>()[0] == 2.0f);
}
