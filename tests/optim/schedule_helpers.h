#pragma once
// Shared helpers of the schedule tests: a one-element parameter, the lrs a schedule writes step by
// step, and a comparison of a sequence with PyTorch's at 1e-12.
#include <catch2/catch.hpp>
#include <vector>

#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

namespace schedule_test {

using namespace ember;

inline Tensor param() { return zeros({1}).requires_grad_(); }

// The lr of `group` after each of `steps` calls of s.step().
inline std::vector<double> lrs_of_group(optim::Optimizer& o, optim::LRScheduler& s, size_t group, int steps) {
  std::vector<double> out;
  for (int i = 0; i < steps; ++i) {
    s.step();
    out.push_back(o.param_groups()[group].get("lr"));
  }
  return out;
}

inline void check_sequence(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == Approx(expected[i]).epsilon(1e-12));
  }
}

}  // namespace schedule_test
