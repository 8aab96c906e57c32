#include <ember/optim/master_weights.h>

#include <algorithm>
#include <charconv>
#include <set>

#include <ember/core/autograd.h>
#include <ember/core/error.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember::optim {

MasterWeights::MasterWeights(std::vector<Tensor> model_params) : params_(std::move(model_params)) {
  std::set<const void*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    EMBER_CHECK(p.defined(), "MasterWeights", "parameter {} is undefined", i);
    EMBER_CHECK(p.is_floating_point(), "MasterWeights", "parameter {} (shape {}) is {}, not floating point", i,
                shape_str(p.shape()), p.dtype());
    // As the optimizers: the steps written back into a computed tensor would never reach the model.
    EMBER_CHECK(p.is_leaf(), "MasterWeights",
                "parameter {} (shape {}) is not a leaf tensor (it was computed from others); pass the model's "
                "parameters themselves",
                i, shape_str(p.shape()));
    EMBER_CHECK(seen.insert(p.impl()).second, "MasterWeights", "parameter {} (shape {}) is listed twice", i,
                shape_str(p.shape()));
    if (p.dtype() == DType::Float32 || p.dtype() == DType::Float64) {  // no 16-bit rounding to undo
      masters_.push_back(p);
    } else {
      NoGradGuard no_grad;
      Tensor m = p.detach().to(DType::Float32).clone();
      m.requires_grad_(true);
      masters_.push_back(m);
    }
  }
}

void MasterWeights::zero_grad() {
  copied_ = false;
  for (size_t i = 0; i < params_.size(); ++i) {
    params_[i].set_grad(Tensor());
    masters_[i].set_grad(Tensor());
  }
}

void MasterWeights::copy_grads_to_master() {
  copied_ = true;
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    // A model moved after the masters were made: a float32 parameter that was its own master and is
    // now 16-bit would be stepped in 16 bits, silently; a master on another device cannot take its grad.
    const Tensor& p = params_[i];
    EMBER_CHECK(masters_[i].impl() != p.impl() || p.dtype() == DType::Float32 || p.dtype() == DType::Float64,
                "MasterWeights",
                "parameter {} (shape {}) was float32, its own master, and is now {}: convert the model before "
                "building MasterWeights",
                i, shape_str(p.shape()), p.dtype());
    EMBER_CHECK(masters_[i].device() == p.device(), "MasterWeights",
                "parameter {} (shape {}) is on {} but its master on {}: move the model before building MasterWeights",
                i, shape_str(p.shape()), p.device(), masters_[i].device());
    if (masters_[i].impl() == p.impl()) continue;
    const Tensor g = params_[i].grad();
    masters_[i].set_grad(g.defined() ? g.detach().to(DType::Float32) : Tensor());
  }
}

void MasterWeights::copy_master_to_model() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i)
    if (masters_[i].impl() != params_[i].impl()) params_[i].copy_(masters_[i]);
}

bool MasterWeights::step(Optimizer& optimizer, GradScaler* scaler) {
  // Copied already (to unscale and clip the masters' gradients first): those gradients are the ones
  // to step with; copying again would replace them with the raw, scaled 16-bit ones.
  if (!copied_) copy_grads_to_master();
  copied_ = false;
  bool stepped = true;
  if (scaler) {
    stepped = scaler->step(optimizer);
  } else {
    optimizer.step();
  }
  if (stepped) copy_master_to_model();
  return stepped;
}

nn::NamedTensors MasterWeights::state_dict() const {
  nn::NamedTensors out;
  for (size_t i = 0; i < masters_.size(); ++i) out.emplace_back(fmt::format("master.{}", i), masters_[i].detach().clone());
  return out;
}

void MasterWeights::load_state_dict(const nn::NamedTensors& state) {
  std::vector<const Tensor*> found(masters_.size(), nullptr);
  for (const auto& [name, t] : state) {
    size_t i = 0;
    const char* digits = name.c_str() + std::min<size_t>(7, name.size());
    const char* end = name.c_str() + name.size();
    const auto [stop, error] = std::from_chars(digits, end, i);
    const bool numbered = name.rfind("master.", 0) == 0 && digits != end && error == std::errc() && stop == end;
    EMBER_CHECK(numbered && i < masters_.size(), "MasterWeights", "unexpected entry \"{}\" in the state ({})", name,
                masters_.empty() ? std::string("no parameters, so no entries")
                                 : fmt::format("expected master.0 .. master.{}", masters_.size() - 1));
    // "master.0" and "master.00" name one parameter: the last would have won silently
    EMBER_CHECK(found[i] == nullptr, "MasterWeights", "the state holds master.{} twice (\"{}\")", i, name);
    found[i] = &t;
  }
  for (size_t i = 0; i < masters_.size(); ++i) {
    EMBER_CHECK(found[i] != nullptr, "MasterWeights", "the state has no master.{} (shape {})", i,
                shape_str(masters_[i].shape()));
    EMBER_CHECK(found[i]->defined(), "MasterWeights", "master.{} is an undefined tensor", i);
    EMBER_CHECK(found[i]->shape() == masters_[i].shape() && found[i]->is_floating_point(), "MasterWeights",
                "master.{}: expected a floating tensor of shape {}, got {} of shape {}", i, shape_str(masters_[i].shape()),
                found[i]->dtype(), shape_str(found[i]->shape()));
    EMBER_CHECK(!backend(found[i]->device()).has_nonfinite(kview(*found[i])), "MasterWeights",
                "master.{} holds NaN or infinite values", i);
  }
  NoGradGuard no_grad;
  for (size_t i = 0; i < masters_.size(); ++i)
    masters_[i].copy_(found[i]->to(masters_[i].device()).to(masters_[i].dtype()));
  copy_master_to_model();
}

}  // namespace ember::optim
