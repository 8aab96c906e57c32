#pragma once
// The optimizers, each following PyTorch 1.13's update rule (torch.optim) exactly.
#include <ember/optim/optimizer.h>

namespace ember::optim {

// Every options struct's defaults are PyTorch's for the same optimizer, so a partly filled struct
// ({.lr = 3e-4}) keeps PyTorch's values for the fields it leaves out.

// PyTorch 1.x made lr a required argument of SGD; 2.2 and later default it to 1e-3, as here.
struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;  // ascend: step along +grad (the gradient is negated first, as in PyTorch)
};
// g = grad + wd p;  buf = momentum buf + (1 - dampening) g  (buf = g at the first step);
// g = nesterov ? g + momentum buf : buf;  p -= lr g
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options = {});
  void step() override;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool maximize = false;
  // One pass per parameter through the backend's fused kernel where it has one (float32 and float64
  // contiguous parameters); the same bits as the op-by-op update, which false runs instead.
  bool fused = true;
};
// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr / (1 - b1^t) m / (sqrt(v / (1 - b2^t)) + eps)
// Adam adds weight decay to the gradient (L2); AdamW decays the weights directly: p *= 1 - lr wd.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  void step() override;
  std::vector<std::string> required_state(const ParamGroup& group) const override;

 protected:
  Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled, const char* name);
  bool decoupled_weight_decay_;
  bool fused_;
};
// AdamW's own options: the same fields as Adam's, but PyTorch's AdamW decays weights by 0.01 unless
// told otherwise. A separate struct, so AdamW(params, {.lr = 1e-3}) keeps that 0.01 (with
// AdamOptions, the field's default 0 would replace it).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;
  bool fused = true;
};
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options = {});
};

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;
};
// v = alpha v + (1 - alpha) g^2;  avg = sqrt(v - mean_g^2 if centered) + eps;
// buf = momentum buf + g / avg, p -= lr buf  (or p -= lr g / avg without momentum)
class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions options = {});
  void step() override;
  std::vector<std::string> required_state(const ParamGroup& group) const override;
};

// Lion is not in torch.optim; these are the defaults of the paper's reference implementation
// (lucidrains/lion-pytorch): lr 1e-4, betas (0.9, 0.99), no weight decay.
struct LionOptions {
  double lr = 1e-4;
  double beta1 = 0.9, beta2 = 0.99;
  double weight_decay = 0;
};
// Lion (Chen et al. 2023): p *= 1 - lr wd;  p -= lr sign(b1 m + (1 - b1) g);  m = b2 m + (1 - b2) g
class Lion : public Optimizer {
 public:
  Lion(std::vector<Tensor> params, LionOptions options = {});
  void step() override;
  std::vector<std::string> required_state(const ParamGroup& group) const override;
};

}  // namespace ember::optim
