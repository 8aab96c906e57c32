// ConstantLR, PolynomialLR, LambdaLR, MultiplicativeLR, CosineAnnealingWarmRestarts, CyclicLR,
// SequentialLR, ChainedScheduler and OneCycleLR's other phases against PyTorch 1.13: every expected sequence is torch's, written
// by make_schedule_reference.py into schedule_reference.h (the value at construction, then one per
// step, on SGD with lr 0.1 and momentum 0.9).
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include <ember/io/checkpoint.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

#include "tests/optim/schedule_helpers.h"
#include "tests/optim/schedule_reference.h"

using namespace ember;
using Catch::Contains;
using namespace schedule_test;

namespace {

struct RunOptions {
  std::vector<double> lrs{0.1};             // one group per lr
  const char* key = "lr";                   // the option recorded
  size_t group = 0;                         // of this group
  std::optional<std::pair<int, double>> edit;  // (steps taken, lr): group 0's lr set by hand then
};

std::unique_ptr<optim::SGD> make_sgd(const std::vector<double>& lrs) {
  auto o = std::make_unique<optim::SGD>(std::vector<Tensor>{param()}, optim::SGDOptions{.lr = lrs[0], .momentum = 0.9});
  for (size_t i = 1; i < lrs.size(); ++i) o->add_param_group({param()}, {{"lr", lrs[i]}});
  return o;
}

// make(optimizer) builds the schedule; the recorded option at construction and after each step.
template <class Make>
std::vector<double> run(Make make, int steps, RunOptions r = {}) {
  std::unique_ptr<optim::SGD> sgd = make_sgd(r.lrs);
  optim::SGD& o = *sgd;
  auto schedule = make(o);
  std::vector<double> out{o.param_groups()[r.group].get(r.key)};
  for (int i = 0; i < steps; ++i) {
    if (r.edit && i == r.edit->first) o.param_groups()[0]["lr"] = r.edit->second;
    schedule->step();
    out.push_back(o.param_groups()[r.group].get(r.key));
  }
  return out;
}

int64_t state_dict_epoch(const optim::NamedTensors& state, const std::string& key) {
  for (const auto& [k, v] : state)
    if (k == key) return static_cast<int64_t>(v.item<double>());
  FAIL("no key " << key);
  return -1;
}

const std::vector<double>& torch(const char* name) {
  INFO(name);
  REQUIRE(schedule_reference::kTorch.count(name));
  return schedule_reference::kTorch.at(name);
}

}  // namespace

TEST_CASE("ConstantLR, PolynomialLR and MultiplicativeLR follow PyTorch, continuing from an lr set by hand",
          "[optim][scheduler]") {
  check_sequence(run([](auto& o) { return std::make_unique<optim::ConstantLR>(o, 0.5, 3); }, 6), torch("constant"));
  check_sequence(run([](auto& o) { return std::make_unique<optim::PolynomialLR>(o, 4, 2.0); }, 6), torch("polynomial"));
  auto alternating = [](int64_t e) { return e % 2 ? 0.95 : 0.8; };
  check_sequence(run([&](auto& o) { return std::make_unique<optim::MultiplicativeLR>(o, alternating); }, 8),
                 torch("multiplicative"));
  check_sequence(run([](auto& o) { return std::make_unique<optim::MultiplicativeLR>(o, [](int64_t) { return 0.9; }); }, 5,
                     {.edit = std::pair{2, 0.5}}),
                 torch("multiplicative_edited"));

  optim::SGD o({param()}, {.lr = 0.1});
  CHECK_THROWS_WITH(optim::ConstantLR(o, 1.5), Contains("[ConstantLR] factor must be in [0, 1], got 1.5"));
  CHECK_THROWS_WITH(optim::PolynomialLR(o, 0), Contains("[PolynomialLR] total_iters must be positive"));
  CHECK_THROWS_WITH(optim::PolynomialLR(o, 4, -1), Contains("[PolynomialLR] power must be finite and >= 0"));
  CHECK_THROWS_WITH(optim::MultiplicativeLR(o, nullptr), Contains("[MultiplicativeLR] lr_lambda is empty"));
}

