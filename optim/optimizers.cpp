#include <ember/optim/optimizers.h>

#include <cmath>

#include <ember/backends/backend.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember::optim {
namespace {
// The step count lives in the state as a 0-dim float64 tensor, so state_dict can save it.
double next_step(std::map<std::string, Tensor>& state) {
  Tensor& step = state["step"];
  if (!step.defined()) step = zeros({}, {.dtype = DType::Float64});
  step.add_(1);
  return step.item<double>();
}
Tensor& buffer(std::map<std::string, Tensor>& state, const char* name, const Tensor& like) {
  Tensor& t = state[name];
  if (!t.defined()) t = zeros_like(like);
  return t;
}
// The fused kernel's contract (backends/backend.h: adam_step): contiguous, one float32 or float64
// dtype, one shape, no two operands in one storage (the kernel reads them as unaliased). Anything
// else (16-bit parameters, a state loaded in another dtype, a .grad set to a view of the parameter)
// takes the op-by-op path, which promotes and handles overlap as the ops do.
bool fusable(std::initializer_list<const Tensor*> operands) {
  const Tensor& p = **operands.begin();
  if (p.dtype() != DType::Float32 && p.dtype() != DType::Float64) return false;
  for (const Tensor* t : operands) {
    if (t->dtype() != p.dtype() || t->device() != p.device() || t->shape() != p.shape() || !t->is_contiguous())
      return false;
    for (const Tensor* u : operands)
      if (u != t && u->storage() == t->storage()) return false;
  }
  return true;
}
}  // namespace

SGD::SGD(std::vector<Tensor> params, SGDOptions o)
    : Optimizer(std::move(params),
                {{"lr", o.lr}, {"momentum", o.momentum}, {"dampening", o.dampening}, {"weight_decay", o.weight_decay},
                 {"nesterov", o.nesterov ? 1.0 : 0.0}, {"maximize", o.maximize ? 1.0 : 0.0}},
                "SGD") {
  EMBER_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), "SGD", "nesterov needs momentum > 0 and dampening 0");
  buffers_ = {"momentum_buffer"};
}

void SGD::step() {
  NoGradGuard no_grad;
  for (auto& group : groups_) {
    const double lr = group.get("lr"), momentum = group.get("momentum"), dampening = group.get("dampening");
    const double wd = group.get("weight_decay");
    const bool nesterov = group.get("nesterov") != 0, maximize = group.get("maximize") != 0;
    for (Tensor& p : group.params) {
      if (!p.grad().defined()) continue;
      Tensor g = maximize ? -p.grad() : p.grad();
      if (wd != 0) g = g + p * wd;
      if (momentum != 0) {
        auto& state = state_of(p);
        Tensor& buf = state["momentum_buffer"];
        if (!buf.defined()) {
          buf = g.clone();
        } else {
          buf.mul_(momentum).add_(g * (1 - dampening));
        }
        g = nesterov ? g + buf * momentum : buf;
      }
      p.add_(g * -lr);
    }
  }
}

Adam::Adam(std::vector<Tensor> params, AdamOptions o) : Adam(std::move(params), o, false, "Adam") {}

Adam::Adam(std::vector<Tensor> params, AdamOptions o, bool decoupled, const char* name)
    : Optimizer(std::move(params),
                {{"lr", o.lr}, {"beta1", o.beta1}, {"beta2", o.beta2}, {"eps", o.eps}, {"weight_decay", o.weight_decay},
                 {"amsgrad", o.amsgrad ? 1.0 : 0.0}, {"maximize", o.maximize ? 1.0 : 0.0}},
                name),
      decoupled_weight_decay_(decoupled),
      fused_(o.fused) {
  buffers_ = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
}

std::vector<std::string> Adam::required_state(const ParamGroup& group) const {
  std::vector<std::string> keys{"step", "exp_avg", "exp_avg_sq"};
  if (group.get("amsgrad") != 0) keys.push_back("max_exp_avg_sq");
  return keys;
}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions o)
    : Adam(std::move(params),
           AdamOptions{.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay,
                       .amsgrad = o.amsgrad, .maximize = o.maximize, .fused = o.fused},
           true, "AdamW") {}

