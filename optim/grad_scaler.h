#pragma once
// GradScaler: dynamic loss scaling for float16 training, with torch.cuda.amp.GradScaler's semantics
// (scale, unscale_, step, update, state_dict, and the same errors), plus
//   - overflow provenance: which parameters (by module path) had NaN/Inf gradients at a skipped
//     step, and in anomaly mode which backward op first produced one (through
//     GradScaler::backward);
//   - the scale history, one record per update(), for a trainer's CSV;
//   - grad(): unscaled gradients for penalty terms (WGAN-GP, R1) computed under loss scaling.
//
// A training step:
//   scaler.backward(loss);        // or scaler.scale(loss).backward()
//   scaler.unscale_(opt);         // optional: before clipping, which must see true gradients
//   clip_grad_norm_(params, 1);
//   scaler.step(opt);             // skipped when a gradient is NaN/Inf
//   scaler.update();              // backs off on overflow, grows after growth_interval clean steps
#include <ember/core/autograd.h>
#include <ember/nn/module.h>
#include <ember/optim/optimizer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ember::optim {

// PyTorch's defaults.
struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;  // false: every method is a pass-through (scale 1, step always steps)
};

// What the scaler knows about the last iteration whose gradients had NaN/Inf.
struct OverflowReport {
  int64_t step = 0;  // the scaler's own count of update() calls before this iteration
  double scale = 0;  // the scale the loss was multiplied by in that iteration
  // The parameters whose gradient had a NaN/Inf, by the names given to add_parameter_names, or
  // "parameter i (group g, shape [...])" for one without a name.
  std::vector<std::string> params;
  // Anomaly mode only, through GradScaler::backward: the op whose backward first produced NaN/Inf
  // ("mm", "mul", ...). Empty otherwise.
  std::string backward_op;
  // Further evidence: the anomaly message, grad() penalty gradients that were already non-finite.
  std::vector<std::string> notes;

  std::string str() const;  // one line for a log
};

// One update(): the scale used in that iteration and whether its step was skipped.
struct ScaleRecord {
  int64_t step = 0;
  double scale = 0;
  bool skipped = false;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});

  // Names for overflow reports: adds each tensor's name (the map is keyed by the tensor itself, so
  // it matches the optimizer's parameters). The Module form uses named_parameters(), each name
  // prefixed with `prefix` (for a GAN: "generator." and "discriminator.").
  void add_parameter_names(const nn::NamedTensors& named);
  void add_parameter_names(const nn::Module& module, const std::string& prefix = "");

  bool is_enabled() const { return options_.enabled; }
  // The current scale; 1 when disabled (as PyTorch's get_scale).
  double get_scale() const { return options_.enabled ? scale_ : 1.0; }
  int64_t growth_tracker() const { return growth_tracker_; }
  const GradScalerOptions& options() const { return options_; }

  // outputs * scale, in outputs' dtype.
  Tensor scale(const Tensor& outputs);
  // scale(loss).backward(). In anomaly mode it also catches the anomaly error that a NaN/Inf in the
  // scaled backward raises, records the op it names, and marks this iteration as overflowed, so
  // step() skips and last_overflow() says which op it was. Other errors propagate.
  void backward(const Tensor& loss, bool retain_graph = false, bool create_graph = false);
  // d(outputs)/d(inputs) under loss scaling: the gradient of scale * outputs divided by scale, each
  // in its input's dtype. With create_graph it is differentiable, so a penalty built from it can be
  // added to the loss and back-propagated (through scale() or backward()) as usual.
  std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                           GradOptions options = {}, const std::vector<Tensor>& grad_outputs = {});

  // Divides the gradients of the optimizer's parameters by the scale in place and records whether
  // any was NaN/Inf. At most once per optimizer between update()s, and not after step().
  void unscale_(Optimizer& optimizer);
  // Unscales if unscale_ was not called, then runs optimizer.step() unless a gradient was NaN/Inf.
  // Returns whether it stepped. At most once per optimizer between update()s.
  bool step(Optimizer& optimizer);
  // Ends the iteration: scale *= backoff_factor if any optimizer saw NaN/Inf (growth tracker
  // reset) unless that would fall below float32's smallest normal number, else after
  // growth_interval consecutive clean iterations scale *= growth_factor unless that would be
  // infinite (either way the scale then stays). Appends a ScaleRecord.
  void update();
  // Ends the iteration with the scale set to new_scale (PyTorch's update(new_scale)).
  void update(double new_scale);

  // The last overflow, if any has happened.
  const std::optional<OverflowReport>& last_overflow() const { return last_overflow_; }
  // One record per update() since construction (or clear_history()).
  const std::vector<ScaleRecord>& history() const { return history_; }
  void clear_history() { history_.clear(); }

  // scale (float32), growth_tracker, steps (int64), growth_factor, backoff_factor (float64) and
  // growth_interval (int64): put it into io::Checkpoint::extra under a prefix. Empty when disabled.
  NamedTensors state_dict() const;
  // Restores what state_dict wrote; an unknown key, a missing scale or growth_tracker, or a value
  // out of range is an error naming it. A no-op when disabled; an empty dict is an error when
  // enabled.
  void load_state_dict(const NamedTensors& state);

 private:
  enum class Stage { Ready, Unscaled, Stepped };
  struct OptimizerRecord {
    Stage stage = Stage::Ready;
    bool found_inf = false;
    int64_t grads_checked = 0;  // 0 after unscale_: PyTorch's "no inf checks were recorded"
  };

  void check_initialized(const char* method) const;
  void unscale_grads(Optimizer& optimizer, OptimizerRecord& record);
  void report_overflow(std::vector<std::string> params);
  void end_iteration(float used_scale, bool found_inf);
  std::string describe_param(const Tensor& param, size_t group, size_t index) const;

  GradScalerOptions options_;
  // float32, as PyTorch keeps it: growth must stop where a float32 product would be infinite, and
  // the loss is multiplied by exactly this value.
  float scale_;
  int64_t growth_tracker_ = 0;
  int64_t steps_ = 0;  // update() calls so far
  // PyTorch's "_scale is None": no scale()/backward()/grad()/load_state_dict yet, so the gradients
  // cannot have been scaled and unscaling them would be wrong.
  bool initialized_ = false;
  std::unordered_map<const Optimizer*, OptimizerRecord> per_optimizer_;
  // Evidence gathered in this iteration before any inf check: an anomaly caught by backward()
  // (which forces the iteration to count as overflowed) and notes from grad().
  std::string anomaly_op_, anomaly_message_;
  std::vector<std::string> pending_notes_;

  std::unordered_map<const TensorImpl*, std::string> names_;
  std::vector<Tensor> named_tensors_;  // keeps the keys of names_ alive
  std::optional<OverflowReport> last_overflow_;
  std::vector<ScaleRecord> history_;
};

}  // namespace ember::optim
