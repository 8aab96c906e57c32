// ember::profiler: counts every primitive and backward node while a Profile is alive and nothing
// after; self times add up within the total; nested ranges and keys by shape.
#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include <ember/ember.h>

using namespace ember;

namespace {
const profiler::OpStats* find(const std::vector<profiler::OpStats>& table, const std::string& key) {
  for (const auto& s : table)
    if (s.key == key) return &s;
  return nullptr;
}
}  // namespace

TEST_CASE("profiler: ops and backward nodes are counted while a Profile is alive", "[core][profiler]") {
  Tensor a = ones({4, 3});
  a.requires_grad_();
  const Tensor b = full({4, 3}, 2.0);
  (void)(a * b);  // before the profile: not counted
  profiler::Profile profile;
  CHECK(profiler::enabled());
  {
    NoGradGuard no_grad;
    for (int i = 0; i < 2; ++i) (void)(a * b);
  }
  for (int i = 0; i < 3; ++i) sum(a * b).backward();
  const auto table = profile.table();
  const auto* mul = find(table, "mul(float32)");
  REQUIRE(mul != nullptr);
  // 2 + 3 forward, and the products mul's backward runs for a's gradient (and b's, at most)
  CHECK(mul->calls >= 5 + 3);
  CHECK(mul->calls <= 5 + 2 * 3);
  const auto* mul_backward = find(table, "mul_backward(float32)");
  REQUIRE(mul_backward != nullptr);
  CHECK(mul_backward->calls == 3);
  CHECK(find(table, "sum_backward(float32)") != nullptr);
  // Self time never exceeds total time, and the table is sorted by self time.
  for (size_t i = 0; i < table.size(); ++i) {
    CHECK(table[i].self_ms <= table[i].total_ms + 1e-9);
    if (i > 0) CHECK(table[i - 1].self_ms >= table[i].self_ms);
  }
  const std::string text = profile.summary(5);
  CHECK(text.find("mul(float32)") != std::string::npos);
  CHECK(text.find("ops recorded") != std::string::npos);
  profile.reset();
  CHECK(profile.table().empty());
}

TEST_CASE("profiler: nothing is recorded without a Profile; nested ranges split self and total", "[core][profiler]") {
  CHECK_FALSE(profiler::enabled());
  profiler::Profile profile({.by_shape = true});
  {
    profiler::Range outer("outer");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    {
      profiler::Range inner("inner");
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    (void)(ones({2, 5}) + 1);
  }
  const auto table = profile.table();
  const auto* outer = find(table, "outer");
  const auto* inner = find(table, "inner");
  REQUIRE(outer != nullptr);
  REQUIRE(inner != nullptr);
  CHECK(inner->total_ms >= 30);
  CHECK(outer->total_ms >= inner->total_ms + 20);
  CHECK(outer->self_ms < outer->total_ms - 29);  // the inner range's time is not the outer's own
  CHECK(find(table, "add(float32)[2, 5]") != nullptr);  // keyed by shape too
}
