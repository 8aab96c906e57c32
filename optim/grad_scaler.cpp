#include <ember/backends/backend.h>
#include <ember/ops/ops.h>
#include <ember/optim/grad_scaler.h>
#include <fmt/ranges.h>

#include <cfloat>
#include <cmath>
#include <string_view>

namespace ember::optim {

namespace {
constexpr const char* kOp = "GradScaler";

// One host-side answer per tensor (the anomaly-mode kernel), not one per element.
bool has_nonfinite(const Tensor& t) {
  return backend(t.device()).has_nonfinite(View{t.data_ptr(), t.dtype(), t.shape(), t.strides()});
}

// The op an anomaly message names: "[anomaly] the backward of 'mm' produced ..." -> "mm".
std::string backward_op_of(std::string_view message) {
  constexpr std::string_view marker = "the backward of '";
  const size_t at = message.find(marker);
  if (at == std::string_view::npos) return "";
  const size_t start = at + marker.size(), end = message.find('\'', start);
  return end == std::string_view::npos ? "" : std::string(message.substr(start, end - start));
}

double single_number(const std::string& key, const Tensor& value) {
  EMBER_CHECK(value.defined() && value.numel() == 1, kOp,
              "state dict entry \"{}\" must be a single number, got shape {}", key,
              value.defined() ? shape_str(value.shape()) : "undefined");
  return value.item<double>();
}
}  // namespace

std::string OverflowReport::str() const {
  std::string out = fmt::format("step {} (scale {}): ", step, scale);
  out += params.empty() ? "no checked parameter gradient had NaN/Inf"
                        : fmt::format("NaN/Inf gradient in {}", fmt::join(params, ", "));
  if (!backward_op.empty())
    out += fmt::format("; first produced by the backward of '{}'", backward_op);
  for (const std::string& note : notes) out += "; " + note;
  return out;
}

GradScaler::GradScaler(GradScalerOptions options)
    : options_(options), scale_(static_cast<float>(options.init_scale)) {
  EMBER_CHECK(std::isfinite(scale_) && scale_ > 0, kOp,
              "init_scale must be a positive finite float32, got {}", options.init_scale);
  // PyTorch asserts growth_factor > 1 and backoff_factor < 1; a non-positive backoff would make the
  // scale zero or negative, and a non-positive interval would never grow.
  EMBER_CHECK(options.growth_factor > 1 && std::isfinite(options.growth_factor), kOp,
              "growth_factor must be finite and > 1, got {}", options.growth_factor);
  EMBER_CHECK(options.backoff_factor > 0 && options.backoff_factor < 1, kOp,
              "backoff_factor must be in (0, 1), got {}", options.backoff_factor);
  EMBER_CHECK(options.growth_interval > 0, kOp, "growth_interval must be positive, got {}",
              options.growth_interval);
}

void GradScaler::add_parameter_names(const nn::NamedTensors& named) {
  for (const auto& [name, t] : named) {
    if (!t.defined()) continue;
    names_[t.impl()] = name;
    named_tensors_.push_back(t);
  }
}

void GradScaler::add_parameter_names(const nn::Module& module, const std::string& prefix) {
  nn::NamedTensors named = module.named_parameters();
  for (auto& entry : named) entry.first = prefix + entry.first;
  add_parameter_names(named);
}

// ---------------------------------------------------------------- scaling

Tensor GradScaler::scale(const Tensor& outputs) {
  if (!options_.enabled) return outputs;
  initialized_ = true;
  // outputs * s: a Scalar operand keeps outputs' dtype, as PyTorch's 0-dim float32 scale does.
  return outputs * static_cast<double>(scale_);
}

void GradScaler::backward(const Tensor& loss, bool retain_graph, bool create_graph) {
  if (!options_.enabled || !AnomalyMode::is_enabled()) {
    scale(loss).backward(Tensor(), retain_graph, create_graph);
    return;
  }
  try {
    scale(loss).backward(Tensor(), retain_graph, create_graph);
  } catch (const Error& e) {
    const std::string_view message = e.what();
    if (!message.starts_with("[anomaly]")) throw;
    // The backward stopped at the first NaN/Inf, so some gradients are missing: the iteration must
    // count as overflowed whatever the gradients that did arrive look like (see unscale_grads).
    if (anomaly_message_.empty()) {
      anomaly_message_ = std::string(message);
      anomaly_op_ = backward_op_of(message);
    }
  }
}

std::vector<Tensor> GradScaler::grad(const std::vector<Tensor>& outputs,
                                     const std::vector<Tensor>& inputs, GradOptions options,
                                     const std::vector<Tensor>& grad_outputs) {
  if (!options_.enabled) return ember::grad(outputs, inputs, grad_outputs, options);
  std::vector<Tensor> scaled;
  scaled.reserve(outputs.size());
  for (const Tensor& out : outputs) scaled.push_back(scale(out));
  std::vector<Tensor> grads = ember::grad(scaled, inputs, grad_outputs, options);
  // PyTorch's documented recipe: multiply by 1 / get_scale(). The product is recorded when the
  // caller asked for a graph, so that a penalty built from it back-propagates.
  const double inv_scale = 1.0 / static_cast<double>(scale_);
  EnableGradGuard record(options.create_graph || GradMode::is_enabled());
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) continue;
    // Not a reason to skip by itself (PyTorch relies on the NaN/Inf reaching the parameters'
    // gradients through the penalty, and it does), but the best clue when it happens.
    if (has_nonfinite(grads[i]))
      pending_notes_.push_back(
          fmt::format("grad(): the scaled gradient for input {} (shape {}) had NaN/Inf", i,
                      shape_str(grads[i].shape())));
    grads[i] = (grads[i] * inv_scale).to(inputs[i].dtype());
  }
  return grads;
}