void Adam::step() {
  NoGradGuard no_grad;
  for (auto& group : groups_) {
    const double lr = group.get("lr"), b1 = group.get("beta1"), b2 = group.get("beta2"), eps = group.get("eps");
    const double wd = group.get("weight_decay");
    const bool amsgrad = group.get("amsgrad") != 0, maximize = group.get("maximize") != 0;
    for (Tensor& p : group.params) {
      if (!p.grad().defined()) continue;
      Tensor g = maximize ? -p.grad() : p.grad();
      auto& state = state_of(p);
      const double t = next_step(state);
      Tensor& m = buffer(state, "exp_avg", p);
      Tensor& v = buffer(state, "exp_avg_sq", p);
      Tensor* vmax = amsgrad ? &buffer(state, "max_exp_avg_sq", p) : nullptr;
      const double bias1 = 1 - std::pow(b1, t), bias2 = 1 - std::pow(b2, t), decay_factor = 1 - lr * wd;
      const Backend& kernels = backend(p.device());
      if (fused_ && kernels.adam_step && (vmax ? fusable({&p, &g, &m, &v, vmax}) : fusable({&p, &g, &m, &v}))) {
        const AdamSpec spec{.beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd, .decay_factor = decay_factor,
                            .decoupled = decoupled_weight_decay_, .amsgrad = amsgrad,
                            .step_size = -lr / bias1, .bias2_sqrt = std::sqrt(bias2)};
        kernels.adam_step(kview(p), kview(g), kview(m), kview(v), vmax ? kview(*vmax) : View{}, spec);
        for (Tensor* written : {&p, &m, &v, vmax})
          if (written) written->storage()->bump_version();
        continue;
      }
      if (wd != 0) {
        if (decoupled_weight_decay_) p.mul_(decay_factor);
        else g = g + p * wd;
      }
      m.mul_(b1).add_(g * (1 - b1));
      v.mul_(b2).add_(g * g * (1 - b2));
      Tensor second = v;
      if (amsgrad) {
        vmax->copy_(maximum(*vmax, v));
        second = *vmax;
      }
      Tensor denom = sqrt(second) / std::sqrt(bias2) + eps;
      p.add_(m / denom * (-lr / bias1));
    }
  }
}

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions o)
    : Optimizer(std::move(params),
                {{"lr", o.lr}, {"alpha", o.alpha}, {"eps", o.eps}, {"weight_decay", o.weight_decay},
                 {"momentum", o.momentum}, {"centered", o.centered ? 1.0 : 0.0}, {"maximize", o.maximize ? 1.0 : 0.0}},
                "RMSprop") {
  buffers_ = {"square_avg", "grad_avg", "momentum_buffer"};
}

std::vector<std::string> RMSprop::required_state(const ParamGroup& group) const {
  // Not momentum_buffer: a momentum schedule (CyclicLR) may turn momentum on after the last step,
  // and step() then starts the buffer, as PyTorch's first step does.
  std::vector<std::string> keys{"step", "square_avg"};
  if (group.get("centered") != 0) keys.push_back("grad_avg");
  return keys;
}

void RMSprop::step() {
  NoGradGuard no_grad;
  for (auto& group : groups_) {
    const double lr = group.get("lr"), alpha = group.get("alpha"), eps = group.get("eps");
    const double wd = group.get("weight_decay"), momentum = group.get("momentum");
    const bool centered = group.get("centered") != 0, maximize = group.get("maximize") != 0;
    for (Tensor& p : group.params) {
      if (!p.grad().defined()) continue;
      Tensor g = maximize ? -p.grad() : p.grad();
      auto& state = state_of(p);
      next_step(state);
      if (wd != 0) g = g + p * wd;
      Tensor& v = buffer(state, "square_avg", p);
      v.mul_(alpha).add_(g * g * (1 - alpha));
      Tensor avg;
      if (centered) {
        Tensor& mean_g = buffer(state, "grad_avg", p);
        mean_g.mul_(alpha).add_(g * (1 - alpha));
        avg = sqrt(v - mean_g * mean_g) + eps;
      } else {
        avg = sqrt(v) + eps;
      }
      if (momentum > 0) {
        Tensor& buf = buffer(state, "momentum_buffer", p);
        buf.mul_(momentum).add_(g / avg);
        p.add_(buf * -lr);
      } else {
        p.add_(g / avg * -lr);
      }
    }
  }
}

Lion::Lion(std::vector<Tensor> params, LionOptions o)
    : Optimizer(std::move(params), {{"lr", o.lr}, {"beta1", o.beta1}, {"beta2", o.beta2}, {"weight_decay", o.weight_decay}},
                "Lion") {
  buffers_ = {"exp_avg"};
}

std::vector<std::string> Lion::required_state(const ParamGroup&) const { return {"exp_avg"}; }

void Lion::step() {
  NoGradGuard no_grad;
  for (auto& group : groups_) {
    const double lr = group.get("lr"), b1 = group.get("beta1"), b2 = group.get("beta2"), wd = group.get("weight_decay");
    for (Tensor& p : group.params) {
      if (!p.grad().defined()) continue;
      Tensor g = p.grad();
      auto& state = state_of(p);
      Tensor& m = buffer(state, "exp_avg", p);
      if (wd != 0) p.mul_(1 - lr * wd);
      p.add_(sign(m * b1 + g * (1 - b1)) * -lr);
      m.mul_(b2).add_(g * (1 - b2));
    }
  }
}

}  // namespace ember::optim