TEST_CASE("MultiplicativeLR refuses a loaded step count it would have to loop to", "[optim][scheduler]") {
  // Its lr at step e takes e calls of the lambda: a corrupt checkpoint's 2^52 must not hang.
  optim::SGD o({param()}, {.lr = 0.1});
  optim::MultiplicativeLR s(o, [](int64_t) { return 1.0; });
  s.step();
  const auto state = s.state_dict();
  optim::NamedTensors huge{{"last_epoch", scalar_tensor(std::ldexp(1.0, 52), {.dtype = DType::Float64})}};
  CHECK_THROWS_WITH(s.load_state_dict(huge), Contains("[MultiplicativeLR] step 4503599627370496 is past"));
  CHECK(s.last_epoch() == 1);
  s.load_state_dict(state);
  CHECK(s.last_epoch() == 1);
}

TEST_CASE("LambdaLR follows PyTorch per group and overwrites an lr set by hand", "[optim][scheduler]") {
  auto make = [](auto& o) {
    return std::make_unique<optim::LambdaLR>(
        o, std::vector<optim::LambdaLR::Lambda>{[](int64_t e) { return std::pow(0.9, static_cast<double>(e)); },
                                                [](int64_t e) { return 1.0 / static_cast<double>(e + 1); }});
  };
  check_sequence(run(make, 6, {.lrs = {0.1, 0.2}, .group = 0}), torch("lambda_group0"));
  check_sequence(run(make, 6, {.lrs = {0.1, 0.2}, .group = 1}), torch("lambda_group1"));
  auto decay = [](int64_t e) { return std::pow(0.9, static_cast<double>(e)); };
  check_sequence(run([&](auto& o) { return std::make_unique<optim::LambdaLR>(o, decay); }, 5, {.edit = std::pair{2, 0.5}}),
                 torch("lambda_edited"));

  optim::SGD o({param()}, {.lr = 0.1});
  CHECK_THROWS_WITH(optim::LambdaLR(o, std::vector<optim::LambdaLR::Lambda>{decay, decay}),
                    Contains("[LambdaLR] got 2 lr_lambdas for 1 parameter groups"));
  CHECK_THROWS_WITH(optim::LambdaLR(o, optim::LambdaLR::Lambda{}), Contains("[LambdaLR] lr_lambda 0 is empty"));
  // A lambda that gives NaN is refused at that step, and the lr stays where it was.
  optim::LambdaLR nan_at_two(o, [](int64_t e) { return e == 2 ? NAN : 1.0; });
  nan_at_two.step();
  CHECK_THROWS_WITH(nan_at_two.step(), Contains("[LambdaLR] the learning rate at step 2 is nan"));
  CHECK(o.param_groups()[0].get("lr") == 0.1);
  CHECK(nan_at_two.last_epoch() == 1);
  // A group added afterwards has no lambda and no base: refused (PyTorch leaves its lr unscheduled).
  o.add_param_group({param()}, {{"lr", 0.3}});
  optim::LambdaLR fine(o, decay);
  optim::SGD o2({param()}, {.lr = 0.1});
  optim::LambdaLR before(o2, decay);
  o2.add_param_group({param()}, {{"lr", 0.3}});
  CHECK_THROWS_WITH(before.step(), Contains("[LambdaLR] group 1 was added to the optimizer after the schedule was built"));
}

