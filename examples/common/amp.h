#pragma once
// What a trainer's --amp asks for: "bf16" or "fp16" runs each forward pass (and its loss) under an
// autocast scope of that dtype, and "fp16" also scales the loss with an optim::GradScaler, because
// float16's small range flushes small gradients to zero (docs/mixed-precision.md); bfloat16 has
// float32's range and needs no scaling. "off" is plain float32. Parameters and optimizer state stay
// float32 in every mode. A trainer with two optimizers stepped at different rates (a GAN's critic
// and generator) keeps one MixedPrecision per optimizer, so that each scale follows its own losses.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "examples/common/progress.h"

#include <ember/core/autocast.h>
#include <ember/core/error.h>
#include <ember/optim/grad_scaler.h>

namespace ember::examples {

class MixedPrecision {
 public:
  explicit MixedPrecision(const std::string& mode)
      : mode_(mode), scaler_(optim::GradScalerOptions{.enabled = mode == "fp16"}) {
    EMBER_CHECK(mode == "off" || mode == "bf16" || mode == "fp16", "amp", "--amp must be off, bf16 or fp16, got \"{}\"",
                mode);
  }
  const std::string& mode() const { return mode_; }
  bool enabled() const { return mode_ != "off"; }

  DType dtype() const { return mode_ == "fp16" ? DType::Float16 : DType::BFloat16; }
  // The scope of a forward pass: `{ auto scope = amp.autocast(); loss = ...; }`.
  AutocastGuard autocast() const { return AutocastGuard(dtype(), enabled()); }
  // loss.backward(), through the scaler in fp16 mode.
  void backward(const Tensor& loss) {
    if (scaler_.is_enabled()) {
      scaler_.backward(loss);
    } else {
      loss.backward();
    }
  }
  // optimizer.step(), skipped in fp16 mode when a gradient overflowed; returns whether it stepped.
  bool step(optim::Optimizer& optimizer) {
    if (scaler_.is_enabled()) return scaler_.step(optimizer);
    optimizer.step();
    return true;
  }
  // Ends the iteration (after every optimizer's step): the scaler adjusts its scale, and the scale
  // log (if open) gets a row.
  void update() {
    if (!scaler_.is_enabled()) return;
    scaler_.update();
    if (!scale_log_) return;
    const optim::ScaleRecord& r = scaler_.history().back();
    std::string overflow;
    if (r.skipped && scaler_.last_overflow()) {
      overflow = scaler_.last_overflow()->str();
      std::replace(overflow.begin(), overflow.end(), ',', ';');  // one CSV field
      std::replace(overflow.begin(), overflow.end(), '\n', ' ');
    }
    scale_log_->row(r.step, fmt::format("{:.9g}", r.scale), r.skipped ? 1 : 0, overflow);
  }
  // fp16 only: from now on each update() appends (update, scale, skipped, overflow) to the CSV at
  // path: the scale's history, and for a skipped step which parameters (and, in anomaly mode, which
  // backward op) overflowed. A resumed run continues the same file (CsvLog).
  void log_scale_to(const std::string& path, bool resumed) {
    if (scaler_.is_enabled())
      scale_log_ = std::make_unique<CsvLog>(path, std::vector<std::string>{"update", "scale", "skipped", "overflow"},
                                            resumed);
  }
  optim::GradScaler& scaler() { return scaler_; }

  // The scaler's state under prefix ("scaler." unless a trainer has several) in a checkpoint's extra
  // tensors (nothing unless fp16).
  void save_state(nn::NamedTensors& extra, const std::string& prefix = "scaler.") const {
    for (const auto& [name, t] : scaler_.state_dict()) extra.emplace_back(prefix + name, t);
  }
  void load_state(const nn::NamedTensors& extra, const std::string& prefix = "scaler.") {
    if (!scaler_.is_enabled()) return;
    nn::NamedTensors state;
    for (const auto& [name, t] : extra)
      if (name.rfind(prefix, 0) == 0) state.emplace_back(name.substr(prefix.size()), t);
    EMBER_CHECK(!state.empty(), "amp", "--amp fp16: the checkpoint has no loss-scaler state (was it written without --amp fp16?)");
    scaler_.load_state_dict(state);
  }

 private:
  std::string mode_;
  optim::GradScaler scaler_;
  std::unique_ptr<CsvLog> scale_log_;
};

}  // namespace ember::examples
