#include <ember/optim/lr_scheduler.h>

#include <algorithm>
#include <charconv>
#include <utility>
#include <cmath>
#include <limits>
#include <numbers>

#include <ember/ops/ops.h>

namespace ember::optim {

namespace {

// A schedule's own argument: finite, and at least `min` (or above it, where `strictly`).
void check_argument(const char* schedule, const char* what, double value, double min, bool strictly = false) {
  EMBER_CHECK(std::isfinite(value) && (strictly ? value > min : value >= min), schedule, "{} must be finite and {} {}, got {}",
              what, strictly ? ">" : ">=", min, value);
}

}  // namespace

LRScheduler::LRScheduler(Optimizer& optimizer, const char* name) : name_(name), optimizer_(optimizer) {
  auto& groups = optimizer_.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    base_lrs_.push_back(groups[i].get("lr"));
    if (!groups[i].initial_lr) groups[i].initial_lr = groups[i].get("lr"), groups_initialised_.push_back(i);
    initial_bases_.push_back(*groups[i].initial_lr);
  }
  written_lrs_ = base_lrs_;
}

void LRScheduler::bases_from_initial_lrs() { base_lrs_ = initial_bases_; }

void LRScheduler::restart(const std::vector<double>& initial_lrs) {
  const int64_t last_epoch = last_epoch_;
  std::vector<double> bases = base_lrs_, written = written_lrs_;
  last_epoch_ = 0;
  // Only the groups this schedule has bases for: a group added later gets one at the next step (or,
  // for a schedule that is not chainable, is refused there).
  base_lrs_.assign(initial_lrs.begin(), initial_lrs.begin() + std::min(initial_lrs.size(), base_lrs_.size()));
  try {
    apply_lrs(Apply::Write);
  } catch (const Error&) {
    last_epoch_ = last_epoch;
    base_lrs_ = std::move(bases);
    written_lrs_ = std::move(written);
    throw;
  }
}

void LRScheduler::apply_lrs(Apply how) {
  auto& groups = optimizer_.param_groups();
  std::vector<double> bases = base_lrs_;
  // All computed and checked before any is written: a NaN or negative lr (a gamma of NaN or -1, a
  // div_factor of 0) would otherwise reach the parameters at the next step.
  std::vector<double> lrs;
  const int64_t previous = last_epoch_ - 1;
  // lr_at(epoch, base) = offset + slope * base for the schedules that follow their base.
  const auto affine_at = [this](int64_t epoch) {
    const double offset = lr_at(epoch, 0);
    return std::pair{offset, lr_at(epoch, 1) - offset};
  };
  for (size_t i = 0; i < groups.size(); ++i) {
    const bool added = i >= bases.size();
    if (added && how != Apply::Step) break;  // (a group a loaded state does not name: solved at the next step)
    double lr = 0;
    const double current = groups[i].get("lr");
    const bool edited = added || i >= written_lrs_.size() || current != written_lrs_[i];
    if (how != Apply::Step) {
      lr = group_lr_at(i, last_epoch_, bases[i]);
    } else if (!follows_base()) {
      // These overwrite an edit, as PyTorch's do, and have no base for a new group (PyTorch leaves its lr
      // alone, or fails with a KeyError).
      EMBER_CHECK(!added, name_,
                  "group {} was added to the optimizer after the schedule was built, and {} sets each lr from its "
                  "base lrs and options; build the schedule after adding every group",
                  i, name_);
      lr = group_lr_at(i, last_epoch_, bases[i]);
    } else {
      // Every other schedule is affine in its base lr: lr_at(e, base) = offset(e) + slope(e) * base.
      // A group's lr this schedule did not write (or a new group's) gives the base back, and the
      // schedule goes on from there: PyTorch's chainable recursions, in closed form.
      const auto [offset, slope] = affine_at(previous);
      double base = added ? current : bases[i];
      if (slope > 0) {
        if (edited) base = (current - offset) / slope;  // the base that gives the group's lr now
        lr = lr_at(last_epoch_, base);
      } else {
        // The previous lr did not depend on the base (a cosine at t_max, a LinearLR that ended at 0,
        // a warm-up cosine past its end): the group's lr moves by the schedule's change, so an edit
        // carries over, and the base is solved from the result where this step's lr depends on it.
        // PyTorch's recursion there: a multiplicative schedule's own step, or (a cosine past t_max) the
        // closed form's change for the base PyTorch keeps, the group's initial lr.
        const double initial = i < initial_bases_.size() ? initial_bases_[i] : current;
        if (const auto factor = step_factor(last_epoch_)) lr = current * *factor;
        else lr = current + (lr_at(last_epoch_, initial) - lr_at(previous, initial));
        if (const auto [offset_now, slope_now] = affine_at(last_epoch_); slope_now > 0) base = (lr - offset_now) / slope_now;
      }
      if (added) bases.push_back(base), initial_bases_.push_back(current);
      else bases[i] = base;
    }
    EMBER_CHECK(std::isfinite(lr) && lr >= 0, name_, "the learning rate at step {} is {} for group {} (base lr {})",
                last_epoch_, lr, i, i < bases.size() ? bases[i] : current);
    lrs.push_back(lr);
  }
  check_other_options(last_epoch_);
  // A loaded state only sets what this schedule would have written, as PyTorch's load_state_dict
  // leaves the optimizer alone: an lr the optimizer's own state restores that differs (an edit, a
  // second schedule, a ReduceLROnPlateau cut) is continued from at the next step.
  if (how != Apply::Check)
    for (size_t i = 0; i < lrs.size(); ++i) groups[i]["lr"] = lrs[i];
  base_lrs_ = std::move(bases);
  written_lrs_ = lrs;
  if (how != Apply::Check) set_other_options(last_epoch_);
}