TEST_CASE("CosineAnnealingWarmRestarts follows PyTorch through its restarts", "[optim][scheduler]") {
  check_sequence(run([](auto& o) { return std::make_unique<optim::CosineAnnealingWarmRestarts>(o, 3, 2, 0.01); }, 25),
                 torch("warm_restarts_mult2"));
  check_sequence(run([](auto& o) { return std::make_unique<optim::CosineAnnealingWarmRestarts>(o, 4); }, 10),
                 torch("warm_restarts_mult1"));
  check_sequence(
      run([](auto& o) { return std::make_unique<optim::CosineAnnealingWarmRestarts>(o, 4); }, 5, {.edit = std::pair{2, 0.5}}),
      torch("warm_restarts_edited"));

  optim::SGD o({param()}, {.lr = 0.1});
  CHECK_THROWS_WITH(optim::CosineAnnealingWarmRestarts(o, 0), Contains("[CosineAnnealingWarmRestarts] t_0 must be positive"));
  CHECK_THROWS_WITH(optim::CosineAnnealingWarmRestarts(o, 3, 0), Contains("t_mult must be >= 1, got 0"));
  // Step 2^53 - 1 with periods 1, 2, 4, ...: the last period, 2^52 long, has 2^52 - 1 steps behind it
  // (a step count this large is found in 53 subtractions, without overflow).
  optim::CosineAnnealingWarmRestarts s(o, 1, 2);
  s.load_state_dict({{"last_epoch", scalar_tensor(std::ldexp(1.0, 53) - 1, {.dtype = DType::Float64})},
                     {"base_lrs.0", scalar_tensor(0.1, {.dtype = DType::Float64})}});
  s.step();  // step 2^53: the first of a new period of 2^53
  CHECK(o.param_groups()[0].get("lr") == Approx(0.1).epsilon(1e-15));
}

TEST_CASE("CyclicLR follows PyTorch in every mode, its momentum too", "[optim][scheduler]") {
  auto triangular = [](auto& o) {
    return std::make_unique<optim::CyclicLR>(o, optim::CyclicLROptions{.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 3,
                                                                        .step_size_down = 2});
  };
  check_sequence(run(triangular, 12), torch("cyclic_triangular"));
  check_sequence(run(triangular, 12, {.key = "momentum"}), torch("cyclic_triangular_momentum"));
  check_sequence(run([](auto& o) {
                   return std::make_unique<optim::CyclicLR>(
                       o, optim::CyclicLROptions{.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 2,
                                                 .mode = optim::CyclicMode::Triangular2});
                 }, 12),
                 torch("cyclic_triangular2"));
  auto exp_range = [](auto& o) {
    return std::make_unique<optim::CyclicLR>(o, optim::CyclicLROptions{.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 2,
                                                                        .step_size_down = 3,
                                                                        .mode = optim::CyclicMode::ExpRange, .gamma = 0.9});
  };
  check_sequence(run(exp_range, 12), torch("cyclic_exp_range"));
  check_sequence(run(exp_range, 12, {.key = "momentum"}), torch("cyclic_exp_range_momentum"));
  check_sequence(run([](auto& o) {
                   return std::make_unique<optim::CyclicLR>(
                       o, optim::CyclicLROptions{.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 2,
                                                 .scale_fn = [](double x) { return std::pow(0.5, x); },
                                                 .scale_by_cycle = false, .cycle_momentum = false});
                 }, 8),
                 torch("cyclic_scale_fn_iterations"));
  check_sequence(run([](auto& o) {
                   return std::make_unique<optim::CyclicLR>(o, optim::CyclicLROptions{.base_lr = 0.01, .max_lr = 0.1,
                                                                                       .step_size_up = 3});
                 }, 5, {.edit = std::pair{2, 0.5}}),
                 torch("cyclic_edited"));
}

