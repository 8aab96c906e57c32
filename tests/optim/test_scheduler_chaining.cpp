// Schedules continue from lrs they did not write, as PyTorch's chainable schedules do: a group added
// to the optimizer later, an lr changed by hand, and two schedules on one optimizer. Every expected
// value is PyTorch 1.13's (torch.optim.lr_scheduler on torch.optim.SGD, printed with repr).
#include <catch2/catch.hpp>
#include <vector>

#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

#include "tests/optim/schedule_helpers.h"

using namespace ember;
using Catch::Contains;
using namespace schedule_test;

TEST_CASE("a group added after the schedule was built is scheduled from its lr", "[optim][scheduler]") {
  // sched.step(); opt.add_param_group({"params": [q], "lr": 0.4}); then six more steps. ember kept the
  // new group at 0.4 on every step: progressive unfreezing trained the new layers at a constant lr.
  SECTION("StepLR(2, 0.5)") {
    optim::SGD o({param()}, {.lr = 0.1});
    optim::StepLR s(o, 2, 0.5);
    s.step();
    o.add_param_group({param()}, {{"lr", 0.4}});
    check_sequence(lrs_of_group(o, s, 1, 6), {0.2, 0.2, 0.1, 0.1, 0.05, 0.05});
    CHECK(o.param_groups()[0].get("lr") == Approx(0.0125).epsilon(1e-12));
  }
  SECTION("ExponentialLR(0.5)") {
    optim::SGD o({param()}, {.lr = 0.1});
    optim::ExponentialLR s(o, 0.5);
    s.step();
    o.add_param_group({param()}, {{"lr", 0.4}});
    check_sequence(lrs_of_group(o, s, 1, 6), {0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625});
  }
  SECTION("CosineAnnealingLR(10, 0.01)") {
    optim::SGD o({param()}, {.lr = 0.1});
    optim::CosineAnnealingLR s(o, 10, 0.01);
    s.step();
    o.add_param_group({param()}, {{"lr", 0.4}});
    check_sequence(lrs_of_group(o, s, 1, 6), {0.3716074787756173, 0.32738509019201945, 0.2716616297592679,
                                              0.20989169803269875, 0.1481217663061296, 0.09239830587337808});
    CHECK(o.param_groups()[0].get("lr") == Approx(0.028549663646838717).epsilon(1e-12));
  }
  SECTION("OneCycleLR has no options for it") {
    optim::SGD o({param()}, {.lr = 0.1, .momentum = 0.9});
    optim::OneCycleLR s(o, 0.5, 10);
    o.add_param_group({param()}, {{"lr", 0.4}});
    CHECK_THROWS_WITH(s.step(), Contains("[OneCycleLR] group 1 was added to the optimizer after the schedule"));
    CHECK(s.last_epoch() == 0);  // the refused step changed nothing
  }
}

TEST_CASE("an lr changed by hand is continued from, not overwritten", "[optim][scheduler]") {
  // for i in range(8): if i == 4: lr *= 0.1; sched.step()
  auto run = [](optim::Optimizer& o, optim::LRScheduler& s) {
    std::vector<double> out;
    for (int i = 0; i < 8; ++i) {
      if (i == 4) o.param_groups()[0]["lr"] = o.param_groups()[0].get("lr") * 0.1;
      s.step();
      out.push_back(o.param_groups()[0].get("lr"));
    }
    return out;
  };
  SECTION("StepLR(3, 0.5)") {
    // ember gave 0.05, 0.025 after the edit: the closed form from the first lr wrote over it.
    optim::SGD o({param()}, {.lr = 0.1});
    optim::StepLR s(o, 3, 0.5);
    check_sequence(run(o, s), {0.1, 0.1, 0.05, 0.05, 0.005, 0.0025, 0.0025, 0.0025});
  }
  SECTION("CosineAnnealingLR(10, 0.01)") {
    // Below eta_min the recursion climbs back towards it, in PyTorch as here.
    optim::SGD o({param()}, {.lr = 0.1});
    optim::CosineAnnealingLR s(o, 10, 0.01);
    check_sequence(run(o, s), {0.09779754323328192, 0.09140576474687263, 0.08145033635316129, 0.06890576474687264,
                               0.007624611797498107, 0.00835864712030895, 0.009020829951398246,
                               0.009546341221559897});
  }
}

TEST_CASE("two schedules on one optimizer compose", "[optim][scheduler]") {
  // StepLR(3, 0.5) and ExponentialLR(0.9), each stepped once per iteration: ember applied only the
  // last one (0.09, 0.081, 0.0729, ...).
  optim::SGD o({param()}, {.lr = 0.1});
  optim::StepLR a(o, 3, 0.5);
  optim::ExponentialLR b(o, 0.9);
  std::vector<double> got;
  for (int i = 0; i < 7; ++i) {
    a.step();
    b.step();
    got.push_back(o.param_groups()[0].get("lr"));
  }
  check_sequence(got, {0.09, 0.081, 0.03645, 0.032805, 0.0295245, 0.013286025, 0.0119574225});
}