void LRScheduler::step() {
  ++last_epoch_;
  try {
    apply_lrs(Apply::Step);
  } catch (const Error&) {
    --last_epoch_;  // a refused step leaves the count, as the lrs, where they were
    throw;
  }
}

std::vector<double> LRScheduler::get_last_lr() const {
  std::vector<double> out;
  for (const auto& g : optimizer_.param_groups()) out.push_back(g.get("lr"));
  return out;
}

NamedTensors LRScheduler::state_dict() const {
  NamedTensors out{{"last_epoch", scalar_tensor(static_cast<double>(last_epoch_), {.dtype = DType::Float64})}};
  for (size_t i = 0; i < base_lrs_.size(); ++i)
    out.emplace_back(fmt::format("base_lrs.{}", i), scalar_tensor(base_lrs_[i], {.dtype = DType::Float64}));
  return out;
}

void LRScheduler::load_state_dict(const NamedTensors& state) {
  // Read into copies first: a refused state dict leaves the scheduler as it was.
  int64_t last_epoch = last_epoch_;
  std::vector<double> base_lrs = base_lrs_;
  for (const auto& [key, value] : state) {
    EMBER_CHECK(value.defined(), name_, "\"{}\" is an undefined tensor", key);
    EMBER_CHECK(value.numel() == 1, name_, "\"{}\" must be a single number, got shape {}", key, shape_str(value.shape()));
    const double number = value.item<double>();
    if (key == "last_epoch") {
      // A step count: whole, not negative, and exact in the double it is stored as (NaN or 1e30 cast to
      // int64 is undefined behaviour; 2.5 was truncated).
      EMBER_CHECK(number >= 0 && number <= 9007199254740992.0 && number == std::floor(number), name_,
                  "\"last_epoch\" must be a whole number in [0, 2^53], got {}", number);
      last_epoch = static_cast<int64_t>(number);
    } else if (key.rfind("base_lrs.", 0) == 0) {
      // Only plain digits: "base_lrs.0x" is not group 0, and "base_lrs.x" is an ember::Error, not
      // std::stoul's.
      const std::string_view digits = std::string_view(key).substr(9);
      size_t i = 0;
      const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
      EMBER_CHECK(error == std::errc() && end == digits.data() + digits.size(), name_,
                  "unexpected key \"{}\": expected base_lrs.N with N a group number", key);
      // A group added after the schedule was built has a base too (progressive unfreezing resumes).
      const size_t group_count = optimizer_.param_groups().size();
      EMBER_CHECK(i < group_count, name_, "\"{}\" names group {}, but the optimizer has {}", key, i,
                  group_count);
      // Any finite base: one solved from an lr below a cosine's eta_min is negative, and the lrs it
      // gives are checked below.
      EMBER_CHECK(std::isfinite(number), name_, "\"{}\" must be a finite lr, got {}", key, number);
      if (i >= base_lrs.size()) base_lrs.resize(i + 1, std::numeric_limits<double>::quiet_NaN());
      base_lrs[i] = number;
    } else {
      EMBER_FAIL(name_, "unexpected key \"{}\"", key);
    }
  }
  for (size_t i = 0; i < base_lrs.size(); ++i)
    EMBER_CHECK(!std::isnan(base_lrs[i]), name_, "\"base_lrs.{}\" is missing (the state names a later group)", i);
  // The schedule's lrs at the loaded step are checked before anything changes.
  std::swap(last_epoch_, last_epoch);
  std::swap(base_lrs_, base_lrs);
  std::vector<double> written = written_lrs_;
  try {
    apply_lrs(Apply::Check);
  } catch (const Error&) {
    std::swap(last_epoch_, last_epoch);
    std::swap(base_lrs_, base_lrs);
    written_lrs_ = std::move(written);
    throw;
  }
}

