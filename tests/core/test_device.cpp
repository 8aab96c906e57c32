// Device values: an index that does not fit the stored int8_t is an error, not a wrapped-around device.
#include <catch2/catch.hpp>

#include <ember/core/device.h>
#include <ember/core/error.h>

using namespace ember;
using Catch::Contains;

TEST_CASE("Device::cuda refuses indices it cannot store", "[core][device]") {
  CHECK_THROWS_AS(Device::cuda(200), Error);
  CHECK_THROWS_WITH(Device::cuda(200), Contains("[device]") && Contains("200"));
  CHECK_THROWS_WITH(Device::cuda(128), Contains("128"));
  CHECK_THROWS_WITH(Device::cuda(-1), Contains("-1"));
  CHECK_THROWS_WITH(Device::parse("cuda:200"), Contains("cuda:200"));
  CHECK(Device::cuda(127).index == 127);
  CHECK(Device::cuda(0).str() == "cuda:0");
  CHECK(Device::parse("cuda:3") == Device::cuda(3));
}
