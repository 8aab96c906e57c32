// Defaults of every options struct and default argument, against the values PyTorch documents
// (torch.optim, torch.optim.lr_scheduler, torch.nn), written out here from those docs. A partly
// filled options struct must keep PyTorch's defaults for the fields it leaves out.
#include <catch2/catch.hpp>

#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

using namespace ember;

namespace {
std::vector<Tensor> one_param() { return {zeros({3}, {.dtype = DType::Float64, .requires_grad = true})}; }
double option(const optim::Optimizer& o, const char* key) { return o.param_groups()[0].get(key); }
}  // namespace

TEST_CASE("AdamW keeps weight_decay 0.01 when only lr is given", "[optim][defaults]") {
  // torch.optim.AdamW(params, lr=1e-3): weight_decay stays 1e-2.
  optim::AdamW partly(one_param(), {.lr = 1e-3});
  CHECK(option(partly, "weight_decay") == 1e-2);
  optim::AdamW plain(one_param());
  CHECK(option(plain, "weight_decay") == 1e-2);
  CHECK(option(plain, "lr") == 1e-3);
  CHECK(option(plain, "beta1") == 0.9);
  CHECK(option(plain, "beta2") == 0.999);
  CHECK(option(plain, "eps") == 1e-8);
  CHECK(option(plain, "amsgrad") == 0);
  const optim::AdamWOptions o;
  CHECK((o.lr == 1e-3 && o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-8 && o.weight_decay == 1e-2 && !o.amsgrad));
  // Asking for no decay still gives none.
  optim::AdamW no_decay(one_param(), {.lr = 1e-3, .weight_decay = 0});
  CHECK(option(no_decay, "weight_decay") == 0);
}

TEST_CASE("optimizer options default to PyTorch's values", "[optim][defaults]") {
  // torch.optim.Adam: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False.
  const optim::AdamOptions adam;
  CHECK((adam.lr == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999 && adam.eps == 1e-8 && adam.weight_decay == 0 &&
         !adam.amsgrad));
  optim::Adam adam_opt(one_param(), {.lr = 0.5});
  CHECK(option(adam_opt, "weight_decay") == 0);
  CHECK(option(adam_opt, "eps") == 1e-8);
  // torch.optim.SGD: lr=1e-3 (PyTorch >= 2.2; required before), momentum=0, dampening=0,
  // weight_decay=0, nesterov=False.
  const optim::SGDOptions sgd;
  CHECK((sgd.lr == 1e-3 && sgd.momentum == 0 && sgd.dampening == 0 && sgd.weight_decay == 0 && !sgd.nesterov));
  // torch.optim.RMSprop: lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False.
  const optim::RMSpropOptions rms;
  CHECK((rms.lr == 1e-2 && rms.alpha == 0.99 && rms.eps == 1e-8 && rms.weight_decay == 0 && rms.momentum == 0 &&
         !rms.centered));
  optim::RMSprop rms_opt(one_param(), {.momentum = 0.9});
  CHECK(option(rms_opt, "lr") == 1e-2);
  CHECK(option(rms_opt, "alpha") == 0.99);
  // Lion (reference implementation): lr=1e-4, betas=(0.9, 0.99), weight_decay=0.
  const optim::LionOptions lion;
  CHECK((lion.lr == 1e-4 && lion.beta1 == 0.9 && lion.beta2 == 0.99 && lion.weight_decay == 0));
}

TEST_CASE("scheduler, EMA and clipping defaults are PyTorch's", "[optim][defaults]") {
  optim::SGD sgd(one_param(), {.lr = 1, .momentum = 0.9});
  // StepLR: gamma=0.1.
  optim::StepLR step(sgd, 1);
  CHECK(step.gamma == 0.1);
  // CosineAnnealingLR: eta_min=0.
  CHECK(optim::CosineAnnealingLR(sgd, 10).eta_min == 0);
  // OneCycleLR: pct_start=0.3, div_factor=25, final_div_factor=1e4, cycle_momentum=True,
  // base_momentum=0.85, max_momentum=0.95.
  optim::OneCycleLR one_cycle(sgd, 1.0, 100);
  CHECK(one_cycle.pct_start == 0.3);
  CHECK(one_cycle.div_factor == 25);
  CHECK(one_cycle.final_div_factor == 1e4);
  CHECK(one_cycle.cycle_momentum);
  CHECK(one_cycle.base_momentum == 0.85);
  CHECK(one_cycle.max_momentum == 0.95);
  CHECK(option(sgd, "lr") == Approx(1.0 / 25));
  // torch.optim.swa_utils.get_ema_multi_avg_fn: decay=0.999.
  auto model = nn::Linear(2, 2);
  CHECK(optim::EMA(*model).decay() == 0.999);
  // clip_grad_norm_: norm_type=2 (the Euclidean norm of all gradients together, 3-4-12 -> 13).
  Tensor p = zeros({3}, {.dtype = DType::Float64, .requires_grad = true});
  p.set_grad(from_vector(std::vector<double>{3, 4, 12}, {3}));
  CHECK(optim::clip_grad_norm_({p}, 100) == Approx(13));
}

TEST_CASE("layer options default to PyTorch's values", "[nn][defaults]") {
  // torch.nn.Conv2d / ConvTranspose2d: stride=1, padding=0, dilation=1, groups=1, bias=True,
  // output_padding=0.
  const nn::Conv2dOptions conv2d;
  CHECK(conv2d.stride == std::array<int64_t, 2>{1, 1});
  CHECK(conv2d.padding == std::array<int64_t, 2>{0, 0});
  CHECK(conv2d.dilation == std::array<int64_t, 2>{1, 1});
  CHECK(conv2d.groups == 1);
  CHECK(conv2d.bias);
  CHECK(conv2d.output_padding == std::array<int64_t, 2>{0, 0});
  const nn::Conv1dOptions conv1d;
  CHECK((conv1d.stride == 1 && conv1d.padding == 0 && conv1d.dilation == 1 && conv1d.groups == 1 && conv1d.bias));
  // torch.nn.BatchNorm2d: eps=1e-5, momentum=0.1.
  auto bn = nn::BatchNorm2d(4);
  CHECK(bn->eps == 1e-5);
  CHECK(bn->momentum == 0.1);
}