StepLR::StepLR(Optimizer& o, int64_t s, double g) : LRScheduler(o, "StepLR"), step_size(s), gamma(g) {
  EMBER_CHECK(s > 0, "StepLR", "step_size must be positive, got {}", s);
  check_argument("StepLR", "gamma", g, 0);
}
std::optional<double> StepLR::step_factor(int64_t e) const { return e > 0 && e % step_size == 0 ? gamma : 1; }
double StepLR::lr_at(int64_t e, double base) const { return base * std::pow(gamma, static_cast<double>(e / step_size)); }

MultiStepLR::MultiStepLR(Optimizer& o, std::vector<int64_t> m, double g)
    : LRScheduler(o, "MultiStepLR"), milestones(std::move(m)), gamma(g) {
  for (int64_t milestone : milestones)
    EMBER_CHECK(milestone >= 0, "MultiStepLR", "milestones must be non-negative, got {}", milestone);
  std::sort(milestones.begin(), milestones.end());
  check_argument("MultiStepLR", "gamma", g, 0);
  apply_lrs(Apply::Write);  // a milestone at 0 already applies
}
std::optional<double> MultiStepLR::step_factor(int64_t e) const {
  const auto [first, last] = std::equal_range(milestones.begin(), milestones.end(), e);
  return std::pow(gamma, static_cast<double>(last - first));
}
double MultiStepLR::lr_at(int64_t e, double base) const {
  const auto passed = std::upper_bound(milestones.begin(), milestones.end(), e) - milestones.begin();
  return base * std::pow(gamma, static_cast<double>(passed));
}

