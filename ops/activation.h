#pragma once
// Activations, written as composites of primitives (so double backward needs no extra code).
#include <ember/core/tensor.h>

namespace ember {

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
// approximate = "none" (exact, with erf) or "tanh"
Tensor gelu(const Tensor& x, const char* approximate = "none");
Tensor silu(const Tensor& x);
// log(1 + e^(beta x)) / beta, linear above threshold like PyTorch
Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20);
Tensor elu(const Tensor& x, double alpha = 1);
Tensor log_sigmoid(const Tensor& x);

}  // namespace ember
