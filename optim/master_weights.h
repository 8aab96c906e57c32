#pragma once
// float32 master weights for a model stored in bfloat16 or float16 (Micikevicius et al. 2018).
//
// A 16-bit weight cannot take an update smaller than half its spacing: bfloat16 holds 8 significant
// bits, so 1.0 - 0.001 rounds back to 1.0 and a weight trained with small steps never moves. The
// optimizer therefore steps float32 copies ("master weights") and the model gets each result
// rounded once. The model keeps its 16-bit storage (half the memory of its weights and activations);
// the master copies and the optimizer state are float32.
//
//   model->to(DType::BFloat16);
//   optim::MasterWeights master(model->parameters());
//   optim::Adam adam(master.parameters(), {.lr = 1e-3});   // the optimizer steps the masters
//   ...
//   master.zero_grad();                 // the model's 16-bit gradients
//   loss.backward();                    // or scaler.backward(loss)
//   master.step(adam);                  // or master.step(adam, &scaler): unscales, may skip
//
// step() copies each model gradient into its master (in float32), lets the optimizer (or the scaler)
// step the masters, and writes them back rounded to the model's dtype. To clip, copy first and work
// on the masters' gradients: copy_grads_to_master(); scaler.unscale_(adam); clip_grad_norm_(
// master.parameters(), 1.0); master.step(adam, &scaler) — step() then keeps the copied gradients. A float32 or float64 model
// parameter is its own master (no copy, and no rounding through float32). Checkpoints: state_dict() holds the masters, so a resumed run continues
// from the unrounded values.
#include <vector>

#include <ember/core/tensor.h>
#include <ember/nn/module.h>
#include <ember/optim/grad_scaler.h>
#include <ember/optim/optimizer.h>

namespace ember::optim {

class MasterWeights {
 public:
  // model_params: the parameters the optimizer would otherwise be given, floating-point leaves, each once.
  explicit MasterWeights(std::vector<Tensor> model_params);

  // The tensors to build the optimizer on (float32, or a float64 parameter itself), one per model
  // parameter, in the same order.
  const std::vector<Tensor>& parameters() const { return masters_; }
  const std::vector<Tensor>& model_parameters() const { return params_; }

  // Drops the model's gradients (and the masters').
  void zero_grad();
  // Copies the model's gradients into the masters' .grad in float32 (a model parameter without a
  // gradient leaves its master without one, so the optimizer skips it). The next step() uses these
  // gradients (after any unscaling and clipping) instead of copying again.
  void copy_grads_to_master();
  // Rounds the masters into the model's parameters (without recording a graph).
  void copy_master_to_model();
  // copy_grads_to_master, optimizer.step() (or scaler->step(optimizer), which unscales and skips a
  // step with a NaN/Inf gradient), copy_master_to_model. Returns whether the optimizer stepped.
  bool step(Optimizer& optimizer, GradScaler* scaler = nullptr);

  // The masters as "master.<i>" (for io::Checkpoint::extra), and their restoration: a missing
  // entry, or one of another shape, is an error naming it. Loading also rounds them into the model.
  nn::NamedTensors state_dict() const;
  void load_state_dict(const nn::NamedTensors& state);

 private:
  std::vector<Tensor> params_;   // the model's, any floating dtype
  std::vector<Tensor> masters_;  // float32; the same tensor as params_[i] when that is float32
  bool copied_ = false;          // copy_grads_to_master() ran since the last step() or zero_grad()
};

}  // namespace ember::optim