LinearLR::LinearLR(Optimizer& o, double start, double end, int64_t total)
    : LRScheduler(o, "LinearLR"), start_factor(start), end_factor(end), total_iters(total) {
  // PyTorch 2's ranges (1.13 also takes a start factor of 0, whose chainable form then divides by 0).
  EMBER_CHECK(std::isfinite(start) && start > 0 && start <= 1, "LinearLR", "start_factor must be in (0, 1], got {}", start);
  EMBER_CHECK(std::isfinite(end) && end >= 0 && end <= 1, "LinearLR", "end_factor must be in [0, 1], got {}", end);
  EMBER_CHECK(total > 0, "LinearLR", "total_iters must be positive, got {}", total);
  apply_lrs(Apply::Write);
}
std::optional<double> LinearLR::step_factor(int64_t e) const {
  if (e > total_iters) return 1;
  const double change = end_factor - start_factor;
  return 1 + change / (static_cast<double>(total_iters) * start_factor + static_cast<double>(e - 1) * change);
}
double LinearLR::lr_at(int64_t e, double base) const {
  const double progress = static_cast<double>(std::min(e, total_iters)) / static_cast<double>(total_iters);
  return base * (start_factor + (end_factor - start_factor) * progress);
}

ConstantLR::ConstantLR(Optimizer& o, double f, int64_t total)
    : LRScheduler(o, "ConstantLR"), factor(f), total_iters(total) {
  EMBER_CHECK(std::isfinite(f) && f >= 0 && f <= 1, "ConstantLR", "factor must be in [0, 1], got {}", f);
  EMBER_CHECK(total >= 0, "ConstantLR", "total_iters must be >= 0, got {}", total);
  apply_lrs(Apply::Write);
}
std::optional<double> ConstantLR::step_factor(int64_t e) const {
  if (e != total_iters) return 1;
  if (factor == 0) return std::nullopt;  // (PyTorch divides by zero; the closed form's change is taken)
  return 1 / factor;
}
double ConstantLR::lr_at(int64_t e, double base) const { return e < total_iters ? base * factor : base; }

PolynomialLR::PolynomialLR(Optimizer& o, int64_t total, double p)
    : LRScheduler(o, "PolynomialLR"), total_iters(total), power(p) {
  // PyTorch divides by total_iters, and a negative power makes the lr infinite at the end.
  EMBER_CHECK(total > 0, "PolynomialLR", "total_iters must be positive, got {}", total);
  check_argument("PolynomialLR", "power", p, 0);
}
std::optional<double> PolynomialLR::step_factor(int64_t e) const {
  if (e > total_iters) return 1;
  const double t = static_cast<double>(total_iters), step = static_cast<double>(e);
  return std::pow((1 - step / t) / (1 - (step - 1) / t), power);
}
double PolynomialLR::lr_at(int64_t e, double base) const {
  const double progress = static_cast<double>(std::min(e, total_iters)) / static_cast<double>(total_iters);
  return base * std::pow(1 - progress, power);
}

LambdaLR::LambdaLR(Optimizer& o, Lambda lr_lambda) : LambdaLR(o, std::vector<Lambda>(o.param_groups().size(), lr_lambda)) {}
LambdaLR::LambdaLR(Optimizer& o, std::vector<Lambda> lr_lambdas) : LRScheduler(o, "LambdaLR"), lambdas_(std::move(lr_lambdas)) {
  EMBER_CHECK(lambdas_.size() == o.param_groups().size(), "LambdaLR", "got {} lr_lambdas for {} parameter groups",
              lambdas_.size(), o.param_groups().size());
  for (size_t i = 0; i < lambdas_.size(); ++i) EMBER_CHECK(lambdas_[i] != nullptr, "LambdaLR", "lr_lambda {} is empty", i);
  bases_from_initial_lrs();
  apply_lrs(Apply::Write);
}
double LambdaLR::group_lr_at(size_t group, int64_t e, double base) const { return base * lambdas_[group](e); }
double LambdaLR::lr_at(int64_t e, double base) const { return group_lr_at(0, e, base); }

