#pragma once
// The optimizers, each following PyTorch 1.13's update rule (torch.optim) exactly.
#include "optim/optimizer.h"

namespace ember::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
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
};
// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr / (1 - b1^t) m / (sqrt(v / (1 - b2^t)) + eps)
// Adam adds weight decay to the gradient (L2); AdamW decays the weights directly: p *= 1 - lr wd.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  void step() override;

 protected:
  Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled, const char* name);
  bool decoupled_weight_decay_;
};
class AdamW : public Adam {
 public:
  // PyTorch's AdamW default weight decay is 0.01.
  AdamW(std::vector<Tensor> params, AdamOptions options = {.weight_decay = 1e-2});
};

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
};
// v = alpha v + (1 - alpha) g^2;  avg = sqrt(v - mean_g^2 if centered) + eps;
// buf = momentum buf + g / avg, p -= lr buf  (or p -= lr g / avg without momentum)
class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions options = {});
  void step() override;
};

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
};

}  // namespace ember::optim
