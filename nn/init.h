#pragma once
// Parameter initialisation, in place and without recording gradients (torch.nn.init).
#include <string>

#include <ember/core/generator.h>
#include <ember/core/tensor.h>

namespace ember::nn::init {

enum class FanMode { FanIn, FanOut };

// {fan_in, fan_out} of a weight: [out, in] for linear layers, [out, in, k...] for convolutions.
std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& w);
// The recommended gain for a nonlinearity: "linear", "relu", "leaky_relu" (with param), "tanh", "sigmoid", "selu".
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

Tensor& uniform_(Tensor& t, double low = 0, double high = 1, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0, double std = 1, Generator* gen = nullptr);
// A normal N(mean, std^2) truncated to [a, b], by PyTorch's method: a uniform draw between the normal's
// CDF at a and at b, mapped back through the inverse CDF (erfinv), then clamped to [a, b] against
// rounding, with the bounds rounded inwards to the tensor's dtype (so float16 and bfloat16 values stay
// within [a, b] too). Needs std > 0, a < b (either may be infinite: a = -inf is a half-normal) and a
// floating-point tensor; an empty tensor is left as it is. The draws are computed in float64 whatever the tensor's dtype (PyTorch computes in the
// tensor's), so the same generator gives other values than PyTorch's but the same distribution.
Tensor& trunc_normal_(Tensor& t, double mean = 0, double std = 1, double a = -2, double b = 2,
                      Generator* gen = nullptr);
Tensor& constant_(Tensor& t, double value);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);
Tensor& xavier_uniform_(Tensor& t, double gain = 1, Generator* gen = nullptr);
Tensor& xavier_normal_(Tensor& t, double gain = 1, Generator* gen = nullptr);
Tensor& kaiming_uniform_(Tensor& t, double a = 0, FanMode mode = FanMode::FanIn,
                         const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
Tensor& kaiming_normal_(Tensor& t, double a = 0, FanMode mode = FanMode::FanIn,
                        const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
// A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (rows x prod(other dims)).
Tensor& orthogonal_(Tensor& t, double gain = 1, Generator* gen = nullptr);

}  // namespace ember::nn::init