MultiplicativeLR::MultiplicativeLR(Optimizer& o, Lambda lr_lambda) : LRScheduler(o, "MultiplicativeLR"), lambda_(std::move(lr_lambda)) {
  EMBER_CHECK(lambda_ != nullptr, "MultiplicativeLR", "lr_lambda is empty");
}
double MultiplicativeLR::lr_at(int64_t e, double base) const {
  // The product has no closed form: it is carried forward, one call of the lambda per step, and kept
  // for the two steps a step() asks for (this one and the previous). A loaded state's step is reached
  // by as many calls, so a count no run reaches (a corrupt checkpoint's 2^53) is refused, not looped on.
  EMBER_CHECK(e <= kMaxSteps, "MultiplicativeLR", "step {} is past the {} steps this schedule computes", e, kMaxSteps);
  if (e <= 0) return base;
  if (e < product_epoch_ - 1 || product_epoch_ == 0) product_epoch_ = 0, product_ = 1, previous_product_ = 1;
  if (e == product_epoch_ - 1) return base * previous_product_;
  while (product_epoch_ < e) {
    previous_product_ = product_;
    product_ *= lambda_(++product_epoch_);
  }
  return base * product_;
}
void MultiplicativeLR::restart(const std::vector<double>& initial_lrs) {
  // PyTorch's step(0) of a MultiplicativeLR keeps the lr it finds (it has no closed form).
  LRScheduler::restart(get_last_lr());
}

ExponentialLR::ExponentialLR(Optimizer& o, double g) : LRScheduler(o, "ExponentialLR"), gamma(g) {
  check_argument("ExponentialLR", "gamma", g, 0);
}
std::optional<double> ExponentialLR::step_factor(int64_t) const { return gamma; }
double ExponentialLR::lr_at(int64_t e, double base) const { return base * std::pow(gamma, static_cast<double>(e)); }

CosineAnnealingLR::CosineAnnealingLR(Optimizer& o, int64_t t, double m)
    : LRScheduler(o, "CosineAnnealingLR"), t_max(t), eta_min(m) {
  EMBER_CHECK(t > 0, "CosineAnnealingLR", "t_max must be positive, got {}", t);
  check_argument("CosineAnnealingLR", "eta_min", m, 0);
}
double CosineAnnealingLR::lr_at(int64_t e, double base) const {
  return eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * static_cast<double>(e) / static_cast<double>(t_max))) / 2;
}

WarmupCosineLR::WarmupCosineLR(Optimizer& o, int64_t w, int64_t t, double m)
    : LRScheduler(o, "WarmupCosineLR"), warmup_steps(w), total_steps(t), min_lr(m) {
  EMBER_CHECK(w >= 0 && t > w, "WarmupCosineLR", "need 0 <= warmup_steps < total_steps, got {} and {}", w, t);
  check_argument("WarmupCosineLR", "min_lr", m, 0);
  apply_lrs(Apply::Write);
}
double WarmupCosineLR::lr_at(int64_t e, double base) const {
  if (e < warmup_steps) return base * static_cast<double>(e + 1) / static_cast<double>(warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(e - warmup_steps) / static_cast<double>(total_steps - warmup_steps));
  return min_lr + (base - min_lr) * (1 + std::cos(std::numbers::pi * progress)) / 2;
}

