#include <ember/optim/ema.h>

#include <ember/ops/ops.h>

namespace ember::optim {
namespace {

// The model's floating-point state in state_dict order, checked against the shadow copies: the same
// names and shapes and no fewer or more of them (a copy of another shape would broadcast). The dtype
// may differ: copy_ and the update convert (a float32 average copied into a bfloat16 model).
nn::NamedTensors matching_state(const nn::Module& model, const nn::NamedTensors& shadow) {
  nn::NamedTensors state;
  for (auto& [name, t] : model.state_dict())
    if (t.is_floating_point()) state.emplace_back(name, t);
  EMBER_CHECK(state.size() == shadow.size(), "EMA",
              "the model has {} floating-point tensors but the EMA was made from a model with {}", state.size(),
              shadow.size());
  for (size_t i = 0; i < state.size(); ++i) {
    const Tensor& t = state[i].second;
    const Tensor& s = shadow[i].second;
    EMBER_CHECK(state[i].first == shadow[i].first && t.shape() == s.shape(), "EMA",
                "the model's parameters changed since the EMA was made: \"{}\" {} {} against \"{}\" {} {}",
                state[i].first, shape_str(t.shape()), t.dtype(), shadow[i].first, shape_str(s.shape()), s.dtype());
  }
  return state;
}

}  // namespace

EMA::EMA(const nn::Module& model, double decay) : decay_(decay) {
  EMBER_CHECK(decay >= 0 && decay <= 1, "EMA", "decay must be in [0, 1], got {}", decay);
  NoGradGuard no_grad;
  for (const auto& [name, t] : model.state_dict())
    if (t.is_floating_point()) shadow_.emplace_back(name, t.detach().clone());
}

void EMA::update(const nn::Module& model) {
  NoGradGuard no_grad;
  const auto state = matching_state(model, shadow_);
  for (size_t i = 0; i < state.size(); ++i) shadow_[i].second.mul_(decay_).add_(state[i].second * (1 - decay_));
}

void EMA::copy_to(nn::Module& model) const {
  NoGradGuard no_grad;
  const auto state = matching_state(model, shadow_);  // all checked before anything is copied
  for (size_t i = 0; i < state.size(); ++i) {
    Tensor dst = state[i].second;
    dst.copy_(shadow_[i].second);
  }
}

}  // namespace ember::optim