// ---------------------------------------------------------------- unscale, step, update

void GradScaler::check_initialized(const char* method) const {
  EMBER_CHECK(
      initialized_, kOp,
      "{}() was called but no scale was ever applied: use scale(loss) (or backward(loss), grad()) "
      "earlier in the iteration, or load a state dict",
      method);
}

std::string GradScaler::describe_param(const Tensor& param, size_t group, size_t index) const {
  auto it = names_.find(param.impl());
  if (it != names_.end()) return it->second;
  return fmt::format("parameter {} (group {}, shape {})", index, group, shape_str(param.shape()));
}

void GradScaler::unscale_grads(Optimizer& optimizer, OptimizerRecord& record) {
  NoGradGuard no_grad;
  // Refused before anything is changed, as PyTorch refuses ("Attempting to unscale FP16
  // gradients"): float16 parameters need float32 master weights, which the optimizer then updates.
  size_t index = 0;
  for (size_t g = 0; g < optimizer.param_groups().size(); ++g)
    for (const Tensor& p : optimizer.param_groups()[g].params) {
      const Tensor grad = p.grad();
      EMBER_CHECK(!grad.defined() || grad.dtype() != DType::Float16, kOp,
                  "attempting to unscale float16 gradients ({}): keep float32 master weights "
                  "for the optimizer and run the model in float16",
                  describe_param(p, g, index));
      ++index;
    }
  // PyTorch computes the reciprocal in double and rounds it to float32; for a power-of-two scale it
  // is exact.
  const float inv_scale = static_cast<float>(1.0 / static_cast<double>(scale_));
  std::vector<std::string> offenders;
  index = 0;
  for (size_t g = 0; g < optimizer.param_groups().size(); ++g)
    for (const Tensor& p : optimizer.param_groups()[g].params) {
      Tensor grad = p.grad();
      if (grad.defined()) {
        // Checked before unscaling, as PyTorch's kernel does: with a scale below 1 the product
        // could overflow where the gradient itself did not.
        if (has_nonfinite(grad)) offenders.push_back(describe_param(p, g, index));
        grad.mul_(inv_scale);
        ++record.grads_checked;
      }
      ++index;
    }
  record.found_inf = !offenders.empty() || !anomaly_message_.empty();
  if (record.found_inf) report_overflow(std::move(offenders));
}

