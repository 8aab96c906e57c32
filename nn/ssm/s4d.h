#pragma once
// nn::S4D: the diagonal state-space layer of "On the Parameterization and Initialization of Diagonal
// State Space Models" (Gu, Gupta, Goel, Re, 2022), as the S4 repository's standalone S4D layer
// (models/s4/s4d.py) builds it. Layout: input and output [batch, H, L] (channels before time, like
// Conv1d).
//
// Each of the H channels is a linear system with N/2 complex modes, run as a causal convolution:
//   x'(t) = A x(t) + B u(t),  y(t) = 2 Re(C x(t))    A diagonal complex [N/2], B = 1, C complex [N/2]
// (the N/2 modes and their complex conjugates make a real system of size N, hence 2 Re). With a step
// Delta = exp(log_dt) per channel, the discrete system x_l = Ab x_(l-1) + Bb u_l is
//   ZOH       Ab = exp(Delta A),                       Bb = (Ab - 1) / A * B
//   bilinear  Ab = (1 + Delta A / 2) / (1 - Delta A / 2), Bb = Delta / (1 - Delta A / 2) * B
// and its impulse response, the kernel, is K_l = 2 Re(sum_n C_n Bb_n Ab_n^l), l < L: a Vandermonde
// product computed as one matmul of [Re(C Bb), -Im(C Bb)] with [Re(Ab^l); Im(Ab^l)], where
// Ab^l = exp(l log|Ab|) (cos(l arg Ab) + i sin(l arg Ab)). The layer is then
//   y = K * u (causal, by rfft/irfft zero-padded to a power of two >= 2L, so the cyclic convolution
//       is the linear one) + D u;  y = GELU(y), dropout;  out = GLU(W y + b)  (a 1x1 map to 2H, then
//       the first half times the sigmoid of the second half).
//
// Initialisations of A = -exp(log_A_real) + i A_imag, n = 0 .. N/2 - 1:
//   Lin   A_n = -1/2 + i pi n
//   Inv   A_n = -1/2 + i (N / pi) (N / (2n + 1) - 1)
//   Real  A_n = -(n + 1)                (A_imag starts at 0 and is trained like the others)
// log_dt ~ U[ln dt_min, ln dt_max] per channel; C complex standard normal (variance 1/2 per part);
// D ~ N(0, 1). Complex parameters are real tensors with a trailing dim of 2 (real, imaginary).
//
// The SSM parameters (log_dt, log_A_real, A_imag; not C) want their own optimizer group with a small
// learning rate (<= 1e-3) and no weight decay: ssm_parameters() lists them, split_ssm_parameters()
// sorts a whole model's parameters into that group and the rest.
//
// step() runs the same system as a recurrence, one timestep at a time with a state of N/2 complex
// numbers per channel (constant memory per generated step); it agrees with forward().
#include <array>
#include <memory>
#include <vector>

#include <ember/nn/layers.h>
#include <ember/nn/module.h>

namespace ember::nn {

enum class S4DInit : uint8_t { Lin, Inv, Real };
enum class Discretization : uint8_t { ZOH, Bilinear };

struct S4DOptions {
  int64_t d_model = 0;  // H
  int64_t d_state = 64;  // N, even: N/2 complex modes per channel
  S4DInit init = S4DInit::Lin;
  Discretization discretization = Discretization::ZOH;
  double dt_min = 1e-3, dt_max = 1e-1;
  double dropout = 0;  // after the GELU, in training mode (forward only)
};

class S4DImpl : public UnaryModule {
 public:
  explicit S4DImpl(const S4DOptions& options);
  // u [batch, H, L] -> [batch, H, L]
  Tensor forward(const Tensor& u) override;
  // The convolution kernel K [H, L] of the current parameters.
  Tensor kernel(int64_t L) const;
  // The zero state [batch, H, N/2, 2] in the parameters' dtype and device.
  Tensor initial_state(int64_t batch) const;
  // One timestep: u_t [batch, H], state [batch, H, N/2, 2] -> {out_t [batch, H], next state}. Run
  // from initial_state over u[..., l], l = 0, 1, ..., it gives forward(u)[..., l] (dropout aside).
  std::array<Tensor, 2> step(const Tensor& u_t, const Tensor& state) const;
  std::vector<Tensor> ssm_parameters() const { return {log_dt, log_A_real, A_imag}; }

  std::string type_name() const override { return "S4D"; }
  std::string extra_repr() const override;

  S4DOptions options;
  Tensor log_dt;      // [H]
  Tensor log_A_real;  // [H, N/2]: Re(A) = -exp(log_A_real)
  Tensor A_imag;      // [H, N/2]
  Tensor C;           // [H, N/2, 2]
  Tensor D;           // [H]
  std::shared_ptr<LinearImpl> output_linear;  // H -> 2H

 private:
  // The discrete system: log|Ab| and arg Ab [H, N/2], and C Bb [H, N/2, 2].
  struct Discrete {
    Tensor log_magnitude, angle, c_bbar, bbar;
  };
  Discrete discretize() const;
  Tensor output_map(const Tensor& y) const;  // GELU, GLU over the channel dim (last)
};
inline std::shared_ptr<S4DImpl> S4D(const S4DOptions& o) { return std::make_shared<S4DImpl>(o); }

// Every parameter of a model, split into the SSM parameters of its S4D layers and the rest, for
// optimizer groups: optim::AdamW opt(split.rest, {.lr = 1e-2, .weight_decay = 0.01});
// opt.add_param_group(split.ssm, {{"lr", 1e-3}, {"weight_decay", 0}}).
struct SSMParameterSplit {
  std::vector<Tensor> ssm, rest;
};
SSMParameterSplit split_ssm_parameters(Module& model);

}  // namespace ember::nn
