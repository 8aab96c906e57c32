#include <ember/nn/spectral_norm.h>

#include <cmath>

#include <ember/core/autocast.h>
#include <ember/nn/layers.h>
#include <ember/ops/ops.h>

namespace ember::nn {
namespace {

// x / max(||x||, eps): the unit vector of x, finite for x = 0.
Tensor unit_vector(const Tensor& x, double eps) { return x / clamp(norm(x), eps, std::nullopt); }

}  // namespace

SpectralNormImpl::SpectralNormImpl(std::shared_ptr<UnaryModule> wrapped, double eps_, Generator* generator)
    : module(std::move(wrapped)), eps(eps_) {
  EMBER_CHECK(module != nullptr, "SpectralNorm", "the wrapped module is null");
  if (auto* l = dynamic_cast<LinearImpl*>(module.get())) {
    weight_ = &l->weight;
  } else if (auto* c = dynamic_cast<Conv2dImpl*>(module.get())) {
    weight_ = &c->weight;
  } else if (auto* t = dynamic_cast<ConvTranspose2dImpl*>(module.get())) {
    weight_ = &t->weight;
    transposed_ = true;
  } else {
    EMBER_FAIL("SpectralNorm", "can wrap Linear, Conv2d or ConvTranspose2d, got {}", module->type_name());
  }
  EMBER_CHECK(eps > 0 && std::isfinite(eps), "SpectralNorm", "eps must be positive and finite, got {}", eps);
  register_module("module", module);
  NoGradGuard no_grad;
  const Tensor w = weight_matrix(weight_ref());
  const TensorOptions opts{.dtype = w.dtype(), .device = w.device()};
  // Random unit vectors, as torch.nn.utils.spectral_norm starts.
  register_buffer("weight_u", &weight_u, unit_vector(randn({w.size(0)}, opts, generator), eps));
  register_buffer("weight_v", &weight_v, unit_vector(randn({w.size(1)}, opts, generator), eps));
}

Tensor& SpectralNormImpl::weight_ref() const { return *weight_; }

Tensor SpectralNormImpl::weight_matrix(const Tensor& w) const {
  const Tensor oriented = transposed_ ? w.transpose(0, 1) : w;
  return oriented.reshape({oriented.size(0), -1});
}

// The power iteration and sigma run in the weight's own dtype whatever autocast scope the forward is
// in: they are small, they need float32's precision, and under autocast W v would be 16-bit while u
// is not (dot refused the mix). The wrapped layer still runs under the scope.
Tensor SpectralNormImpl::normalized_weight() const {
  const AutocastDisabled autocast_off;
  const Tensor& w = weight_ref();
  // sigma = u^T W v with u, v held constant: its gradient is u v^T, as in the paper (and PyTorch).
  // u and v are copies: the graph saves them, and the next training forward (the critic runs on real,
  // fake and interpolated batches before one backward) overwrites the buffers in place.
  Tensor sigma = dot(weight_u.clone(), matmul(weight_matrix(w), weight_v.clone()));
  return w / sigma;
}

double SpectralNormImpl::sigma() const {
  NoGradGuard no_grad;
  const AutocastDisabled autocast_off;
  return dot(weight_u, matmul(weight_matrix(weight_ref()), weight_v)).item_double();
}

Tensor SpectralNormImpl::forward(const Tensor& x) {
  if (is_training()) {
    NoGradGuard no_grad;
    const AutocastDisabled autocast_off;
    const Tensor wm = weight_matrix(weight_ref());
    // One step of power iteration: v <- W^T u / |W^T u|, u <- W v / |W v|. Written into the buffers
    // in place so that state_dict and checkpoints see the estimate.
    Tensor v = unit_vector(matmul(wm.t(), weight_u), eps);
    Tensor u = unit_vector(matmul(wm, v), eps);
    weight_v.copy_(v);
    weight_u.copy_(u);
  }
  // Run the wrapped layer with the normalised weight in place of its own, then put its own back
  // (also when it throws), so its parameter stays the trained leaf.
  Tensor& slot = weight_ref();
  const Tensor original = slot;
  struct Restore {
    Tensor& slot;
    const Tensor& original;
    ~Restore() { slot = original; }
  } restore{slot, original};
  slot = normalized_weight();
  return module->forward(x);
}

std::string SpectralNormImpl::extra_repr() const { return fmt::format("eps={}", eps); }

}  // namespace ember::nn