void GradScaler::report_overflow(std::vector<std::string> params) {
  // Several optimizers (a GAN's two) add to one report per iteration.
  if (!last_overflow_ || last_overflow_->step != steps_) {
    last_overflow_.emplace();
    last_overflow_->step = steps_;
    last_overflow_->scale = scale_;
    last_overflow_->backward_op = anomaly_op_;
    if (!anomaly_message_.empty()) last_overflow_->notes.push_back(anomaly_message_);
    last_overflow_->notes.insert(last_overflow_->notes.end(), pending_notes_.begin(),
                                 pending_notes_.end());
  }
  for (std::string& name : params) last_overflow_->params.push_back(std::move(name));
}

void GradScaler::unscale_(Optimizer& optimizer) {
  if (!options_.enabled) return;
  check_initialized("unscale_");
  OptimizerRecord& record = per_optimizer_[&optimizer];
  EMBER_CHECK(record.stage != Stage::Unscaled, kOp,
              "unscale_() has already been called on this optimizer since the last update()");
  EMBER_CHECK(record.stage != Stage::Stepped, kOp, "unscale_() is being called after step()");
  unscale_grads(optimizer, record);
  record.stage = Stage::Unscaled;
}

bool GradScaler::step(Optimizer& optimizer) {
  if (!options_.enabled) {
    optimizer.step();
    return true;
  }
  check_initialized("step");
  OptimizerRecord& record = per_optimizer_[&optimizer];  // references survive the map's rehashing
  EMBER_CHECK(record.stage != Stage::Stepped, kOp,
              "step() has already been called since the last update()");
  if (record.stage == Stage::Ready) unscale_(optimizer);
  EMBER_CHECK(
      record.grads_checked > 0 || record.found_inf, kOp,
      "no inf checks were recorded for this optimizer: none of its parameters has a gradient "
      "(was backward called?)");
  const bool stepped = !record.found_inf;
  if (stepped) optimizer.step();
  record.stage = Stage::Stepped;
  return stepped;
}

void GradScaler::update() {
  if (!options_.enabled) return;
  check_initialized("update");
  bool checked = false, found_inf = false;
  for (const auto& [optimizer, record] : per_optimizer_) {
    if (record.grads_checked == 0 && !record.found_inf) continue;
    checked = true;
    found_inf = found_inf || record.found_inf;
  }
  EMBER_CHECK(checked, kOp,
              "no inf checks were recorded prior to update(): call step() or unscale_() first");
  const float used = scale_;
  // PyTorch's _amp_update_scale_: the products in double, rounded to the float32 scale.
  if (found_inf) {
    // At the bottom of float32 the scale stays too: halved without end it would reach 0, and
    // 0 * loss has gradient 0, which unscales to 0/0 = NaN that no inf check sees.
    const float backed_off = static_cast<float>(static_cast<double>(scale_) * options_.backoff_factor);
    if (backed_off >= FLT_MIN) scale_ = backed_off;
    growth_tracker_ = 0;
  } else if (growth_tracker_ + 1 == options_.growth_interval) {
    const float grown = static_cast<float>(static_cast<double>(scale_) * options_.growth_factor);
    if (std::isfinite(grown)) scale_ = grown;  // at the top of float32 the scale stays where it is
    growth_tracker_ = 0;
  } else {
    ++growth_tracker_;
  }
  end_iteration(used, found_inf);
}

void GradScaler::update(double new_scale) {
  if (!options_.enabled) return;
  const float value = static_cast<float>(new_scale);
  EMBER_CHECK(std::isfinite(value) && value > 0, kOp,
              "update(new_scale): the scale must be a positive finite float32, got {}", new_scale);
  bool found_inf = false;
  for (const auto& [optimizer, record] : per_optimizer_) found_inf = found_inf || record.found_inf;
  const float used = scale_;
  scale_ = value;
  initialized_ = true;
  end_iteration(used, found_inf);
}

