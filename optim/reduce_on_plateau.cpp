#include <ember/optim/reduce_on_plateau.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <ember/ops/ops.h>

namespace ember::optim {

namespace {
constexpr const char* kOp = "ReduceLROnPlateau";
}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions o)
    : options(o), optimizer_(optimizer) {
  // factor 1 would never reduce, factor >= 1 or NaN would raise the lr or make it NaN.
  EMBER_CHECK(o.factor >= 0 && o.factor < 1, kOp, "factor must be in [0, 1), got {}", o.factor);
  EMBER_CHECK(o.patience >= 0 && o.cooldown >= 0, kOp, "patience and cooldown must be non-negative, got {} and {}",
              o.patience, o.cooldown);
  EMBER_CHECK(std::isfinite(o.threshold) && o.threshold >= 0, kOp, "threshold must be finite and >= 0, got {}",
              o.threshold);
  EMBER_CHECK(std::isfinite(o.min_lr) && o.min_lr >= 0, kOp, "min_lr must be finite and >= 0, got {}", o.min_lr);
  EMBER_CHECK(std::isfinite(o.eps) && o.eps >= 0, kOp, "eps must be finite and >= 0, got {}", o.eps);
  best_ = o.maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double metric) const {
  const double t = options.threshold;
  if (options.maximize)
    return options.relative_threshold ? metric > best_ * (1 + t) : metric > best_ + t;
  return options.relative_threshold ? metric < best_ * (1 - t) : metric < best_ - t;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad steps during a cooldown are not counted
  }
  if (num_bad_epochs_ > options.patience) {
    for (auto& group : optimizer_.param_groups()) {
      const double old_lr = group.get("lr");
      const double new_lr = std::max(old_lr * options.factor, options.min_lr);
      if (old_lr - new_lr > options.eps) group["lr"] = new_lr;
    }
    cooldown_counter_ = options.cooldown;
    num_bad_epochs_ = 0;
  }
}

std::vector<double> ReduceLROnPlateau::get_last_lr() const {
  std::vector<double> out;
  for (const auto& g : optimizer_.param_groups()) out.push_back(g.get("lr"));
  return out;
}

NamedTensors ReduceLROnPlateau::state_dict() const {
  const TensorOptions f64{.dtype = DType::Float64};
  return {{"best", scalar_tensor(best_, f64)},
          {"num_bad_epochs", scalar_tensor(static_cast<double>(num_bad_epochs_), f64)},
          {"cooldown_counter", scalar_tensor(static_cast<double>(cooldown_counter_), f64)},
          {"last_epoch", scalar_tensor(static_cast<double>(last_epoch_), f64)}};
}

void ReduceLROnPlateau::load_state_dict(const NamedTensors& state) {
  std::map<std::string, double> values;
  for (const auto& [key, value] : state) {
    EMBER_CHECK(key == "best" || key == "num_bad_epochs" || key == "cooldown_counter" || key == "last_epoch", kOp,
                "unexpected key \"{}\"", key);
    EMBER_CHECK(value.defined() && value.numel() == 1, kOp, "\"{}\" must be a single number", key);
    values[key] = value.item<double>();
  }
  for (const char* key : {"best", "num_bad_epochs", "cooldown_counter", "last_epoch"})
    EMBER_CHECK(values.count(key), kOp, "missing key \"{}\"", key);
  // Counts are whole numbers in [0, 2^53]; best is a metric or the infinity it starts from, never NaN.
  for (const char* key : {"num_bad_epochs", "cooldown_counter", "last_epoch"}) {
    const double v = values[key];
    EMBER_CHECK(v >= 0 && v <= 9007199254740992.0 && v == std::floor(v), kOp,
                "\"{}\" must be a whole number in [0, 2^53], got {}", key, v);
  }
  EMBER_CHECK(!std::isnan(values["best"]), kOp, "\"best\" is NaN");
  best_ = values["best"];
  num_bad_epochs_ = static_cast<int64_t>(values["num_bad_epochs"]);
  cooldown_counter_ = static_cast<int64_t>(values["cooldown_counter"]);
  last_epoch_ = static_cast<int64_t>(values["last_epoch"]);
}

}  // namespace ember::optim
