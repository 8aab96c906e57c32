// detail::reported_as: an op written with other ops reports their errors as its own, keeping the
// inner op's name at the end of the message.
#include <catch2/catch.hpp>

#include <ember/core/error_context.h>

using ember::Error;
using ember::detail::attributed_to;
using ember::detail::reported_as;

TEST_CASE("an inner op's error is reported under the outer op, naming the inner one", "[error]") {
  CHECK(attributed_to("linalg.pinv", "[linalg.svd] the input contains NaN") ==
        "[linalg.pinv] the input contains NaN (raised by linalg.svd)");
  // Through two composites the innermost op is the one worth naming.
  CHECK(attributed_to("linalg.lstsq", "[linalg.pinv] the input contains NaN (raised by linalg.svd)") ==
        "[linalg.lstsq] the input contains NaN (raised by linalg.svd)");
  // A message that already names the outer op, an internal error and one without a prefix stay.
  CHECK(attributed_to("fft", "[fft] n must be >= 1") == "[fft] n must be >= 1");
  CHECK(attributed_to("fft", "[internal] assertion failed: x at y:1") == "[internal] assertion failed: x at y:1");
  // A message that names no op becomes the outer op's; a bracket that is no op name is message text.
  CHECK(attributed_to("fft", "no prefix") == "[fft] no prefix");
  CHECK(attributed_to("fft", "[0, 1] is empty") == "[fft] [0, 1] is empty");
  // Parentheses that are not an attribution are part of the message.
  CHECK(attributed_to("one_hot", "[arange] [0, 10) has (too many) elements") ==
        "[one_hot] [0, 10) has (too many) elements (raised by arange)");
  CHECK(attributed_to("outer", "[inner] cannot work (in place)") == "[outer] cannot work (in place) (raised by inner)");
  CHECK(attributed_to("outer", "[inner] x (raised by two words)") == "[outer] x (raised by two words) (raised by inner)");
}

TEST_CASE("reported_as passes results through and rethrows errors as ember::Error", "[error]") {
  CHECK(reported_as("outer", [] { return 42; }) == 42);
  CHECK_THROWS_AS(reported_as("outer", []() -> int { throw Error("[inner] bad"); }), Error);
  CHECK_THROWS_WITH(reported_as("outer", []() -> int { throw Error("[inner] bad"); }), "[outer] bad (raised by inner)");
}