TEST_CASE("OneCycleLR overwrites edits and refuses to step past its end, as PyTorch", "[optim][scheduler]") {
  // OneCycleLR(opt, 0.5, total_steps=5), lr set to 7 before the third step: PyTorch's lrs, then
  // "Tried to step 7 times. The specified number of total steps is 5". ember's cosine went on
  // climbing back up from the final lr.
  optim::SGD o({param()}, {.lr = 0.1, .momentum = 0.9});
  optim::OneCycleLR s(o, 0.5, 5);
  const std::vector<double> expected = {0.47524231600673683, 0.30563101096814466, 0.09412917302511849, 2e-06,
                                        0.09412917302511843};
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    if (i == 2) o.param_groups()[0]["lr"] = 7.0;
    s.step();
    CHECK(o.param_groups()[0].get("lr") == Approx(expected[i]).epsilon(1e-9));
  }
  CHECK_THROWS_WITH(s.step(), Contains("[OneCycleLR] stepped 7 times, past total_steps = 5"));
  CHECK(s.last_epoch() == 5);
  CHECK(o.param_groups()[0].get("lr") == Approx(expected.back()).epsilon(1e-9));
}

TEST_CASE("where the schedule's lr ignores its base, an edit carries over by the schedule's change", "[optim][scheduler]") {
  // Four steps, lr set to 0.3, three more steps. PyTorch keeps 0.3 after LinearLR has ended at factor
  // 0, and at a cosine's t_max it adds the schedule's change (then goes on by ratios). ember wrote
  // the closed form over the edit (0 and 0.0232).
  auto run = [](optim::Optimizer& o, optim::LRScheduler& s) {
    for (int i = 0; i < 4; ++i) s.step();
    o.param_groups()[0]["lr"] = 0.3;
    return lrs_of_group(o, s, 0, 3);
  };
  SECTION("LinearLR(0.5, 0.0, 3)") {
    optim::SGD o({param()}, {.lr = 0.1});
    optim::LinearLR s(o, 0.5, 0.0, 3);
    check_sequence(run(o, s), {0.3, 0.3, 0.3});
  }
  SECTION("CosineAnnealingLR(4, 0.01)") {
    optim::SGD o({param()}, {.lr = 0.1});
    optim::CosineAnnealingLR s(o, 4, 0.01);
    check_sequence(run(o, s), {0.31318019484660536, 1.045121933088198, 1.777063671329791});
  }
}

TEST_CASE("a schedule's state loads back whatever its steps solved, and leaves the optimizer's lrs alone",
          "[optim][scheduler]") {
  // An lr set below a cosine's eta_min solves to a negative base: its state dict was refused on load
  // ("must be a finite lr >= 0"), so a checkpoint ember wrote could not be read back. PyTorch's values:
  // 0.007693557330391936 at step 9, then 0.01.
  optim::SGD o({param()}, {.lr = 0.1});
  optim::CosineAnnealingLR s(o, 10, 0.01);
  for (int i = 0; i < 8; ++i) s.step();
  o.param_groups()[0]["lr"] = 0.001;
  s.step();
  CHECK(o.param_groups()[0].get("lr") == Approx(0.007693557330391936).epsilon(1e-12));
  const auto saved_schedule = s.state_dict();
  const auto saved_optimizer = o.state_dict();

  optim::SGD o2({param()}, {.lr = 0.1});
  optim::CosineAnnealingLR s2(o2, 10, 0.01);
  o2.load_state_dict(saved_optimizer);
  REQUIRE_NOTHROW(s2.load_state_dict(saved_schedule));
  CHECK(o2.param_groups()[0].get("lr") == Approx(0.007693557330391936).epsilon(1e-12));
  s.step();
  s2.step();
  CHECK(o.param_groups()[0].get("lr") == Approx(0.01).epsilon(1e-12));
  CHECK(o2.param_groups()[0].get("lr") == o.param_groups()[0].get("lr"));

  // An lr cut after the schedule's step (a ReduceLROnPlateau at the end of an epoch) was rewritten by
  // the schedule's load; the resumed run now continues from it, as the uninterrupted one does.
  optim::SGD a({param()}, {.lr = 0.1});
  optim::StepLR sa(a, 2, 0.5);
  sa.step();
  a.param_groups()[0]["lr"] = 0.01;
  optim::SGD b({param()}, {.lr = 0.1});
  optim::StepLR sb(b, 2, 0.5);
  b.load_state_dict(a.state_dict());
  sb.load_state_dict(sa.state_dict());
  CHECK(b.param_groups()[0].get("lr") == 0.01);
  check_sequence(lrs_of_group(b, sb, 0, 3), lrs_of_group(a, sa, 0, 3));
}

TEST_CASE("a schedule with a group added after it was built saves and resumes", "[optim][scheduler]") {
  // Its state names base_lrs.1, which a schedule built for one group refused ("names group 1, but the
  // optimizer has 1") even once the resumed optimizer had the group again.
  optim::SGD o({param()}, {.lr = 0.1});
  optim::StepLR s(o, 2, 0.5);
  s.step();
  o.add_param_group({param()}, {{"lr", 0.4}});
  s.step();
  optim::SGD o2({param()}, {.lr = 0.1});
  optim::StepLR s2(o2, 2, 0.5);
  o2.add_param_group({param()}, {{"lr", 0.4}});
  o2.load_state_dict(o.state_dict());
  REQUIRE_NOTHROW(s2.load_state_dict(s.state_dict()));
  check_sequence(lrs_of_group(o2, s2, 1, 4), lrs_of_group(o, s, 1, 4));
  CHECK(o2.param_groups()[1].get("lr") == Approx(0.05).epsilon(1e-12));  // PyTorch: 0.2, 0.2, 0.1, 0.1, 0.05
}
