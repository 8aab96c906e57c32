#pragma once
// Schedules that come back up: CosineAnnealingWarmRestarts (SGDR, Loshchilov and Hutter 2017) and
// CyclicLR (Smith 2017), as torch.optim.lr_scheduler defines them. Both set each lr from their base
// lrs and options, as PyTorch's do, so an lr set by hand is overwritten at the next step.
#include <functional>
#include <optional>

#include <ember/optim/lr_scheduler.h>

namespace ember::optim {

// Cosine annealing from base to eta_min over t_0 steps, then again over t_0 * t_mult, t_0 * t_mult^2,
// ...: with t_cur the steps since the last restart and t_i the current period,
// lr = eta_min + (base - eta_min) (1 + cos(pi t_cur / t_i)) / 2.
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& o, int64_t t_0, int64_t t_mult = 1, double eta_min = 0);
  double lr_at(int64_t epoch, double base) const override;
  bool follows_base() const override { return false; }
  int64_t t_0, t_mult;
  double eta_min;
};

enum class CyclicMode { Triangular, Triangular2, ExpRange };

struct CyclicLROptions {
  double base_lr = 0;  // required: the lower end of every group's cycle (written at construction)
  double max_lr = 0;   // required: the upper end
  int64_t step_size_up = 2000;
  std::optional<int64_t> step_size_down;  // step_size_up when not given
  // triangular: the same triangle each cycle; triangular2: its height halved each cycle; exp_range:
  // scaled by gamma^step.
  CyclicMode mode = CyclicMode::Triangular;
  double gamma = 1;
  // A scale of your own replaces the mode's: called with the cycle number (from 1) when
  // scale_by_cycle, else with the step count.
  std::function<double(double)> scale_fn;
  bool scale_by_cycle = true;
  // The momentum ("momentum", or Adam's "beta1") moves the opposite way, between max_momentum at the
  // cycle's ends and base_momentum at its peak.
  bool cycle_momentum = true;
  double base_momentum = 0.8, max_momentum = 0.9;
};

// lr = base_lr + (max_lr - base_lr) * triangle(step) * scale, the triangle rising over step_size_up
// steps and falling over step_size_down.
class CyclicLR : public LRScheduler {
 public:
  CyclicLR(Optimizer& o, CyclicLROptions options);
  double lr_at(int64_t epoch, double base) const override;
  bool follows_base() const override { return false; }
  void check_other_options(int64_t epoch) const override;
  void set_other_options(int64_t epoch) override;
  void restart(const std::vector<double>& initial_lrs) override;  // from base_lr, as PyTorch's step(0)
  const CyclicLROptions options;

 private:
  // (how far up the triangle the step is, in [0, 1], and the scale applied to its height)
  std::pair<double, double> height_and_scale(int64_t epoch) const;
  double momentum_at(int64_t epoch) const;
  int64_t step_size_down_;
};

}  // namespace ember::optim