TEST_CASE("CyclicLR refuses options that give no cycle or a momentum out of range", "[optim][scheduler]") {
  optim::SGD o({param()}, {.lr = 0.1, .momentum = 0.9});
  CHECK_THROWS_WITH(optim::CyclicLR(o, {.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 0}),
                    Contains("[CyclicLR] need step_size_up > 0"));
  CHECK_THROWS_WITH(optim::CyclicLR(o, {.base_lr = -1, .max_lr = 0.1}), Contains("[CyclicLR] base_lr must be finite"));
  CHECK_THROWS_WITH(optim::CyclicLR(o, {.base_lr = 0.01, .max_lr = NAN}), Contains("[CyclicLR] max_lr must be finite"));
  CHECK_THROWS_WITH(optim::CyclicLR(o, {.base_lr = 0.01, .max_lr = 0.1, .mode = optim::CyclicMode::ExpRange, .gamma = 0}),
                    Contains("[CyclicLR] gamma must be finite and > 0"));
  CHECK_THROWS_WITH(optim::CyclicLR(o, {.base_lr = 0.01, .max_lr = 0.1, .max_momentum = 1}),
                    Contains("[CyclicLR] need base_momentum and max_momentum in [0, 1)"));
  CHECK_THROWS_WITH(optim::CyclicLR(o, {.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 1, .step_size_down = INT64_MAX}),
                    Contains("is too long"));
  // A scale of one's own that pushes the momentum past 1 is refused at that step, with nothing written
  // (a max_lr below base_lr keeps the lr itself positive: 0.1 + 0.09 at step 1).
  optim::CyclicLR s(o, {.base_lr = 0.1, .max_lr = 0.01, .step_size_up = 2, .scale_fn = [](double) { return -2.0; }});
  const double lr = o.param_groups()[0].get("lr"), momentum = o.param_groups()[0].get("momentum");
  CHECK_THROWS_WITH(s.step(), Contains("[CyclicLR] the momentum at step 1 is 1"));
  CHECK(o.param_groups()[0].get("lr") == lr);
  CHECK(o.param_groups()[0].get("momentum") == momentum);
}

TEST_CASE("OneCycleLR's three phases and linear annealing follow PyTorch", "[optim][scheduler]") {
  auto make = [](bool three_phase, bool linear) {
    return [=](auto& o) {
      return std::make_unique<optim::OneCycleLR>(o, 0.5, 12, 0.25, 25, 1e4, true, 0.85, 0.95, three_phase, linear);
    };
  };
  check_sequence(run(make(true, false), 12), torch("onecycle_three_phase"));
  check_sequence(run(make(true, false), 12, {.key = "momentum"}), torch("onecycle_three_phase_momentum"));
  // PyTorch allows one step past the end, where its line goes on below zero (-0.0556 here), and the
  // usual loop's last step() sets that lr: ember holds the final lr there instead.
  std::vector<double> linear = torch("onecycle_linear");
  REQUIRE(linear.back() < 0);
  linear.back() = linear[linear.size() - 2];
  check_sequence(run(make(false, true), 12), linear);
  check_sequence(run(make(true, true), 12, {.key = "momentum"}), torch("onecycle_three_phase_linear_momentum"));
  optim::SGD o({param()}, {.lr = 0.1, .momentum = 0.9});
  CHECK_THROWS_WITH(optim::OneCycleLR(o, 0.5, 12, 0.6, 25, 1e4, true, 0.85, 0.95, true),
                    Contains("[OneCycleLR] three_phase with pct_start 0.6 and total_steps 12 leaves no steps for the third phase"));
}

