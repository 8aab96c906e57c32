#pragma once
// An exponential moving average of a model's parameters: shadow = decay shadow + (1 - decay) param.
// Evaluate with the averaged weights by copying them in (copy_to), as is common for GANs.
#include <ember/nn/module.h>

namespace ember::optim {

class EMA {
 public:
  EMA(const nn::Module& model, double decay = 0.999);
  void update(const nn::Module& model);
  void copy_to(nn::Module& model) const;
  const nn::NamedTensors& shadow() const { return shadow_; }
  double decay() const { return decay_; }

 private:
  double decay_;
  nn::NamedTensors shadow_;  // parameters and floating buffers, by name
};

}  // namespace ember::optim
