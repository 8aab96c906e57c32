// MultiStepLR, LinearLR and ReduceLROnPlateau against PyTorch 1.13 (torch.optim.lr_scheduler on
// torch.optim.SGD with lr 0.1; every expected value is torch's, printed with repr).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include <ember/ops/ops.h>
#include <ember/optim/optim.h>
#include <ember/optim/reduce_on_plateau.h>

#include "tests/optim/schedule_helpers.h"

using namespace ember;
using Catch::Contains;
using namespace schedule_test;

TEST_CASE("MultiStepLR follows PyTorch, a repeated milestone counting twice", "[optim][scheduler]") {
  // MultiStepLR(opt, [2, 5, 5, 7], 0.5), nine steps.
  optim::SGD o({param()}, {.lr = 0.1});
  optim::MultiStepLR s(o, {7, 5, 2, 5}, 0.5);  // any order
  std::vector<double> got;
  for (int i = 0; i < 9; ++i) {
    s.step();
    got.push_back(o.param_groups()[0].get("lr"));
  }
  check_sequence(got, {0.1, 0.05, 0.05, 0.05, 0.0125, 0.0125, 0.00625, 0.00625, 0.00625});
  CHECK_THROWS_WITH(optim::MultiStepLR(o, {-1}), Contains("[MultiStepLR] milestones must be non-negative"));
}

TEST_CASE("LinearLR follows PyTorch from its start factor to its end factor", "[optim][scheduler]") {
  // LinearLR(opt, 0.25, 1.0, 4): the lr at construction, then seven steps.
  optim::SGD o({param()}, {.lr = 0.1});
  optim::LinearLR s(o, 0.25, 1.0, 4);
  std::vector<double> got{o.param_groups()[0].get("lr")};
  for (int i = 0; i < 7; ++i) {
    s.step();
    got.push_back(o.param_groups()[0].get("lr"));
  }
  check_sequence(got, {0.025, 0.043750000000000004, 0.06250000000000001, 0.08125000000000002, 0.10000000000000002,
                       0.10000000000000002, 0.10000000000000002, 0.10000000000000002});
  CHECK_THROWS_WITH(optim::LinearLR(o, 0.0), Contains("[LinearLR] start_factor must be in (0, 1]"));
  CHECK_THROWS_WITH(optim::LinearLR(o, 0.5, 1.5), Contains("[LinearLR] end_factor"));
  CHECK_THROWS_WITH(optim::LinearLR(o, 0.5, 1.0, 0), Contains("[LinearLR] total_iters"));
}

namespace {
// The metrics fed to each ReduceLROnPlateau below, a NaN among them.
const std::vector<double> kMetrics = {1.0, 0.9, 0.95, 0.95, 0.95, 0.89995, 0.96, 0.97, NAN,
                                      0.98, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6};

std::vector<double> plateau_lrs(const optim::ReduceLROnPlateauOptions& options) {
  optim::SGD o({param()}, {.lr = 0.1});
  optim::ReduceLROnPlateau s(o, options);
  std::vector<double> out;
  for (double m : kMetrics) {
    s.step(m);
    out.push_back(o.param_groups()[0].get("lr"));
  }
  return out;
}
}  // namespace

TEST_CASE("ReduceLROnPlateau follows PyTorch in every mode", "[optim][scheduler]") {
  SECTION("ReduceLROnPlateau(opt, patience=2)") {
    // 0.89995 is not better than 0.9 by the relative threshold 1e-4, and NaN is a bad step.
    check_sequence(plateau_lrs({.patience = 2}),
                   {0.1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002,
                    0.0010000000000000002, 0.0010000000000000002, 0.0010000000000000002, 0.0010000000000000002,
                    0.0010000000000000002, 0.0010000000000000002, 0.00010000000000000003, 0.00010000000000000003,
                    0.00010000000000000003, 1.0000000000000004e-05, 1.0000000000000004e-05});
  }
  SECTION("patience=1, threshold=0.05, threshold_mode='abs', cooldown=2, factor=0.5, min_lr=0.02") {
    check_sequence(plateau_lrs({.factor = 0.5, .patience = 1, .threshold = 0.05, .relative_threshold = false,
                                .cooldown = 2, .min_lr = 0.02}),
                   {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02,
                    0.02, 0.02});
  }
  SECTION("mode='max', patience=0, factor=0.5") {
    std::vector<double> expected{0.1};
    for (size_t i = 1; i < kMetrics.size(); ++i) expected.push_back(expected.back() / 2);
    check_sequence(plateau_lrs({.maximize = true, .factor = 0.5, .patience = 0}), expected);
  }
  SECTION("a reduction smaller than eps is skipped: patience=0, factor=0.5, min_lr=0.0999") {
    std::vector<double> expected(kMetrics.size(), 0.0999);
    expected[0] = expected[1] = 0.1;
    check_sequence(plateau_lrs({.factor = 0.5, .patience = 0, .min_lr = 0.0999}), expected);
  }
}

TEST_CASE("ReduceLROnPlateau refuses options that raise the lr and round-trips its state", "[optim][scheduler]") {
  optim::SGD o({param()}, {.lr = 0.1});
  for (double bad : {1.0, 2.0, -0.5, double(NAN)})
    CHECK_THROWS_WITH(optim::ReduceLROnPlateau(o, {.factor = bad}), Contains("[ReduceLROnPlateau] factor"));
  CHECK_THROWS_WITH(optim::ReduceLROnPlateau(o, {.patience = -1}), Contains("[ReduceLROnPlateau]"));
  optim::ReduceLROnPlateau a(o, {.patience = 3});
  for (double m : {1.0, 2.0, 2.0}) a.step(m);
  optim::ReduceLROnPlateau b(o, {.patience = 3});
  b.load_state_dict(a.state_dict());
  CHECK(b.best() == 1.0);
  CHECK(b.num_bad_epochs() == 2);
  CHECK(b.last_epoch() == 3);
  b.step(3.0);
  b.step(3.0);  // the fourth bad step in a row: reduced
  CHECK(o.param_groups()[0].get("lr") == Approx(0.01));
  auto broken = a.state_dict();
  broken[1].second = scalar_tensor(2.5, {.dtype = DType::Float64});
  CHECK_THROWS_WITH(b.load_state_dict(broken), Contains("[ReduceLROnPlateau] \"num_bad_epochs\" must be a whole number"));
}