TEST_CASE("SequentialLR follows PyTorch, restarting each schedule at its milestone", "[optim][scheduler]") {
  auto warmup_then_decay = [](auto& o) {
    auto warmup = std::make_shared<optim::LinearLR>(o, 0.1, 1.0, 3);
    auto decay = std::make_shared<optim::ExponentialLR>(o, 0.9);
    return std::make_unique<optim::SequentialLR>(o, std::vector<std::shared_ptr<optim::LRScheduler>>{warmup, decay},
                                                 std::vector<int64_t>{3});
  };
  check_sequence(run(warmup_then_decay, 8), torch("sequential_linear_exponential"));
  check_sequence(run(warmup_then_decay, 7, {.edit = std::pair{4, 0.5}}), torch("sequential_edited"));
  check_sequence(run([](auto& o) {
                   std::vector<std::shared_ptr<optim::LRScheduler>> parts{
                       std::make_shared<optim::ConstantLR>(o, 0.5, 2), std::make_shared<optim::CosineAnnealingLR>(o, 4),
                       std::make_shared<optim::StepLR>(o, 2, 0.5)};
                   return std::make_unique<optim::SequentialLR>(o, parts, std::vector<int64_t>{2, 6});
                 }, 10),
                 torch("sequential_three"));
  // A MultiplicativeLR has no closed form: at its milestone it keeps the lr it finds.
  check_sequence(run([](auto& o) {
                   std::vector<std::shared_ptr<optim::LRScheduler>> parts{
                       std::make_shared<optim::ExponentialLR>(o, 0.8),
                       std::make_shared<optim::MultiplicativeLR>(o, [](int64_t) { return 0.9; })};
                   return std::make_unique<optim::SequentialLR>(o, parts, std::vector<int64_t>{3});
                 }, 7),
                 torch("sequential_multiplicative"));
}

TEST_CASE("schedules follow PyTorch's recursions where a closed form has no base to solve", "[optim][scheduler]") {
  using Parts = std::vector<std::shared_ptr<optim::LRScheduler>>;
  auto chain = [](Parts parts) { return std::make_unique<optim::ChainedScheduler>(std::move(parts)); };
  // A cosine past t_max after an edit: PyTorch adds the change of its initial base, not a re-solved one.
  check_sequence(run([](auto& o) { return std::make_unique<optim::CosineAnnealingLR>(o, 10, 0.01); }, 16,
                     {.edit = std::pair{9, 0.05}}),
                 torch("cosine_past_t_max_edited"));
  check_sequence(run([&](auto& o) {
                   return chain({std::make_shared<optim::CosineAnnealingLR>(o, 10, 0.01), std::make_shared<optim::StepLR>(o, 4, 0.7)});
                 }, 45),
                 torch("cosine_then_step_chained"));
  check_sequence(run([&](auto& o) {
                   return chain({std::make_shared<optim::LinearLR>(o, 0.1, 1.0, 5),
                                 std::make_shared<optim::CosineAnnealingLR>(o, 20, 0.001)});
                 }, 30),
                 torch("warmup_then_cosine_chained"));
  // A multiplicative schedule whose lr reached 0 multiplies an lr set by hand by its own step.
  check_sequence(run([](auto& o) { return std::make_unique<optim::StepLR>(o, 2, 0.0); }, 6, {.edit = std::pair{3, 0.3}}),
                 torch("step_gamma_zero_edited"));
  check_sequence(run([](auto& o) {
                   return std::make_unique<optim::MultiplicativeLR>(o, [](int64_t e) { return e == 1 ? 0.0 : 0.5; });
                 }, 5, {.edit = std::pair{2, 0.3}}),
                 torch("multiplicative_zero_edited"));
  // LambdaLR and CosineAnnealingWarmRestarts built after another schedule start from the initial lr.
  check_sequence(run([&](auto& o) {
                   return chain({std::make_shared<optim::ConstantLR>(o, 0.5, 3),
                                 std::make_shared<optim::LambdaLR>(o, [](int64_t e) { return 1.0 / static_cast<double>(e + 1); })});
                 }, 6),
                 torch("constant_then_lambda"));
  check_sequence(run([&](auto& o) {
                   return chain({std::make_shared<optim::LinearLR>(o, 0.5, 1.0, 3),
                                 std::make_shared<optim::CosineAnnealingWarmRestarts>(o, 4)});
                 }, 8),
                 torch("linear_then_warm_restarts"));
}