void GradScaler::end_iteration(float used_scale, bool found_inf) {
  history_.push_back({.step = steps_, .scale = used_scale, .skipped = found_inf});
  ++steps_;
  per_optimizer_.clear();
  anomaly_op_.clear();
  anomaly_message_.clear();
  pending_notes_.clear();
}

// ---------------------------------------------------------------- state

NamedTensors GradScaler::state_dict() const {
  if (!options_.enabled) return {};
  return {
      {"scale", scalar_tensor(scale_, {.dtype = DType::Float32})},
      {"growth_tracker", scalar_tensor(growth_tracker_, {.dtype = DType::Int64})},
      {"steps", scalar_tensor(steps_, {.dtype = DType::Int64})},
      {"growth_factor", scalar_tensor(options_.growth_factor, {.dtype = DType::Float64})},
      {"backoff_factor", scalar_tensor(options_.backoff_factor, {.dtype = DType::Float64})},
      {"growth_interval", scalar_tensor(options_.growth_interval, {.dtype = DType::Int64})},
  };
}

void GradScaler::load_state_dict(const NamedTensors& state) {
  if (!options_.enabled) return;
  EMBER_CHECK(!state.empty(), kOp,
              "the state dict is empty, possibly because it was saved from a disabled GradScaler");
  // Read into copies and commit only when everything fits: a refused dict changes nothing.
  GradScalerOptions options = options_;
  std::optional<double> scale;
  std::optional<int64_t> tracker, steps;
  // Counts saved as int64 (state_dict writes them so) are read exactly; a floating one must be a whole
  // number below 2^63, since casting a larger or infinite double to int64 is undefined.
  auto whole = [](const std::string& key, const Tensor& value, double v, int64_t lo) {
    if (is_integral(value.dtype())) {
      const int64_t n = value.item<int64_t>();
      EMBER_CHECK(n >= lo, kOp, "state dict entry \"{}\" must be an integer >= {}, got {}", key, lo, n);
      return n;
    }
    EMBER_CHECK(v == std::floor(v) && v >= static_cast<double>(lo) && v < 9223372036854775808.0, kOp,
                "state dict entry \"{}\" must be an integer >= {} (and below 2^63), got {}", key, lo, v);
    return static_cast<int64_t>(v);
  };
  for (const auto& [key, value] : state) {
    const double v = single_number(key, value);
    if (key == "scale") {
      EMBER_CHECK(std::isfinite(static_cast<float>(v)) && v > 0, kOp,
                  "state dict \"scale\" must be a positive finite float32, got {}", v);
      scale = v;
    } else if (key == "growth_tracker") {
      tracker = whole(key, value, v, 0);
    } else if (key == "steps") {
      steps = whole(key, value, v, 0);
    } else if (key == "growth_factor") {
      EMBER_CHECK(v > 1 && std::isfinite(v), kOp, "state dict \"growth_factor\" must be finite and > 1, got {}", v);
      options.growth_factor = v;
    } else if (key == "backoff_factor") {
      EMBER_CHECK(v > 0 && v < 1, kOp, "state dict \"backoff_factor\" must be in (0, 1), got {}",
                  v);
      options.backoff_factor = v;
    } else if (key == "growth_interval") {
      options.growth_interval = whole(key, value, v, 1);
    } else {
      EMBER_FAIL(kOp, "unexpected key \"{}\" in state dict", key);
    }
  }
  EMBER_CHECK(scale.has_value(), kOp, "state dict has no \"scale\"");
  EMBER_CHECK(tracker.has_value(), kOp, "state dict has no \"growth_tracker\"");
  // The tracker counts clean steps towards the next growth; at or past the interval it would never
  // meet it again and the scale would stop growing.
  EMBER_CHECK(*tracker < options.growth_interval, kOp,
              "state dict \"growth_tracker\" {} must be below growth_interval {}", *tracker, options.growth_interval);
  options_ = options;
  scale_ = static_cast<float>(*scale);
  growth_tracker_ = *tracker;
  if (steps) steps_ = *steps;
  initialized_ = true;
}

}  // namespace ember::optim
