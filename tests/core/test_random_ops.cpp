// rand, randn and randint against an independent Philox4x32-10 written here from the published
// algorithm (Salmon et al., SC11) and the stream mapping documented in core/philox.h: element i of a
// draw at generator state (seed, offset) uses counter {lo32(offset + i), hi32(offset + i), 0, 0}
// and key {lo32(seed), hi32(seed)}. A generator or op that ignores the offset fails here.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include <ember/core/generator.h>
#include <ember/core/tensor.h>

using namespace ember;

namespace {

using Words = std::array<uint32_t, 4>;

// Philox4x32-10, written from the paper rather than copied from core/philox.h.
Words reference_philox(uint64_t seed, uint64_t index) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  Words x{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), 0u, 0u};
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t m0 = static_cast<uint64_t>(kMul0) * x[0];
    const uint64_t m1 = static_cast<uint64_t>(kMul1) * x[2];
    x = {static_cast<uint32_t>(m1 >> 32) ^ x[1] ^ k0, static_cast<uint32_t>(m1),
         static_cast<uint32_t>(m0 >> 32) ^ x[3] ^ k1, static_cast<uint32_t>(m0)};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return x;
}

float reference_uniform_float(uint64_t seed, uint64_t index) {
  return static_cast<float>(reference_philox(seed, index)[0] >> 8) / 16777216.0f;
}

double reference_uniform_double(uint64_t seed, uint64_t index) {
  const Words r = reference_philox(seed, index);
  return static_cast<double>(((static_cast<uint64_t>(r[0]) << 32) | r[1]) >> 11) /
         9007199254740992.0;
}