TEST_CASE("SequentialLR restarts CyclicLR from its base_lr and follows OneCycleLR's initial lr, as PyTorch",
          "[optim][scheduler]") {
  using Parts = std::vector<std::shared_ptr<optim::LRScheduler>>;
  auto cyclic = [](auto& o) {
    return std::make_shared<optim::CyclicLR>(o, optim::CyclicLROptions{.base_lr = 0.01, .max_lr = 0.2, .step_size_up = 3});
  };
  check_sequence(run([&](auto& o) {
                   return std::make_unique<optim::SequentialLR>(o, Parts{cyclic(o), std::make_shared<optim::ExponentialLR>(o, 0.9)},
                                                                std::vector<int64_t>{8});
                 }, 12),
                 torch("sequential_cyclic_first"));
  check_sequence(run([&](auto& o) {
                   return std::make_unique<optim::SequentialLR>(o, Parts{std::make_shared<optim::LinearLR>(o, 0.1, 1.0, 3), cyclic(o)},
                                                                std::vector<int64_t>{4});
                 }, 10),
                 torch("sequential_cyclic_second"));
  check_sequence(run([](auto& o) {
                   return std::make_unique<optim::SequentialLR>(
                       o, Parts{std::make_shared<optim::OneCycleLR>(o, 1.0, 10), std::make_shared<optim::CosineAnnealingLR>(o, 10)},
                       std::vector<int64_t>{10});
                 }, 14),
                 torch("sequential_onecycle_first"));
  check_sequence(run([](auto& o) {
                   return std::make_unique<optim::SequentialLR>(
                       o, Parts{std::make_shared<optim::LinearLR>(o, 0.5, 1.0, 3), std::make_shared<optim::OneCycleLR>(o, 1.0, 10)},
                       std::vector<int64_t>{4});
                 }, 12),
                 torch("sequential_onecycle_second"));

  // A group added after the schedules: a chainable one schedules it, LambdaLR refuses it at its first
  // step after the milestone (it read past its lambdas and crashed).
  optim::SGD o({param()}, {.lr = 0.1});
  auto halving = std::make_shared<optim::StepLR>(o, 2, 0.5);
  auto lambda = std::make_shared<optim::LambdaLR>(o, [](int64_t) { return 0.9; });
  optim::SequentialLR s(o, Parts{halving, lambda}, {3});
  o.add_param_group({param()}, {{"lr", 0.3}});
  s.step();
  s.step();
  CHECK(o.param_groups()[1].get("lr") == Approx(0.15));
  s.step();  // the milestone: LambdaLR restarts for group 0 and leaves group 1 alone
  CHECK(o.param_groups()[0].get("lr") == Approx(0.09));
  CHECK(o.param_groups()[1].get("lr") == Approx(0.15));
  CHECK_THROWS_WITH(s.step(), Contains("[LambdaLR] group 1 was added to the optimizer after the schedule was built"));
}

TEST_CASE("ChainedScheduler follows PyTorch, and a refused step changes nothing", "[optim][scheduler]") {
  check_sequence(run([](auto& o) {
                   return std::make_unique<optim::ChainedScheduler>(std::vector<std::shared_ptr<optim::LRScheduler>>{
                       std::make_shared<optim::ConstantLR>(o, 0.1, 2), std::make_shared<optim::ExponentialLR>(o, 0.9)});
                 }, 6),
                 torch("chained"));
  optim::SGD o({param()}, {.lr = 0.1});
  auto decay = std::make_shared<optim::ExponentialLR>(o, 0.5);
  auto refuses = std::make_shared<optim::LambdaLR>(o, [](int64_t e) { return e == 2 ? -1.0 : 1.0; });
  optim::ChainedScheduler chain({decay, refuses});
  chain.step();
  const double lr = o.param_groups()[0].get("lr");
  CHECK_THROWS_WITH(chain.step(), Contains("[LambdaLR] the learning rate at step 2 is -"));
  CHECK(o.param_groups()[0].get("lr") == lr);
  CHECK(decay->last_epoch() == 1);
  CHECK(refuses->last_epoch() == 1);
}

