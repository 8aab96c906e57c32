#include <ember/optim/cyclic_schedules.h>

#include <cmath>
#include <numbers>

namespace ember::optim {

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& o, int64_t t0, int64_t mult, double m)
    : LRScheduler(o, "CosineAnnealingWarmRestarts"), t_0(t0), t_mult(mult), eta_min(m) {
  EMBER_CHECK(t0 > 0, "CosineAnnealingWarmRestarts", "t_0 must be positive, got {}", t0);
  EMBER_CHECK(mult >= 1, "CosineAnnealingWarmRestarts", "t_mult must be >= 1, got {}", mult);
  EMBER_CHECK(std::isfinite(m) && m >= 0, "CosineAnnealingWarmRestarts", "eta_min must be finite and >= 0, got {}", m);
  bases_from_initial_lrs();
  apply_lrs(Apply::Write);
}

double CosineAnnealingWarmRestarts::lr_at(int64_t e, double base) const {
  // The period and the position in it, in whole numbers: PyTorch's closed form takes a float logarithm,
  // which can land one period off at a restart; its step-by-step form, which this follows, cannot.
  // The period in a double: exact up to 2^53, the longest step count, and it cannot overflow.
  int64_t t_cur = e;
  double t_i = static_cast<double>(t_0);
  if (t_mult == 1) {
    t_cur = e % t_0;
  } else {
    while (static_cast<double>(t_cur) >= t_i) {  // at most 53 periods: each is t_mult times the last
      t_cur -= static_cast<int64_t>(t_i);
      t_i *= static_cast<double>(t_mult);
    }
  }
  return eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * static_cast<double>(t_cur) / t_i)) / 2;
}

CyclicLR::CyclicLR(Optimizer& o, CyclicLROptions opt)
    : LRScheduler(o, "CyclicLR"), options(std::move(opt)), step_size_down_(options.step_size_down.value_or(options.step_size_up)) {
  auto check = [](const char* what, double v) {
    EMBER_CHECK(std::isfinite(v) && v >= 0, "CyclicLR", "{} must be finite and >= 0, got {}", what, v);
  };
  check("base_lr", options.base_lr);
  check("max_lr", options.max_lr);
  // A rise of 0 steps divides by zero at the first step (PyTorch's lr is NaN there).
  EMBER_CHECK(options.step_size_up > 0 && step_size_down_ >= 0, "CyclicLR",
              "need step_size_up > 0 and step_size_down >= 0, got {} and {}", options.step_size_up, step_size_down_);
  EMBER_CHECK(options.step_size_up <= (int64_t{1} << 52) - step_size_down_, "CyclicLR", "a cycle of {} + {} steps is too long",
              options.step_size_up, step_size_down_);
  EMBER_CHECK(std::isfinite(options.gamma) && options.gamma > 0, "CyclicLR", "gamma must be finite and > 0, got {}",
              options.gamma);
  if (options.cycle_momentum) {
    for (const auto& g : o.param_groups())
      EMBER_CHECK(g.options.count("momentum") || g.options.count("beta1"), "CyclicLR",
                  "cycle_momentum needs an optimizer with momentum or beta1 (or cycle_momentum = false)");
    EMBER_CHECK(options.base_momentum >= 0 && options.base_momentum < 1 && options.max_momentum >= 0 &&
                    options.max_momentum < 1,
                "CyclicLR", "need base_momentum and max_momentum in [0, 1), got {} and {}", options.base_momentum,
                options.max_momentum);
  }
  // PyTorch writes base_lr into every group when the schedule is built, before it records the initial
  // lrs: the cycle starts there, and so does SequentialLR's restart of a later schedule.
  base_lrs_.assign(base_lrs_.size(), options.base_lr);
  for (size_t i : groups_initialised_) o.param_groups()[i].initial_lr = options.base_lr;
  apply_lrs(Apply::Write);
}

void CyclicLR::restart(const std::vector<double>&) {
  LRScheduler::restart(std::vector<double>(base_lrs_.size(), options.base_lr));
}

std::pair<double, double> CyclicLR::height_and_scale(int64_t e) const {
  const double total = static_cast<double>(options.step_size_up + step_size_down_);
  const double step_ratio = static_cast<double>(options.step_size_up) / total;
  const double step = static_cast<double>(e);
  const double cycle = std::floor(1 + step / total);
  const double x = 1 + step / total - cycle;
  const double height = x <= step_ratio ? x / step_ratio : (x - 1) / (step_ratio - 1);
  double scale;
  if (options.scale_fn) scale = options.scale_fn(options.scale_by_cycle ? cycle : step);
  else if (options.mode == CyclicMode::Triangular) scale = 1;
  else if (options.mode == CyclicMode::Triangular2) scale = 1 / std::pow(2.0, cycle - 1);
  else scale = std::pow(options.gamma, step);  // exp_range scales by the step count, as in PyTorch
  return {height, scale};
}

double CyclicLR::lr_at(int64_t e, double base) const {
  const auto [height, scale] = height_and_scale(e);
  return base + (options.max_lr - base) * height * scale;
}

double CyclicLR::momentum_at(int64_t e) const {
  const auto [height, scale] = height_and_scale(e);
  return options.max_momentum - (options.max_momentum - options.base_momentum) * height * scale;
}

void CyclicLR::check_other_options(int64_t e) const {
  if (!options.cycle_momentum) return;
  // A scale_fn of your own can take the momentum out of range (a beta1 of 1 divides by zero in Adam).
  const double momentum = momentum_at(e);
  EMBER_CHECK(std::isfinite(momentum) && momentum >= 0 && momentum < 1, "CyclicLR",
              "the momentum at step {} is {}, outside [0, 1)", e, momentum);
}

void CyclicLR::set_other_options(int64_t e) {
  if (!options.cycle_momentum) return;
  const double momentum = momentum_at(e);
  for (auto& g : optimizer_.param_groups()) g[g.options.count("beta1") ? "beta1" : "momentum"] = momentum;
}

}  // namespace ember::optim
