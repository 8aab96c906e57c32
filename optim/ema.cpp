#include <ember/optim/ema.h>

#include <ember/ops/ops.h>

namespace ember::optim {

EMA::EMA(const nn::Module& model, double decay) : decay_(decay) {
  EMBER_CHECK(decay >= 0 && decay <= 1, "EMA", "decay must be in [0, 1], got {}", decay);
  NoGradGuard no_grad;
  for (const auto& [name, t] : model.state_dict())
    if (t.is_floating_point()) shadow_.emplace_back(name, t.detach().clone());
}

void EMA::update(const nn::Module& model) {
  NoGradGuard no_grad;
  auto state = model.state_dict();
  size_t i = 0;
  for (const auto& [name, t] : state) {
    if (!t.is_floating_point()) continue;
    EMBER_CHECK(i < shadow_.size() && shadow_[i].first == name, "EMA", "the model's parameters changed since the EMA was made (at \"{}\")", name);
    Tensor& s = shadow_[i++].second;
    s.mul_(decay_).add_(t * (1 - decay_));
  }
}

void EMA::copy_to(nn::Module& model) const {
  NoGradGuard no_grad;
  auto state = model.state_dict();
  size_t i = 0;
  for (auto& [name, t] : state) {
    if (!t.is_floating_point()) continue;
    EMBER_CHECK(i < shadow_.size() && shadow_[i].first == name, "EMA", "the model's parameters changed since the EMA was made (at \"{}\")", name);
    Tensor dst = t;
    dst.copy_(shadow_[i++].second);
  }
}

}  // namespace ember::optim