TEST_CASE("composite schedules refuse parts that do not fit and round-trip through a checkpoint", "[optim][scheduler]") {
  optim::SGD o({param()}, {.lr = 0.1}), other({param()}, {.lr = 0.1});
  auto a = std::make_shared<optim::LinearLR>(o, 0.1, 1.0, 3);
  auto b = std::make_shared<optim::ExponentialLR>(o, 0.9);
  auto elsewhere = std::make_shared<optim::ExponentialLR>(other, 0.9);
  using Parts = std::vector<std::shared_ptr<optim::LRScheduler>>;
  CHECK_THROWS_WITH(optim::SequentialLR(o, Parts{a, b}, {}), Contains("[SequentialLR] needs one milestone fewer than schedules"));
  CHECK_THROWS_WITH(optim::SequentialLR(o, Parts{a, b, b}, {4, 4}), Contains("milestones must be positive and increasing"));
  CHECK_THROWS_WITH(optim::SequentialLR(o, Parts{a, b}, {0}), Contains("milestones must be positive and increasing"));
  CHECK_THROWS_WITH(optim::SequentialLR(o, Parts{a, elsewhere}, {3}), Contains("schedule 1 (ExponentialLR) is built on another optimizer"));
  CHECK_THROWS_WITH(optim::SequentialLR(o, Parts{a, nullptr}, {3}), Contains("schedule 1 is null"));
  CHECK_THROWS_WITH(optim::ChainedScheduler(Parts{}), Contains("[ChainedScheduler] needs at least one schedule"));
  CHECK_THROWS_WITH(optim::ChainedScheduler(Parts{a, elsewhere}), Contains("built on another optimizer"));

  // Five steps, a checkpoint, then the same steps on a fresh copy give the same lrs.
  const std::string path = (std::filesystem::temp_directory_path() / "ember_sequential_lr.safetensors").string();
  optim::SequentialLR s(o, Parts{a, b}, {3});
  for (int i = 0; i < 5; ++i) s.step();
  io::save_checkpoint(path, {.optimizer = &o, .scheduler = &s});
  std::vector<double> continued;
  for (int i = 0; i < 3; ++i) {
    s.step();
    continued.push_back(o.param_groups()[0].get("lr"));
  }
  optim::SGD o2({param()}, {.lr = 0.1});
  auto a2 = std::make_shared<optim::LinearLR>(o2, 0.1, 1.0, 3);
  auto b2 = std::make_shared<optim::ExponentialLR>(o2, 0.9);
  optim::SequentialLR s2(o2, Parts{a2, b2}, {3});
  io::Checkpoint resume{.optimizer = &o2, .scheduler = &s2};
  io::load_checkpoint(path, resume);
  CHECK(s2.last_epoch() == 5);
  std::vector<double> resumed;
  for (int i = 0; i < 3; ++i) {
    s2.step();
    resumed.push_back(o2.param_groups()[0].get("lr"));
  }
  check_sequence(resumed, continued);
  std::filesystem::remove(path);

  const auto state = s2.state_dict();
  CHECK_THROWS_WITH(s2.load_state_dict({{"schedulers.2.last_epoch", scalar_tensor(1.0)}}),
                    Contains("[SequentialLR] \"schedulers.2.last_epoch\" names schedule 2, but there are 2"));
  CHECK_THROWS_WITH(s2.load_state_dict({{"schedulers.x.last_epoch", scalar_tensor(1.0)}}), Contains("expected schedulers.I.name"));
  CHECK_THROWS_WITH(s2.load_state_dict({{"epoch", scalar_tensor(1.0)}}), Contains("[SequentialLR] unexpected key \"epoch\""));
  // The second part refused: the first, already loaded, is put back.
  CHECK_THROWS_WITH(s2.load_state_dict({{"schedulers.0.last_epoch", scalar_tensor(1.0, {.dtype = DType::Float64})},
                                        {"schedulers.1.last_epoch", scalar_tensor(-1.0, {.dtype = DType::Float64})}}),
                    Contains("\"last_epoch\" must be a whole number"));
  CHECK(a2->last_epoch() == state_dict_epoch(state, "schedulers.0.last_epoch"));
}
