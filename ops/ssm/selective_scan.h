#pragma once
// Mamba's selective scan (Gu and Dao, 2023): a linear recurrence whose parameters depend on the input.
// Per batch b and channel d, with a state x of N numbers (float32 at least, whatever the inputs are):
//   dt_t  = softplus(delta_t + delta_bias)        (or delta_t + delta_bias without delta_softplus)
//   x_t   = exp(dt_t A) * x_{t-1} + dt_t B_t u_t   (zero-order hold for A, Euler for B), x_{-1} = 0
//   y_t   = C_t . x_t + D u_t
//   out_t = y_t * silu(z_t)                        (out_t = y_t without z)
// Shapes: u, delta, z [batch, D, L]; A [D, N] (negative real for a stable recurrence); B, C
// [batch, N, L]; D, delta_bias [D]. The output has u's shape and dtype.
//
// Two paths compute the same function:
//   Reference  the loop over t written with ember ops: readable, differentiable to any order, and
//              O(batch D N L) memory (every state is kept for backward);
//   Fused      one kernel per device: parallel over batch x channels, the state in registers, only
//              the states at chunk boundaries kept; backward recomputes each chunk's states from its
//              boundary and runs the adjoint recurrence in reverse. Double backward (create_graph)
//              differentiates the reference instead, for that step.
// Auto picks Fused wherever the device has the kernel.
#include <array>
#include <cstdint>

#include <ember/core/tensor.h>

namespace ember {

enum class ScanPath : uint8_t { Auto, Reference, Fused };

struct SelectiveScanOptions {
  Tensor D;           // [D] skip connection; undefined: none
  Tensor z;           // [batch, D, L] gate; undefined: none
  Tensor delta_bias;  // [D]; undefined: none
  bool delta_softplus = false;
  int64_t chunk = 64;  // fused path: timesteps between the states kept for backward (>= 1)
  ScanPath path = ScanPath::Auto;
};

// out [batch, D, L]
Tensor selective_scan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B, const Tensor& C,
                      const SelectiveScanOptions& options = {});
// {out, last_state}: last_state [batch, D, N] is x_{L-1} (float32, or float64 for float64 inputs),
// from which selective_scan_step continues the sequence. Both outputs are differentiable.
std::array<Tensor, 2> selective_scan_with_state(const Tensor& u, const Tensor& delta, const Tensor& A,
                                                const Tensor& B, const Tensor& C,
                                                const SelectiveScanOptions& options = {});

// One step of the same recurrence, for generation with constant memory per token: state [batch, D, N],
// u, delta, z [batch, D], B, C [batch, N]; returns {out [batch, D], next state}. Options' z is [batch, D].
// The next state is in the wider of the state's dtype and the scan's (float32, or float64 for float64
// inputs): a float64 state stays float64 through float32 steps.
std::array<Tensor, 2> selective_scan_step(const Tensor& state, const Tensor& u, const Tensor& delta, const Tensor& A,
                                          const Tensor& B, const Tensor& C, const SelectiveScanOptions& options = {});

// Depthwise causal 1-D convolution (Mamba's short convolution): x [batch, D, L], weight [D, k],
// bias [D] or undefined: out[b, d, t] = bias[d] + sum_i weight[d, i] x[b, d, t - k + 1 + i], x = 0
// before the sequence. Same shape as x.
Tensor causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace ember