double reference_normal_float(uint64_t seed, uint64_t index) {
  const Words r = reference_philox(seed, index);
  const double u1 = 1.0 - (r[0] >> 8) / 16777216.0, u2 = (r[1] >> 8) / 16777216.0;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

double reference_normal_double(uint64_t seed, uint64_t index) {
  const Words r = reference_philox(seed, index);
  const auto top53 = [](uint32_t hi, uint32_t lo) {
    return static_cast<double>(((static_cast<uint64_t>(hi) << 32) | lo) >> 11) /
           9007199254740992.0;
  };
  const double u1 = 1.0 - top53(r[0], r[1]), u2 = top53(r[2], r[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

int64_t reference_randint(uint64_t seed, uint64_t index, int64_t low, int64_t high) {
  const Words r = reference_philox(seed, index);
  const uint64_t bits = static_cast<uint64_t>(r[0]) | (static_cast<uint64_t>(r[1]) << 32);
  return low + static_cast<int64_t>(bits % static_cast<uint64_t>(high - low));
}

// Draws of 0, 7 and 1000 elements before the checked one put it at offsets 0, 7 and 1007.
const std::vector<int64_t> kWarmupDraws = {0, 7, 1000};

}  // namespace

TEST_CASE("rand follows the Philox stream at the generator's offset", "[random][generator]") {
  const uint64_t seed = 0x0123456789abcdefULL;
  for (int64_t warmup : kWarmupDraws) {
    Generator g(seed);
    if (warmup > 0) rand({warmup}, {}, &g);
    const uint64_t offset = static_cast<uint64_t>(warmup);
    CHECK(g.offset() == offset);
    const std::vector<float> f32 = rand({3, 5}, {}, &g).to_vector<float>();
    CHECK(g.offset() == offset + 15);
    const std::vector<double> f64 = rand({9}, {.dtype = DType::Float64}, &g).to_vector<double>();
    INFO("warm-up draw of " << warmup);
    for (size_t i = 0; i < f32.size(); ++i) {
      INFO("float32 element " << i);
      CHECK(f32[i] == reference_uniform_float(seed, offset + i));
    }
    for (size_t i = 0; i < f64.size(); ++i) {
      INFO("float64 element " << i);
      CHECK(f64[i] == reference_uniform_double(seed, offset + 15 + i));
    }
  }
}

TEST_CASE("randn follows the Philox stream at the generator's offset", "[random][generator]") {
  const uint64_t seed = 77;
  for (int64_t warmup : kWarmupDraws) {
    Generator g(seed);
    if (warmup > 0) randn({warmup}, {}, &g);
    const uint64_t offset = static_cast<uint64_t>(warmup);
    const std::vector<float> f32 = randn({12}, {}, &g).to_vector<float>();
    const std::vector<double> f64 = randn({12}, {.dtype = DType::Float64}, &g).to_vector<double>();
    INFO("warm-up draw of " << warmup);
    for (size_t i = 0; i < f32.size(); ++i) {
      INFO("float32 element " << i);
      // float Box-Muller (logf/cosf) against the double-precision formula: a few float ulps.
      CHECK(f32[i] == Approx(reference_normal_float(seed, offset + i)).margin(1e-5).epsilon(1e-5));
    }
    for (size_t i = 0; i < f64.size(); ++i) {
      INFO("float64 element " << i);
      CHECK(f64[i] == Approx(reference_normal_double(seed, offset + 12 + i)).epsilon(1e-13));
    }
  }
}

TEST_CASE("randint follows the Philox stream at the generator's offset", "[random][generator]") {
  const uint64_t seed = 0xfeedfacecafebeefULL;
  for (int64_t warmup : kWarmupDraws) {
    Generator g(seed);
    if (warmup > 0) randint(0, 10, {warmup}, {}, &g);
    const uint64_t offset = static_cast<uint64_t>(warmup);
    const std::vector<int64_t> got = randint(-5, 1000003, {20}, {}, &g).to_vector<int64_t>();
    INFO("warm-up draw of " << warmup);
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("element " << i);
      CHECK(got[i] == reference_randint(seed, offset + i, -5, 1000003));
    }
  }
}

TEST_CASE("manual_seed restarts the default generator's stream at offset 0", "[random][generator]") {
  manual_seed(31337);
  rand({50});
  manual_seed(4242);
  const std::vector<float> first = rand({8}).to_vector<float>();
  const std::vector<float> second = rand({8}).to_vector<float>();
  for (size_t i = 0; i < 8; ++i) {
    CHECK(first[i] == reference_uniform_float(4242, i));
    CHECK(second[i] == reference_uniform_float(4242, 8 + i));
  }
}

TEST_CASE("consecutive draws differ and two seeds differ", "[random][generator]") {
  Generator g(5);
  const std::vector<float> a = rand({64}, {}, &g).to_vector<float>();
  const std::vector<float> b = rand({64}, {}, &g).to_vector<float>();
  CHECK(a != b);
  const std::vector<int64_t> c = randint(0, 1 << 30, {64}, {}, &g).to_vector<int64_t>();
  const std::vector<int64_t> d = randint(0, 1 << 30, {64}, {}, &g).to_vector<int64_t>();
  CHECK(c != d);
  Generator s1(1), s2(2);
  CHECK(randn({64}, {}, &s1).to_vector<float>() != randn({64}, {}, &s2).to_vector<float>());
}

TEST_CASE("randint(lo, hi) covers exactly [lo, hi)", "[random][generator]") {
  Generator g(11);
  const int64_t low = -3, high = 4;
  const std::vector<int64_t> got = randint(low, high, {20000}, {}, &g).to_vector<int64_t>();
  std::set<int64_t> seen(got.begin(), got.end());
  CHECK(seen == std::set<int64_t>{-3, -2, -1, 0, 1, 2, 3});
  const std::vector<int64_t> single = randint(9, 10, {100}, {}, &g).to_vector<int64_t>();
  CHECK(std::set<int64_t>(single.begin(), single.end()) == std::set<int64_t>{9});
}

// Found by a red-team review: bounds a 16-bit dtype cannot hold filled inf, where PyTorch refuses.
TEST_CASE("uniform_ refuses bounds outside the tensor's dtype", "[random]") {
  Tensor h = zeros({3}, {.dtype = DType::Float16});
  CHECK_THROWS_WITH(h.uniform_(1e5, 2e5), Catch::Contains("[uniform_]") && Catch::Contains("float16"));
  CHECK_THROWS_WITH(zeros({3}, {.dtype = DType::BFloat16}).uniform_(-1e39, 0),
                    Catch::Contains("[uniform_]") && Catch::Contains("bfloat16"));
  h.uniform_(-65504, 65504);
  for (float v : h.to(DType::Float32).to_vector<float>()) CHECK(std::isfinite(v));
}