OneCycleLR::OneCycleLR(Optimizer& o, double m, int64_t t, double p, double d, double f, bool cycle, double base_m,
                       double max_m, bool three, bool linear)
    : LRScheduler(o, "OneCycleLR"), max_lr(m), total_steps(t), pct_start(p), div_factor(d), final_div_factor(f),
      cycle_momentum(cycle), base_momentum(base_m), max_momentum(max_m), three_phase(three), linear_anneal(linear) {
  EMBER_CHECK(t > 1 && p > 0 && p < 1, "OneCycleLR", "need total_steps > 1 and 0 < pct_start < 1, got {} and {}", t, p);
  // The warm-up ends at step pct_start * total_steps - 1: at step 0 it would last no steps, and its
  // first learning rate would be 0 / 0 (PyTorch fails there with ZeroDivisionError).
  EMBER_CHECK(p * static_cast<double>(t) != 1, "OneCycleLR",
              "pct_start * total_steps is 1 ({} * {}), a warm-up of no steps; use a larger pct_start", p, t);
  // The third phase runs from step 2 pct_start total_steps - 2 to total_steps - 1: with pct_start near
  // 0.5 or above it has no steps, and PyTorch divides by zero or runs it backwards.
  EMBER_CHECK(!three || 2 * p * static_cast<double>(t) - 2 < static_cast<double>(t) - 1, "OneCycleLR",
              "three_phase with pct_start {} and total_steps {} leaves no steps for the third phase", p, t);
  check_argument("OneCycleLR", "max_lr", m, 0);
  check_argument("OneCycleLR", "div_factor", d, 0, true);  // 0 made the first lr infinite
  check_argument("OneCycleLR", "final_div_factor", f, 0, true);
  if (cycle_momentum) {
    for (const auto& g : o.param_groups())
      EMBER_CHECK(g.options.count("momentum") || g.options.count("beta1"), "OneCycleLR",
                  "cycle_momentum needs an optimizer with momentum or beta1");
    // The momentum moves between the two: a beta1 of 1 divides by zero in Adam's bias correction.
    EMBER_CHECK(base_m >= 0 && base_m < 1 && max_m >= 0 && max_m < 1, "OneCycleLR",
                "need base_momentum and max_momentum in [0, 1), got {} and {}", base_m, max_m);
  }
  // PyTorch records the cycle's first lr as every group's initial lr, the lr SequentialLR restarts
  // its schedules from.
  for (auto& g : o.param_groups()) g.initial_lr = m / d;
  apply_lrs(Apply::Write);
}

// PyTorch's phases end at steps (pct_start * total - 1), (2 pct_start * total - 2) with three_phase,
// and (total - 1); each goes from its start value to its end value. One step past the last one is
// allowed, as in PyTorch (a cosine continues there, a line is held); lr_at refuses any further.
double OneCycleLR::anneal_at(int64_t e, std::initializer_list<double> values) const {
  const double up_end = pct_start * static_cast<double>(total_steps) - 1, last_end = static_cast<double>(total_steps) - 1;
  const std::vector<double> ends = three_phase ? std::vector<double>{up_end, 2 * up_end, last_end}
                                               : std::vector<double>{up_end, last_end};
  const std::vector<double> v(values);
  const double step = static_cast<double>(e);
  double start_step = 0;
  for (size_t i = 0; i < ends.size(); ++i) {
    if (step <= ends[i] || i + 1 == ends.size()) {
      double pct = (step - start_step) / (ends[i] - start_step);
      const double from = v[i], to = v[i + 1];
      // Past the end PyTorch's line goes on, below zero for the lr; it is held at its end instead (the
      // usual loop's last step() sets an lr no optimizer step uses).
      if (linear_anneal) return (to - from) * std::min(pct, 1.0) + from;
      return to + (from - to) / 2 * (std::cos(std::numbers::pi * pct) + 1);
    }
    start_step = ends[i];
  }
  return v.back();  // (not reached: the last phase takes every later step)
}

double OneCycleLR::lr_at(int64_t e, double) const {
  // PyTorch refuses to step past the end ("Tried to step 27 times. The specified number of total
  // steps is 25"); the cosine would otherwise climb back up from its final lr.
  EMBER_CHECK(e <= total_steps, "OneCycleLR", "stepped {} times, past total_steps = {}", e + 1, total_steps);
  const double initial = max_lr / div_factor;
  if (three_phase) return anneal_at(e, {initial, max_lr, initial, initial / final_div_factor});
  return anneal_at(e, {initial, max_lr, initial / final_div_factor});
}

void OneCycleLR::set_other_options(int64_t e) {
  if (!cycle_momentum) return;
  const double momentum = three_phase ? anneal_at(e, {max_momentum, base_momentum, max_momentum, max_momentum})
                                      : anneal_at(e, {max_momentum, base_momentum, max_momentum});
  for (auto& g : optimizer_.param_groups()) g[g.options.count("beta1") ? "beta1" : "momentum"] = momentum;
}

}  // namespace ember::optim
