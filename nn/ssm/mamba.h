#pragma once
// Mamba (Gu and Dao, 2023): a selective state-space block, and a language model of such blocks.
//
// A block maps x [batch, L, d_model] to the same shape:
//   in_proj: d_model -> 2 d_inner (x and the gate z), d_inner = expand * d_model
//   x <- silu(causal_conv1d(x, kernel d_conv))
//   dt, B, C <- x_proj(x) split as [dt_rank, d_state, d_state]; dt <- dt_proj(dt) (dt_rank -> d_inner)
//   y <- selective_scan(x, dt, A = -exp(A_log), B, C, D, z, dt_proj.bias, delta_softplus = true)
//   out_proj: d_inner -> d_model
// with the reference initialisation: A_log = log(1..d_state) per channel, D = 1, dt_proj.bias = the
// inverse softplus of dt ~ exp(U[ln dt_min, ln dt_max]) clamped below at dt_init_floor, dt_proj
// weight U[-dt_rank^-1/2, dt_rank^-1/2], out_proj scaled by 1 / sqrt(n_layer). A_log and D take no
// weight decay (no_weight_decay_parameters()).
//
// selective = false is the LTI ablation of the paper's selective-copying experiment: dt, B and C
// become learned parameters that do not depend on the input (an S4D-Real-like diagonal SSM: dt =
// exp(dt_log) per channel with dt_log = ln dt initialised as above, B = 1 and C ~ N(0, 1) shared by
// the channels as the selective B_t and C_t are), with no x_proj or dt_proj; everything else
// unchanged.
#include <cstdint>
#include <memory>
#include <vector>

#include <ember/nn/layers.h>
#include <ember/nn/module.h>
#include <ember/ops/ssm/selective_scan.h>

namespace ember::nn {

struct MambaOptions {
  int64_t d_model = 0;
  int64_t d_state = 16;
  int64_t d_conv = 4;
  int64_t expand = 2;
  int64_t dt_rank = 0;  // 0: ceil(d_model / 16)
  double dt_min = 1e-3, dt_max = 1e-1, dt_init_floor = 1e-4;
  int64_t n_layer = 1;  // out_proj is scaled by 1 / sqrt(n_layer)
  bool selective = true;
  ScanPath path = ScanPath::Auto;
};

// What one block carries from token to token in generation: the last d_conv - 1 inputs of the
// convolution and the scan's state. Constant size, whatever the number of tokens generated.
// The scan's inputs for x [batch, L, d_model], in the scan's layout: u (after conv and silu), delta
// (before dt's bias and softplus), z [batch, d_inner, L]; B, C [batch, d_state, L]. Views, not copies.
struct MambaScanInputs {
  Tensor u, delta, B, C, z;
};

struct MambaState {
  Tensor conv;  // [batch, d_inner, d_conv - 1]
  Tensor ssm;   // [batch, d_inner, d_state], float32 (float64 for float64 models)
};

class MambaImpl : public UnaryModule {
 public:
  explicit MambaImpl(const MambaOptions& options);
  // x [batch, L, d_model] -> [batch, L, d_model]
  Tensor forward(const Tensor& x) override;
  // One token x [batch, d_model] -> [batch, d_model], advancing state (zeros from initial_state).
  Tensor step(const Tensor& x, MambaState& state);
  MambaState initial_state(int64_t batch) const;
  // A_log and D (and dt_log, B_lti, C_lti when selective = false).
  std::vector<Tensor> no_weight_decay_parameters();
  // Everything forward computes before the scan; forward is out_proj(selective_scan(these)).
  MambaScanInputs scan_inputs(const Tensor& x);
  std::string type_name() const override { return "Mamba"; }
  std::string extra_repr() const override;

  MambaOptions options;
  int64_t d_inner, dt_rank;
  std::shared_ptr<LinearImpl> in_proj, x_proj, dt_proj, out_proj;  // x_proj, dt_proj: selective only
  Tensor conv_weight, conv_bias;  // [d_inner, d_conv], [d_inner]
  Tensor A_log, D;                // [d_inner, d_state], [d_inner]
  Tensor dt_log, B_lti, C_lti;    // selective = false: [d_inner], [d_state], [d_state]

 private:
  SelectiveScanOptions scan_options(const Tensor& z) const;
};
inline std::shared_ptr<MambaImpl> Mamba(const MambaOptions& o) { return std::make_shared<MambaImpl>(o); }

struct MambaLMOptions {
  int64_t vocab = 256;
  int64_t d_model = 256;
  int64_t n_layer = 4;
  int64_t d_state = 16;
  int64_t d_conv = 4;
  int64_t expand = 2;
  bool selective = true;
  ScanPath path = ScanPath::Auto;
};

// Embedding, n_layer residual blocks x + Mamba(RMSNorm(x)), a final RMSNorm, and a head tied to the
// embedding. As the reference LM: embedding N(0, 0.02), RMSNorm eps 1e-5, each block's out_proj
// scaled by 1 / sqrt(n_layer).
class MambaLMImpl : public Module {
 public:
  explicit MambaLMImpl(const MambaLMOptions& options);
  // tokens [batch, L] (int64) -> logits [batch, L, vocab]
  Tensor forward(const Tensor& tokens);
  // Generation, one token per call: tokens [batch] -> logits [batch, vocab]; cache holds one
  // MambaState per layer (initial_cache gives zeros). Constant memory per generated token.
  Tensor step(const Tensor& tokens, std::vector<MambaState>& cache);
  std::vector<MambaState> initial_cache(int64_t batch) const;
  // Every block's no_weight_decay_parameters() and the RMSNorm gains (decay would pull them to 0,
  // not to their neutral 1). The tied embedding, projections and biases are decayed.
  std::vector<Tensor> no_weight_decay_parameters();
  std::string type_name() const override { return "MambaLM"; }
  std::string extra_repr() const override;

  MambaLMOptions options;
  std::shared_ptr<EmbeddingImpl> embedding;
  std::vector<std::shared_ptr<RMSNormImpl>> norms;
  std::vector<std::shared_ptr<MambaImpl>> blocks;
  std::shared_ptr<RMSNormImpl> final_norm;

 private:
  void check_tokens(const Tensor& tokens, int64_t dims, const char* what) const;
};
inline std::shared_ptr<MambaLMImpl> MambaLM(const MambaLMOptions& o) { return std::make_shared<MambaLMImpl>(o); }

}  // namespace ember::nn
