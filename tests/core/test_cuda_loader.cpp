// The CUDA backend is a plugin (backends/cuda/loader.cpp). Where it cannot be loaded, CUDA is simply
// absent: no devices, CPU work unaffected, and a CUDA tensor is an error that says why.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include <ember/backends/cuda/cuda.h>
#include <ember/core/info.h>
#include <ember/ops/ops.h>

using namespace ember;
using Catch::Contains;

// Run by CTest with EMBER_CUDA_LIBRARY pointing at a file that does not exist (cuda_backend_missing).
TEST_CASE("a CUDA backend that cannot be loaded: no devices, and a clear error", "[.cuda-backend-missing]") {
  const char* path = std::getenv("EMBER_CUDA_LIBRARY");
  REQUIRE(path != nullptr);
#if defined(EMBER_WITH_CUDA)
  const std::string why = std::string("cannot load ember's CUDA backend ") + path;
#else
  const std::string why = "ember was built without CUDA";
#endif
  CHECK_FALSE(cuda::is_available());
  CHECK(cuda::device_count() == 0);
  CHECK_NOTHROW(cuda::synchronize());
  CHECK_NOTHROW(cuda::empty_cache());
  CHECK_THAT(cuda::backend_description(), Contains(why));
  CHECK_THAT(info(), Contains(why));
  CHECK_THROWS_WITH(Tensor::empty({2, 3}, DType::Float32, Device::cuda(0)), Contains("[cuda]") && Contains(why));
  CHECK_THROWS_WITH(ones({2}).to(Device::cuda(0)), Contains(why));
  CHECK_THROWS_WITH(cuda::memory_stats(0), Contains(why));
  CHECK_THROWS_WITH(cuda::device_name(0), Contains(why));
  // The CPU is untouched.
  CHECK((ones({2}) + ones({2})).sum().item<float>() == 4.0f);
}
