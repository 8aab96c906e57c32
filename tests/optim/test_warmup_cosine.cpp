// WarmupCosineLR against its closed form: lr = base (e + 1) / warmup for e < warmup, then
// min + (base - min) (1 + cos(pi (e - warmup) / (total - warmup))) / 2, held at min after total.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

using namespace ember;

TEST_CASE("WarmupCosineLR follows linear warm-up then cosine decay", "[optim][scheduler]") {
  Tensor w = from_vector(std::vector<double>{1.0}, std::vector<int64_t>{1},
                         {.dtype = DType::Float64, .requires_grad = true});
  optim::SGD sgd({w}, {.lr = 0.8});
  optim::WarmupCosineLR schedule(sgd, /*warmup_steps=*/4, /*total_steps=*/12, /*min_lr=*/0.05);
  const double pi = 3.14159265358979323846;
  // Hand-computed: warm-up 0.2, 0.4, 0.6, 0.8; cosine over 8 steps from 0.8 to 0.05.
  auto cosine = [&](int k) { return 0.05 + 0.75 * (1 + std::cos(pi * k / 8.0)) / 2; };
  const std::vector<double> expected = {0.2,       0.4,       0.6,       0.8,       cosine(0),
                                        cosine(1), cosine(2), cosine(3), cosine(4), cosine(5),
                                        cosine(6), cosine(7), 0.05,      0.05,      0.05};
  for (size_t e = 0; e < expected.size(); ++e) {
    INFO("epoch " << e);
    REQUIRE(schedule.get_last_lr().size() == 1);
    CHECK(schedule.get_last_lr()[0] == Approx(expected[e]).epsilon(1e-12));
    sgd.step();
    schedule.step();
  }
  CHECK(cosine(4) == Approx(0.425));  // the midpoint of the decay is halfway between the ends
}

TEST_CASE("WarmupCosineLR rejects warmup_steps outside [0, total_steps)", "[optim][scheduler]") {
  Tensor w = from_vector(std::vector<double>{1.0}, std::vector<int64_t>{1},
                         {.dtype = DType::Float64, .requires_grad = true});
  optim::SGD sgd({w}, {.lr = 0.1});
  CHECK_THROWS_WITH(optim::WarmupCosineLR(sgd, 5, 5), Catch::Contains("WarmupCosineLR"));
  CHECK_THROWS_WITH(optim::WarmupCosineLR(sgd, -1, 5), Catch::Contains("WarmupCosineLR"));
}
