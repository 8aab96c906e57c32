// rms_norm without an eps uses the machine epsilon of the input's dtype (torch.finfo(dtype).eps, as
// torch.nn.functional.rms_norm does): for 16-bit inputs it is large enough to change the result
// of a small input, which makes the dtype's constant visible.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include <ember/ops/ops.h>

using namespace ember;

TEST_CASE("rms_norm's default eps is the epsilon of the input's dtype", "[nn_ops][rms_norm]") {
  // x = [a, 0]: mean(x^2) = a^2 / 2, so y_0 = a / sqrt(a^2 / 2 + eps).
  // float16, a = 2^-5, eps = 2^-10: y_0 = 2^-5 / sqrt(2^-11 + 2^-10) = sqrt(2/3) = 0.8165.
  const Tensor h = cast(from_vector(std::vector<double>{0.03125, 0}, {2}), DType::Float16);
  CHECK(rms_norm(h, {2}).to_vector<float>()[0] == Approx(std::sqrt(2.0 / 3)).epsilon(2e-3));
  // bfloat16, a = 2^-4, eps = 2^-7: y_0 = 2^-4 / sqrt(2^-9 + 2^-7) = sqrt(2/5) = 0.6325.
  const Tensor b = cast(from_vector(std::vector<double>{0.0625, 0}, {2}), DType::BFloat16);
  CHECK(rms_norm(b, {2}).to_vector<float>()[0] == Approx(std::sqrt(2.0 / 5)).epsilon(8e-3));
  // float32: eps = 2^-23; float64: eps = 2^-52, negligible here (y_0 = sqrt(2)).
  const double a = 0.03125;
  CHECK(rms_norm(cast(h, DType::Float32), {2}).to_vector<float>()[0] ==
        Approx(a / std::sqrt(a * a / 2 + std::ldexp(1.0, -23))).epsilon(1e-6));
  CHECK(rms_norm(cast(h, DType::Float64), {2}).to_vector<double>()[0] ==
        Approx(std::sqrt(2.0)).epsilon(1e-12));
  // An explicit eps wins: a = 2^-5 and eps = 2^-11 give y_0 = 2^-5 / sqrt(2^-10) = 1.
  CHECK(rms_norm(h, {2}, std::nullopt, 0.00048828125).to_vector<float>()[0] ==
        Approx(1).epsilon(2e-3));
}
