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

// The rest of torch.nn.functional's pointwise activations, with PyTorch's defaults. Where the
// function has a kink, the gradient there is PyTorch's (stated in activation.cpp).
Tensor relu6(const Tensor& x);                                          // min(max(x, 0), 6)
Tensor hardtanh(const Tensor& x, double min_val = -1, double max_val = 1);  // x clamped to [min_val, max_val]
Tensor hardsigmoid(const Tensor& x);                                    // relu6(x + 3) / 6
Tensor hardswish(const Tensor& x);                                      // x relu6(x + 3) / 6
Tensor mish(const Tensor& x);                                           // x tanh(softplus(x))
Tensor selu(const Tensor& x);                                           // scale elu(x, alpha), PyTorch's constants
Tensor celu(const Tensor& x, double alpha = 1);                         // max(0, x) + min(0, alpha expm1(x / alpha))
Tensor softsign(const Tensor& x);                                       // x / (1 + |x|)
// Splits dim into halves a, b and returns a * sigmoid(b); dim's size must be even.
Tensor glu(const Tensor& x, int64_t dim = -1);
// x where x > 0, weight * x elsewhere; weight has one element, or one per channel (x's dim 1; an x
// of fewer than 2 dims has one channel), as PyTorch 1.13's prelu.
Tensor prelu(const Tensor& x, const Tensor& weight);

}  // namespace ember
