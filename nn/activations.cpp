// The rest of PyTorch's activation modules (declared in nn/layers.h): each prints what PyTorch 1.13
// prints for it (tests/nn/test_activation_modules.cpp checks the strings against PyTorch's, stored by
// tests/ops/make_activation_reference.py). Options are checked where the module is built, so that a
// bad one is an error there rather than at the first batch.
#include <cmath>

#include <ember/nn/init.h>
#include <ember/nn/layers.h>
#include <ember/nn/python_repr.h>
#include <ember/ops/ops.h>

namespace ember::nn {
using detail::python_float;
namespace {

std::shared_ptr<FunctionalImpl> stateless(const char* name, Tensor (*fn)(const Tensor&)) {
  return std::make_shared<FunctionalImpl>(name, [fn](const Tensor& x) { return fn(x); });
}
}  // namespace

std::shared_ptr<FunctionalImpl> ReLU6() { return stateless("ReLU6", relu6); }

std::shared_ptr<FunctionalImpl> Hardtanh(double min_val, double max_val) {
  // PyTorch's nn.Hardtanh asserts max_val > min_val (equal bounds too are refused).
  EMBER_CHECK(min_val < max_val, "Hardtanh", "max_val ({}) must be greater than min_val ({})", max_val, min_val);
  return std::make_shared<FunctionalImpl>(
      "Hardtanh", [min_val, max_val](const Tensor& x) { return hardtanh(x, min_val, max_val); },
      fmt::format("min_val={}, max_val={}", python_float(min_val), python_float(max_val)));
}

std::shared_ptr<FunctionalImpl> Hardsigmoid() { return stateless("Hardsigmoid", hardsigmoid); }
std::shared_ptr<FunctionalImpl> Hardswish() { return stateless("Hardswish", hardswish); }
std::shared_ptr<FunctionalImpl> Mish() { return stateless("Mish", mish); }
std::shared_ptr<FunctionalImpl> SELU() { return stateless("SELU", selu); }

std::shared_ptr<FunctionalImpl> CELU(double alpha) {
  // (as celu; PyTorch builds nn.CELU(0) and fails at its first call)
  EMBER_CHECK(alpha != 0 && std::isfinite(alpha), "CELU", "alpha must be finite and nonzero, got {}", alpha);
  return std::make_shared<FunctionalImpl>("CELU", [alpha](const Tensor& x) { return celu(x, alpha); },
                                          fmt::format("alpha={}", python_float(alpha)));
}

std::shared_ptr<FunctionalImpl> Softsign() { return stateless("Softsign", softsign); }

std::shared_ptr<FunctionalImpl> GLU(int64_t dim) {
  return std::make_shared<FunctionalImpl>("GLU", [dim](const Tensor& x) { return glu(x, dim); },
                                          fmt::format("dim={}", dim));
}

std::shared_ptr<FunctionalImpl> Identity() {
  return std::make_shared<FunctionalImpl>("Identity", [](const Tensor& x) { return x; });
}

std::shared_ptr<FunctionalImpl> Softmax(int64_t dim) {
  return std::make_shared<FunctionalImpl>("Softmax", [dim](const Tensor& x) { return softmax(x, dim); },
                                          fmt::format("dim={}", dim));
}

std::shared_ptr<FunctionalImpl> LogSoftmax(int64_t dim) {
  return std::make_shared<FunctionalImpl>("LogSoftmax", [dim](const Tensor& x) { return log_softmax(x, dim); },
                                          fmt::format("dim={}", dim));
}

PReLUImpl::PReLUImpl(int64_t n, double init) : num_parameters(n) {
  // PyTorch refuses a negative count (torch.empty) and accepts a NaN init; a NaN or infinite slope is
  // refused here, as other modules refuse NaN options.
  EMBER_CHECK(n >= 0, "PReLU", "num_parameters must be non-negative, got {}", n);
  EMBER_CHECK(std::isfinite(init), "PReLU", "init must be finite, got {}", init);
  register_parameter("weight", &weight, full({n}, init));
}
Tensor PReLUImpl::forward(const Tensor& x) { return prelu(x, weight); }
std::string PReLUImpl::extra_repr() const { return fmt::format("num_parameters={}", num_parameters); }

}  // namespace ember::nn
